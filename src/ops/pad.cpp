// Pad: modes constant / reflect / edge; pads (and value) as attributes at opset 2-10, as inputs
// pads / constant_value (/ axes at opset >= 18) from opset 11. Negative pads crop. The pads input
// is re-read on every run: pads that keep the output shape move the window, anything else is a
// run-time error. The constant value is ordinary data and is read from input 2 on every run.
#include <algorithm>
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

constexpr int kMax = kMaxShapeOpRank;

enum class PadMode { kConstant, kReflect, kEdge };

struct PadParams {
  std::int64_t begin[kMax] = {};  // pad before each axis (negative crops)
  std::int64_t out[kMax] = {};
};

// Output dims and begin pads from pads[2n] over axes[n] (null: all axes, n == rank). Each pad must
// be >= -dim (no cropping past the data), which also bounds every pad by the output dim. Returns an
// empty string on success, else what is wrong.
std::string derive_pad(const Shape& in, PadMode mode, const std::int64_t* pads,
                       const std::int64_t* axes, std::int64_t n, PadParams& p) {
  const auto rank = static_cast<std::int64_t>(in.size());
  for (std::int64_t a = 0; a < rank; ++a) {
    p.begin[a] = 0;
    p.out[a] = in[static_cast<std::size_t>(a)];
  }
  bool seen[kMax] = {};
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t a = axes != nullptr ? axes[i] : i;
    if (!normalize_axis(a, rank)) return "axis " + std::to_string(a) + " is out of range";
    if (seen[a]) return "axis " + std::to_string(a) + " is repeated";
    seen[a] = true;
    const std::int64_t d = in[static_cast<std::size_t>(a)];
    const std::int64_t b = pads[i], e = pads[i + n];
    std::int64_t out = 0;
    if (b < -d || e < -d || __builtin_add_overflow(d, b, &out) ||
        __builtin_add_overflow(out, e, &out) || out < 0 || out > (INT64_MAX >> 8)) {
      return "pads " + std::to_string(b) + ", " + std::to_string(e) + " are invalid for axis " +
             std::to_string(a) + " of dimension " + std::to_string(d);
    }
    if (mode != PadMode::kConstant && d == 0 && out > 0) {
      return "axis " + std::to_string(a) + " is empty: nothing to reflect or repeat";
    }
    p.begin[a] = b;
    p.out[a] = out;
  }
  return {};
}

// The input index that output index o maps to along an axis of dimension d with begin pad b;
// -1 for the constant border.
inline std::int64_t map_index(std::int64_t o, std::int64_t b, std::int64_t d, PadMode mode) {
  std::int64_t i = o - b;
  if (i >= 0 && i < d) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return i < 0 ? 0 : d - 1;
    case PadMode::kReflect: {
      if (d == 1) return 0;
      const std::int64_t period = 2 * (d - 1);
      i %= period;
      if (i < 0) i += period;
      return i < d ? i : period - i;
    }
  }
  return -1;
}

