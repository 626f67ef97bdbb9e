#include "exec/qdq_fusion.h"

#include <cmath>
#include <limits>
#include <optional>

#include "ops/registry.h"

namespace dnnfi {

namespace {

bool is_onnx_op(const Node& n, const char* op_type) {
  return n.domain.empty() && n.op_type == op_type;
}

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

// The session's view of the graph being rewritten, with the reader counts of the run order.
class QdqRewriter {
 public:
  QdqRewriter(Graph& g, std::vector<int>& run_order, std::vector<std::unique_ptr<Kernel>>& kernels,
              const std::vector<TensorInfo>& infos, const std::vector<bool>& constant,
              const std::vector<Tensor>& constants, bool reference)
      : g_(g),
        run_order_(run_order),
        kernels_(kernels),
        infos_(infos),
        constant_(constant),
        constants_(constants),
        reference_(reference),
        readers_(infos.size(), 0),
        reader_(infos.size(), -1),
        quantized_(infos.size(), false),
        absorbed_(g.nodes.size(), false) {
    for (int n : run_order_) {
      for (int v : g_.nodes[static_cast<std::size_t>(n)].inputs) {
        if (v == kNoValue) continue;
        ++readers_[v];
        reader_[v] = n;
      }
      const Node& q = g_.nodes[static_cast<std::size_t>(n)];
      if (is_onnx_op(q, "QuantizeLinear") && !q.inputs.empty()) quantized_[q.inputs[0]] = true;
    }
    for (int v : g_.outputs) readers_[v] += 2;  // a graph output is never the sole reader's
  }

  int run() {
    for (int n : run_order_) drop_activation_before_q(n);
    for (int n : run_order_) {
      if (absorbed_[static_cast<std::size_t>(n)]) continue;
      const Node& node = g_.nodes[static_cast<std::size_t>(n)];
      if (!node.domain.empty() || node.outputs.size() != 1 || node.outputs[0] == kNoValue) continue;
      const std::string& op = node.op_type;
      if (op == "Conv") {
        fuse_conv_or_gemm(n, false);
      } else if (op == "Gemm") {
        fuse_conv_or_gemm(n, true);
      } else if (op == "MatMul") {
        fuse_matmul(n);
      } else if (op == "Add" || op == "Mul") {
        fuse_binary(n);
      } else if (op == "GlobalAveragePool") {
        fuse_global_average_pool(n);
      } else if (op == "MaxPool" || op == "Flatten" || op == "Reshape" || op == "Transpose" ||
                 op == "Squeeze" || op == "Unsqueeze") {
        drop_qdq_around(n);
      }
    }
    for (int n : run_order_) {
      if (!absorbed_[static_cast<std::size_t>(n)]) fuse_requantize(n);
    }
    drop_unread_dequantize();
    std::erase_if(run_order_, [&](int n) { return absorbed_[static_cast<std::size_t>(n)]; });
    return count_;
  }

 private:
  Node& node(int n) { return g_.nodes[static_cast<std::size_t>(n)]; }
  const Tensor* constant_of(int v) const {
    return v != kNoValue && constant_[v] ? &constants_[v] : nullptr;
  }
  int sole_reader(int v) const { return readers_[v] == 1 ? reader_[v] : -1; }

  // A constant scalar scale (float32) and zero point (8-bit), as ORT requires of activations.
  bool scalar_params(int scale, int zero_point) const {
    const Tensor* s = constant_of(scale);
    const Tensor* z = constant_of(zero_point);
    return s && z && s->dtype() == DType::kFloat32 && s->numel() == 1 && is_8bit(z->dtype()) &&
           z->numel() == 1;
  }
  // Two such parameter pairs with the same values (ORT's IsQDQPairSupported).
  bool same_params(const Node& a, const Node& b) const {
    const Tensor& sa = constants_[a.inputs[1]];
    const Tensor& sb = constants_[b.inputs[1]];
    const Tensor& za = constants_[a.inputs[2]];
    const Tensor& zb = constants_[b.inputs[2]];
    return sa.data<float>()[0] == sb.data<float>()[0] && za.dtype() == zb.dtype() &&
           za.get_as_double(0) == zb.get_as_double(0);
  }

