#include "exec/fusion.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <string_view>

#include "exec/qdq_fusion.h"
#include "ops/fp16_fallback.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

struct Activation {
  std::string op;  // "Relu" or "Clip"
  float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
};

// The scalar float constant of input i, or nullopt when it is not one.
std::optional<float> scalar_constant(const Node& n, std::size_t i,
                                     const std::vector<bool>& constant,
                                     const std::vector<Tensor>& constants) {
  const int v = n.inputs[i];
  if (!constant[v]) return std::nullopt;
  const Tensor& t = constants[v];
  if (t.dtype() != DType::kFloat32 || t.numel() != 1) return std::nullopt;
  return t.data<float>()[0];
}

// A Relu, or a Clip whose bounds are known float scalars, on float32 data.
std::optional<Activation> as_activation(const Graph& g, const Node& n,
                                        const std::vector<bool>& constant,
                                        const std::vector<Tensor>& constants) {
  if (!n.domain.empty() || n.outputs.size() != 1) return std::nullopt;
  if (n.op_type == "Relu") return Activation{"Relu"};
  if (n.op_type != "Clip") return std::nullopt;
  Activation a{"Clip"};
  if (g.opset("") < 11) {
    if (auto it = n.attributes.find("min"); it != n.attributes.end()) a.lo = it->second.f;
    if (auto it = n.attributes.find("max"); it != n.attributes.end()) a.hi = it->second.f;
    return a;
  }
  for (std::size_t i = 1; i < n.inputs.size(); ++i) {
    if (n.inputs[i] == kNoValue) continue;
    const std::optional<float> bound = scalar_constant(n, i, constant, constants);
    if (!bound) return std::nullopt;
    (i == 1 ? a.lo : a.hi) = *bound;
  }
  return a;
}

// The graph being rewritten, as the session prepared it: value infos and folded constants.
struct SessionValues {
  const Graph& g;
  const std::vector<TensorInfo>& infos;
  const std::vector<bool>& constant;
  const std::vector<Tensor>& constants;
};

void input_infos(const SessionValues& s, const Node& node, std::vector<TensorInfo>& in_infos,
                 std::vector<const Tensor*>& in_consts) {
  for (int v : node.inputs) {
    in_infos.push_back(v == kNoValue ? TensorInfo{} : s.infos[v]);
    in_consts.push_back(v != kNoValue && s.constant[v] ? &s.constants[v] : nullptr);
  }
}

PrepareContext context_for(const SessionValues& s, const Node& node, bool reference) {
  std::vector<TensorInfo> in_infos;
  std::vector<const Tensor*> in_consts;
  input_infos(s, node, in_infos, in_consts);
  return PrepareContext(node, s.g.opset(""), s.g.source, std::move(in_infos), std::move(in_consts),
                        reference);
}

// The kernel for a rewritten node, or null when it cannot be prepared or its first output would
// not be `out` (the caller then leaves the graph as it was). float16 nodes go through the float16
// fallback, as Session::create prepares them.
std::unique_ptr<Kernel> try_prepare(const SessionValues& s, PrepareFn prepare, const Node& node,
                                    const TensorInfo& out, bool reference) {
  try {
    std::vector<TensorInfo> in_infos;
    std::vector<const Tensor*> in_consts;
    input_infos(s, node, in_infos, in_consts);
    Prepared p = prepare_with_fp16_fallback(prepare, node, s.g.opset(""), s.g.source,
                                            std::move(in_infos), std::move(in_consts), reference);
    if (!p.kernel || p.outputs.empty() || p.outputs[0] != out) return {};
    return std::move(p.kernel);
  } catch (const std::exception&) {
    return {};
  }
}

