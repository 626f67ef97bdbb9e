// ConvInteger (int32 output) and QLinearConv (requantized int8 / uint8 output), 1-D to 3-D,
// groups, strides, dilations, pads, auto_pad; x and w each int8 or uint8.
//
//   acc[n, m, o] = sum over (c in m's group, k) of (x - x_zero_point) * (w - w_zero_point[m])
//   ConvInteger   y = acc                                        (int32)
//   QLinearConv   y = saturate(round_half_even(float(acc + B[m]) * M[m]) + y_zero_point),
//                 M[m] = x_scale * w_scale[m] / y_scale in fp32 (ONNX Runtime's order)
//
// Padding contributes nothing (it stands for x_zero_point). The accumulator is int64, wrapped to
// int32 at the end like ONNX Runtime's int32 arithmetic, so no input makes signed overflow.
//
// Kernels, all bit-identical: the reference (direct loops, int64 accumulator) and optimised ones
// used only when no int32 overflow is possible (K = C/group * kernel size <= 32768, so
// |acc| < 2^31); integer sums are exact in any order, hence all give the same accumulator and
// the same requantized value. Optimised, best first (chosen per run; CPU checked once):
//   conv_integer_u8s8    uint8 x, int8 w, w zero points all 0, AVX-512 VNNI: raw bytes, vpdpbusd
//   conv_integer_packed  AVX-512 VNNI or AVX2: int16 pairs of x - x_zp and w - w_zp
//   conv_integer_im2col  portable: int16 im2col, per-channel multiply-add loops
// The GEMM, requantization and row copies live in int8_gemm.cpp. Ahead of them all, when the
// weights are int8 with zero points 0 and oneDNN's chosen implementation multiplies with VNNI
// (vpdpbusd) or AMX tiles, a oneDNN convolution with int32 output and a run-time x zero point
// (padding stands for the zero point in oneDNN too) computes the accumulator: those instructions
// add exact u8/s8 products in int32, so it equals the reference's. oneDNN's other int8 kernels
// (AVX2/AVX-512 without VNNI) multiply u8 x s8 through saturating int16 pairs (vpmaddubsw) and are
// never used. oneDNN's own requantization rounds differently from ONNX Runtime, so
// requantization stays ours (docs/quantized.md).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/conv_shape.h"
#include "ops/dnnl_util.h"
#include "ops/int8_gemm.h"
#include "ops/ops.h"
#include "ops/qconv_dnnl.h"
#include "ops/quant_common.h"

namespace dnnfi {

namespace {

using qconv::dnnl_plan;
using qconv::DnnlIntConv;
using qconv::QConvGeom;

// Largest C/group * kernel size for which 255 * 255 * K cannot overflow int32.
constexpr std::int64_t kMaxFastDepth = 32768;

inline std::int32_t wrap_int32(std::int64_t v) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
}

// Calls emit(plane, index_in_plane, acc) for every output element.
template <typename X, typename W, typename Emit>
void conv_integer(const QConvGeom& g, const X* x, std::int32_t xzp, const W* w, const Tensor* wzp,
                  Emit&& emit) {
  const Window3& q = g.w3;
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::int64_t ksize = q.kernel[0] * q.kernel[1] * q.kernel[2];
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  const std::int64_t planes = g.batch * g.out_channels;
#pragma omp parallel for schedule(static) if (planes * out_size * cg * ksize > 100000)
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    const std::int64_t n = plane / g.out_channels, m = plane % g.out_channels;
    const X* xg = x + (n * g.in_channels + (m / mg) * cg) * in_size;
    const W* wm = w + m * cg * ksize;
    const std::int32_t wz = quant::zero_point_at(wzp, m);
    for (std::int64_t od = 0; od < q.out[0]; ++od) {
      for (std::int64_t oh = 0; oh < q.out[1]; ++oh) {
        for (std::int64_t ow = 0; ow < q.out[2]; ++ow) {
          std::int64_t acc = 0;
          for (std::int64_t c = 0; c < cg; ++c) {
            for (std::int64_t kd = 0; kd < q.kernel[0]; ++kd) {
              const std::int64_t id = od * q.strides[0] - q.pad_begin[0] + kd * q.dilations[0];
              if (id < 0 || id >= q.in[0]) continue;
              for (std::int64_t kh = 0; kh < q.kernel[1]; ++kh) {
                const std::int64_t ih = oh * q.strides[1] - q.pad_begin[1] + kh * q.dilations[1];
                if (ih < 0 || ih >= q.in[1]) continue;
                const X* xrow = xg + c * in_size + (id * q.in[1] + ih) * q.in[2];
                const W* wrow = wm + ((c * q.kernel[0] + kd) * q.kernel[1] + kh) * q.kernel[2];
                for (std::int64_t kw = 0; kw < q.kernel[2]; ++kw) {
                  const std::int64_t iw = ow * q.strides[2] - q.pad_begin[2] + kw * q.dilations[2];
                  if (iw < 0 || iw >= q.in[2]) continue;
                  acc += static_cast<std::int64_t>(static_cast<std::int32_t>(xrow[iw]) - xzp) *
                         (static_cast<std::int32_t>(wrow[kw]) - wz);
                }
              }
            }
          }
          emit(plane, m, (od * q.out[1] + oh) * q.out[2] + ow, acc);
        }
      }
    }
  }
}