class PadKernel final : public Kernel {
 public:
  // nhwc: rank-4 tensors of ONNX shapes `input`/`output` held in NHWC bytes (dnnfi.Pad with
  // layout = NHWC, exec/fusion.h); the kernel pads the bytes' own shape [N, H, W, C].
  PadKernel(std::string tag, TensorInfo input, TensorInfo output, PadMode mode,
            const PadParams& params, std::int64_t pads_count, std::int64_t axes_count,
            bool from_inputs, bool value_input, std::uint64_t attr_value, bool nhwc)
      : tag_(std::move(tag)),
        onnx_input_(input),
        onnx_output_(output),
        nhwc_(nhwc),
        input_(nhwc ? nhwc_info(input) : std::move(input)),
        output_(nhwc ? nhwc_info(output) : std::move(output)),
        mode_(mode),
        params_(params),
        pads_count_(pads_count),
        axes_count_(axes_count),
        from_inputs_(from_inputs),
        value_input_(value_input),
        attr_value_(attr_value) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, onnx_input_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, onnx_output_));
    PadParams p = params_;
    if (from_inputs_) DNNFI_RETURN_IF_ERROR(read_params(in, p));
    const std::size_t esize = dtype_size(input_.dtype);
    std::uint64_t value = attr_value_;
    if (value_input_) {
      const Tensor* v = in.size() > 2 ? in[2] : nullptr;
      if (v == nullptr || v->dtype() != input_.dtype || v->numel() != 1) {
        return run_error(tag_, "constant_value (input 2) is missing or not a single " +
                                   std::string(dtype_name(input_.dtype)) + " at run time");
      }
      std::memcpy(&value, v->raw(), esize);
    }
    copy_padded(static_cast<const std::byte*>(in[0]->raw()), static_cast<std::byte*>(out[0]->raw()),
                esize, p, &value);
    return Status::ok();
  }

 private:
  Status read_params(std::span<const Tensor* const> in, PadParams& p) const {
    std::int64_t pads[2 * kMax], axes[kMax];
    DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, 1, "pads", pads_count_));
    for (std::int64_t i = 0; i < pads_count_; ++i) pads[i] = index_value(*in[1], i);
    if (nhwc_) to_nhwc_pads(pads);
    if (axes_count_ >= 0) {
      DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, 3, "axes", axes_count_));
      for (std::int64_t i = 0; i < axes_count_; ++i) axes[i] = index_value(*in[3], i);
    }
    const std::string err = derive_pad(input_.shape, mode_, pads, axes_count_ >= 0 ? axes : nullptr,
                                       pads_count_ / 2, p);
    if (!err.empty()) return run_error(tag_, "invalid pads at run time: " + err);
    const std::size_t rank = input_.shape.size();
    for (std::size_t a = 0; a < rank; ++a) {
      if (p.out[a] != output_.shape[a]) {
        return run_error(tag_, "pads (input 1) changed at run time: output shape " +
                                   dims_to_string(std::span(p.out, rank)) +
                                   " instead of prepared " + shape_to_string(output_.shape));
      }
    }
    return Status::ok();
  }

  static TensorInfo nhwc_info(const TensorInfo& t) {
    const Shape& s = t.shape;
    return TensorInfo{t.dtype, {s[0], s[2], s[3], s[1]}};
  }

 public:
  // ONNX pads of a rank-4 NCHW tensor (begins, then ends) as pads of its NHWC bytes.
  static void to_nhwc_pads(std::int64_t* pads) {
    const std::int64_t c_begin = pads[1], c_end = pads[5];
    for (int k = 1; k < 3; ++k) {
      pads[k] = pads[k + 1];
      pads[k + 4] = pads[k + 5];
    }
    pads[3] = c_begin;
    pads[7] = c_end;
  }

 private:
  // Row by row over the innermost axis: a row outside the data along an outer axis is all border
  // (constant) or a mapped copy of an input row; within a row the covered middle is one memcpy.
  void copy_padded(const std::byte* src, std::byte* dst, std::size_t esize, const PadParams& p,
                   const void* value) const {
    const int rank = static_cast<int>(input_.shape.size());
    const auto es = static_cast<std::int64_t>(esize);
    if (rank == 0) {
      std::memcpy(dst, src, esize);
      return;
    }
    const std::int64_t total = output_.numel();
    if (total == 0) return;
    const int last = rank - 1;
    const std::int64_t len = p.out[last], d = input_.shape[static_cast<std::size_t>(last)];
    const std::int64_t b = p.begin[last];
    const std::int64_t lo = std::clamp<std::int64_t>(b, 0, len);       // first covered output index
    const std::int64_t hi = std::clamp<std::int64_t>(b + d, lo, len);  // end of the covered range
    std::int64_t in_strides[kMax];
    std::int64_t s = 1;
    for (int a = last; a >= 0; --a) {
      in_strides[a] = s;
      s *= input_.shape[static_cast<std::size_t>(a)];
    }
    const std::int64_t rows = total / len;
    parallel_chunks(rows, total * es, [&](std::int64_t begin, std::int64_t end) {
      std::int64_t idx[kMax] = {};
      std::int64_t rest = begin;
      for (int a = last - 1; a >= 0; --a) {
        idx[a] = rest % p.out[a];
        rest /= p.out[a];
      }
      for (std::int64_t r = begin; r < end; ++r) {
        std::byte* drow = dst + r * len * es;
        std::int64_t offset = 0;
        bool border = false;
        for (int a = 0; a < last; ++a) {
          const std::int64_t i =
              map_index(idx[a], p.begin[a], input_.shape[static_cast<std::size_t>(a)], mode_);
          if (i < 0) {
            border = true;
            break;
          }
          offset += i * in_strides[a];
        }
        if (border) {
          fill_elements(drow, value, esize, len);
        } else {
          const std::byte* srow = src + offset * es;
          if (hi > lo) std::memcpy(drow + lo * es, srow + (lo - b) * es, (hi - lo) * esize);
          fill_edges(srow, drow, esize, 0, lo, b, d, value);
          fill_edges(srow, drow, esize, hi, len, b, d, value);
        }
        for (int a = last - 1; a >= 0; --a) {
          if (++idx[a] < p.out[a]) break;
          idx[a] = 0;
        }
      }
    });
  }

  // Output elements [from, to) of a row outside the covered middle.
  void fill_edges(const std::byte* srow, std::byte* drow, std::size_t esize, std::int64_t from,
                  std::int64_t to, std::int64_t b, std::int64_t d, const void* value) const {
    if (to <= from) return;
    const auto es = static_cast<std::int64_t>(esize);
    if (mode_ == PadMode::kConstant) {
      fill_elements(drow + from * es, value, esize, to - from);
      return;
    }
    for (std::int64_t j = from; j < to; ++j) {
      std::memcpy(drow + j * es, srow + map_index(j, b, d, mode_) * es, esize);
    }
  }

  std::string tag_;
  TensorInfo onnx_input_, onnx_output_;  // as the graph sees them
  bool nhwc_;
  TensorInfo input_;
  TensorInfo output_;
  PadMode mode_;
  PadParams params_;
  std::int64_t pads_count_;
  std::int64_t axes_count_;  // -1 without an axes input
  bool from_inputs_;
  bool value_input_;
  std::uint64_t attr_value_;  // the constant's bytes when it is an attribute or zero
};

