#include "fi/row_regions.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <string_view>

#include "ops/conv_shape.h"

namespace dnnfi {

namespace {

// Ops whose output row h depends only on row h of their full-height inputs.
const std::set<std::string_view>& pointwise_ops() {
  static const std::set<std::string_view> ops = {"Abs",
                                                 "Acos",
                                                 "Acosh",
                                                 "Add",
                                                 "And",
                                                 "Asin",
                                                 "Asinh",
                                                 "Atan",
                                                 "Atanh",
                                                 "BatchNormalization",
                                                 "BitShift",
                                                 "Cast",
                                                 "Ceil",
                                                 "Celu",
                                                 "Clip",
                                                 "Concat",
                                                 "Cos",
                                                 "Cosh",
                                                 "DequantizeLinear",
                                                 "Div",
                                                 "Dropout",
                                                 "Elu",
                                                 "Equal",
                                                 "Erf",
                                                 "Exp",
                                                 "Floor",
                                                 "Gelu",
                                                 "Greater",
                                                 "GreaterOrEqual",
                                                 "HardSigmoid",
                                                 "HardSwish",
                                                 "Identity",
                                                 "IsInf",
                                                 "IsNaN",
                                                 "LeakyRelu",
                                                 "Less",
                                                 "LessOrEqual",
                                                 "Log",
                                                 "Max",
                                                 "Mean",
                                                 "Min",
                                                 "Mish",
                                                 "Mod",
                                                 "Mul",
                                                 "Neg",
                                                 "Not",
                                                 "Or",
                                                 "PRelu",
                                                 "Pow",
                                                 "QuantizeLinear",
                                                 "Reciprocal",
                                                 "Relu",
                                                 "Round",
                                                 "Selu",
                                                 "Shrink",
                                                 "Sigmoid",
                                                 "Sign",
                                                 "Sin",
                                                 "Sinh",
                                                 "Softplus",
                                                 "Softsign",
                                                 "Sqrt",
                                                 "Sub",
                                                 "Sum",
                                                 "Tan",
                                                 "Tanh",
                                                 "ThresholdedRelu",
                                                 "Where",
                                                 "Xor"};
  return ops;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

struct Planes {
  std::int64_t planes = 0, h = 0;
  std::size_t row_bytes = 0;
};

// A tensor as planes x rows x row bytes around its band axis.
Planes planes_of(const Tensor& t, RowLayout layout) {
  const Shape& s = t.shape();
  if (layout.nhwc) {  // [N, C, H, W] in NHWC bytes: N planes of H rows of W * C elements
    return {s[0], s[2], dtype_size(t.dtype()) * static_cast<std::size_t>(s[1] * s[3])};
  }
  const int axis = layout.axis;
  Planes p{1, s[static_cast<std::size_t>(axis)], dtype_size(t.dtype())};
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (static_cast<int>(i) < axis) p.planes *= s[i];
    if (static_cast<int>(i) > axis) p.row_bytes *= static_cast<std::size_t>(s[i]);
  }
  return p;
}

std::int64_t attr_int(const Node& node, const char* name, std::int64_t fallback) {
  auto it = node.attributes.find(name);
  return it == node.attributes.end() ? fallback : it->second.i;
}

// The ONNX op a node computes rows as, "" for none: its own op, or for the dnnfi-domain nodes of
// a channels-last session (exec/fusion.h) the op they stand for. A FusedConv with a summand or
// an activation (inference sessions only) has no row rule.
std::string_view row_op(const Node& node) {
  if (node.domain.empty()) return node.op_type;
  if (node.domain != "dnnfi") return {};
  const std::string& op = node.op_type;
  if (op == "FusedConv") {
    const bool sum = node.inputs.size() > 3 && node.inputs[3] != kNoValue;
    return sum || node.attributes.count("activation") ? std::string_view{} : "Conv";
  }
  if (op == "MaxPool" || op == "AveragePool" || op == "Concat" || op == "BatchNormalization") {
    return op;
  }
  return {};
}

bool is_window_op(const Node& node) {
  const std::string_view op = row_op(node);
  return op == "Conv" || op == "ConvInteger" || op == "QLinearConv" || op == "MaxPool" ||
         op == "AveragePool" || op == "LpPool";
}

std::vector<std::int64_t> transpose_perm(const Node& node) {
  auto it = node.attributes.find("perm");
  if (it != node.attributes.end()) return it->second.ints;
  return {3, 2, 1, 0};  // rank 4 without perm: the axes reversed
}

}  // namespace

RowRegions::RowRegions(std::shared_ptr<const Session> session, std::size_t min_band_bytes)
    : session_(std::move(session)) {
  const Session& s = *session_;
  const Graph& g = s.graph();
  // Band axes. Convolutions and pools hold rows on axis 2 (NCHW); a Transpose moves the axis (a
  // Keras channels-last model keeps rows on axis 1 between its layers); elementwise ops keep it.
  // Propagated both ways until nothing changes; the values left over use axis 2.
  std::vector<std::uint8_t> candidate(g.values.size(), 0);
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const int id = static_cast<int>(v);
    candidate[v] =
        !s.is_constant(id) && s.info(id).shape.size() == 4 && s.info(id).nbytes() >= min_band_bytes;
  }
  axis_.assign(g.values.size(), -1);
  bool changed = false;
  auto set = [&](int v, std::int64_t a) {
    if (v == kNoValue || !candidate[static_cast<std::size_t>(v)] || a < 0 || a > 3) return;
    if (axis_[static_cast<std::size_t>(v)] >= 0) return;
    axis_[static_cast<std::size_t>(v)] = static_cast<std::int8_t>(a);
    changed = true;
  };
  auto axis_of = [&](int v) -> int {
    return v == kNoValue ? -1 : axis_[static_cast<std::size_t>(v)];
  };
  for (int n : s.run_order()) {
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    if (is_window_op(node) && !node.inputs.empty() && !node.outputs.empty()) {
      set(node.inputs[0], 2);
      set(node.outputs[0], 2);
    }
  }
  changed = true;
  for (int pass = 0; changed && pass < 64; ++pass) {
    changed = false;
    for (int n : s.run_order()) {
      const Node& node = g.nodes[static_cast<std::size_t>(n)];
      if (node.outputs.empty() || node.inputs.empty() || row_op(node).empty()) continue;
      const int y = node.outputs[0];
      if (row_op(node) == "Transpose") {
        const auto perm = transpose_perm(node);
        if (perm.size() != 4) continue;
        if (axis_of(y) >= 0) set(node.inputs[0], perm[static_cast<std::size_t>(axis_of(y))]);
        for (std::size_t k = 0; k < 4 && axis_of(node.inputs[0]) >= 0; ++k) {
          if (perm[k] == axis_of(node.inputs[0])) set(y, static_cast<std::int64_t>(k));
        }
      } else if (pointwise_ops().count(row_op(node))) {
        int a = axis_of(y);
        for (int v : node.inputs) a = a >= 0 ? a : axis_of(v);
        set(y, a);
        for (int v : node.inputs) set(v, a);
      }
    }
  }
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    if (candidate[v] && axis_[v] < 0) axis_[v] = 2;
  }

  rules_.resize(g.nodes.size());
  variants_.resize(g.nodes.size());
  for (int n : s.run_order()) {
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    int outputs = 0;
    for (int v : node.outputs) outputs += v != kNoValue;
    if (outputs != 1 || node.outputs[0] == kNoValue || !row_value(node.outputs[0])) continue;
    const std::string_view op = row_op(node);
    if (op.empty()) continue;
    const int y = node.outputs[0];
    const int a = axis(y);
    const Shape& ys = s.info(y).shape;
    RowRule r;
    r.out_h = ys[static_cast<std::size_t>(a)];
    r.sliced.assign(node.inputs.size(), 0);
    if (r.out_h < 2) continue;
    const bool transpose = op == "Transpose";
    if (transpose || pointwise_ops().count(op)) {
      // Output row h reads row h of each sliced input (a Transpose: on the axis it moves to a).
      const std::vector<std::int64_t> perm =
          transpose ? transpose_perm(node) : std::vector<std::int64_t>{};
      if (transpose && perm.size() != 4) continue;
      const int in_axis = transpose ? static_cast<int>(perm[static_cast<std::size_t>(a)]) : a;
      bool ok = true;
      r.in_h = r.out_h;
      for (std::size_t i = 0; i < node.inputs.size() && ok; ++i) {
        const int v = node.inputs[i];
        if (v == kNoValue) continue;
        const Shape& xs = s.info(v).shape;
        if (row_value(v) && axis(v) == in_axis &&
            xs[static_cast<std::size_t>(in_axis)] == r.out_h) {
          r.sliced[i] = 1;
          continue;
        }
        // Not sliced: it must be the same for every row (broadcast along the band axis).
        const std::int64_t j = a - (4 - static_cast<std::int64_t>(xs.size()));
        ok = !transpose && op != "Concat" && (j < 0 || xs[static_cast<std::size_t>(j)] == 1);
      }
      if (op == "Concat") {
        const std::int64_t c = attr_int(node, "axis", 0);
        ok = ok && (c < 0 ? c + 4 : c) != a;
      }
      if (op == "DequantizeLinear" || op == "QuantizeLinear") {
        const std::int64_t q = attr_int(node, "axis", 1);
        const int scale = node.inputs.size() > 1 ? node.inputs[1] : kNoValue;
        ok = ok && (scale == kNoValue || s.info(scale).numel() == 1 || (q < 0 ? q + 4 : q) != a);
      }
      bool any_sliced = false;
      for (auto b : r.sliced) any_sliced |= b != 0;
      if (ok && any_sliced) {
        r.kind = RowRule::Kind::kPointwise;
        rules_[static_cast<std::size_t>(n)] = std::move(r);
      }
      continue;
    }
    const bool conv = op == "Conv" || op == "ConvInteger";
    const bool qconv = op == "QLinearConv";
    const bool pool = op == "MaxPool" || op == "AveragePool" || op == "LpPool";
    if (!conv && !qconv && !pool) continue;
    const int x = node.inputs.empty() ? kNoValue : node.inputs[0];
    if (x == kNoValue || !row_value(x) || axis(x) != 2 || a != 2) continue;
    const Shape& xs = s.info(x).shape;
    std::vector<std::int64_t> kernel;
    bool ceil_mode = false;
    if (conv || qconv) {
      const int w = node.inputs.size() > (qconv ? 3u : 1u) ? node.inputs[qconv ? 3 : 1] : kNoValue;
      if (w == kNoValue || s.info(w).shape.size() != 4) continue;
      kernel = {s.info(w).shape[2], s.info(w).shape[3]};
    } else {
      auto it = node.attributes.find("kernel_shape");
      if (it == node.attributes.end() || it->second.ints.size() != 2) continue;
      kernel = it->second.ints;
      if (auto c = node.attributes.find("ceil_mode"); c != node.attributes.end()) {
        ceil_mode = c->second.i != 0;
      }
    }
    Window win;
    try {
      std::vector<TensorInfo> infos;
      for (int v : node.inputs) infos.push_back(v == kNoValue ? TensorInfo{} : s.info(v));
      std::vector<const Tensor*> consts(node.inputs.size(), nullptr);
      PrepareContext ctx(node, g.opset(node.domain == "dnnfi" ? "" : node.domain), g.source, infos,
                         consts, false);
      win = resolve_window(ctx, Shape(xs.begin() + 2, xs.end()), kernel, ceil_mode, true);
    } catch (const std::exception&) {
      continue;
    }
    if (win.rank != 2 || win.out[0] != r.out_h) continue;
    r.kind = RowRule::Kind::kWindow;
    r.in_h = xs[2];
    r.sliced[0] = 1;
    r.extent = win.extent(0);
    r.stride = win.strides[0];
    r.pad_top = win.pad_begin[0];
    r.pad_bottom = win.pad_end[0];
    r.pads = {win.pad_begin[0], win.pad_begin[1], win.pad_end[0], win.pad_end[1]};
    rules_[static_cast<std::size_t>(n)] = std::move(r);
  }
}