template <typename W>
inline std::int16_t weight_minus_zp(W w, std::int32_t zp) {
  return static_cast<std::int16_t>(static_cast<std::int32_t>(w) - zp);  // |w - zp| <= 255
}

// acc[i] += w0 * c0[i] + w1 * c1[i]: int16 x int16 -> int32 products, two columns at a time (the
// compiler's widening multiply-add pattern). An AVX2 clone (GCC target_clones) measured no faster
// on the bundled model, whose time is split between this loop and im2col + requantization.
inline void madd_columns(std::int32_t* acc, const std::int16_t* c0, const std::int16_t* c1,
                         std::int16_t w0, std::int16_t w1, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    acc[i] += static_cast<std::int32_t>(w0) * c0[i] + static_cast<std::int32_t>(w1) * c1[i];
  }
}

// The optimised kernel: same contract as conv_integer. Returns false when scratch memory cannot
// be had.
template <typename X, typename W, typename Emit>
bool conv_integer_im2col(const QConvGeom& g, const X* x, std::int32_t xzp, const W* w,
                         const Tensor* wzp, Emit&& emit) {
  using dnnl_util::Scratch;
  const Window3& q = g.w3;
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::int64_t ksize = q.kernel[0] * q.kernel[1] * q.kernel[2];
  const std::int64_t depth = cg * ksize;
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  auto* col = static_cast<std::int16_t*>(dnnl_util::thread_scratch(
      Scratch::kSrc, static_cast<std::size_t>(depth * out_size) * sizeof(std::int16_t)));
  auto* acc = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
      Scratch::kDst, static_cast<std::size_t>(out_size) * sizeof(std::int32_t)));
  if (col == nullptr || acc == nullptr) return false;
  for (std::int64_t n = 0; n < g.batch; ++n) {
    for (std::int64_t grp = 0; grp < g.group; ++grp) {
      const X* xg = x + (n * g.in_channels + grp * cg) * in_size;
      std::int16_t* row = col;
      for (std::int64_t c = 0; c < cg; ++c) {
        for (std::int64_t kd = 0; kd < q.kernel[0]; ++kd) {
          for (std::int64_t kh = 0; kh < q.kernel[1]; ++kh) {
            for (std::int64_t kw = 0; kw < q.kernel[2]; ++kw, row += out_size) {
              std::int16_t* r = row;
              for (std::int64_t od = 0; od < q.out[0]; ++od) {
                const std::int64_t id = od * q.strides[0] - q.pad_begin[0] + kd * q.dilations[0];
                const bool d_in = id >= 0 && id < q.in[0];
                for (std::int64_t oh = 0; oh < q.out[1]; ++oh) {
                  const std::int64_t ih = oh * q.strides[1] - q.pad_begin[1] + kh * q.dilations[1];
                  const bool h_in = d_in && ih >= 0 && ih < q.in[1];
                  const X* xrow = xg + c * in_size + (id * q.in[1] + ih) * q.in[2];
                  for (std::int64_t ow = 0; ow < q.out[2]; ++ow, ++r) {
                    const std::int64_t iw =
                        ow * q.strides[2] - q.pad_begin[2] + kw * q.dilations[2];
                    *r = (h_in && iw >= 0 && iw < q.in[2])
                             ? static_cast<std::int16_t>(static_cast<std::int32_t>(xrow[iw]) - xzp)
                             : std::int16_t{0};
                  }
                }
              }
            }
          }
        }
      }
      for (std::int64_t mi = 0; mi < mg; ++mi) {
        const std::int64_t m = grp * mg + mi;
        const W* wm = w + m * depth;
        const std::int32_t wz = quant::zero_point_at(wzp, m);
        std::fill(acc, acc + out_size, 0);
        std::int64_t k = 0;
        for (; k + 1 < depth; k += 2) {
          const std::int16_t* c0 = col + k * out_size;
          madd_columns(acc, c0, c0 + out_size, weight_minus_zp(wm[k], wz),
                       weight_minus_zp(wm[k + 1], wz), out_size);
        }
        if (k < depth) {
          madd_columns(acc, col + k * out_size, col + k * out_size, weight_minus_zp(wm[k], wz), 0,
                       out_size);
        }
        const std::int64_t plane = n * g.out_channels + m;
        for (std::int64_t i = 0; i < out_size; ++i) emit(plane, m, i, std::int64_t{acc[i]});
      }
    }
  }
  return true;
}

