// Elementwise unary ops and activations: Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid,
// HardSwish, Elu, Selu, Softplus, Sqrt, Exp, Log, Neg, Abs, Erf, Reciprocal, Not, Identity and
// Dropout (inference). Cast is in cast.cpp.
//
// Each math op is a small struct: `ref<T>(x)` is the definition, written with the C++ library
// functions (the reference implementation, also used for float64 and integer types); `fast(x)`,
// where present, is the float32 path of the optimised implementation (fast_math.h
// approximations, within a few ulp). float16 and bfloat16 are computed in float32 and rounded
// back. NaN propagates through every float op (Relu(NaN) = NaN, as max(0, x) in the ONNX
// reference implementation), and integer ops wrap instead of overflowing (Neg/Abs of the most
// negative value give that value, as in numpy), so corrupted data never causes UB.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "ops/fast_math.h"
#include "ops/ops.h"
#include "ops/unary_common.h"

namespace dnnfi {

namespace {

using unary::for_chunks;

// Integer dtypes an op accepts besides the float ones (float32, float64, float16, bfloat16).
enum IntDTypes : unsigned { kNoInts = 0, kSignedInts = 1, kUnsignedInts = 2 };

bool is_float_dtype(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 ||
         t == DType::kBFloat16;
}
bool is_signed_int_dtype(DType t) {
  return t == DType::kInt8 || t == DType::kInt16 || t == DType::kInt32 || t == DType::kInt64;
}
bool is_unsigned_int_dtype(DType t) {
  return t == DType::kUInt8 || t == DType::kUInt16 || t == DType::kUInt32 ||
         t == DType::kUInt64;
}

// Two's complement negation without signed overflow: -INT_MIN wraps to INT_MIN.
template <typename T>
T wrapping_neg(T x) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(U{0} - static_cast<U>(x)));
}

template <typename Op>
float apply_fast(const Op& op, float x) {
  if constexpr (requires { op.fast(x); }) {
    return op.fast(x);
  } else {
    return op.template ref<float>(x);
  }
}

// y = op(x) over one range of float32; ops may provide a whole-block fast path (Sqrt).
template <typename Op>
void fast_float_range(const Op& op, const float* x, float* y, std::int64_t n) {
  if constexpr (requires { op.fast_block(x, y, n); }) {
    op.fast_block(x, y, n);
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] = apply_fast(op, x[i]);
  }
}

template <typename T, typename Op>
void map_native(const Op& op, bool reference, const T* x, T* y, std::int64_t n) {
  if (reference) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = op.template ref<T>(x[i]);
    return;
  }
  for_chunks(n, [&](std::int64_t begin, std::int64_t end) {
    if constexpr (std::is_same_v<T, float>) {
      fast_float_range(op, x + begin, y + begin, end - begin);
    } else {
      for (std::int64_t i = begin; i < end; ++i) y[i] = op.template ref<T>(x[i]);
    }
  });
}

// float16 / bfloat16: widen to float32, apply, round back (round to nearest even).
template <typename Format, typename Op>
void map_16bit(const Op& op, bool reference, const std::uint16_t* x, std::uint16_t* y,
               std::int64_t n) {
  if (reference) {
    for (std::int64_t i = 0; i < n; ++i) {
      if constexpr (Format::kDType == DType::kFloat16) {
        y[i] = float_to_half(op.template ref<float>(half_to_float(x[i])));
      } else {
        y[i] = float_to_bfloat16(op.template ref<float>(bfloat16_to_float(x[i])));
      }
    }
    return;
  }
  for_chunks(n, [&](std::int64_t begin, std::int64_t end) {
    float buf[unary::kConvertBlock];
    for (std::int64_t s = begin; s < end; s += unary::kConvertBlock) {
      const std::int64_t m = std::min(unary::kConvertBlock, end - s);
      Format::to_float(x + s, buf, m);
      fast_float_range(op, buf, buf, m);
      Format::from_float(buf, y + s, m);
    }
  });
}

