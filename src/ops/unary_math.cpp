// Elementwise math ops beyond the activations of unary.cpp: the trigonometric and hyperbolic
// functions (Sin ... Atanh), Sign, Floor, Ceil, Round, Celu, ThresholdedRelu, Shrink, and the
// float classifiers IsNaN / IsInf (bool output).
//
// Every op is a struct run by unary_common.h's map kernel; `ref<T>` uses the C++ library
// functions, so the reference and the optimised implementation are the same code here (no
// fast_math approximation is worth its error for these rarely hot ops). float16 and bfloat16 are
// computed in float32 and rounded back, which is exact for Sign, Floor, Ceil and Round. NaN
// propagates wherever the ONNX reference implementation (numpy) propagates it; the exceptions are
// stated at the op (ThresholdedRelu and Shrink map NaN to 0, as np.where does). Integer inputs
// never reach undefined behaviour: Shrink computes in double and saturates back.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "ops/ops.h"
#include "ops/unary_common.h"

namespace dnnfi {

namespace {

using unary::kNoInts;
using unary::kSignedInts;
using unary::kUnsignedInts;
using unary::prepare_map;
using unary::require_single_output;

#define DNNFI_FLOAT_FUNCTION_OP(NAME, FN)      \
  struct NAME {                                \
    static constexpr unsigned kInts = kNoInts; \
    template <typename T>                      \
    T ref(T x) const {                         \
      return FN(x);                            \
    }                                          \
  };

DNNFI_FLOAT_FUNCTION_OP(SinOp, std::sin)
DNNFI_FLOAT_FUNCTION_OP(CosOp, std::cos)
DNNFI_FLOAT_FUNCTION_OP(TanOp, std::tan)
DNNFI_FLOAT_FUNCTION_OP(AsinOp, std::asin)
DNNFI_FLOAT_FUNCTION_OP(AcosOp, std::acos)
DNNFI_FLOAT_FUNCTION_OP(AtanOp, std::atan)
DNNFI_FLOAT_FUNCTION_OP(SinhOp, std::sinh)
DNNFI_FLOAT_FUNCTION_OP(CoshOp, std::cosh)
DNNFI_FLOAT_FUNCTION_OP(AsinhOp, std::asinh)
DNNFI_FLOAT_FUNCTION_OP(AcoshOp, std::acosh)
DNNFI_FLOAT_FUNCTION_OP(AtanhOp, std::atanh)
DNNFI_FLOAT_FUNCTION_OP(FloorOp, std::floor)
DNNFI_FLOAT_FUNCTION_OP(CeilOp, std::ceil)
#undef DNNFI_FLOAT_FUNCTION_OP

// -1, 0 or 1; NaN stays NaN (np.sign). Every integer dtype (unsigned: 0 or 1).
struct SignOp {
  static constexpr unsigned kInts = kSignedInts | kUnsignedInts;
  template <typename T>
  T ref(T x) const {
    if (x > T(0)) return T(1);
    if constexpr (std::is_signed_v<T> || std::is_floating_point_v<T>) {
      if (x < T(0)) return T(-1);
    }
    return x == T(0) ? T(0) : x;  // only NaN is neither
  }
};

// Round half to even (np.round), independent of the floating-point environment's rounding mode:
// std::round rounds halves away from zero, so an exact half is redone as 2 * round(x / 2)
// (x / 2 is exact for every value with a fractional half).
struct RoundOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    if (std::fabs(x - std::trunc(x)) == T(0.5)) return T(2) * std::round(x / T(2));
    return std::round(x);  // NaN and infinities pass through
  }
};

// max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), written with expm1 (no cancellation).
struct CeluOp {
  static constexpr unsigned kInts = kNoInts;
  float alpha;
  template <typename T>
  T ref(T x) const {
    if (std::isnan(x)) return x;
    return x > T(0) ? x : T(alpha) * std::expm1(x / T(alpha));
  }
};

// x where x > alpha, else 0 (NaN -> 0, as np.where(x > alpha, x, 0)).
struct ThresholdedReluOp {
  static constexpr unsigned kInts = kNoInts;
  float alpha;
  template <typename T>
  T ref(T x) const {
    return x > T(alpha) ? x : T(0);
  }
};

// Saturating double -> T for integer T (a plain cast of an out-of-range value is UB).
template <typename T>
T saturate_double(double v) {
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) {
    return std::numeric_limits<T>::lowest();
  }
  return static_cast<T>(v);
}