// Row k of the im2col matrix (k = ((c * kd_n + kd) * kh_n + kh) * kw_n + kw) as x - x_zero_point
// in int16, zero where the window reads padding and for pixels in [out_size, padded).
template <typename X>
void im2col_row(int8_gemm::Isa isa, const Window3& q, const X* xg, std::int32_t xzp, std::int64_t k,
                std::int64_t padded, std::int16_t* r) {
  const std::int64_t kw = k % q.kernel[2], kh = (k / q.kernel[2]) % q.kernel[1];
  const std::int64_t kd = (k / (q.kernel[2] * q.kernel[1])) % q.kernel[0];
  const std::int64_t c = k / (q.kernel[2] * q.kernel[1] * q.kernel[0]);
  const X* xc = xg + c * q.in_size();
  const std::int64_t s = q.strides[2], iw0 = -q.pad_begin[2] + kw * q.dilations[2];
  // Output columns [lo, hi) read inside the row: iw = ow * s + iw0 in [0, in).
  const std::int64_t lo = iw0 >= 0 ? 0 : std::min(q.out[2], (-iw0 + s - 1) / s);
  const std::int64_t hi = iw0 > q.in[2] - 1 ? 0 : std::min(q.out[2], (q.in[2] - 1 - iw0) / s + 1);
  for (std::int64_t od = 0; od < q.out[0]; ++od) {
    const std::int64_t id = od * q.strides[0] - q.pad_begin[0] + kd * q.dilations[0];
    const bool d_in = id >= 0 && id < q.in[0];
    for (std::int64_t oh = 0; oh < q.out[1]; ++oh, r += q.out[2]) {
      const std::int64_t ih = oh * q.strides[1] - q.pad_begin[1] + kh * q.dilations[1];
      if (!d_in || ih < 0 || ih >= q.in[1] || hi <= lo) {
        std::fill(r, r + q.out[2], std::int16_t{0});
        continue;
      }
      const X* xrow = xc + (id * q.in[1] + ih) * q.in[2] + iw0;
      for (std::int64_t ow = 0; ow < lo; ++ow) r[ow] = 0;  // a few columns at most
      int8_gemm::widen_row(isa, xrow + lo * s, hi - lo, s, std::is_signed_v<X>, xzp, r + lo);
      for (std::int64_t ow = hi; ow < q.out[2]; ++ow) r[ow] = 0;
    }
  }
  std::fill(r, r + (padded - q.out_size()), std::int16_t{0});
}

// The SIMD form of conv_integer_im2col (same exact integer sums): im2col of x - x_zero_point
// into int16 column pairs, weights - w_zero_point packed into int16 pairs (per run: a fault may
// have changed them, and packing costs M * K against the M * K * pixels of the GEMM), then
// int8_gemm's register-blocked kernel for all the group's output channels at once. Calls
// row(plane, m, acc) with the out_size int32 sums of each output plane.
template <typename X, typename W, typename Row>
bool conv_integer_packed(const QConvGeom& g, const X* x, std::int32_t xzp, const W* w,
                         const Tensor* wzp, Row&& row) {
  using dnnl_util::Scratch;
  const Window3& q = g.w3;
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::int64_t ksize = q.kernel[0] * q.kernel[1] * q.kernel[2];
  const std::int64_t depth = cg * ksize, pairs = (depth + 1) / 2;
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  const std::int64_t padded = (out_size + int8_gemm::kInt8PixelAlign - 1) /
                              int8_gemm::kInt8PixelAlign * int8_gemm::kInt8PixelAlign;
  auto* col = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
      Scratch::kSrc, static_cast<std::size_t>(pairs * padded) * sizeof(std::int32_t)));
  auto* acc = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
      Scratch::kDst, static_cast<std::size_t>(mg * padded) * sizeof(std::int32_t)));
  auto* wpack = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
      Scratch::kSum, static_cast<std::size_t>(g.out_channels * pairs) * sizeof(std::int32_t)));
  auto* rows = static_cast<std::int16_t*>(dnnl_util::thread_scratch(
      Scratch::kPad, static_cast<std::size_t>(2 * padded) * sizeof(std::int16_t)));
  if (col == nullptr || acc == nullptr || wpack == nullptr || rows == nullptr) return false;
  for (std::int64_t m = 0; m < g.out_channels; ++m) {
    const W* wm = w + m * depth;
    const std::int32_t wz = quant::zero_point_at(wzp, m);
    std::int32_t* wp = wpack + m * pairs;
    const std::int64_t full = depth / 2;  // branch-free so the compiler vectorises it
    for (std::int64_t kp = 0; kp < full; ++kp) {
      const auto lo = static_cast<std::uint16_t>(weight_minus_zp(wm[2 * kp], wz));
      const auto hi = static_cast<std::uint16_t>(weight_minus_zp(wm[2 * kp + 1], wz));
      wp[kp] = static_cast<std::int32_t>(static_cast<std::uint32_t>(lo) |
                                         (static_cast<std::uint32_t>(hi) << 16));
    }
    if (full < pairs) {
      wp[full] = static_cast<std::uint16_t>(weight_minus_zp(wm[2 * full], wz));
    }
  }
  for (std::int64_t n = 0; n < g.batch; ++n) {
    for (std::int64_t grp = 0; grp < g.group; ++grp) {
      const X* xg = x + (n * g.in_channels + grp * cg) * in_size;
      for (std::int64_t kp = 0; kp < pairs; ++kp) {
        im2col_row(g.isa, q, xg, xzp, 2 * kp, padded, rows);
        const bool second = 2 * kp + 1 < depth;
        if (second) im2col_row(g.isa, q, xg, xzp, 2 * kp + 1, padded, rows + padded);
        int8_gemm::pack_pairs(rows, second ? rows + padded : nullptr, padded, col + kp * padded);
      }
      int8_gemm::gemm(g.isa, wpack + grp * mg * pairs, mg, pairs,
                      reinterpret_cast<const std::int16_t*>(col), padded, acc);
      for (std::int64_t mi = 0; mi < mg; ++mi) {
        const std::int64_t m = grp * mg + mi;
        row(n * g.out_channels + m, m, static_cast<const std::int32_t*>(acc + mi * padded));
      }
    }
  }
  return true;
}