// Runs op on x of any dtype the op supports (checked at prepare).
template <typename Op>
Status run_unary(const Op& op, bool reference, const Tensor& x, Tensor& y) {
  const std::int64_t n = x.numel();
  constexpr bool kSigned = (Op::kInts & kSignedInts) != 0;
  constexpr bool kUnsigned = (Op::kInts & kUnsignedInts) != 0;
  switch (x.dtype()) {
    case DType::kFloat32:
      map_native(op, reference, x.data<float>(), y.data<float>(), n);
      return Status::ok();
    case DType::kFloat64:
      map_native(op, reference, x.data<double>(), y.data<double>(), n);
      return Status::ok();
    case DType::kFloat16:
      map_16bit<unary::HalfFormat>(op, reference, x.data<std::uint16_t>(),
                                   y.data<std::uint16_t>(), n);
      return Status::ok();
    case DType::kBFloat16:
      map_16bit<unary::BFloat16Format>(op, reference, x.data<std::uint16_t>(),
                                       y.data<std::uint16_t>(), n);
      return Status::ok();
#define DNNFI_UNARY_INT_CASE(DT, T, ENABLED)                                  \
  case DType::DT:                                                             \
    if constexpr (ENABLED) {                                                  \
      map_native(op, reference, x.data<T>(), y.data<T>(), n);                 \
      return Status::ok();                                                    \
    }                                                                         \
    break;
      DNNFI_UNARY_INT_CASE(kInt8, std::int8_t, kSigned)
      DNNFI_UNARY_INT_CASE(kInt16, std::int16_t, kSigned)
      DNNFI_UNARY_INT_CASE(kInt32, std::int32_t, kSigned)
      DNNFI_UNARY_INT_CASE(kInt64, std::int64_t, kSigned)
      DNNFI_UNARY_INT_CASE(kUInt8, std::uint8_t, kUnsigned)
      DNNFI_UNARY_INT_CASE(kUInt16, std::uint16_t, kUnsigned)
      DNNFI_UNARY_INT_CASE(kUInt32, std::uint32_t, kUnsigned)
      DNNFI_UNARY_INT_CASE(kUInt64, std::uint64_t, kUnsigned)
#undef DNNFI_UNARY_INT_CASE
    default:
      break;
  }
  // Unreachable: prepare rejected the dtype.
  return Status::error("unsupported dtype " + std::string(dtype_name(x.dtype())));
}

void require_single_output(const PrepareContext& ctx) {
  if (ctx.num_outputs() != 1) {
    ctx.fail("expects 1 output, has " + std::to_string(ctx.num_outputs()));
  }
}

template <typename Op>
void require_unary_dtype(const PrepareContext& ctx, std::size_t input) {
  const DType t = ctx.input(input).dtype;
  const bool ok = is_float_dtype(t) || ((Op::kInts & kSignedInts) && is_signed_int_dtype(t)) ||
                  ((Op::kInts & kUnsignedInts) && is_unsigned_int_dtype(t));
  if (!ok) {
    ctx.fail("input " + std::to_string(input) + " has unsupported dtype " +
             std::string(dtype_name(t)));
  }
}

// The common prepare of a one-input, one-output op whose attributes were already read.
template <typename Op>
Prepared prepare_map(const PrepareContext& ctx, Op op) {
  ctx.require_inputs(1, 1);
  require_single_output(ctx);
  require_unary_dtype<Op>(ctx, 0);
  Prepared p;
  p.outputs = {ctx.input(0)};
  const bool reference = ctx.reference();
  p.kernel = make_kernel([op, reference](std::span<const Tensor* const> in,
                                         std::span<Tensor* const> out) {
    return run_unary(op, reference, *in[0], *out[0]);
  });
  return p;
}

// ---- math ops ------------------------------------------------------------------------------

struct ReluOp {
  static constexpr unsigned kInts = kSignedInts;
  template <typename T>
  T ref(T x) const {
    return x < T(0) ? T(0) : x;
  }
};

struct LeakyReluOp {
  static constexpr unsigned kInts = kNoInts;
  float alpha;
  template <typename T>
  T ref(T x) const {
    return x < T(0) ? T(alpha) * x : x;
  }
};

// 1 / (1 + exp(-x)), evaluated as exp(x) / (1 + exp(x)) for x < 0 so that exp cannot overflow
// and tiny results are not flushed to 0.
struct SigmoidOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    const T e = std::exp(-std::fabs(x));
    return x < T(0) ? e / (T(1) + e) : T(1) / (T(1) + e);
  }
  float fast(float x) const { return fast_math::sigmoid(x); }
};