  // The DequantizeLinear (explicit zero point) producing v, or -1.
  int dequantize_of(int v) {
    if (v == kNoValue) return -1;
    const int p = g_.values[static_cast<std::size_t>(v)].producer;
    if (p < 0 || absorbed_[static_cast<std::size_t>(p)]) return -1;
    const Node& dq = node(p);
    if (!is_onnx_op(dq, "DequantizeLinear") || dq.inputs.size() != 3 || dq.inputs[2] == kNoValue ||
        dq.outputs.size() != 1 || dq.outputs[0] != v) {
      return -1;
    }
    return p;
  }
  // ... of an 8-bit activation with scalar parameters.
  int activation_dequantize(int v) {
    const int p = dequantize_of(v);
    if (p < 0) return -1;
    const Node& dq = node(p);
    if (!is_8bit(infos_[dq.inputs[0]].dtype) || !scalar_params(dq.inputs[1], dq.inputs[2])) {
      return -1;
    }
    return p;
  }
  // ... of an 8-bit weight with constant parameters, per tensor or per channel on `axis` (the axis
  // the QOperator node reads its per-channel scales on); the weight itself must be constant
  // unless `runtime_weight` (ORT fuses a Conv on a weight computed at run time).
  int weight_dequantize(int v, int axis, bool runtime_weight) {
    const int p = dequantize_of(v);
    if (p < 0) return -1;
    const Node& dq = node(p);
    const TensorInfo& w = infos_[dq.inputs[0]];
    const Tensor* s = constant_of(dq.inputs[1]);
    const Tensor* z = constant_of(dq.inputs[2]);
    if ((!runtime_weight && !constant_of(dq.inputs[0])) || !s || !z || !is_8bit(w.dtype) ||
        s->dtype() != DType::kFloat32 || z->dtype() != w.dtype || s->shape() != z->shape()) {
      return -1;
    }
    if (s->numel() == 1 && s->shape().size() <= 1) return p;
    const auto rank = static_cast<std::int64_t>(w.shape.size());
    std::int64_t dq_axis = 1;
    if (auto a = dq.attributes.find("axis"); a != dq.attributes.end()) dq_axis = a->second.i;
    if (dq_axis < 0) dq_axis += rank;
    if (s->shape().size() != 1 || dq_axis != axis || axis >= rank ||
        s->shape()[0] != w.shape[static_cast<std::size_t>(axis)]) {
      return -1;
    }
    return p;
  }
  // ... of a constant int32 bias of length m with zero points 0 and scale x_scale * w_scale.
  int bias_dequantize(int v, const Tensor& x_scale, const Tensor& w_scale, std::int64_t m) {
    const int p = dequantize_of(v);
    if (p < 0) return -1;
    const Node& dq = node(p);
    const Tensor* b = constant_of(dq.inputs[0]);
    const Tensor* s = constant_of(dq.inputs[1]);
    const Tensor* z = constant_of(dq.inputs[2]);
    if (!b || !s || !z || b->dtype() != DType::kInt32 || b->shape() != Shape{m} ||
        s->dtype() != DType::kFloat32 || z->dtype() != DType::kInt32 ||
        (s->numel() != 1 && s->numel() != m) || z->numel() != s->numel()) {
      return -1;
    }
    if (s->numel() != 1) {
      std::int64_t axis = 1;
      if (auto a = dq.attributes.find("axis"); a != dq.attributes.end()) axis = a->second.i;
      if (axis != 0 && axis != -1) return -1;
    }
    for (std::int64_t i = 0; i < z->numel(); ++i) {
      if (z->data<std::int32_t>()[i] != 0) return -1;
    }
    const float xs = x_scale.data<float>()[0];
    for (std::int64_t c = 0; c < m; ++c) {
      const float ws = w_scale.data<float>()[w_scale.numel() == 1 ? 0 : c];
      const float want = xs * ws;
      const float have = s->data<float>()[s->numel() == 1 ? 0 : c];
      if (!(std::fabs(have - want) <= 1e-6f * std::fabs(want))) return -1;
    }
    return p;
  }
  // The QuantizeLinear that alone reads v (no graph output), with scalar parameters and output
  // type `type` (any 8-bit type if kUndefined), or -1.
  int quantize_after(int v, DType type) {
    const int q = sole_reader(v);
    if (q < 0 || absorbed_[static_cast<std::size_t>(q)]) return -1;
    const Node& qn = node(q);
    if (!is_onnx_op(qn, "QuantizeLinear") || qn.inputs.size() != 3 || qn.inputs[0] != v ||
        qn.outputs.size() != 1 || !scalar_params(qn.inputs[1], qn.inputs[2]) ||
        (type == DType::kUndefined ? !is_8bit(infos_[qn.outputs[0]].dtype)
                                   : infos_[qn.outputs[0]].dtype != type)) {
      return -1;
    }
    return q;
  }

