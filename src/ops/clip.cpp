// Clip: opset 6..10 with min/max attributes, opset 11+ with optional min/max inputs that may be
// constants or computed at run time.
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "ops/ops.h"
#include "ops/unary_common.h"

namespace dnnfi {

namespace {

using unary::kSignedInts;
using unary::kUnsignedInts;
using unary::map_16bit;
using unary::map_native;

// min(max(x, lo), hi): with lo > hi every element becomes hi (as the spec says); NaN x stays
// NaN; a NaN bound (say, a corrupted min tensor) clips nothing.
template <typename B>
struct ClipOp {
  static constexpr unsigned kInts = kSignedInts | kUnsignedInts;
  B lo;
  B hi;
  template <typename T>
  T ref(T x) const {
    static_assert(std::is_same_v<T, B>);
    const T v = x < lo ? lo : x;
    return v > hi ? hi : v;
  }
};

// A bound is absent (no clipping on that side), an attribute (opset < 11, float dtypes only), or
// input `index`, read when the kernel runs.
struct ClipBound {
  enum class Kind { kNone, kConstant, kRuntime };
  Kind kind = Kind::kNone;
  double f = 0.0;
  std::size_t index = 0;
};

// Element 0 of a bound tensor as the compute type B of the data (float for float16/bfloat16).
template <typename B>
B read_bound(const Tensor& t) {
  if constexpr (std::is_same_v<B, float>) {
    if (t.dtype() == DType::kFloat16) return half_to_float(t.data<std::uint16_t>()[0]);
    if (t.dtype() == DType::kBFloat16) return bfloat16_to_float(t.data<std::uint16_t>()[0]);
  }
  return t.data<B>()[0];
}

template <typename B>
B bound_value(const ClipBound& b, std::span<const Tensor* const> in, bool lower) {
  switch (b.kind) {
    case ClipBound::Kind::kNone:
      if constexpr (std::is_floating_point_v<B>) {
        return lower ? -std::numeric_limits<B>::infinity() : std::numeric_limits<B>::infinity();
      } else {
        return lower ? std::numeric_limits<B>::lowest() : std::numeric_limits<B>::max();
      }
    case ClipBound::Kind::kConstant:
      return static_cast<B>(b.f);
    case ClipBound::Kind::kRuntime:
      return read_bound<B>(*in[b.index]);
  }
  return B{};
}

template <typename B>
Status run_clip_as(const ClipBound& lo, const ClipBound& hi, bool reference,
                   std::span<const Tensor* const> in, std::span<Tensor* const> out) {
  for (const ClipBound* b : {&lo, &hi}) {
    if (b->kind == ClipBound::Kind::kRuntime && in[b->index]->numel() != 1) {
      return Status::error("Clip: min/max input must have one element");
    }
  }
  const ClipOp<B> op{bound_value<B>(lo, in, true), bound_value<B>(hi, in, false)};
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  if constexpr (std::is_same_v<B, float>) {
    if (x.dtype() == DType::kFloat16) {
      map_16bit<unary::HalfFormat>(op, reference, x.data<std::uint16_t>(), y.data<std::uint16_t>(),
                                   x.numel());
      return Status::ok();
    }
    if (x.dtype() == DType::kBFloat16) {
      map_16bit<unary::BFloat16Format>(op, reference, x.data<std::uint16_t>(),
                                       y.data<std::uint16_t>(), x.numel());
      return Status::ok();
    }
  }
  map_native(op, reference, x.data<B>(), y.data<B>(), x.numel());
  return Status::ok();
}

Status run_clip(DType dtype, const ClipBound& lo, const ClipBound& hi, bool reference,
                std::span<const Tensor* const> in, std::span<Tensor* const> out) {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kBFloat16:
      return run_clip_as<float>(lo, hi, reference, in, out);
    case DType::kFloat64:
      return run_clip_as<double>(lo, hi, reference, in, out);
    case DType::kInt8:
      return run_clip_as<std::int8_t>(lo, hi, reference, in, out);
    case DType::kInt16:
      return run_clip_as<std::int16_t>(lo, hi, reference, in, out);
    case DType::kInt32:
      return run_clip_as<std::int32_t>(lo, hi, reference, in, out);
    case DType::kInt64:
      return run_clip_as<std::int64_t>(lo, hi, reference, in, out);
    case DType::kUInt8:
      return run_clip_as<std::uint8_t>(lo, hi, reference, in, out);
    case DType::kUInt16:
      return run_clip_as<std::uint16_t>(lo, hi, reference, in, out);
    case DType::kUInt32:
      return run_clip_as<std::uint32_t>(lo, hi, reference, in, out);
    case DType::kUInt64:
      return run_clip_as<std::uint64_t>(lo, hi, reference, in, out);
    default:
      break;
  }
  return Status::error("Clip: unsupported dtype " + std::string(dtype_name(dtype)));
}

class ClipKernel final : public Kernel {
 public:
  ClipKernel(DType dtype, ClipBound lo, ClipBound hi, bool reference)
      : dtype_(dtype), lo_(lo), hi_(hi), reference_(reference) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    return run_clip(dtype_, lo_, hi_, reference_, in, out);
  }
  // float32 rows, with the bounds run() would use.
  bool run_rows(std::span<const RowInput> in, Tensor& out, std::int64_t lo,
                std::int64_t hi) const override {
    if (dtype_ != DType::kFloat32 || in.size() > 3) return false;
    std::array<const Tensor*, 3> bounds{};
    for (std::size_t i = 1; i < in.size(); ++i) {
      bounds[i] = in[i].rest;
      const ClipBound& b = i == 1 ? lo_ : hi_;
      if (b.kind == ClipBound::Kind::kRuntime && (bounds[i] == nullptr || bounds[i]->numel() != 1))
        return false;
    }
    const ClipOp<float> op{bound_value<float>(lo_, bounds, true),
                           bound_value<float>(hi_, bounds, false)};
    return unary::map_rows(op, reference_, in[0], out, lo, hi);
  }

