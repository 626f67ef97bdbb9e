// Elementwise unary ops and activations: Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish,
// Elu, Selu, Softplus, Sqrt, Exp, Log, Neg, Abs, Erf, Reciprocal, Not, Identity and Dropout
// (inference). Clip is in clip.cpp, Cast in cast.cpp. The version-1 forms of the ops that had one
// take the legacy `consumed_inputs` attribute (unary::legacy_consumed_inputs).
//
// Each math op is a small struct (see unary_common.h): `ref<T>(x)` is the definition, written
// with the C++ library functions (the reference implementation, also used for float64 and
// integer types); `fast(x)`, where present, is the float32 path of the optimised implementation
// (fast_math.h approximations, within a few ulp). float16 and bfloat16 are computed in float32
// and rounded back. NaN propagates through every float op (Relu(NaN) = NaN, as max(0, x) in the
// ONNX reference implementation), and integer ops wrap instead of overflowing (Neg/Abs of the most
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
using unary::kNoInts;
using unary::kSignedInts;
using unary::kUnsignedInts;
using unary::prepare_map;
using unary::require_single_output;

// Two's complement negation without signed overflow: -INT_MIN wraps to INT_MIN.
template <typename T>
T wrapping_neg(T x) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(U{0} - static_cast<U>(x)));
}

// ---- math ops ------------------------------------------------------------------------------

struct ReluOp {
  static constexpr unsigned kInts = kSignedInts;
  template <typename T>
  T ref(T x) const {
    return x < T(0) ? T(0) : x;
  }
  // float16 on the bits (exact, see relu_half_bits): about 30% of fp16 fmnist_resnet's time went
  // to the widen, apply, round composition.
  std::uint16_t half_bits(std::uint16_t h) const { return unary::relu_half_bits(h); }
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
  float fast(float x) const { return x > 0.0f ? gamma * x : gamma * (alpha * fast_math::expm1(x)); }
};

// log(exp(x) + 1), in the form that neither overflows for large x nor loses small results.
struct SoftplusOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  float fast(float x) const { return fast_math::softplus(x); }
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
  float fast(float x) const { return fast_math::log(x); }
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

#if defined(__x86_64__)
// fast_math::erf vectorised 8 wide with FMA where the CPU has them (chosen at run time: the library
// targets baseline x86-64). Erf is GELU's core, a large share of a transformer's elementwise time.
__attribute__((target("avx2,fma"))) void erf_block_avx2(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = fast_math::erf(x[i]);
}
#endif

struct ErfOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return std::erf(x);
  }
  float fast(float x) const { return fast_math::erf(x); }
  void fast_block(const float* x, float* y, std::int64_t n) const {
#if defined(__x86_64__)
    static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2) {
      erf_block_avx2(x, y, n);
      return;
    }
#endif
    for (std::int64_t i = 0; i < n; ++i) y[i] = fast_math::erf(x[i]);
  }
};

struct ReciprocalOp {
  static constexpr unsigned kInts = kNoInts;
  template <typename T>
  T ref(T x) const {
    return T(1) / x;
  }
};

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
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, ReluOp{});
}

Prepared prepare_leaky_relu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, LeakyReluOp{ctx.attr_float("alpha", 0.01f)});
}

Prepared prepare_sigmoid(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, SigmoidOp{});
}

Prepared prepare_tanh(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, TanhOp{});
}

Prepared prepare_hard_sigmoid(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", "beta", unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx,
                     HardSigmoidOp{ctx.attr_float("alpha", 0.2f), ctx.attr_float("beta", 0.5f)});
}

Prepared prepare_hard_swish(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, HardSwishOp{});
}

Prepared prepare_elu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, EluOp{ctx.attr_float("alpha", 1.0f)});
}

Prepared prepare_selu(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", "gamma", unary::legacy_consumed_inputs(ctx)});
  // The spec's defaults, as float attributes; Selu-1 had rounded ones (1.6732, 1.0507).
  const bool v1 = ctx.opset() < 6;
  return prepare_map(ctx,
                     SeluOp{ctx.attr_float("alpha", v1 ? 1.6732f : 1.67326319217681884765625f),
                            ctx.attr_float("gamma", v1 ? 1.0507f : 1.05070102214813232421875f)});
}

Prepared prepare_softplus(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, SoftplusOp{});
}

Prepared prepare_sqrt(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, SqrtOp{});
}

Prepared prepare_exp(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, ExpOp{});
}

Prepared prepare_log(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, LogOp{});
}

Prepared prepare_neg(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, NegOp{});
}

Prepared prepare_abs(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, AbsOp{});
}

Prepared prepare_erf(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return prepare_map(ctx, ErfOp{});
}

Prepared prepare_reciprocal(const PrepareContext& ctx) {
  ctx.allow_attributes({unary::legacy_consumed_inputs(ctx)});
  return prepare_map(ctx, ReciprocalOp{});
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
// Versions 1 and 6 have `is_test`: only is_test = 1 (Y = X) is inference; version 1 also has the
// legacy in-place hint `consumed_inputs`, which does not change the result.
Prepared prepare_dropout(const PrepareContext& ctx) {
  if (ctx.opset() < 7) {
    ctx.allow_attributes({"ratio", "is_test", unary::legacy_consumed_inputs(ctx)});
    ctx.require_inputs(1, 1);
    if (ctx.attr_int("is_test", 0) == 0) {
      ctx.unsupported("is_test=0 (training mode, random dropout) is not supported; only is_test=1");
    }
  } else if (ctx.opset() < 12) {
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
      if (mode == nullptr) {
        ctx.unsupported("training_mode as a runtime input is not supported (inference only)");
      }
      if (mode->numel() != 1) ctx.fail("training_mode must be a scalar");
      if (mode->data<std::uint8_t>()[0] != 0) {
        ctx.unsupported("training_mode is true; only inference (training_mode false) is supported");
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
        case DType::kBool:
          std::memset(mask.raw(), 1, static_cast<std::size_t>(n));
          break;
        case DType::kFloat32:
          std::fill_n(mask.data<float>(), n, 1.0f);
          break;
        case DType::kFloat64:
          std::fill_n(mask.data<double>(), n, 1.0);
          break;
        case DType::kFloat16:
          std::fill_n(mask.data<std::uint16_t>(), n, 0x3c00);
          break;
        case DType::kBFloat16:
          std::fill_n(mask.data<std::uint16_t>(), n, 0x3f80);
          break;
        default:
          return Status::error("Dropout: unexpected mask dtype");
      }
    }
    return Status::ok();
  });
  return p;
}

}  // namespace dnnfi
