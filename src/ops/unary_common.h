// Helpers shared by the elementwise unary kernels (unary.cpp, clip.cpp, cast.cpp): a
// deterministic parallel loop over fixed-size chunks, block conversions between float32 and
// float16 / bfloat16, and the generic map kernel for ops written as small structs:
//   static constexpr unsigned kInts;   integer dtypes accepted besides the float ones (IntDTypes)
//   template <typename T> T ref(T x);  the definition (reference path; float64 and integers)
//   float fast(float x);               optional: the optimised float32 path
//   void fast_block(const float* x, float* y, int64_t n);  optional: the same, a block at once
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/dtype.h"
#include "ops/kernel.h"
#include "ops/row_map.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dnnfi::unary {

// Below this many elements a kernel runs on the calling thread (a parallel region costs more).
inline constexpr std::int64_t kParallelMinElements = 32768;
// Work is split into chunks of this many elements whatever the thread count, so every element
// takes the same code path (vector body or scalar tail) and results are bitwise reproducible.
inline constexpr std::int64_t kChunkElements = 16384;
// Stack buffer size for kernels that convert float16/bfloat16 to float32 and back.
inline constexpr std::int64_t kConvertBlock = 512;

// Calls body(begin, end) over [0, n), in parallel for large n. body must only touch elements in
// its range.
template <typename Body>
void for_chunks(std::int64_t n, const Body& body) {
  if (n < kParallelMinElements) {
    if (n > 0) body(std::int64_t{0}, n);
    return;
  }
  const std::int64_t chunks = (n + kChunkElements - 1) / kChunkElements;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    body(c * kChunkElements, std::min(n, (c + 1) * kChunkElements));
  }
}

// memcpy, split into chunks copied in parallel when large.
inline void copy_bytes(const void* src, void* dst, std::size_t nbytes) {
  if (nbytes == 0) return;  // the pointers of an empty tensor may be null
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  constexpr std::size_t kChunkBytes = kChunkElements * 4;
  if (nbytes < static_cast<std::size_t>(kParallelMinElements) * 4) {
    std::memcpy(d, s, nbytes);
    return;
  }
  const auto chunks = static_cast<std::int64_t>((nbytes + kChunkBytes - 1) / kChunkBytes);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::size_t b = static_cast<std::size_t>(c) * kChunkBytes;
    std::memcpy(d + b, s + b, std::min(kChunkBytes, nbytes - b));
  }
}

// float16 -> float32, bit-identical to half_to_float (signalling NaNs keep their payload, unlike
// the F16C instruction which quiets them). Branch-free so loops over it vectorise.
inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t em = h & 0x7fffu;
  const std::uint32_t normal = (em << 13) + 0x38000000u;   // rebias exponent 15 -> 127
  const std::uint32_t inf_nan = (em << 13) + 0x70000000u;  // exponent all ones, payload kept
  const float sub = static_cast<float>(static_cast<std::int32_t>(em)) * 0x1p-24f;  // exact
  const std::uint32_t bits =
      em < 0x400u ? std::bit_cast<std::uint32_t>(sub) : (em >= 0x7c00u ? inf_nan : normal);
  return std::bit_cast<float>(sign | bits);
}