  // Node n becomes `fused` (an op of the registry at opset `opset` of its domain), producing
  // quantize node q's output; q leaves the run (q < 0: n's own output, nothing leaves). False
  // (nothing changed) if it cannot be prepared.
  bool replace(int n, Node fused, std::int64_t opset, int q) {
    const int out = q < 0 ? node(n).outputs[0] : node(q).outputs[0];
    fused.outputs = {out};
    const OpRow* row = find_op(fused.domain, fused.op_type, opset);
    if (row == nullptr) return false;
    std::unique_ptr<Kernel> kernel;
    try {
      std::vector<TensorInfo> in_infos;
      std::vector<const Tensor*> in_consts;
      for (int v : fused.inputs) {
        in_infos.push_back(v == kNoValue ? TensorInfo{} : infos_[v]);
        in_consts.push_back(constant_of(v));
      }
      PrepareContext ctx(fused, opset, g_.source, std::move(in_infos), std::move(in_consts),
                         reference_);
      Prepared p = row->prepare(ctx);
      if (!p.kernel || p.outputs.size() != 1 || p.outputs[0] != infos_[out]) return false;
      kernel = std::move(p.kernel);
    } catch (const std::exception&) {
      return false;
    }
    if (q >= 0) {
      absorbed_[static_cast<std::size_t>(q)] = true;
      ++count_;
    }
    g_.values[static_cast<std::size_t>(out)].producer = n;
    node(n) = std::move(fused);
    kernels_[static_cast<std::size_t>(n)] = std::move(kernel);
    return true;
  }