// A Pad node's pads when it pads a rank-4 tensor with zeros on the two spatial axes only, as a
// pool's "pads" attribute (H begin, W begin, H end, W end); nullopt otherwise.
std::optional<std::vector<std::int64_t>> zero_spatial_pads(const Graph& g, const Node& pad,
                                                           const SessionValues& s) {
  if (pad.inputs.empty() || pad.inputs[0] == kNoValue || s.infos[pad.inputs[0]].shape.size() != 4) {
    return std::nullopt;
  }
  auto attr = pad.attributes.find("mode");
  if (attr != pad.attributes.end() && attr->second.s != "constant") return std::nullopt;
  std::vector<std::int64_t> p;
  if (g.opset("") < 11) {
    auto value = pad.attributes.find("value");
    if (value != pad.attributes.end() && value->second.f != 0.0f) return std::nullopt;
    auto pads = pad.attributes.find("pads");
    if (pads == pad.attributes.end()) return std::nullopt;
    p = pads->second.ints;
  } else {
    if (pad.inputs.size() < 2 || pad.inputs.size() > 3) return std::nullopt;  // no axes input
    const int pv = pad.inputs[1];
    if (pv == kNoValue || !s.constant[pv] || s.constants[pv].dtype() != DType::kInt64) {
      return std::nullopt;
    }
    p = s.constants[pv].to_int64_vector();
    if (pad.inputs.size() == 3 && pad.inputs[2] != kNoValue) {
      const int cv = pad.inputs[2];
      if (!s.constant[cv] || s.constants[cv].dtype() != DType::kFloat32 ||
          s.constants[cv].numel() != 1 || s.constants[cv].data<float>()[0] != 0.0f) {
        return std::nullopt;
      }
    }
  }
  if (p.size() != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0) return std::nullopt;
  for (std::int64_t v : p) {
    if (v < 0) return std::nullopt;
  }
  return std::vector<std::int64_t>{p[2], p[3], p[6], p[7]};
}

// An AveragePool with no padding of its own (no pads, auto_pad NOTSET or VALID).
bool without_pads(const Node& pool) {
  auto auto_pad = pool.attributes.find("auto_pad");
  if (auto_pad != pool.attributes.end() && auto_pad->second.s != "NOTSET" &&
      auto_pad->second.s != "VALID") {
    return false;
  }
  auto pads = pool.attributes.find("pads");
  if (pads == pool.attributes.end()) return true;
  for (std::int64_t v : pads->second.ints) {
    if (v != 0) return false;
  }
  return true;
}

}  // namespace