std::int64_t RowRegions::height(int value) const {
  return session_->info(value).shape[static_cast<std::size_t>(axis(value))];
}

std::int64_t RowRegions::row_of(int value, std::int64_t flat_index) const {
  const Shape& shape = session_->info(value).shape;
  std::int64_t inner = 1;
  for (std::size_t i = static_cast<std::size_t>(axis(value)) + 1; i < shape.size(); ++i) {
    inner *= shape[i];
  }
  return (flat_index / inner) % height(value);
}

RowSpan RowRegions::reached(int node, RowSpan in) const {
  const RowRule& r = rule(node);
  RowSpan out = in;
  if (r.kind == RowRule::Kind::kWindow) {
    // Output o reads rows [o*s - pad_top, o*s - pad_top + extent).
    out.lo = floor_div(in.lo + r.pad_top - r.extent, r.stride) + 1;
    out.hi = floor_div(in.hi - 1 + r.pad_top, r.stride) + 1;
  }
  out.lo = std::max<std::int64_t>(out.lo, 0);
  out.hi = std::min(out.hi, r.out_h);
  return out;
}

RowSpan RowRegions::needed(int node, RowSpan out, std::int64_t& pad_top,
                           std::int64_t& pad_bottom) const {
  const RowRule& r = rule(node);
  pad_top = pad_bottom = 0;
  if (r.kind != RowRule::Kind::kWindow) return out;
  RowSpan in{out.lo * r.stride - r.pad_top, (out.hi - 1) * r.stride - r.pad_top + r.extent};
  pad_top = std::max<std::int64_t>(0, -in.lo);
  pad_bottom = std::max<std::int64_t>(0, in.hi - r.in_h);
  in.lo = std::max<std::int64_t>(in.lo, 0);
  in.hi = std::min(in.hi, r.in_h);
  return in;
}