  // ORT's ReluQuantFusion / ClipQuantFusion: Relu or Clip read by a QuantizeLinear alone.
  void drop_activation_before_q(int n) {
    const Node& act = node(n);
    const bool relu = is_onnx_op(act, "Relu");
    if ((!relu && !is_onnx_op(act, "Clip")) || act.outputs.size() != 1 ||
        act.outputs[0] == kNoValue || act.inputs.empty() || act.inputs[0] == kNoValue ||
        infos_[act.inputs[0]].dtype != DType::kFloat32) {
      return;
    }
    const int out = act.outputs[0];
    const int q = sole_reader(out);
    if (q < 0) return;
    Node& qn = node(q);
    if (!is_onnx_op(qn, "QuantizeLinear") || qn.inputs.size() != 3 || qn.inputs[0] != out ||
        !scalar_params(qn.inputs[1], qn.inputs[2])) {
      return;
    }
    const Tensor& zt = constants_[qn.inputs[2]];
    const bool u8 = zt.dtype() == DType::kUInt8;
    const int zp = static_cast<int>(zt.get_as_double(0));
    const int lowest = u8 ? 0 : -128, highest = u8 ? 255 : 127;
    if (relu) {
      if (zp != lowest) return;
    } else {
      std::optional<std::pair<float, float>> bounds = clip_bounds(act);
      if (!bounds) return;
      const float s = constants_[qn.inputs[1]].data<float>()[0];
      const float low = s * static_cast<float>(lowest - zp);
      const float high = s * static_cast<float>(highest - zp);
      constexpr float eps = std::numeric_limits<float>::epsilon();
      if (eps < bounds->first - low || eps < high - bounds->second) return;
    }
    qn.inputs[0] = act.inputs[0];
    reader_[act.inputs[0]] = q;  // its reader count stays: q reads it instead of the activation
    quantized_[act.inputs[0]] = true;
    absorbed_[static_cast<std::size_t>(n)] = true;
    ++count_;
  }
  // A Clip's constant bounds (lowest / max float where omitted), or nullopt.
  std::optional<std::pair<float, float>> clip_bounds(const Node& clip) const {
    float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
    if (g_.opset("") < 11) {
      if (auto it = clip.attributes.find("min"); it != clip.attributes.end()) lo = it->second.f;
      if (auto it = clip.attributes.find("max"); it != clip.attributes.end()) hi = it->second.f;
      return std::make_pair(lo, hi);
    }
    for (std::size_t i = 1; i < clip.inputs.size() && i < 3; ++i) {
      if (clip.inputs[i] == kNoValue) continue;
      const Tensor* t = constant_of(clip.inputs[i]);
      if (!t || t->dtype() != DType::kFloat32 || t->numel() != 1) return std::nullopt;
      (i == 1 ? lo : hi) = t->data<float>()[0];
    }
    return std::make_pair(lo, hi);
  }

  // DQ(x), DQ(w), DQ(bias) -> Conv -> Q as QLinearConv; the same around Gemm as com.microsoft
  // QGemm (beta 1 when there is a bias; weights per channel on the output axis N).
  void fuse_conv_or_gemm(int n, bool gemm) {
    const Node& op = node(n);
    if (op.inputs.size() < 2 || op.inputs.size() > 3) return;
    const int dx = activation_dequantize(op.inputs[0]);
    if (dx < 0) return;
    const DType xt = infos_[node(dx).inputs[0]].dtype;
    // ORT (1.30) fuses a Q writing the other 8-bit type than x, and a Gemm without Q into a
    // float-output QGemm (if no Q reads its output at all).
    const int q = quantize_after(op.outputs[0], DType::kUndefined);
    if (q < 0 &&
        (!gemm || quantized_[op.outputs[0]] || infos_[op.outputs[0]].dtype != DType::kFloat32)) {
      return;
    }
    std::int64_t w_axis = 0;
    if (gemm) {
      auto get = [&](const char* name, std::int64_t fallback) {
        auto it = op.attributes.find(name);
        return it == op.attributes.end() ? fallback : it->second.i;
      };
      if (auto beta = op.attributes.find("beta");
          op.inputs.size() == 3 && beta != op.attributes.end() && beta->second.f != 1.0f) {
        return;
      }
      if (get("transB", 0) == 0) w_axis = 1;
    }
    const int dw = weight_dequantize(op.inputs[1], static_cast<int>(w_axis), !gemm);
    if (dw < 0) return;
    const Node& wn = node(dw);
    const TensorInfo& w = infos_[wn.inputs[0]];
    if (xt == DType::kInt8 && w.dtype != DType::kInt8) return;
    const Node& xn = node(dx);
    int bias = kNoValue;
    if (op.inputs.size() == 3 && op.inputs[2] != kNoValue) {
      const std::int64_t m = w.shape[static_cast<std::size_t>(w_axis)];
      const int db =
          bias_dequantize(op.inputs[2], constants_[xn.inputs[1]], constants_[wn.inputs[1]], m);
      if (db < 0) return;
      bias = node(db).inputs[0];
    }
    Node fused = op;
    if (gemm) {
      fused.op_type = "QGemm";
      fused.domain = "com.microsoft";
      fused.attributes.erase("beta");
      fused.inputs = {xn.inputs[0], xn.inputs[1], xn.inputs[2], wn.inputs[0],
                      wn.inputs[1], wn.inputs[2], bias};
      if (q >= 0) {
        fused.inputs.push_back(node(q).inputs[1]);
        fused.inputs.push_back(node(q).inputs[2]);
      }
      replace(n, std::move(fused), 1, q);
    } else {
      const Node& qn = node(q);
      fused.op_type = "QLinearConv";
      fused.inputs = {xn.inputs[0], xn.inputs[1], xn.inputs[2], wn.inputs[0],
                      wn.inputs[1], wn.inputs[2], qn.inputs[1], qn.inputs[2]};
      if (bias != kNoValue) fused.inputs.push_back(bias);
      replace(n, std::move(fused), g_.opset(""), q);
    }
  }