 private:
  DType dtype_;
  ClipBound lo_, hi_;
  bool reference_;
};

// Rounds an attribute bound to the data dtype, as the data is compared with it in that dtype.
double round_bound_to(DType t, float v) {
  switch (t) {
    case DType::kFloat16:
      return half_to_float(float_to_half(v));
    case DType::kBFloat16:
      return bfloat16_to_float(float_to_bfloat16(v));
    default:
      return v;
  }
}

ClipBound clip_bound_input(const PrepareContext& ctx, std::size_t i) {
  ClipBound b;
  if (!ctx.has_input(i)) return b;
  const TensorInfo& info = ctx.input(i);
  if (info.dtype != ctx.input(0).dtype) {
    ctx.fail("input " + std::to_string(i) + " must have the dtype of input 0");
  }
  if (info.numel() != 1) {
    ctx.fail("input " + std::to_string(i) + " must be a scalar, has shape " +
             shape_to_string(info.shape));
  }
  // Read when the kernel runs even when constant: a weight fault on a bound hands the kernel a
  // corrupted copy of it (ops/kernel.h).
  b.kind = ClipBound::Kind::kRuntime;
  b.index = i;
  return b;
}

}  // namespace

// Opset 6..10: bounds are the float attributes min/max (defaults -FLT_MAX / FLT_MAX, as the spec
// states). Opset 11+: optional scalar inputs 1 (min) and 2 (max) of the data dtype; an omitted
// bound clips nothing on that side. Opset 12 added integer dtypes; all are accepted here.
Prepared prepare_clip(const PrepareContext& ctx) {
  ClipBound lo;
  ClipBound hi;
  if (ctx.opset() < 11) {
    ctx.allow_attributes({"min", "max"});
    ctx.require_inputs(1, 1);
    ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16});
    const DType t = ctx.input(0).dtype;
    lo.kind = ClipBound::Kind::kConstant;
    lo.f = round_bound_to(t, ctx.attr_float("min", std::numeric_limits<float>::lowest()));
    hi.kind = ClipBound::Kind::kConstant;
    hi.f = round_bound_to(t, ctx.attr_float("max", std::numeric_limits<float>::max()));
  } else {
    ctx.allow_attributes({});
    ctx.require_inputs(1, 3);
    unary::require_unary_dtype<ClipOp<float>>(ctx, 0);
    lo = clip_bound_input(ctx, 1);
    hi = clip_bound_input(ctx, 2);
  }
  unary::require_single_output(ctx);
  Prepared p;
  p.outputs = {ctx.input(0)};
  p.kernel = std::make_unique<ClipKernel>(ctx.input(0).dtype, lo, hi, ctx.reference());
  return p;
}

}  // namespace dnnfi
