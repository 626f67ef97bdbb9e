#include "report/model_summary.h"

#include <set>

namespace dnnfi {

namespace {

std::int64_t node_flops(const Session& s, const Node& node) {
  auto in_info = [&](std::size_t i) -> const TensorInfo* {
    if (i >= node.inputs.size() || node.inputs[i] == kNoValue) return nullptr;
    return &s.info(node.inputs[i]);
  };
  const TensorInfo* out =
      node.outputs.empty() || node.outputs[0] == kNoValue ? nullptr : &s.info(node.outputs[0]);
  if (out == nullptr) return 0;
  const std::int64_t out_numel = out->numel();
  const std::string& op = node.op_type;
  if (op == "Conv" || op == "ConvTranspose") {
    const TensorInfo* w = in_info(1);
    if (w == nullptr || w->shape.size() < 2) return 0;
    // Each output (Conv) or input (ConvTranspose) element takes Cin/group * kernel MACs.
    std::int64_t per = w->shape[1];
    for (std::size_t i = 2; i < w->shape.size(); ++i) per *= w->shape[i];
    if (op == "Conv") return 2 * out_numel * per;
    const TensorInfo* x = in_info(0);
    return x ? 2 * x->numel() * (w->numel() / std::max<std::int64_t>(1, w->shape[0])) : 0;
  }
  if (op == "Gemm" || op == "MatMul") {
    const TensorInfo* a = in_info(0);
    if (a == nullptr || a->shape.empty()) return 0;
    std::int64_t k = a->shape.back();
    if (op == "Gemm") {
      auto it = node.attributes.find("transA");
      if (it != node.attributes.end() && it->second.i != 0 && a->shape.size() == 2) k = a->shape[0];
    }
    return 2 * out_numel * k;
  }
  if (op == "MaxPool" || op == "AveragePool") {
    auto it = node.attributes.find("kernel_shape");
    std::int64_t k = 1;
    if (it != node.attributes.end()) {
      for (auto d : it->second.ints) k *= d;
    }
    return out_numel * k;
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op.rfind("Reduce", 0) == 0) {
    const TensorInfo* x = in_info(0);
    return x ? x->numel() : 0;
  }
  static const std::set<std::string> kMoves = {
      "Reshape",  "Flatten", "Squeeze", "Unsqueeze",       "Identity",  "Dropout", "Shape",
      "Constant", "Concat",  "Split",   "Slice",           "Transpose", "Gather",  "Pad",
      "Expand",   "Tile",    "Cast",    "ConstantOfShape", "Range"};
  if (kMoves.count(op)) return 0;
  return out_numel;
}

}  // namespace

std::vector<NodeSummary> summarize_nodes(const Session& session) {
  const Graph& g = session.graph();
  std::set<int> running(session.run_order().begin(), session.run_order().end());
  std::vector<NodeSummary> rows;
  for (std::size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    NodeSummary r;
    r.node = static_cast<int>(n);
    r.name = node.name;
    r.op_type = node.op_type;
    r.folded = running.count(static_cast<int>(n)) == 0;
    for (int v : node.outputs) r.outputs.push_back(v == kNoValue ? TensorInfo{} : session.info(v));
    for (int v : node.inputs) {
      if (v != kNoValue && g.values[v].is_initializer) r.params += g.values[v].initializer.numel();
    }
    r.flops = r.folded ? 0 : node_flops(session, node);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace dnnfi