  // DQ(a), DQ(b) -> MatMul -> Q as QLinearMatMul (b constant per column, or per tensor).
  void fuse_matmul(int n) {
    const Node& op = node(n);
    if (op.inputs.size() != 2) return;
    const int da = activation_dequantize(op.inputs[0]);
    if (da < 0) return;
    const DType at = infos_[node(da).inputs[0]].dtype;
    int db = activation_dequantize(op.inputs[1]);
    if (db < 0 && infos_[op.inputs[1]].shape.size() == 2)
      db = weight_dequantize(op.inputs[1], 1, false);
    if (db < 0) return;
    if (at == DType::kInt8 && infos_[node(db).inputs[0]].dtype != DType::kInt8) return;
    const int q = quantize_after(op.outputs[0], at);
    if (q < 0) return;
    const Node& an = node(da);
    const Node& bn = node(db);
    const Node& qn = node(q);
    Node fused = op;
    fused.op_type = "QLinearMatMul";
    fused.inputs = {an.inputs[0], an.inputs[1], an.inputs[2], bn.inputs[0],
                    bn.inputs[1], bn.inputs[2], qn.inputs[1], qn.inputs[2]};
    replace(n, std::move(fused), g_.opset(""), q);
  }

  // DQ(a), DQ(b) -> Add / Mul -> Q as com.microsoft QLinearAdd / QLinearMul.
  void fuse_binary(int n) {
    const Node& op = node(n);
    if (op.inputs.size() != 2) return;
    const int da = activation_dequantize(op.inputs[0]);
    const int db = activation_dequantize(op.inputs[1]);
    if (da < 0 || db < 0) return;
    const DType t = infos_[node(da).inputs[0]].dtype;
    if (infos_[node(db).inputs[0]].dtype != t) return;
    const int q = quantize_after(op.outputs[0], DType::kUndefined);  // as ORT 1.30: any 8-bit y
    if (q < 0) return;
    const Node& an = node(da);
    const Node& bn = node(db);
    const Node& qn = node(q);
    Node fused = op;
    fused.op_type = op.op_type == "Add" ? "QLinearAdd" : "QLinearMul";
    fused.domain = "com.microsoft";
    fused.inputs = {an.inputs[0], an.inputs[1], an.inputs[2], bn.inputs[0],
                    bn.inputs[1], bn.inputs[2], qn.inputs[1], qn.inputs[2]};
    replace(n, std::move(fused), 1, q);
  }

  // DQ -> GlobalAveragePool -> Q as com.microsoft QLinearGlobalAveragePool (NCHW).
  void fuse_global_average_pool(int n) {
    const Node& op = node(n);
    if (op.inputs.size() != 1) return;
    const int dx = activation_dequantize(op.inputs[0]);
    if (dx < 0) return;
    const Node& xn = node(dx);
    const int q = quantize_after(op.outputs[0], infos_[xn.inputs[0]].dtype);
    if (q < 0) return;
    const Node& qn = node(q);
    Node fused = op;
    fused.op_type = "QLinearGlobalAveragePool";
    fused.domain = "com.microsoft";
    Attribute channels_last;
    channels_last.kind = Attribute::Kind::kInt;
    channels_last.i = 0;
    fused.attributes["channels_last"] = channels_last;
    fused.inputs = {xn.inputs[0], xn.inputs[1], xn.inputs[2], qn.inputs[1], qn.inputs[2]};
    replace(n, std::move(fused), 1, q);
  }