// Runs the selected kernel.
// Row k of the im2col matrix as raw uint8 bytes, x_zero_point where the window reads padding
// (so that x - x_zero_point is 0 there, as in im2col_row), for the u8s8 kernel.
inline void im2col_row_u8(int8_gemm::Isa isa, const Window3& q, const std::uint8_t* xg,
                          std::uint8_t xzp, std::int64_t k, std::int64_t padded, std::uint8_t* r) {
  const std::int64_t kw = k % q.kernel[2], kh = (k / q.kernel[2]) % q.kernel[1];
  const std::int64_t kd = (k / (q.kernel[2] * q.kernel[1])) % q.kernel[0];
  const std::int64_t c = k / (q.kernel[2] * q.kernel[1] * q.kernel[0]);
  const std::uint8_t* xc = xg + c * q.in_size();
  const std::int64_t s = q.strides[2], iw0 = -q.pad_begin[2] + kw * q.dilations[2];
  const std::int64_t lo = iw0 >= 0 ? 0 : std::min(q.out[2], (-iw0 + s - 1) / s);
  const std::int64_t hi = iw0 > q.in[2] - 1 ? 0 : std::min(q.out[2], (q.in[2] - 1 - iw0) / s + 1);
  for (std::int64_t od = 0; od < q.out[0]; ++od) {
    const std::int64_t id = od * q.strides[0] - q.pad_begin[0] + kd * q.dilations[0];
    const bool d_in = id >= 0 && id < q.in[0];
    for (std::int64_t oh = 0; oh < q.out[1]; ++oh, r += q.out[2]) {
      const std::int64_t ih = oh * q.strides[1] - q.pad_begin[1] + kh * q.dilations[1];
      if (!d_in || ih < 0 || ih >= q.in[1] || hi <= lo) {
        std::fill(r, r + q.out[2], xzp);
        continue;
      }
      const std::uint8_t* xrow = xc + (id * q.in[1] + ih) * q.in[2] + iw0;
      for (std::int64_t ow = 0; ow < lo; ++ow) r[ow] = xzp;
      int8_gemm::copy_row_u8(isa, xrow + lo * s, hi - lo, s, r + lo);
      for (std::int64_t ow = hi; ow < q.out[2]; ++ow) r[ow] = xzp;
    }
  }
  std::fill(r, r + (padded - q.out_size()), xzp);
}