RowVariant* RowRegions::variant(int node, std::int64_t rows, std::int64_t pad_top,
                                std::int64_t pad_bottom, bool* busy) const {
  const RowRule& r = rule(node);
  if (r.kind == RowRule::Kind::kNone) return nullptr;
  if (r.kind == RowRule::Kind::kWindow && (pad_top > r.pad_top || pad_bottom > r.pad_bottom)) {
    return nullptr;  // a ceil_mode window past the padding: the slab cannot express it
  }
  if (busy != nullptr) *busy = false;
  RowVariant* slot = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& owned = variants_[static_cast<std::size_t>(node)][Key{rows, pad_top, pad_bottom}];
    if (owned) {
      if (owned->ready.load(std::memory_order_acquire)) return owned.get();
      if (busy != nullptr) *busy = true;
      return nullptr;
    }
    owned = std::make_unique<RowVariant>();
    slot = owned.get();  // stays at this address while the regions live
  }
  // Prepared outside the lock (oneDNN compiles a kernel: milliseconds): other threads meanwhile
  // look up and use other variants, and compute this node whole.
  const Session& s = *session_;
  const Node& original = s.graph().nodes[static_cast<std::size_t>(node)];
  Node derived = original;
  std::int64_t in_rows = rows;
  if (r.kind == RowRule::Kind::kWindow) {
    in_rows = (rows - 1) * r.stride + r.extent - pad_top - pad_bottom;
    Attribute pads;
    pads.kind = Attribute::Kind::kInts;
    pads.ints = {pad_top, r.pads[1], pad_bottom, r.pads[3]};
    derived.attributes["pads"] = pads;
    derived.attributes.erase("auto_pad");
    if (row_op(original) == "Conv" && original.op_type != "ConvInteger") {
      // Choose the kernel the whole node has (ops/conv.cpp).
      Attribute whole;
      whole.kind = Attribute::Kind::kInt;
      whole.i = r.out_h;
      derived.attributes["dnnfi_band_of"] = whole;
    }
  }
  std::vector<TensorInfo> infos;
  for (std::size_t i = 0; i < original.inputs.size(); ++i) {
    const int v = original.inputs[i];
    if (v == kNoValue) {
      infos.emplace_back();
      continue;
    }
    TensorInfo info = s.info(v);
    if (r.sliced[i]) info.shape[static_cast<std::size_t>(axis(v))] = in_rows;
    infos.push_back(std::move(info));
  }
  try {
    std::vector<TensorInfo> outs;
    slot->kernel = s.prepare_variant(node, derived, std::move(infos), outs);
    Shape want = s.info(original.outputs[0]).shape;
    want[static_cast<std::size_t>(axis(original.outputs[0]))] = rows;
    if (outs.empty() || outs[0].shape != want) slot->kernel.reset();
  } catch (const std::exception&) {
    slot->kernel.reset();
  }
  if (!slot->kernel) slot->verified = 2;
  slot->ready.store(true, std::memory_order_release);
  return slot;
}

