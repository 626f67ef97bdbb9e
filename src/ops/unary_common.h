// Helpers shared by the elementwise unary kernels (unary.cpp, cast.cpp): a deterministic parallel
// loop over fixed-size chunks and block conversions between float32 and float16 / bfloat16.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

#if defined(__F16C__)
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
  const std::uint32_t normal = (em << 13) + 0x38000000u;     // rebias exponent 15 -> 127
  const std::uint32_t inf_nan = (em << 13) + 0x70000000u;    // exponent all ones, payload kept
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

inline void half_to_float_block(const std::uint16_t* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = half_bits_to_float(x[i]);
}

// Round to nearest even; identical to float_to_half for every float (checked exhaustively for the
// F16C path against dtype.cpp).
inline void float_to_half_block(const float* x, std::uint16_t* y, std::int64_t n) {
  std::int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
#endif
  for (; i < n; ++i) y[i] = float_to_half(x[i]);
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

}  // namespace dnnfi::unary