// float32 -> bfloat16, bit-identical to float_to_bfloat16 (round to nearest even, NaN quieted).
inline std::uint16_t float_to_bfloat16_bits(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  const std::uint32_t nan = (x >> 16) | 0x40u;
  return static_cast<std::uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

inline float bfloat16_bits_to_float(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

// Relu of a float16 on its bits, equal to float_to_half(max-by-`<`(half_to_float(h), 0)) for every
// h: a negative nonzero number gives +0, -0 and non-negative numbers are kept, and a NaN comes
// back quieted (bit 9 set) as float_to_half quiets it.
inline std::uint16_t relu_half_bits(std::uint16_t h) {
  const unsigned magnitude = h & 0x7fffu;
  const bool nan = magnitude > 0x7c00u;
  const bool negative = (h & 0x8000u) != 0 && magnitude != 0;
  return static_cast<std::uint16_t>(nan ? (h | 0x0200u) : (negative ? 0u : h));
}

inline void half_to_float_block(const std::uint16_t* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = half_bits_to_float(x[i]);
}

#if defined(__x86_64__)
// The F16C conversion, compiled for F16C whatever the build's target.
__attribute__((target("avx,f16c"))) inline void float_to_half_block_f16c(const float* x,
                                                                         std::uint16_t* y,
                                                                         std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
  for (; i < n; ++i) y[i] = float_to_half(x[i]);
}
#endif

// Round to nearest even; identical to float_to_half for every float (checked exhaustively for the
// F16C path against dtype.cpp). The F16C instruction is used where the CPU has it: chosen at
// compile time in -march=native builds, else at run time (the default build targets baseline
// x86-64).
inline void float_to_half_block(const float* x, std::uint16_t* y, std::int64_t n) {
#if defined(__F16C__)
  float_to_half_block_f16c(x, y, n);
#else
#if defined(__x86_64__)
  static const bool f16c = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  if (f16c) {
    float_to_half_block_f16c(x, y, n);
    return;
  }
#endif
  for (std::int64_t i = 0; i < n; ++i) y[i] = float_to_half(x[i]);
#endif
}

inline void bfloat16_to_float_block(const std::uint16_t* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = bfloat16_bits_to_float(x[i]);
}

inline void float_to_bfloat16_block(const float* x, std::uint16_t* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = float_to_bfloat16_bits(x[i]);
}

// 16-bit float formats as a parameter for templates.
struct HalfFormat {
  static constexpr DType kDType = DType::kFloat16;
  static void to_float(const std::uint16_t* x, float* y, std::int64_t n) {
    half_to_float_block(x, y, n);
  }
  static void from_float(const float* x, std::uint16_t* y, std::int64_t n) {
    float_to_half_block(x, y, n);
  }
};

struct BFloat16Format {
  static constexpr DType kDType = DType::kBFloat16;
  static void to_float(const std::uint16_t* x, float* y, std::int64_t n) {
    bfloat16_to_float_block(x, y, n);
  }
  static void from_float(const float* x, std::uint16_t* y, std::int64_t n) {
    float_to_bfloat16_block(x, y, n);
  }
};

// ---- the map kernel ------------------------------------------------------------------------

// Integer dtypes an op accepts besides the float ones (float32, float64, float16, bfloat16).
enum IntDTypes : unsigned { kNoInts = 0, kSignedInts = 1, kUnsignedInts = 2 };

inline bool is_float_dtype(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 ||
         t == DType::kBFloat16;
}
inline bool is_signed_int_dtype(DType t) {
  return t == DType::kInt8 || t == DType::kInt16 || t == DType::kInt32 || t == DType::kInt64;
}
inline bool is_unsigned_int_dtype(DType t) {
  return t == DType::kUInt8 || t == DType::kUInt16 || t == DType::kUInt32 || t == DType::kUInt64;
}

template <typename Op>
float apply_fast(const Op& op, float x) {
  if constexpr (requires { op.fast(x); }) {
    return op.fast(x);
  } else {
    return op.template ref<float>(x);
  }
}

// y = op(x) over one range of float32; ops may provide a whole-block fast path (Sqrt). The loops
// use a local copy of op: otherwise its parameters (alpha...) could alias y and would be reloaded
// after every store, which stops vectorisation.
template <typename Op>
void fast_float_range(const Op& op, const float* x, float* y, std::int64_t n) {
  const Op local = op;
  if constexpr (requires { local.fast_block(x, y, n); }) {
    local.fast_block(x, y, n);
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] = apply_fast(local, x[i]);
  }
}

template <typename T, typename Op>
void ref_range(const Op& op, const T* x, T* y, std::int64_t n) {
  const Op local = op;
  for (std::int64_t i = 0; i < n; ++i) y[i] = local.template ref<T>(x[i]);
}

template <typename T, typename Op>
void map_native(const Op& op, bool reference, const T* x, T* y, std::int64_t n) {
  if (reference) {
    ref_range(op, x, y, n);
    return;
  }
  for_chunks(n, [&](std::int64_t begin, std::int64_t end) {
    if constexpr (std::is_same_v<T, float>) {
      fast_float_range(op, x + begin, y + begin, end - begin);
    } else {
      ref_range(op, x + begin, y + begin, end - begin);
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
  if constexpr (Format::kDType == DType::kFloat16 && requires { op.half_bits(std::uint16_t{}); }) {
    // An op defined on the float16 bits directly (the widen, apply, round composition above,
    // without its two conversions).
    for_chunks(n, [&](std::int64_t begin, std::int64_t end) {
      const Op local = op;
      for (std::int64_t i = begin; i < end; ++i) y[i] = local.half_bits(x[i]);
    });
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
      map_16bit<unary::HalfFormat>(op, reference, x.data<std::uint16_t>(), y.data<std::uint16_t>(),
                                   n);
      return Status::ok();
    case DType::kBFloat16:
      map_16bit<unary::BFloat16Format>(op, reference, x.data<std::uint16_t>(),
                                       y.data<std::uint16_t>(), n);
      return Status::ok();
#define DNNFI_UNARY_INT_CASE(DT, T, ENABLED)                  \
  case DType::DT:                                             \
    if constexpr (ENABLED) {                                  \
      map_native(op, reference, x.data<T>(), y.data<T>(), n); \
      return Status::ok();                                    \
    }                                                         \
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

// For allow_attributes: "consumed_inputs" below opset 6, else "" (which allows nothing). The
// version-1 forms of many ops (Relu, Add, BatchNormalization...) carry this legacy in-place
// optimisation hint; it never changes the result, so it is accepted and ignored.
inline std::string_view legacy_consumed_inputs(const PrepareContext& ctx) {
  return ctx.opset() < 6 ? "consumed_inputs" : "";
}

inline void require_single_output(const PrepareContext& ctx) {
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
    ctx.unsupported("input " + std::to_string(input) + " has unsupported dtype " +
                    std::string(dtype_name(t)));
  }
}

// The common prepare of a one-input, one-output op whose attributes were already read.
// True when op's float32 result for an element does not depend on where the element lies in a
// block (no fast_block, whose vector body and scalar tail may round differently), so that rows
// of a tensor map exactly as the whole tensor does.
template <typename Op>
constexpr bool kElementExact = !requires(const Op& op, const float* x, float* y, std::int64_t n) {
  op.fast_block(x, y, n);
};

// Rows of a float32 NCHW tensor mapped in place (Kernel::run_rows), each element as
// fast_float_range maps it in the whole tensor. False when the op or the tensors do not allow it.
template <typename Op>
bool map_rows(const Op& op, bool reference, const RowInput& x, Tensor& y, std::int64_t lo,
              std::int64_t hi) {
  if constexpr (!kElementExact<Op>) {
    return false;
  } else {
    const std::array<const RowInput*, 1> in{&x};
    if (reference || y.dtype() != DType::kFloat32 || !rows::same_shape(in, y)) return false;
    rows::for_segments<float>(in, y, lo, hi,
                              [&](std::int64_t, const auto& src, float* dst, std::int64_t n) {
                                fast_float_range(op, src[0], dst, n);
                              });
    return true;
  }
}

template <typename Op>
class MapKernel final : public Kernel {
 public:
  MapKernel(Op op, bool reference) : op_(op), reference_(reference) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    return run_unary(op_, reference_, *in[0], *out[0]);
  }
  bool run_rows(std::span<const RowInput> in, Tensor& out, std::int64_t lo,
                std::int64_t hi) const override {
    return map_rows(op_, reference_, in[0], out, lo, hi);
  }

 private:
  Op op_;
  bool reference_;
};

template <typename Op>
Prepared prepare_map(const PrepareContext& ctx, Op op) {
  ctx.require_inputs(1, 1);
  require_single_output(ctx);
  require_unary_dtype<Op>(ctx, 0);
  Prepared p;
  p.outputs = {ctx.input(0)};
  p.kernel = std::make_unique<MapKernel<Op>>(op, ctx.reference());
  return p;
}

}  // namespace dnnfi::unary