// uint8 x, int8 w with every w zero point 0, AVX-512 VNNI: the GEMM runs on the raw bytes with
// vpdpbusd (four u8 x s8 products per int32 lane, twice the int16 kernel's rate), padding holding
// x_zero_point, then acc -= x_zero_point * sum_k w[m, k]. Both are exact integer sums below 2^31
// (K <= 32768), equal to sum_k (x - x_zero_point) * w: the same accumulator as the reference.
// Returns false when it does not apply (or scratch memory cannot be had: then the int16 kernel
// reports it).
template <typename Row>
bool conv_integer_u8s8(const QConvGeom& g, const std::uint8_t* x, std::int32_t xzp,
                       const std::int8_t* w, const Tensor* wzp, Row&& row) {
  using dnnl_util::Scratch;
  if (g.isa != int8_gemm::Isa::kAvx512Vnni) return false;
  for (std::int64_t m = 0; m < g.out_channels; ++m) {
    if (quant::zero_point_at(wzp, m) != 0) return false;
  }
  const Window3& q = g.w3;
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::int64_t depth = cg * q.kernel[0] * q.kernel[1] * q.kernel[2];
  const std::int64_t quads = (depth + 3) / 4;
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  const std::int64_t padded = (out_size + int8_gemm::kInt8PixelAlign - 1) /
                              int8_gemm::kInt8PixelAlign * int8_gemm::kInt8PixelAlign;
  auto* col = static_cast<std::uint32_t*>(dnnl_util::thread_scratch(
      Scratch::kSrc, static_cast<std::size_t>(quads * padded) * sizeof(std::uint32_t)));
  auto* acc = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
      Scratch::kDst, static_cast<std::size_t>(mg * padded) * sizeof(std::int32_t)));
  auto* wpack = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
      Scratch::kSum,
      static_cast<std::size_t>(g.out_channels * (quads + 1)) * sizeof(std::int32_t)));
  auto* rows = static_cast<std::uint8_t*>(
      dnnl_util::thread_scratch(Scratch::kPad, static_cast<std::size_t>(4 * padded)));
  if (col == nullptr || acc == nullptr || wpack == nullptr || rows == nullptr) return false;
  std::int32_t* wsum = wpack + g.out_channels * quads;
  for (std::int64_t m = 0; m < g.out_channels; ++m) {
    const std::int8_t* wm = w + m * depth;
    std::int32_t sum = 0;
    for (std::int64_t k = 0; k < depth; ++k) sum += wm[k];
    wsum[m] = sum;
    auto* wp = reinterpret_cast<std::uint8_t*>(wpack + m * quads);
    std::copy(wm, wm + depth, reinterpret_cast<std::int8_t*>(wp));
    std::fill(wp + depth, wp + 4 * quads, std::uint8_t{0});
  }
  const auto zp8 = static_cast<std::uint8_t>(xzp);
  for (std::int64_t n = 0; n < g.batch; ++n) {
    for (std::int64_t grp = 0; grp < g.group; ++grp) {
      const std::uint8_t* xg = x + (n * g.in_channels + grp * cg) * in_size;
      for (std::int64_t kq = 0; kq < quads; ++kq) {
        for (std::int64_t j = 0; j < 4; ++j) {
          std::uint8_t* r = rows + j * padded;
          if (4 * kq + j < depth) {
            im2col_row_u8(g.isa, q, xg, zp8, 4 * kq + j, padded, r);
          } else {
            std::fill(r, r + padded, std::uint8_t{0});  // its weight byte is 0
          }
        }
        std::uint32_t* dst = col + kq * padded;
        for (std::int64_t p = 0; p < padded; ++p) {
          dst[p] = std::uint32_t{rows[p]} | (std::uint32_t{rows[padded + p]} << 8) |
                   (std::uint32_t{rows[2 * padded + p]} << 16) |
                   (std::uint32_t{rows[3 * padded + p]} << 24);
        }
      }
      int8_gemm::gemm(g.isa, wpack + grp * mg * quads, mg, quads,
                      reinterpret_cast<const std::int16_t*>(col), padded, acc, true);
      for (std::int64_t mi = 0; mi < mg; ++mi) {
        const std::int64_t m = grp * mg + mi;
        std::int32_t* a = acc + mi * padded;
        const std::int32_t corr = xzp * wsum[m];
        for (std::int64_t p = 0; p < out_size; ++p) a[p] -= corr;
        row(n * g.out_channels + m, m, static_cast<const std::int32_t*>(a));
      }
    }
  }
  return true;
}

// emit(plane, m, index, acc) receives every output element; row(plane, m, acc) every output
// plane of the SIMD kernel at once.
template <typename X, typename W, typename Emit, typename Row>
Status conv_integer_any(const QConvGeom& g, const X* x, std::int32_t xzp, const W* w,
                        const Tensor* wzp, Emit&& emit, Row&& row) {
  if constexpr (std::is_same_v<X, std::uint8_t> && std::is_same_v<W, std::int8_t>) {
    if (g.fast && conv_integer_u8s8(g, x, xzp, w, wzp, row)) return Status::ok();
  }
  if (g.fast && g.isa != int8_gemm::Isa::kNone) {
    if (!conv_integer_packed(g, x, xzp, w, wzp, row)) return Status::error("out of memory");
  } else if (g.fast) {
    if (!conv_integer_im2col(g, x, xzp, w, wzp, emit)) return Status::error("out of memory");
  } else {
    conv_integer(g, x, xzp, w, wzp, emit);
  }
  return Status::ok();
}

