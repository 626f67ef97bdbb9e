// Exact int16-pair GEMM for the integer convolutions (qlinear_conv.cpp): int16 x int16 products
// summed in int32, compiled for AVX-512 VNNI (vpdpwssd) and AVX2 (vpmaddwd + vpaddd) whatever the
// build flags, chosen at run time from the CPU. Both instructions form each pair's sum
// a0 * b0 + a1 * b1 exactly in int32 (|a|, |b| <= 255 here, so no pair saturates) and add it to
// the accumulator without saturation, so the result is the exact integer sum whenever it fits in
// int32 (the caller guarantees that: K <= 32768), hence bit-identical to the reference loops.
//
// Layouts (K2 = ceil(K / 2) pairs, P = pixel count rounded up to kInt8PixelAlign):
//   cols    [K2][P][2] int16: column pair k2 of pixel p at cols[(k2 * P + p) * 2 + {0, 1}]
//   weights [M][K2]    int32: the pair (w[2 k2], w[2 k2 + 1]) as two int16 (low half first)
//   acc     [M][P]     int32
// Odd K and pixels past the real count are zero in cols / weights.
#pragma once

#include <cstdint>

namespace dnnfi::int8_gemm {

constexpr std::int64_t kInt8PixelAlign = 16;

enum class Isa { kNone, kAvx2, kAvx512Vnni };

// The best kernel this CPU runs (kNone: the caller uses its portable loop).
Isa detect();

// acc = weights x cols for m rows of weights (m >= 1) and all P pixels. isa != kNone.
// u8s8 (isa == kAvx512Vnni only): each 4-byte group is four uint8 columns / four int8 weights
// (quads instead of int16 pairs, k2 counts quads), summed with vpdpbusd, also exact.
void gemm(Isa isa, const std::int32_t* weights, std::int64_t m, std::int64_t k2,
          const std::int16_t* cols, std::int64_t pixels_padded, std::int32_t* acc,
          bool u8s8 = false);

// dst[i] = int16(src[i * stride] - zero_point) for i < n, src read as int8 (is_signed) or uint8.
// AVX-512 for strides 1 and 2 (reads only the bytes it uses, under masks), scalar otherwise.
void widen_row(Isa isa, const void* src, std::int64_t n, std::int64_t stride, bool is_signed,
               std::int32_t zero_point, std::int16_t* dst);

// dst[i] = src[i * stride] for i < n bytes: AVX-512 masked loads / stores for strides 1 and 2
// (no library call for the short rows of small images), scalar otherwise.
void copy_row_u8(Isa isa, const std::uint8_t* src, std::int64_t n, std::int64_t stride,
                 std::uint8_t* dst);

// cols pair row: out[p] = (a[p], b[p]) as two int16 (low half a) for p < n; b == nullptr: zeros.
void pack_pairs(const std::int16_t* a, const std::int16_t* b, std::int64_t n, std::int32_t* out);

// y[i] = saturate(round_half_even(float(acc[i] + bias) * multiplier) + zero_point) to [lo, hi]
// for i < n, with int32 wrap-around in acc + bias and NaN -> zero_point: quant::round_saturate
// (quant_common.h), bit for bit; y holds int8 or uint8 (the low byte of the saturated value).
void requantize(Isa isa, const std::int32_t* acc, std::int64_t n, std::int32_t bias,
                float multiplier, std::int32_t zero_point, std::int32_t lo, std::int32_t hi,
                std::uint8_t* y);

// requantize for channels-last pixels: y[p * channels + m] = the value requantize gives for
// acc[p * channels + m] with bias[m] and multiplier[m].
void requantize_channels(Isa isa, const std::int32_t* acc, std::int64_t pixels,
                         std::int64_t channels, const std::int32_t* bias, const float* multiplier,
                         std::int32_t zero_point, std::int32_t lo, std::int32_t hi,
                         std::uint8_t* y);

// y[i] = table[x[i]] for a 256-entry table (AVX-512 VBMI byte permutes where the CPU has them).
void map_bytes(const std::uint8_t* table, const std::uint8_t* x, std::int64_t n, std::uint8_t* y);

// sum a[i] * b[i], exact in int32 while n <= 65536 (|a * b| <= 255 * 128); vpdpbusd on AVX-512
// VNNI (isa == kAvx512Vnni).
std::int32_t dot_u8s8(Isa isa, const std::uint8_t* a, const std::int8_t* b, std::int64_t n);

// QuantizeLinear of a row: y[i] = saturate(round_half_even(x[i] / scale) + zero_point) to
// [lo, hi], NaN -> zero_point: quant::round_saturate bit for bit (an IEEE division in both).
void quantize(Isa isa, const float* x, std::int64_t n, float scale, std::int32_t zero_point,
              std::int32_t lo, std::int32_t hi, std::uint8_t* y);

}  // namespace dnnfi::int8_gemm
