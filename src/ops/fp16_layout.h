// Whole-activation float16 <-> float32 conversions for the float16 fallback (ops/fp16_fallback.h),
// with the work that would otherwise take separate passes over memory fused in:
//  - the NCHW <-> NHWC transpose around a oneDNN convolution that computes on channels-last data
//    (the primitive then reads and writes the wrapper's float32 copies directly, no reorders);
//  - the post-ops of a float16 FusedConv, applied after the rounding exactly as the separate Add
//    and Relu nodes do (fp16_fallback.cpp).
// Every function gives, element for element, the bits of the scalar definitions in the comments
// (half_to_float, float_to_half, relu_half_bits); they use AVX-512 or F16C where the CPU has them
// (chosen at run time, the library being built for baseline x86-64) and plain loops otherwise.
#pragma once

#include <cstdint>

namespace dnnfi::fp16 {

// What follows the rounding of a float32 output to float16, per element (r = float_to_half(y)):
//   with a summand s:  r = float_to_half(sum_first ? half_to_float(s) + half_to_float(r)
//                                                  : half_to_float(r) + half_to_float(s))
//   with relu:         r = relu_half_bits(r)
// which is what Add (float16 inputs widened, float32 sum, rounded) and the float16 Relu give.
struct RoundPost {
  const std::uint16_t* summand = nullptr;  // laid out as the float16 output; null: no Add
  bool sum_first = false;                  // Add(summand, output) rather than Add(output, summand)
  bool relu = false;
};

// True when the fused transposes below run vectorised on this CPU (AVX-512); they are correct
// everywhere, but without it the plain widen/round passes plus oneDNN's reorders are faster.
bool transposes_fast();

// y[b, s, ch] = half_to_float(x[b, ch, s]) for b < batch, ch < channels, s < spatial: a float16
// NCHW tensor widened into a float32 NHWC one. Exact; signalling NaNs keep their bits.
void widen_nchw_to_nhwc(const std::uint16_t* x, float* y, std::int64_t batch, std::int64_t channels,
                        std::int64_t spatial);

// h[b, ch, s] = post(float_to_half(y[b, s, ch])): a float32 NHWC tensor rounded into a float16
// NCHW one; post.summand, if any, is NCHW like h.
void round_nhwc_to_nchw(const float* y, std::uint16_t* h, std::int64_t batch, std::int64_t channels,
                        std::int64_t spatial, const RoundPost& post);

// h[i] = post(float_to_half(y[i])) for i < n, post.summand indexed like h (one pass over y).
void round_with_post(const float* y, std::uint16_t* h, std::int64_t n, const RoundPost& post);

}  // namespace dnnfi::fp16