// Geometry and dtypes of ConvInteger (x, w, x_zp, w_zp) or QLinearConv (x, x_scale, x_zp, w,
// w_scale, w_zp, y_scale, y_zp, B). ys receives the output shape.
QConvGeom qconv_geometry(const PrepareContext& ctx, bool qlinear, Shape& ys) {
  if (ctx.node().domain == "dnnfi") {
    ctx.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                          "src_layout", "dst_layout"});
  } else {
    ctx.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  }
  const std::size_t xi = 0, wi = qlinear ? 3 : 1;
  if (qlinear) {
    ctx.require_inputs(8, 9);
  } else {
    ctx.require_inputs(2, 4);
  }
  ctx.require_dtype(xi, {DType::kInt8, DType::kUInt8});
  ctx.require_dtype(wi, {DType::kInt8, DType::kUInt8});
  QConvGeom g;
  g.x_dtype = ctx.input(xi).dtype;
  g.w_dtype = ctx.input(wi).dtype;
  const Shape& xs = ctx.input(xi).shape;
  const Shape& ws = ctx.input(wi).shape;
  if (xs.size() < 3 || xs.size() > 5) {
    ctx.fail("input X must have rank 3, 4 or 5 (N, C, spatial...), got " + shape_to_string(xs));
  }
  if (ws.size() != xs.size()) {
    ctx.fail("weights W " + shape_to_string(ws) + " must have the rank of X " +
             shape_to_string(xs));
  }
  g.batch = xs[0];
  g.in_channels = xs[1];
  g.out_channels = ws[0];
  g.group = ctx.attr_int("group", 1);
  if (g.group < 1) ctx.fail("group must be >= 1");
  if (g.in_channels % g.group != 0 || g.out_channels % g.group != 0 ||
      ws[1] * g.group != g.in_channels) {
    ctx.fail("weights W " + shape_to_string(ws) + " do not match input channels " +
             std::to_string(g.in_channels) + " with group " + std::to_string(g.group));
  }
  std::vector<std::int64_t> kernel(ws.begin() + 2, ws.end());
  if (ctx.has_attr("kernel_shape") && ctx.attr_ints("kernel_shape") != kernel) {
    ctx.fail("attribute 'kernel_shape' does not match the weights " + shape_to_string(ws));
  }
  // Zero points: x per-tensor; w per-tensor or one per output channel.
  const std::size_t xzi = 2, wzi = qlinear ? 5 : 3;
  if (ctx.has_input(xzi)) {
    if (ctx.input(xzi).dtype != g.x_dtype) ctx.fail("x_zero_point must have the dtype of x");
    if (!quant::is_per_tensor(ctx.input(xzi))) ctx.unsupported("x_zero_point must be a scalar");
  }
  auto per_channel_ok = [&](const TensorInfo& t) {
    return quant::is_per_tensor(t) || t.shape == Shape{g.out_channels};
  };
  if (ctx.has_input(wzi)) {
    if (ctx.input(wzi).dtype != g.w_dtype) ctx.fail("w_zero_point must have the dtype of w");
    if (!per_channel_ok(ctx.input(wzi))) {
      ctx.fail("w_zero_point " + shape_to_string(ctx.input(wzi).shape) +
               " must be a scalar or have one value per output channel");
    }
  }
  if (qlinear) {
    quant::require_scalar_scale(ctx, 1, "x_scale");
    quant::require_scalar_scale(ctx, 6, "y_scale");
    ctx.require_dtype(4, {DType::kFloat32});
    if (!per_channel_ok(ctx.input(4))) {
      ctx.fail("w_scale " + shape_to_string(ctx.input(4).shape) +
               " must be a scalar or have one value per output channel");
    }
    g.y_dtype = ctx.has_input(7) ? ctx.input(7).dtype : DType::kUInt8;
    if (g.y_dtype != DType::kInt8 && g.y_dtype != DType::kUInt8) {
      ctx.fail("y_zero_point must be int8 or uint8");
    }
    if (ctx.has_input(7) && !quant::is_per_tensor(ctx.input(7))) {
      ctx.unsupported("y_zero_point must be a scalar");
    }
    if (ctx.has_input(8)) {
      ctx.require_dtype(8, {DType::kInt32});
      if (ctx.input(8).shape != Shape{g.out_channels}) {
        ctx.fail("bias B " + shape_to_string(ctx.input(8).shape) + " must have shape [" +
                 std::to_string(g.out_channels) + "]");
      }
      g.has_bias = true;
    }
  }
  const Window w = resolve_window(ctx, Shape(xs.begin() + 2, xs.end()), kernel, false, true);
  g.win = w;
  g.w3 = to_window3(w);
  ys = {g.batch, g.out_channels};
  ys.insert(ys.end(), w.out.begin(), w.out.end());
  const std::int64_t depth =
      (g.in_channels / g.group) * g.w3.kernel[0] * g.w3.kernel[1] * g.w3.kernel[2];
  g.fast = !ctx.reference() && depth <= kMaxFastDepth;
  auto channels_last = [&](const char* name) {
    const std::string layout = ctx.attr_string(name, "NCHW");
    if (layout != "NCHW" && layout != "NHWC") ctx.fail(std::string(name) + " must be NCHW or NHWC");
    return layout == "NHWC";
  };
  g.src_nhwc = channels_last("src_layout");
  g.dst_nhwc = channels_last("dst_layout");
  if ((g.src_nhwc || g.dst_nhwc) && (!qlinear || xs.size() != 4)) {
    ctx.unsupported("channels-last data needs a 2-D QLinearConv");
  }
  static const int8_gemm::Isa isa = int8_gemm::detect();
  g.isa = isa;
  return g;
}