// x + bias where x < -lambd, x - bias where x > lambd, else 0 (NaN -> 0, as the reference's
// np.where chain). Integer inputs are computed in double and saturated back.
struct ShrinkOp {
  static constexpr unsigned kInts = kSignedInts | kUnsignedInts;
  float lambd;
  float bias;
  template <typename T>
  T ref(T x) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (x < -T(lambd)) return x + T(bias);
      if (x > T(lambd)) return x - T(bias);
      return T(0);
    } else {
      const double v = static_cast<double>(x);
      const double l = lambd;
      if (v < -l) return saturate_double<T>(v + static_cast<double>(bias));
      if (v > l) return saturate_double<T>(v - static_cast<double>(bias));
      return T(0);
    }
  }
};

// ---- IsNaN / IsInf: float input, bool output ------------------------------------------------

struct IsNaNTest {
  template <typename T>
  bool operator()(T x) const {
    return std::isnan(x);
  }
};

struct IsInfTest {
  bool negative;
  bool positive;
  template <typename T>
  bool operator()(T x) const {
    return std::isinf(x) && (x > T(0) ? positive : negative);
  }
};

template <typename T, typename Test>
void classify_native(const Test& test, const T* x, std::uint8_t* y, std::int64_t n) {
  unary::for_chunks(n, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) y[i] = test(x[i]) ? 1 : 0;
  });
}

// float16 / bfloat16 bits are widened to float32, which keeps NaN and infinity.
template <typename Test>
void classify_16bit(const Test& test, bool half, const std::uint16_t* x, std::uint8_t* y,
                    std::int64_t n) {
  unary::for_chunks(n, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const float v = half ? unary::half_bits_to_float(x[i]) : unary::bfloat16_bits_to_float(x[i]);
      y[i] = test(v) ? 1 : 0;
    }
  });
}

template <typename Test>
Prepared prepare_classify(const PrepareContext& ctx, Test test) {
  ctx.require_inputs(1, 1);
  require_single_output(ctx);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16});
  Prepared p;
  p.outputs = {TensorInfo{DType::kBool, ctx.input(0).shape}};
  p.kernel = make_kernel([test](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    const Tensor& x = *in[0];
    auto* y = out[0]->data<std::uint8_t>();
    switch (x.dtype()) {
      case DType::kFloat32:
        classify_native(test, x.data<float>(), y, x.numel());
        return Status::ok();
      case DType::kFloat64:
        classify_native(test, x.data<double>(), y, x.numel());
        return Status::ok();
      case DType::kFloat16:
      case DType::kBFloat16:
        classify_16bit(test, x.dtype() == DType::kFloat16, x.data<std::uint16_t>(), y, x.numel());
        return Status::ok();
      default:
        return Status::error("unsupported dtype " + std::string(dtype_name(x.dtype())));
    }
  });
  return p;
}

}  // namespace

Prepared prepare_sin(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, SinOp{});
}
Prepared prepare_cos(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, CosOp{});
}
Prepared prepare_tan(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, TanOp{});
}
Prepared prepare_asin(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, AsinOp{});
}
Prepared prepare_acos(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, AcosOp{});
}
Prepared prepare_atan(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, AtanOp{});
}
Prepared prepare_sinh(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, SinhOp{});
}
Prepared prepare_cosh(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, CoshOp{});
}
Prepared prepare_asinh(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, AsinhOp{});
}
Prepared prepare_acosh(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, AcoshOp{});
}
Prepared prepare_atanh(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, AtanhOp{});
}

Prepared prepare_sign(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, SignOp{});
}

// Floor-1 / Ceil-1 differ from version 6 only in the legacy `consumed_inputs` attribute, an
// in-place hint with no effect on the result.
Prepared prepare_floor(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, FloorOp{});
}
Prepared prepare_ceil(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, CeilOp{});
}

Prepared prepare_round(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, RoundOp{});
}

Prepared prepare_celu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha"});
  const float alpha = ctx.attr_float("alpha", 1.0f);
  if (!(alpha != 0.0f) || !std::isfinite(alpha)) {
    ctx.fail("alpha must be finite and nonzero, is " + std::to_string(alpha));
  }
  return prepare_map(ctx, CeluOp{alpha});
}

Prepared prepare_thresholded_relu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha"});
  return prepare_map(ctx, ThresholdedReluOp{ctx.attr_float("alpha", 1.0f)});
}

Prepared prepare_shrink(const PrepareContext& ctx) {
  ctx.allow_attributes({"bias", "lambd"});
  return prepare_map(ctx, ShrinkOp{ctx.attr_float("lambd", 0.5f), ctx.attr_float("bias", 0.0f)});
}

Prepared prepare_is_nan(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_classify(ctx, IsNaNTest{});
}

Prepared prepare_is_inf(const PrepareContext& ctx) {
  ctx.allow_attributes({"detect_negative", "detect_positive"});
  return prepare_classify(ctx, IsInfTest{ctx.attr_int("detect_negative", 1) != 0,
                                         ctx.attr_int("detect_positive", 1) != 0});
}

}  // namespace dnnfi