  // DQ -> op -> Q with equal parameters: the op on the 8-bit data (ORT's DropQDQNodes; 8-bit
  // MaxPool needs opset 12).
  void drop_qdq_around(int n) {
    const Node& op = node(n);
    if (op.inputs.empty() || (op.op_type == "MaxPool" && g_.opset("") < 12)) return;
    const int dx = activation_dequantize(op.inputs[0]);
    if (dx < 0) return;
    const Node& xn = node(dx);
    const int q = quantize_after(op.outputs[0], infos_[xn.inputs[0]].dtype);
    if (q < 0 || !same_params(xn, node(q))) return;
    Node fused = op;
    fused.inputs[0] = xn.inputs[0];
    replace(n, std::move(fused), g_.opset(""), q);
  }

  // The DQ -> Q pairs left (ORT leaves them too: a convolution's output requantized to its Relu's
  // scale) as dnnfi.Requantize: a 256-entry table per run instead of a float32 tensor, the same
  // bits (ops/quantize.cpp).
  void fuse_requantize(int n) {
    const Node& dq = node(n);
    if (!is_onnx_op(dq, "DequantizeLinear") || dq.outputs.size() != 1) return;
    if (activation_dequantize(dq.outputs[0] == kNoValue ? kNoValue : dq.outputs[0]) != n) return;
    const int q = quantize_after(dq.outputs[0], DType::kUndefined);
    if (q < 0) return;
    const Node& qn = node(q);
    Node fused;
    fused.name = qn.name;
    fused.op_type = "Requantize";
    fused.domain = "dnnfi";
    fused.inputs = {dq.inputs[0], dq.inputs[1], dq.inputs[2], qn.inputs[1], qn.inputs[2]};
    replace(n, std::move(fused), 1, q);
  }

  // A DequantizeLinear whose readers were all fused away leaves the run.
  void drop_unread_dequantize() {
    std::vector<int> readers(infos_.size(), 0);
    for (int n : run_order_) {
      if (absorbed_[static_cast<std::size_t>(n)]) continue;
      for (int v : node(n).inputs) {
        if (v != kNoValue) ++readers[v];
      }
    }
    for (int v : g_.outputs) ++readers[v];
    for (int n : run_order_) {
      const Node& dq = node(n);
      if (absorbed_[static_cast<std::size_t>(n)] || !is_onnx_op(dq, "DequantizeLinear")) continue;
      const int out = dq.outputs.empty() ? kNoValue : dq.outputs[0];
      // Only those this rewrite left unread: an unread DQ of the model itself stays as it was.
      if (out != kNoValue && readers[out] == 0 && readers_[out] > 0) {
        absorbed_[static_cast<std::size_t>(n)] = true;
        ++count_;
      }
    }
  }

  Graph& g_;
  std::vector<int>& run_order_;
  std::vector<std::unique_ptr<Kernel>>& kernels_;
  const std::vector<TensorInfo>& infos_;
  const std::vector<bool>& constant_;
  const std::vector<Tensor>& constants_;
  const bool reference_;
  std::vector<int> readers_, reader_;  // run-time readers of each value (graph outputs count 2)
  std::vector<bool> quantized_;        // read by a QuantizeLinear
  std::vector<bool> absorbed_;
  int count_ = 0;
};

}  // namespace

int fuse_qdq_groups(Graph& g, std::vector<int>& run_order,
                    std::vector<std::unique_ptr<Kernel>>& kernels,
                    const std::vector<TensorInfo>& infos, const std::vector<bool>& constant,
                    const std::vector<Tensor>& constants, bool reference_kernels) {
  return QdqRewriter(g, run_order, kernels, infos, constant, constants, reference_kernels).run();
}

}  // namespace dnnfi