int fuse_for_inference(Graph& g, std::vector<int>& run_order,
                       std::vector<std::unique_ptr<Kernel>>& kernels,
                       const std::vector<TensorInfo>& infos, const std::vector<bool>& constant,
                       const std::vector<Tensor>& constants, bool reference_kernels) {
  // QDQ groups first: their float Conv / Add nodes become int8 ones, which the float patterns
  // below would not match anyway (a Conv read by a QuantizeLinear alone absorbs nothing).
  int count = fuse_qdq_groups(g, run_order, kernels, infos, constant, constants, reference_kernels);
  const std::size_t nv = infos.size();
  // Run-time readers of each value (graph outputs count as a reader), and each node's step.
  std::vector<int> readers(nv, 0), reader(nv, -1);
  std::vector<int> step(g.nodes.size(), -1);
  for (std::size_t s = 0; s < run_order.size(); ++s) {
    const int n = run_order[s];
    step[static_cast<std::size_t>(n)] = static_cast<int>(s);
    for (int v : g.nodes[static_cast<std::size_t>(n)].inputs) {
      if (v == kNoValue) continue;
      ++readers[v];
      reader[v] = n;
    }
  }
  for (int v : g.outputs) readers[v] += 2;
  // The single node reading v, or -1.
  auto sole_reader = [&](int v) { return readers[v] == 1 ? reader[v] : -1; };
  auto is_float = [&](int v) { return infos[v].dtype == DType::kFloat32; };
  auto is_half = [&](int v) { return infos[v].dtype == DType::kFloat16; };

  std::vector<bool> absorbed(g.nodes.size(), false);
  // Replaces node ni by `fused` (prepared with `prepare`), absorbing the nodes of `group`, whose
  // last output `out` the fused node now produces. False (nothing changed) if it cannot be
  // prepared.
  const SessionValues values{g, infos, constant, constants};
  auto replace = [&](int ni, Node fused, PrepareFn prepare, const std::vector<int>& group,
                     int out) {
    std::unique_ptr<Kernel> kernel =
        try_prepare(values, prepare, fused, infos[out], reference_kernels);
    if (!kernel) return false;  // left unfused
    for (int n : group) absorbed[static_cast<std::size_t>(n)] = true;
    g.values[out].producer = ni;
    g.nodes[static_cast<std::size_t>(ni)] = std::move(fused);
    kernels[static_cast<std::size_t>(ni)] = std::move(kernel);
    count += static_cast<int>(group.size());
    return true;
  };
  for (std::size_t s = 0; s < run_order.size(); ++s) {
    const int ci = run_order[s];
    const Node& conv = g.nodes[static_cast<std::size_t>(ci)];
    // Pad (zeros, spatial) -> AveragePool without pads (Inception-v3's count_include_pad
    // pools, as PyTorch exports them).
    if (conv.domain.empty() && conv.op_type == "Pad" && conv.outputs.size() == 1) {
      const int pool = sole_reader(conv.outputs[0]);
      if (pool < 0) continue;
      const Node& avg = g.nodes[static_cast<std::size_t>(pool)];
      if (!avg.domain.empty() || avg.op_type != "AveragePool" || avg.outputs.size() != 1) continue;
      std::optional<std::vector<std::int64_t>> pads = zero_spatial_pads(g, conv, values);
      if (!pads || !is_float(conv.inputs[0]) || !without_pads(avg)) continue;
      Node fused = avg;
      fused.inputs = {conv.inputs[0]};
      Attribute pad_attr, include;
      pad_attr.kind = Attribute::Kind::kInts;
      pad_attr.ints = *pads;
      include.kind = Attribute::Kind::kInt;
      include.i = 1;
      fused.attributes["pads"] = pad_attr;
      fused.attributes["count_include_pad"] = include;
      fused.attributes.erase("auto_pad");
      replace(ci, std::move(fused), prepare_average_pool, {pool}, avg.outputs[0]);
      continue;
    }
    // BatchNormalization -> Relu (DenseNet's pre-activation order).
    // float16 too: its BatchNormalizationRelu applies the Relu after the rounding (fp16_fallback).
    if (conv.domain.empty() && conv.op_type == "BatchNormalization" && !conv.outputs.empty() &&
        (is_float(conv.outputs[0]) || is_half(conv.outputs[0]))) {
      const int relu = sole_reader(conv.outputs[0]);
      if (relu < 0) continue;
      const Node& r = g.nodes[static_cast<std::size_t>(relu)];
      if (!r.domain.empty() || r.op_type != "Relu" || r.outputs.size() != 1) continue;
      bool training_outputs = false;
      for (std::size_t i = 1; i < conv.outputs.size(); ++i) {
        training_outputs |= conv.outputs[i] != kNoValue;
      }
      if (training_outputs) continue;
      Node fused = conv;
      fused.op_type = "BatchNormalizationRelu";
      fused.domain = "dnnfi";
      fused.outputs = {r.outputs[0]};
      replace(ci, std::move(fused), prepare_batch_normalization, {relu}, r.outputs[0]);
      continue;
    }
    if (!conv.domain.empty() || conv.op_type != "Conv" || conv.outputs.size() != 1) continue;
    int out = conv.outputs[0];
    // float16: Conv -> Add -> Relu, whose FusedConv rounds the convolution, adds s and rounds
    // again, then applies the Relu on the bits (fp16_fallback.cpp): the values are those of the
    // separate nodes bit for bit (Add(s, conv) is marked fp16_sum_first, so that NaN + NaN keeps
    // the same operand's payload). Not Clip.
    const bool half = is_half(out);
    if (!is_float(out) && !half) continue;
    std::vector<int> group;
    int summand = kNoValue;
    bool sum_first = false;  // Add(summand, conv)
    std::optional<Activation> act;

    int next = sole_reader(out);
    if (next >= 0) {
      const Node& add = g.nodes[static_cast<std::size_t>(next)];
      if (add.domain.empty() && add.op_type == "Add" && add.inputs.size() == 2 &&
          add.outputs.size() == 1) {
        const int other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
        const int producer = other == kNoValue ? -1 : g.values[other].producer;
        // The summand must be ready when the Conv runs, with the output's exact shape.
        const bool ready =
            other != kNoValue && other != out && !constant[other] &&
            (half ? is_half(other) : is_float(other)) &&
            (producer < 0 || (step[static_cast<std::size_t>(producer)] >= 0 &&
                              step[static_cast<std::size_t>(producer)] < static_cast<int>(s)));
        if (ready && infos[other].shape == infos[out].shape &&
            infos[add.outputs[0]].shape == infos[out].shape) {
          summand = other;
          sum_first = add.inputs[0] != out;
          group.push_back(next);
          out = add.outputs[0];
          next = sole_reader(out);
        }
      }
    }
    if (next >= 0) {
      const Node& n = g.nodes[static_cast<std::size_t>(next)];
      act = as_activation(g, n, constant, constants);
      const bool ok =
          half ? act && act->op == "Relu" && is_half(n.outputs[0]) : act && is_float(n.outputs[0]);
      if (ok) {
        group.push_back(next);
        out = n.outputs[0];
      } else {
        act.reset();
      }
    }
    if (group.empty()) continue;

    Node fused = conv;
    fused.op_type = "FusedConv";
    fused.domain = "dnnfi";
    fused.inputs.resize(3, kNoValue);
    if (summand != kNoValue) fused.inputs.push_back(summand);
    if (half && sum_first) {
      Attribute first;
      first.kind = Attribute::Kind::kInt;
      first.i = 1;
      fused.attributes["fp16_sum_first"] = first;
    }
    fused.outputs = {out};
    if (act) {
      Attribute a;
      a.kind = Attribute::Kind::kString;
      a.s = act->op;
      fused.attributes["activation"] = a;
      Attribute lo, hi;
      lo.kind = hi.kind = Attribute::Kind::kFloat;
      lo.f = act->lo;
      hi.f = act->hi;
      fused.attributes["activation_min"] = lo;
      fused.attributes["activation_max"] = hi;
    }
    replace(ci, std::move(fused), prepare_conv, group, out);
  }
  std::erase_if(run_order, [&](int n) { return absorbed[static_cast<std::size_t>(n)]; });
  return count;
}