// `v` stored as one element of dtype t (the opset 2-10 'value' attribute).
std::uint64_t scalar_bytes(double v, DType t) {
  std::uint64_t bits = 0;
  auto put = [&](auto x) { std::memcpy(&bits, &x, sizeof(x)); };
  const auto as_int = [&]() -> std::int64_t {
    if (!(v == v)) return 0;
    return v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : static_cast<std::int64_t>(v);
  };
  switch (t) {
    case DType::kFloat32:
      put(static_cast<float>(v));
      break;
    case DType::kFloat64:
      put(v);
      break;
    case DType::kFloat16:
      put(float_to_half(static_cast<float>(v)));
      break;
    case DType::kBFloat16:
      put(float_to_bfloat16(static_cast<float>(v)));
      break;
    case DType::kBool:
      put(static_cast<std::uint8_t>(v != 0));
      break;
    case DType::kInt8:
    case DType::kUInt8:
      put(static_cast<std::uint8_t>(as_int()));
      break;
    case DType::kInt16:
    case DType::kUInt16:
      put(static_cast<std::uint16_t>(as_int()));
      break;
    case DType::kInt32:
    case DType::kUInt32:
      put(static_cast<std::uint32_t>(as_int()));
      break;
    case DType::kInt64:
    case DType::kUInt64:
      put(static_cast<std::uint64_t>(as_int()));
      break;
    case DType::kUndefined:
      break;
  }
  return bits;
}

}  // namespace