void gather_rows(const Tensor& golden, const Tensor* dirty, RowLayout layout, RowSpan band,
                 RowSpan want, void* dst) {
  const Planes p = planes_of(golden, layout);
  const auto* gsrc = static_cast<const std::uint8_t*>(golden.raw());
  const auto* dsrc = dirty != nullptr ? static_cast<const std::uint8_t*>(dirty->raw()) : nullptr;
  auto* out = static_cast<std::uint8_t*>(dst);
  const RowSpan from_dirty{std::max(want.lo, band.lo), std::min(want.hi, band.hi)};
  const bool use_dirty = dsrc != nullptr && !from_dirty.empty();
  const std::size_t plane_bytes = static_cast<std::size_t>(p.h) * p.row_bytes;
  const std::size_t slab_plane = static_cast<std::size_t>(want.size()) * p.row_bytes;
  for (std::int64_t c = 0; c < p.planes; ++c) {
    const std::size_t base = static_cast<std::size_t>(c) * plane_bytes;
    std::uint8_t* o = out + static_cast<std::size_t>(c) * slab_plane;
    if (!use_dirty) {
      std::memcpy(o, gsrc + base + static_cast<std::size_t>(want.lo) * p.row_bytes, slab_plane);
      continue;
    }
    auto copy = [&](const std::uint8_t* src, std::int64_t lo, std::int64_t hi) {
      if (hi <= lo) return;
      std::memcpy(o + static_cast<std::size_t>(lo - want.lo) * p.row_bytes,
                  src + base + static_cast<std::size_t>(lo) * p.row_bytes,
                  static_cast<std::size_t>(hi - lo) * p.row_bytes);
    };
    copy(gsrc, want.lo, from_dirty.lo);
    copy(dsrc, from_dirty.lo, from_dirty.hi);
    copy(gsrc, from_dirty.hi, want.hi);
  }
}