template <typename X, typename W>
Status run_conv_integer(const QConvGeom& g, const DnnlIntConv* dn,
                        std::span<const Tensor* const> in, std::span<Tensor* const> out) {
  std::int32_t* y = out[0]->data<std::int32_t>();
  const std::int64_t out_size = g.w3.out_size();
  if (const auto* plan = dnnl_plan(dn, in.size() > 3 ? in[3] : nullptr, g.out_channels)) {
    const std::int32_t xzp = quant::zero_point_at(in.size() > 2 ? in[2] : nullptr, 0);
    Status st = dn->run(*plan, in[0]->raw(), xzp, in[1]->raw(), y, "ConvInteger");
    if (!st.ok() || xzp == 0) return st;
    const std::int64_t planes = g.batch * g.out_channels;
    for (std::int64_t plane = 0; plane < planes; ++plane) {
      const std::int32_t corr =
          xzp * dn->weight_sum(in[1]->data<std::int8_t>(), plane % g.out_channels);
      std::int32_t* yp = y + plane * out_size;
      for (std::int64_t i = 0; i < out_size; ++i) yp[i] -= corr;
    }
    return Status::ok();
  }
  return conv_integer_any(
      g, in[0]->data<X>(), quant::zero_point_at(in.size() > 2 ? in[2] : nullptr, 0),
      in[1]->data<W>(), in.size() > 3 ? in[3] : nullptr,
      [&](std::int64_t plane, std::int64_t, std::int64_t i, std::int64_t acc) {
        y[plane * out_size + i] = wrap_int32(acc);
      },
      [&](std::int64_t plane, std::int64_t, const std::int32_t* acc) {
        std::copy(acc, acc + out_size, y + plane * out_size);
      });
}

template <typename X, typename W, typename Y>
Status run_qlinear_conv(const QConvGeom& g, const DnnlIntConv* dn,
                        std::span<const Tensor* const> in, std::span<Tensor* const> out) {
  Y* y = out[0]->data<Y>();
  const std::int64_t out_size = g.w3.out_size();
  const float x_scale = quant::scale_at(in[1], 0), y_scale = quant::scale_at(in[6], 0);
  const std::int32_t yzp = quant::zero_point_at(in.size() > 7 ? in[7] : nullptr, 0);
  const std::int32_t* bias = g.has_bias ? in[8]->data<std::int32_t>() : nullptr;
  if (const auto* plan = dnnl_plan(dn, in[5], g.out_channels)) {
    const std::int64_t planes = g.batch * g.out_channels;
    auto* acc = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
        dnnl_util::Scratch::kSum,
        static_cast<std::size_t>(planes * out_size) * sizeof(std::int32_t)));
    if (acc == nullptr) return Status::error("out of memory");
    const std::int32_t xzp = quant::zero_point_at(in[2], 0);
    Status st = dn->run(*plan, in[0]->raw(), xzp, in[3]->raw(), acc, "QLinearConv");
    if (!st.ok()) return st;
    const auto* w = in[3]->data<std::int8_t>();
    if (g.dst_nhwc) {
      // Channels-last: per pixel, the channels' multipliers and biases side by side (computed
      // as below, so the same values), in the padded-input scratch the convolution is done with.
      auto* params = static_cast<std::int32_t*>(dnnl_util::thread_scratch(
          dnnl_util::Scratch::kSrc,
          static_cast<std::size_t>(2 * g.out_channels) * sizeof(std::int32_t)));
      if (params == nullptr) return Status::error("out of memory");
      auto* mult = reinterpret_cast<float*>(params + g.out_channels);
      for (std::int64_t m = 0; m < g.out_channels; ++m) {
        mult[m] = x_scale * quant::scale_at(in[4], m) / y_scale;
        params[m] =
            static_cast<std::int32_t>(static_cast<std::uint32_t>(bias != nullptr ? bias[m] : 0) -
                                      static_cast<std::uint32_t>(xzp * dn->weight_sum(w, m)));
      }
      const std::int64_t pixels = g.batch * out_size;
      // In blocks of pixels, split across threads (each block is independent).
      constexpr std::int64_t kBlock = 256;
#pragma omp parallel for schedule(static) if (planes * out_size > 65536)
      for (std::int64_t px = 0; px < pixels; px += kBlock) {
        int8_gemm::requantize_channels(
            g.isa, acc + px * g.out_channels, std::min(kBlock, pixels - px), g.out_channels, params,
            mult, yzp, std::numeric_limits<Y>::lowest(), std::numeric_limits<Y>::max(),
            reinterpret_cast<std::uint8_t*>(y + px * g.out_channels));
      }
      return Status::ok();
    }