int assign_channels_last(Graph& g, const std::vector<int>& run_order,
                         std::vector<std::unique_ptr<Kernel>>& kernels,
                         const std::vector<TensorInfo>& infos, const std::vector<bool>& constant,
                         const std::vector<Tensor>& constants, std::vector<bool>* nhwc_out) {
  const std::size_t nv = infos.size();
  // kQConv: an int8 QLinearConv on oneDNN (dnnfi-domain QLinearConv with layouts, X and Y each
  // either). kElementwise: a node whose data inputs and output have one shape and whose kernel
  // reads and writes elementwise with per-tensor parameters (DequantizeLinear/QuantizeLinear with
  // scalar scale, QLinearAdd/QLinearMul without broadcasting), so it runs unchanged on NHWC bytes;
  // its tensors change layout together.
  // kBatchNorm: a float32 BatchNormalization(Relu) with constant parameters (per channel, so
  // channels-last needs its own loop: dnnfi-domain node with layout = NHWC); its X and Y change
  // layout together.
  // kGlobalPool: a float32 GlobalAveragePool that reads NHWC X (its [N, C, 1, 1] output has the
  // same bytes in both layouts).
  // kFloatElementwise: a float32 elementwise op (floatwise_ops) whose non-scalar inputs have
  // the output's shape; it runs unchanged on NHWC bytes, its tensors change layout together.
  enum class Kind {
    kOther,
    kConv,
    kPool,
    kConcat,
    kQConv,
    kElementwise,
    kFloatElementwise,
    kPad,
    kBatchNorm,
    kGlobalPool
  };
  static const std::set<std::string_view> floatwise_ops = {"Abs",
                                                           "Add",
                                                           "Celu",
                                                           "Ceil",
                                                           "Clip",
                                                           "Div",
                                                           "Elu",
                                                           "Erf",
                                                           "Exp",
                                                           "Floor",
                                                           "Gelu",
                                                           "HardSigmoid",
                                                           "HardSwish",
                                                           "Identity",
                                                           "LeakyRelu",
                                                           "Log",
                                                           "Max",
                                                           "Mean",
                                                           "Min",
                                                           "Mish",
                                                           "Mul",
                                                           "Neg",
                                                           "PRelu",
                                                           "Pow",
                                                           "Reciprocal",
                                                           "Relu",
                                                           "Round",
                                                           "Selu",
                                                           "Sigmoid",
                                                           "Sign",
                                                           "Softplus",
                                                           "Softsign",
                                                           "Sqrt",
                                                           "Sub",
                                                           "Sum",
                                                           "Tanh",
                                                           "ThresholdedRelu"};
  // float32 only. float16 nodes would work channels-last (the float16 fallback widens and rounds
  // elementwise), but a convolution on NHWC data sums in another order than on NCHW, and a float32
  // difference of one ulp can round to another float16: fp16 ResNet-50's outputs then differed
  // from the plain session's by 2 float16 ulps, for no measurable gain there (fmnist_resnet: 15%).
  auto rank4_float = [&](int v) {
    return v != kNoValue && infos[v].dtype == DType::kFloat32 && infos[v].shape.size() == 4;
  };
  auto rank4 = [&](int v) { return v != kNoValue && infos[v].shape.size() == 4; };
  auto prepare_fn = [](Kind k, const Node& node) -> PrepareFn {
    if (k == Kind::kConv) return prepare_conv;
    if (k == Kind::kQConv) return prepare_qlinear_conv;
    if (k == Kind::kBatchNorm) return prepare_batch_normalization;
    if (k == Kind::kGlobalPool) return prepare_global_average_pool;
    if (k == Kind::kConcat) return prepare_concat;
    if (k == Kind::kPad) return prepare_pad;
    return node.op_type == "MaxPool" ? prepare_max_pool : prepare_average_pool;
  };
  // The node as a channels-last one: FusedConv with per-tensor layouts, or the dnnfi-domain
  // pool/Concat with layout = NHWC (all of a pool's or Concat's tensors change together).
  auto channels_last_node = [](Kind k, Node node, bool src, bool dst, bool sum) {
    auto set = [&](const char* name, bool nhwc) {
      if (!nhwc) return;
      Attribute a;
      a.kind = Attribute::Kind::kString;
      a.s = "NHWC";
      node.attributes[name] = a;
    };
    node.domain = "dnnfi";
    if (k == Kind::kGlobalPool) {
      set("layout", src);
    } else if (k == Kind::kQConv) {
      set("src_layout", src);
      set("dst_layout", dst);
    } else if (k == Kind::kConv) {
      node.op_type = "FusedConv";
      if (node.inputs.size() < 3) node.inputs.resize(3, kNoValue);
      set("src_layout", src);
      set("dst_layout", dst);
      set("sum_layout", sum);
    } else {
      set("layout", true);
    }
    return node;
  };
  const SessionValues values{g, infos, constant, constants};
  auto prepare = [&](Kind k, const Node& node) {
    return try_prepare(values, prepare_fn(k, node), node, infos[node.outputs[0]], false);
  };

  // What each node can do with channels-last data. Pools and Concats change all their tensors
  // together; they qualify only if their channels-last form can be prepared.
  std::vector<Kind> kind(g.nodes.size(), Kind::kOther);
  std::vector<bool> all_or_none(g.nodes.size(), false);  // input and output layouts must agree
  auto scalar = [&](const Node& node, std::size_t i) {
    return i >= node.inputs.size() || node.inputs[i] == kNoValue ||
           shape_numel(infos[node.inputs[i]].shape) == 1;
  };
  auto same_shape = [&](const Node& node, std::size_t i) {
    return i < node.inputs.size() && node.inputs[i] != kNoValue && !constant[node.inputs[i]] &&
           infos[node.inputs[i]].shape == infos[node.outputs[0]].shape;
  };
  auto pads_all_zero = [&](const Node& node) {
    const auto pads = zero_spatial_pads(g, node, values);
    return pads && std::all_of(pads->begin(), pads->end(), [](std::int64_t p) { return p == 0; });
  };
  for (int n : run_order) {
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    const bool onnx = node.domain.empty();
    if (node.outputs.size() != 1 || !rank4(node.outputs[0])) continue;
    if ((onnx || node.domain == "dnnfi") && node.op_type == "QLinearConv" &&
        rank4(node.inputs[0])) {
      if (prepare(Kind::kQConv, channels_last_node(Kind::kQConv, node, true, true, false))) {
        kind[n] = Kind::kQConv;
      }
      continue;
    }
    if ((onnx && (node.op_type == "DequantizeLinear" || node.op_type == "QuantizeLinear") &&
         same_shape(node, 0) && scalar(node, 1) && scalar(node, 2)) ||
        (node.domain == "dnnfi" && node.op_type == "Requantize" && same_shape(node, 0)) ||
        (node.domain == "com.microsoft" &&
         (node.op_type == "QLinearAdd" || node.op_type == "QLinearMul") && same_shape(node, 0) &&
         same_shape(node, 3))) {
      kind[n] = Kind::kElementwise;
      all_or_none[n] = true;
      continue;
    }
    if (!rank4_float(node.outputs[0])) continue;
    // A Pad whose pads are all zero (torchvision's AvgPool2d exports as Pad -> AveragePool) copies
    // its input: elementwise too. Its other inputs are constants, not data.
    if (onnx && node.op_type == "Pad" && same_shape(node, 0) && pads_all_zero(node)) {
      kind[n] = Kind::kFloatElementwise;
      all_or_none[n] = true;
      continue;
    }
    // Other zero Pads of H and W (Inception's count_include_pad pools: Pad -> AveragePool):
    // dnnfi.Pad with layout = NHWC pads the bytes' H and W; input and output change together.
    if (onnx && node.op_type == "Pad" && rank4_float(node.inputs[0]) &&
        zero_spatial_pads(g, node, values)) {
      if (prepare(Kind::kPad, channels_last_node(Kind::kPad, node, true, true, false))) {
        kind[n] = Kind::kPad;
        all_or_none[n] = true;
      }
      continue;
    }
    if (onnx && floatwise_ops.count(node.op_type) && !node.inputs.empty() && same_shape(node, 0)) {
      bool ok = true;
      for (std::size_t i = 1; i < node.inputs.size(); ++i)
        ok &= scalar(node, i) || same_shape(node, i);
      if (ok) {
        kind[n] = Kind::kFloatElementwise;
        all_or_none[n] = true;
      }
      continue;
    }
    if (onnx && node.op_type == "GlobalAveragePool" && rank4_float(node.inputs[0])) {
      if (prepare(Kind::kGlobalPool,
                  channels_last_node(Kind::kGlobalPool, node, true, false, false))) {
        kind[n] = Kind::kGlobalPool;
      }
      continue;
    }
    if (((onnx && node.op_type == "BatchNormalization") ||
         (node.domain == "dnnfi" && node.op_type == "BatchNormalizationRelu")) &&
        rank4_float(node.inputs[0])) {
      if (prepare(Kind::kBatchNorm,
                  channels_last_node(Kind::kBatchNorm, node, true, true, false))) {
        kind[n] = Kind::kBatchNorm;
        all_or_none[n] = true;
      }
      continue;
    }
    if ((onnx && node.op_type == "Conv") ||
        (node.domain == "dnnfi" && node.op_type == "FusedConv")) {
      if (!rank4_float(node.inputs[0])) continue;
      kind[n] = Kind::kConv;
    } else if (onnx && (node.op_type == "MaxPool" || node.op_type == "AveragePool") &&
               node.outputs.size() == 1 && rank4_float(node.inputs[0])) {
      if (!prepare(Kind::kPool, channels_last_node(Kind::kPool, node, true, true, false))) continue;
      kind[n] = Kind::kPool;
      all_or_none[n] = true;
    } else if (onnx && node.op_type == "Concat") {
      bool ok = !node.inputs.empty();
      for (int v : node.inputs) ok &= rank4_float(v) && !constant[v];
      if (!ok) continue;
      if (!prepare(Kind::kConcat, channels_last_node(Kind::kConcat, node, true, true, false))) {
        continue;
      }
      kind[n] = Kind::kConcat;
      all_or_none[n] = true;
    }
  }
  // A convolution that computes on NCHW directly (no reorders) keeps doing so unless both its
  // data input and its output can be channels-last.
  for (int n : run_order) {
    if (kind[n] != Kind::kConv) continue;
    try {
      all_or_none[n] = conv_reads_nchw_directly(
          context_for(values, g.nodes[static_cast<std::size_t>(n)], false));
    } catch (const std::exception&) {
      return 0;
    }
  }
  // A node's data inputs: a convolution's X and summand, every input of a pool or Concat.
  auto data_input = [&](int n, std::size_t i) {
    switch (kind[n]) {
      case Kind::kConv:
        return i == 0 || i == 3;
      case Kind::kQConv:
      case Kind::kBatchNorm:
      case Kind::kGlobalPool:
      case Kind::kPad:
        return i == 0;
      case Kind::kElementwise:
        return i == 0 || (i == 3 && g.nodes[static_cast<std::size_t>(n)].domain == "com.microsoft");
      case Kind::kFloatElementwise:
        return same_shape(g.nodes[static_cast<std::size_t>(n)], i);
      case Kind::kOther:
        return false;
      default:
        return true;
    }
  };

  std::vector<std::vector<std::pair<int, std::size_t>>> readers(nv);  // (node, input index)
  for (int n : run_order) {
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] != kNoValue) readers[node.inputs[i]].emplace_back(n, i);
    }
  }
  std::vector<bool> output(nv, false), nhwc(nv, false);
  for (int v : g.outputs) output[v] = true;
  for (int n : run_order) {
    if (kind[n] == Kind::kOther) continue;
    const int v = g.nodes[static_cast<std::size_t>(n)].outputs[0];
    if (output[v] || constant[v] || readers[v].empty()) continue;
    bool ok = true;
    for (const auto& [r, i] : readers[v]) ok &= data_input(r, i);
    nhwc[v] = ok;
  }
  // Nodes whose layouts must agree drop all their tensors to NCHW when one cannot be NHWC;
  // that can expose another such node, hence the loop.
  for (bool changed = true; changed;) {
    changed = false;
    for (int n : run_order) {
      if (!all_or_none[n]) continue;
      const Node& node = g.nodes[static_cast<std::size_t>(n)];
      std::vector<int> tensors = {node.outputs[0]};
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        if (node.inputs[i] != kNoValue && data_input(n, i) && (kind[n] != Kind::kConv || i == 0)) {
          tensors.push_back(node.inputs[i]);
        }
      }
      bool all = true, any = false;
      for (int v : tensors) {
        all &= nhwc[v];
        any |= nhwc[v];
      }
      if (all || !any) continue;
      for (int v : tensors) nhwc[v] = false;
      changed = true;
    }
  }
  std::vector<int> touched;
  for (int n : run_order) {
    if (kind[n] == Kind::kOther) continue;
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    bool uses = nhwc[node.outputs[0]];
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      uses |= node.inputs[i] != kNoValue && data_input(n, i) && nhwc[node.inputs[i]];
    }
    if (uses) touched.push_back(n);
  }

  // Prepare every changed node first: all or nothing, since producer and readers must agree.
  std::vector<Node> nodes;
  std::vector<std::unique_ptr<Kernel>> prepared;
  touched.erase(std::remove_if(touched.begin(), touched.end(),
                               [&](int n) {
                                 return kind[n] == Kind::kElementwise ||
                                        kind[n] == Kind::kFloatElementwise;
                               }),
                touched.end());  // they run unchanged
  for (int n : touched) {
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    const bool sum = node.inputs.size() > 3 && node.inputs[3] != kNoValue && nhwc[node.inputs[3]];
    Node changed =
        channels_last_node(kind[n], node, nhwc[node.inputs[0]], nhwc[node.outputs[0]], sum);
    std::unique_ptr<Kernel> k = prepare(kind[n], changed);
    if (!k) return 0;
    nodes.push_back(std::move(changed));
    prepared.push_back(std::move(k));
  }
  for (std::size_t i = 0; i < touched.size(); ++i) {
    g.nodes[static_cast<std::size_t>(touched[i])] = std::move(nodes[i]);
    kernels[static_cast<std::size_t>(touched[i])] = std::move(prepared[i]);
  }
  if (nhwc_out != nullptr) *nhwc_out = nhwc;
  return static_cast<int>(std::count(nhwc.begin(), nhwc.end(), true));
}

}  // namespace dnnfi