Prepared prepare_pad(const PrepareContext& ctx) {
  const bool from_inputs = ctx.opset() >= 11;
  // dnnfi.Pad (channels-last sessions, exec/fusion.h) may carry layout = "NHWC".
  const bool internal = ctx.node().domain == "dnnfi";
  if (from_inputs) {
    ctx.allow_attributes({"mode", internal ? "layout" : ""});
    ctx.require_inputs(2, ctx.opset() >= 18 ? 4 : 3);
  } else {
    ctx.allow_attributes({"mode", "pads", "value", internal ? "layout" : ""});
    ctx.require_inputs(1, 1);
    if (!ctx.has_attr("pads")) ctx.fail("attribute 'pads' is required");
  }
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  require_rank_at_most_max(ctx, x.shape.size());
  const std::string mode_name = ctx.attr_string("mode", "constant");
  PadMode mode;
  if (mode_name == "constant") {
    mode = PadMode::kConstant;
  } else if (mode_name == "reflect") {
    mode = PadMode::kReflect;
  } else if (mode_name == "edge") {
    mode = PadMode::kEdge;
  } else {
    ctx.unsupported("mode '" + mode_name + "' is not supported");
  }
  const std::vector<std::int64_t> pads =
      from_inputs ? read_index_constant(ctx, 1, "pads") : ctx.attr_ints("pads");
  const bool has_axes = from_inputs && ctx.has_input(3);
  const std::vector<std::int64_t> axes =
      has_axes ? read_index_constant(ctx, 3, "axes") : std::vector<std::int64_t>{};
  const std::size_t n = has_axes ? axes.size() : x.shape.size();
  if (pads.size() != 2 * n) {
    ctx.fail("pads has " + std::to_string(pads.size()) + " entries, expected " +
             std::to_string(2 * n));
  }
  if (n > static_cast<std::size_t>(kMax)) ctx.fail("too many axes");
  const bool value_input = from_inputs && ctx.has_input(2);
  if (value_input) {
    const TensorInfo& v = ctx.input(2);
    if (v.dtype != x.dtype || v.numel() != 1) {
      ctx.fail("constant_value must be a single " + std::string(dtype_name(x.dtype)) + ", is " +
               std::string(dtype_name(v.dtype)) + shape_to_string(v.shape));
    }
  }
  const std::string layout = internal ? ctx.attr_string("layout", "NCHW") : "NCHW";
  if (layout != "NCHW" && layout != "NHWC") ctx.fail("layout must be NCHW or NHWC");
  const bool nhwc = layout == "NHWC";
  if (nhwc && (x.shape.size() != 4 || has_axes)) {
    ctx.unsupported("an NHWC Pad needs a rank-4 input and no axes");
  }
  std::vector<std::int64_t> byte_pads = pads;
  Shape byte_shape = x.shape;
  if (nhwc) {
    PadKernel::to_nhwc_pads(byte_pads.data());
    byte_shape = {x.shape[0], x.shape[2], x.shape[3], x.shape[1]};
  }
  PadParams params;
  const std::string err =
      derive_pad(byte_shape, mode, byte_pads.data(), has_axes ? axes.data() : nullptr,
                 static_cast<std::int64_t>(n), params);
  if (!err.empty()) ctx.fail(err);
  Prepared p;
  Shape out_shape(params.out, params.out + x.shape.size());
  if (nhwc) out_shape = {out_shape[0], out_shape[3], out_shape[1], out_shape[2]};
  p.outputs = {TensorInfo{x.dtype, out_shape}};
  require_valid_shape(ctx, p.outputs[0].shape, "output shape");
  const std::uint64_t attr_value =
      from_inputs ? 0 : scalar_bytes(ctx.attr_float("value", 0.0f), x.dtype);
  p.kernel = std::make_unique<PadKernel>(node_tag(ctx), x, p.outputs[0], mode, params,
                                         static_cast<std::int64_t>(pads.size()),
                                         has_axes ? static_cast<std::int64_t>(axes.size()) : -1,
                                         from_inputs, value_input, attr_value, nhwc);
  return p;
}

}  // namespace dnnfi