void scatter_rows(const void* src, RowLayout layout, RowSpan rows, Tensor& dst) {
  const Planes p = planes_of(dst, layout);
  const auto* in = static_cast<const std::uint8_t*>(src);
  auto* out = static_cast<std::uint8_t*>(dst.raw());
  const std::size_t slab_plane = static_cast<std::size_t>(rows.size()) * p.row_bytes;
  for (std::int64_t c = 0; c < p.planes; ++c) {
    std::memcpy(out + (static_cast<std::size_t>(c * p.h + rows.lo)) * p.row_bytes,
                in + static_cast<std::size_t>(c) * slab_plane, slab_plane);
  }
}

void copy_rows(const Tensor& src, RowLayout layout, RowSpan rows, Tensor& dst) {
  if (rows.empty()) return;
  const Planes p = planes_of(dst, layout);
  const auto* in = static_cast<const std::uint8_t*>(src.raw());
  auto* out = static_cast<std::uint8_t*>(dst.raw());
  for (std::int64_t c = 0; c < p.planes; ++c) {
    const std::size_t off = static_cast<std::size_t>(c * p.h + rows.lo) * p.row_bytes;
    std::memcpy(out + off, in + off, static_cast<std::size_t>(rows.size()) * p.row_bytes);
  }
}

RowSpan diff_rows(const Tensor& a, const Tensor& b, RowLayout layout, RowSpan within) {
  const Planes p = planes_of(a, layout);
  const auto* x = static_cast<const std::uint8_t*>(a.raw());
  const auto* y = static_cast<const std::uint8_t*>(b.raw());
  RowSpan d{within.hi, within.lo};
  for (std::int64_t c = 0; c < p.planes; ++c) {
    const std::size_t base = static_cast<std::size_t>(c * p.h) * p.row_bytes;
    // Rows already inside the band found so far need no comparison.
    for (std::int64_t h = within.lo; h < d.lo; ++h) {
      const std::size_t off = base + static_cast<std::size_t>(h) * p.row_bytes;
      if (std::memcmp(x + off, y + off, p.row_bytes) != 0) {
        d.lo = h;
        d.hi = std::max(d.hi, h + 1);
        break;
      }
    }
    if (d.empty()) continue;  // this plane equals within the band, and no band was found yet
    for (std::int64_t h = within.hi - 1; h >= d.hi; --h) {
      const std::size_t off = base + static_cast<std::size_t>(h) * p.row_bytes;
      if (std::memcmp(x + off, y + off, p.row_bytes) != 0) {
        d.hi = h + 1;
        d.lo = std::min(d.lo, h);
        break;
      }
    }
  }
  return d.empty() ? RowSpan{} : d;
}

bool slab_equals_rows(const void* slab, const Tensor& t, RowLayout layout, RowSpan rows) {
  const Planes p = planes_of(t, layout);
  const auto* s = static_cast<const std::uint8_t*>(slab);
  const auto* x = static_cast<const std::uint8_t*>(t.raw());
  const std::size_t slab_plane = static_cast<std::size_t>(rows.size()) * p.row_bytes;
  for (std::int64_t c = 0; c < p.planes; ++c) {
    if (std::memcmp(s + static_cast<std::size_t>(c) * slab_plane,
                    x + static_cast<std::size_t>(c * p.h + rows.lo) * p.row_bytes,
                    slab_plane) != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace dnnfi