struct TanhOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return std::tanh(x);
  }
  float fast(float x) const { return fast_math::tanh(x); }
};

// max(0, min(1, alpha * x + beta)); also HardSwish's gate.
template <typename T>
T hard_sigmoid(T x, T alpha, T beta) {
  T v = alpha * x + beta;
  v = v > T(1) ? T(1) : v;
  return v < T(0) ? T(0) : v;
}

struct HardSigmoidOp {
  static constexpr unsigned kInts = kNoInts;
  float alpha;
  float beta;
  template <typename T>
  T ref(T x) const {
    return hard_sigmoid(x, T(alpha), T(beta));
  }
};

struct HardSwishOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return x * hard_sigmoid(x, T(1) / T(6), T(0.5));
  }
};

// alpha * (exp(x) - 1) for x < 0, computed with expm1 (same value, no cancellation near 0).
struct EluOp {
  static constexpr unsigned kInts = kNoInts;
  float alpha;
  template <typename T>
  T ref(T x) const {
    return x < T(0) ? T(alpha) * std::expm1(x) : x;
  }
  float fast(float x) const { return x < 0.0f ? alpha * fast_math::expm1(x) : x; }
};

// gamma * x for x > 0, gamma * (alpha * exp(x) - alpha) otherwise.
struct SeluOp {
  static constexpr unsigned kInts = kNoInts;
  float alpha;
  float gamma;
  template <typename T>
  T ref(T x) const {
    return x > T(0) ? T(gamma) * x : T(gamma) * (T(alpha) * std::expm1(x));
  }
  float fast(float x) const {
    return x > 0.0f ? gamma * x : gamma * (alpha * fast_math::expm1(x));
  }
};

// log(exp(x) + 1), in the form that neither overflows for large x nor loses small results.
struct SoftplusOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
};

struct SqrtOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return std::sqrt(x);
  }
  // std::sqrt does not vectorise while it may set errno; the instruction gives the same
  // correctly rounded result (and the same NaN for negative x).
  void fast_block(const float* x, float* y, std::int64_t n) const {
    std::int64_t i = 0;
#if defined(__AVX__)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#elif defined(__SSE2__)
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
#endif
    for (; i < n; ++i) y[i] = std::sqrt(x[i]);
  }
};

struct ExpOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return std::exp(x);
  }
  float fast(float x) const { return fast_math::exp(x); }
};

struct LogOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return std::log(x);
  }
};

struct NegOp {
  static constexpr unsigned kInts = kSignedInts;
  template <typename T>
  T ref(T x) const {
    if constexpr (std::is_integral_v<T>) {
      return wrapping_neg(x);
    } else {
      return -x;
    }
  }
};

struct AbsOp {
  static constexpr unsigned kInts = kSignedInts | kUnsignedInts;
  template <typename T>
  T ref(T x) const {
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else if constexpr (std::is_integral_v<T>) {
      return x < T(0) ? wrapping_neg(x) : x;
    } else {
      return std::fabs(x);
    }
  }
};

struct ErfOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return std::erf(x);
  }
  float fast(float x) const { return fast_math::erf(x); }
};

struct ReciprocalOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return T(1) / x;
  }
};

// ---- Clip ----------------------------------------------------------------------------------

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