#pragma omp parallel for schedule(static) if (planes * out_size > 65536)
    for (std::int64_t plane = 0; plane < planes; ++plane) {
      const std::int64_t m = plane % g.out_channels;
      // The multiplier in the same operations as below, so the same value. The x zero point's
      // share of the raw sums joins the bias: acc + B = raw + (B - x_zp * sum_k w), in int32.
      const float multiplier = x_scale * quant::scale_at(in[4], m) / y_scale;
      const std::int32_t b =
          static_cast<std::int32_t>(static_cast<std::uint32_t>(bias != nullptr ? bias[m] : 0) -
                                    static_cast<std::uint32_t>(xzp * dn->weight_sum(w, m)));
      int8_gemm::requantize(g.isa, acc + plane * out_size, out_size, b, multiplier, yzp,
                            std::numeric_limits<Y>::lowest(), std::numeric_limits<Y>::max(),
                            reinterpret_cast<std::uint8_t*>(y + plane * out_size));
    }
    return Status::ok();
  }
  // One fp32 multiplier per output channel, computed once per run (the same operations as per
  // element, so the same values).
  auto* multiplier = static_cast<float*>(dnnl_util::thread_scratch(
      dnnl_util::Scratch::kWeights, static_cast<std::size_t>(g.out_channels) * sizeof(float)));
  if (multiplier == nullptr) return Status::error("out of memory");
  for (std::int64_t m = 0; m < g.out_channels; ++m) {
    multiplier[m] = x_scale * quant::scale_at(in[4], m) / y_scale;
  }
  return conv_integer_any(
      g, in[0]->data<X>(), quant::zero_point_at(in[2], 0), in[3]->data<W>(), in[5],
      [&](std::int64_t plane, std::int64_t m, std::int64_t i, std::int64_t acc) {
        if (bias != nullptr) acc += bias[m];
        const float v = static_cast<float>(wrap_int32(acc)) * multiplier[m];
        y[plane * out_size + i] = static_cast<Y>(quant::round_saturate_to<Y>(v, yzp));
      },
      [&](std::int64_t plane, std::int64_t m, const std::int32_t* acc) {
        int8_gemm::requantize(g.isa, acc, out_size, bias != nullptr ? bias[m] : 0, multiplier[m],
                              yzp, std::numeric_limits<Y>::lowest(), std::numeric_limits<Y>::max(),
                              reinterpret_cast<std::uint8_t*>(y + plane * out_size));
      });
}

template <template <typename, typename> class F>
auto dispatch_xw(DType x, DType w) {
  if (x == DType::kUInt8) {
    return w == DType::kUInt8 ? &F<std::uint8_t, std::uint8_t>::run
                              : &F<std::uint8_t, std::int8_t>::run;
  }
  return w == DType::kUInt8 ? &F<std::int8_t, std::uint8_t>::run
                            : &F<std::int8_t, std::int8_t>::run;
}

template <typename X, typename W>
struct ConvIntegerFn {
  static Status run(const QConvGeom& g, const DnnlIntConv* dn, std::span<const Tensor* const> in,
                    std::span<Tensor* const> out) {
    return run_conv_integer<X, W>(g, dn, in, out);
  }
};

template <typename X, typename W>
struct QLinearConvFn {
  static Status run(const QConvGeom& g, const DnnlIntConv* dn, std::span<const Tensor* const> in,
                    std::span<Tensor* const> out) {
    if (g.y_dtype == DType::kUInt8) return run_qlinear_conv<X, W, std::uint8_t>(g, dn, in, out);
    return run_qlinear_conv<X, W, std::int8_t>(g, dn, in, out);
  }
};

using QConvFn = Status (*)(const QConvGeom&, const DnnlIntConv*, std::span<const Tensor* const>,
                           std::span<Tensor* const>);

class QConvKernel final : public Kernel {
 public:
  QConvKernel(const QConvGeom& g, QConvFn fn, std::unique_ptr<DnnlIntConv> dn)
      : g_(g), fn_(fn), dn_(std::move(dn)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    if (out[0]->numel() == 0) return Status::ok();
    return fn_(g_, dn_.get(), in, out);
  }
  std::string impl() const { return dn_ == nullptr ? std::string() : dn_->impl(); }

 private:
  QConvGeom g_;
  QConvFn fn_;
  std::unique_ptr<DnnlIntConv> dn_;
};

Prepared prepare_qconv(const PrepareContext& ctx, bool qlinear) {
  Shape ys;
  const QConvGeom g = qconv_geometry(ctx, qlinear, ys);
  Prepared p;
  p.outputs = {{qlinear ? g.y_dtype : DType::kInt32, ys}};
  const QConvFn fn = qlinear ? dispatch_xw<QLinearConvFn>(g.x_dtype, g.w_dtype)
                             : dispatch_xw<ConvIntegerFn>(g.x_dtype, g.w_dtype);
  std::unique_ptr<DnnlIntConv> dn;
  try {
    dn = DnnlIntConv::make(g, ctx.constant(qlinear ? 3 : 1));
  } catch (const std::exception&) {
    // No oneDNN implementation for this node: the int8_gemm kernels run it.
  }
  if ((g.src_nhwc || g.dst_nhwc) && dn == nullptr) {
    ctx.unsupported("channels-last data needs oneDNN's exact (VNNI/AMX) integer convolution");
  }
  p.kernel = std::make_unique<QConvKernel>(g, fn, std::move(dn));
  return p;
}

}  // namespace

Prepared prepare_conv_integer(const PrepareContext& ctx) { return prepare_qconv(ctx, false); }

Prepared prepare_qlinear_conv(const PrepareContext& ctx) { return prepare_qconv(ctx, true); }

std::string qconv_implementation(const Kernel& kernel) {
  const auto* k = dynamic_cast<const QConvKernel*>(&kernel);
  return k == nullptr ? std::string() : k->impl();
}

}  // namespace dnnfi