// A bound is absent (no clipping on that side), a value known at prepare time, or input `index`
// read when the kernel runs. Values are kept as double/int64/uint64 wide enough for every dtype.
struct ClipBound {
  enum class Kind { kNone, kConstant, kRuntime };
  Kind kind = Kind::kNone;
  double f = 0.0;
  std::int64_t i = 0;
  std::uint64_t u = 0;
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
      if constexpr (std::is_floating_point_v<B>) {
        return static_cast<B>(b.f);
      } else if constexpr (std::is_signed_v<B>) {
        return static_cast<B>(b.i);
      } else {
        return static_cast<B>(b.u);
      }
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
      map_16bit<unary::HalfFormat>(op, reference, x.data<std::uint16_t>(),
                                   y.data<std::uint16_t>(), x.numel());
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
    case DType::kBFloat16: return run_clip_as<float>(lo, hi, reference, in, out);
    case DType::kFloat64: return run_clip_as<double>(lo, hi, reference, in, out);
    case DType::kInt8: return run_clip_as<std::int8_t>(lo, hi, reference, in, out);
    case DType::kInt16: return run_clip_as<std::int16_t>(lo, hi, reference, in, out);
    case DType::kInt32: return run_clip_as<std::int32_t>(lo, hi, reference, in, out);
    case DType::kInt64: return run_clip_as<std::int64_t>(lo, hi, reference, in, out);
    case DType::kUInt8: return run_clip_as<std::uint8_t>(lo, hi, reference, in, out);
    case DType::kUInt16: return run_clip_as<std::uint16_t>(lo, hi, reference, in, out);
    case DType::kUInt32: return run_clip_as<std::uint32_t>(lo, hi, reference, in, out);
    case DType::kUInt64: return run_clip_as<std::uint64_t>(lo, hi, reference, in, out);
    default: break;
  }
  return Status::error("Clip: unsupported dtype " + std::string(dtype_name(dtype)));
}

// Rounds an attribute bound to the data dtype, as the data is compared with it in that dtype.
double round_bound_to(DType t, float v) {
  switch (t) {
    case DType::kFloat16: return half_to_float(float_to_half(v));
    case DType::kBFloat16: return bfloat16_to_float(float_to_bfloat16(v));
    default: return v;
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
  if (const Tensor* c = ctx.constant(i)) {
    b.kind = ClipBound::Kind::kConstant;
    if (is_float_dtype(info.dtype)) {
      b.f = c->get_as_double(0);
    } else if (is_signed_int_dtype(info.dtype)) {
      b.i = c->get_as_int64(0);
    } else {
      // get_as_int64 would not hold uint64 values above INT64_MAX.
      switch (info.dtype) {
        case DType::kUInt8: b.u = c->data<std::uint8_t>()[0]; break;
        case DType::kUInt16: b.u = c->data<std::uint16_t>()[0]; break;
        case DType::kUInt32: b.u = c->data<std::uint32_t>()[0]; break;
        default: b.u = c->data<std::uint64_t>()[0]; break;
      }
    }
  } else {
    b.kind = ClipBound::Kind::kRuntime;
    b.index = i;
  }
  return b;
}

// ---- copies --------------------------------------------------------------------------------

Prepared prepare_copy(const PrepareContext& ctx) {
  ctx.require_inputs(1, 1);
  require_single_output(ctx);
  Prepared p;
  p.outputs = {ctx.input(0)};
  p.kernel = make_kernel([](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    unary::copy_bytes(in[0]->raw(), out[0]->raw(), in[0]->nbytes());
    return Status::ok();
  });
  return p;
}

}  // namespace

Prepared prepare_relu(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, ReluOp{});
}

Prepared prepare_leaky_relu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha"});
  return prepare_map(ctx, LeakyReluOp{ctx.attr_float("alpha", 0.01f)});
}

Prepared prepare_sigmoid(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, SigmoidOp{});
}

Prepared prepare_tanh(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, TanhOp{});
}

Prepared prepare_hard_sigmoid(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", "beta"});
  return prepare_map(ctx,
                     HardSigmoidOp{ctx.attr_float("alpha", 0.2f), ctx.attr_float("beta", 0.5f)});
}

Prepared prepare_hard_swish(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, HardSwishOp{});
}

Prepared prepare_elu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha"});
  return prepare_map(ctx, EluOp{ctx.attr_float("alpha", 1.0f)});
}

Prepared prepare_selu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", "gamma"});
  // The spec's defaults, as float attributes.
  return prepare_map(ctx, SeluOp{ctx.attr_float("alpha", 1.67326319217681884765625f),
                                 ctx.attr_float("gamma", 1.05070102214813232421875f)});
}

Prepared prepare_softplus(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, SoftplusOp{});
}

Prepared prepare_sqrt(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, SqrtOp{});
}

Prepared prepare_exp(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, ExpOp{});
}

Prepared prepare_log(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, LogOp{});
}

Prepared prepare_neg(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, NegOp{});
}

Prepared prepare_abs(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, AbsOp{});
}

Prepared prepare_erf(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, ErfOp{});
}

Prepared prepare_reciprocal(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, ReciprocalOp{});
}

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
    require_unary_dtype<ClipOp<float>>(ctx, 0);
    lo = clip_bound_input(ctx, 1);
    hi = clip_bound_input(ctx, 2);
  }
  require_single_output(ctx);
  Prepared p;
  p.outputs = {ctx.input(0)};
  const DType dtype = ctx.input(0).dtype;
  const bool reference = ctx.reference();
  p.kernel = make_kernel([dtype, lo, hi, reference](std::span<const Tensor* const> in,
                                                    std::span<Tensor* const> out) {
    return run_clip(dtype, lo, hi, reference, in, out);
  });
  return p;
}

// Not on bool: any nonzero byte counts as true (a bit flip can leave values other than 0 and 1
// in a bool tensor; they are read as bytes, never as C++ bool).
Prepared prepare_not(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(1, 1);
  require_single_output(ctx);
  ctx.require_dtype(0, {DType::kBool});
  Prepared p;
  p.outputs = {ctx.input(0)};
  p.kernel = make_kernel([](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    const auto* x = in[0]->data<std::uint8_t>();
    auto* y = out[0]->data<std::uint8_t>();
    for_chunks(in[0]->numel(), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) y[i] = x[i] == 0 ? 1 : 0;
    });
    return Status::ok();
  });
  return p;
}

// Tensors of any dtype (sequence and optional types do not exist in this engine).
Prepared prepare_identity(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_copy(ctx);
}

// Inference only: output = data; the optional mask is all ones (true). Its dtype is the data
// dtype before opset 10 and bool from opset 10. (ONNX Runtime fills the opset 7-11 mask with
// zeros; the spec describes the inference mask as all ones, which is what is produced here.)
// Opset 12 moved ratio and training_mode to optional inputs: ratio is ignored in inference, and
// training_mode must be a constant false, since random dropout would make runs irreproducible.
Prepared prepare_dropout(const PrepareContext& ctx) {
  if (ctx.opset() < 12) {
    ctx.allow_attributes({"ratio"});
    ctx.require_inputs(1, 1);
  } else {
    ctx.allow_attributes({"seed"});
    ctx.require_inputs(1, 3);
    if (ctx.has_input(1)) {
      ctx.require_dtype(1, {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16});
    }
    if (ctx.has_input(2)) {
      ctx.require_dtype(2, {DType::kBool});
      const Tensor* mode = ctx.constant(2);
      if (mode == nullptr) ctx.fail("training_mode must be a constant (inference only)");
      if (mode->numel() != 1) ctx.fail("training_mode must be a scalar");
      if (mode->data<std::uint8_t>()[0] != 0) {
        ctx.fail("training_mode is true; only inference (training_mode false) is supported");
      }
    }
  }
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16});
  if (ctx.num_outputs() < 1 || ctx.num_outputs() > 2) {
    ctx.fail("expects 1 or 2 outputs, has " + std::to_string(ctx.num_outputs()));
  }
  const TensorInfo& data = ctx.input(0);
  Prepared p;
  p.outputs = {data};
  const bool mask_is_bool = ctx.opset() >= 10;
  if (ctx.num_outputs() == 2) {
    p.outputs.push_back(TensorInfo{mask_is_bool ? DType::kBool : data.dtype, data.shape});
  }
  p.kernel = make_kernel([](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    unary::copy_bytes(in[0]->raw(), out[0]->raw(), in[0]->nbytes());
    if (out.size() > 1 && out[1] != nullptr) {
      Tensor& mask = *out[1];
      const std::int64_t n = mask.numel();
      switch (mask.dtype()) {
        case DType::kBool: std::memset(mask.raw(), 1, static_cast<std::size_t>(n)); break;
        case DType::kFloat32: std::fill_n(mask.data<float>(), n, 1.0f); break;
        case DType::kFloat64: std::fill_n(mask.data<double>(), n, 1.0); break;
        case DType::kFloat16: std::fill_n(mask.data<std::uint16_t>(), n, 0x3c00); break;
        case DType::kBFloat16: std::fill_n(mask.data<std::uint16_t>(), n, 0x3f80); break;
        default: return Status::error("Dropout: unexpected mask dtype");
      }
    }
    return Status::ok();
  });
  return p;
}

}  // namespace dnnfi
