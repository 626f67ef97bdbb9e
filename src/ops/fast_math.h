// Branch-free float32 approximations of exp, expm1, sigmoid, tanh, erf, log and softplus that GCC
// auto-vectorises (the library calls do not vectorise without -ffast-math). Worst error against
// the exact value, measured on every 13th float bit pattern: exp 1.0 ulp, expm1 1.5, tanh 1.4,
// erf 2.5, sigmoid 2.8, log 0.8, softplus 1.9 (including the subnormal range, overflow to +inf and
// underflow to 0).
// NaN in gives NaN out, +-inf give the limits. Everything is defined for every input bit
// pattern (no signed overflow, no out-of-range conversion), so corrupted data cannot cause UB.
//
// The polynomial coefficients were fitted for this file with mpmath.chebyfit (Chebyshev
// approximation, 40 digits) on the ranges noted at each function.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace dnnfi::fast_math {

namespace detail {

// exp(x) = 2^n * (1 + q): n = round(x / ln2), q = expm1(r) for r = x - n*ln2 in [-ln2/2, ln2/2].
struct ExpParts {
  float q;         // expm1(r)
  std::int32_t n;  // in [-150, 129] for non-NaN x (garbage but harmless for NaN)
};

// For xc in [-104, 89] or NaN (exp_parts clamps to that range).
inline ExpParts exp_parts_in_range(float xc) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // 9 significant bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = xc * kLog2e + kRound;
  const float nf = t - kRound;
  const float r = (xc - nf * kLn2Hi) - nf * kLn2Lo;
  // expm1(r) = r + r^2 * P(r), P fitted on [-ln2/2, ln2/2] (max error 1.4e-9).
  float p = 1.989098087e-4f;
  p = p * r + 1.393364103e-3f;
  p = p * r + 8.333310934e-3f;
  p = p * r + 4.166646501e-2f;
  p = p * r + 1.666666668e-1f;
  p = p * r + 5.000000013e-1f;
  const float q = p * (r * r) + r;
  // The low mantissa bits of t hold n in two's complement; unsigned arithmetic avoids overflow
  // for NaN inputs.
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(t) - std::bit_cast<std::uint32_t>(kRound);
  return {q, static_cast<std::int32_t>(bits)};
}

inline ExpParts exp_parts(float x) {
  // Beyond these bounds exp is 0 or +inf in float; clamping keeps n (and the scale) in range.
  // std::min/max return their first argument for NaN, so NaN stays NaN.
  return exp_parts_in_range(std::min(std::max(x, -104.0f), 89.0f));
}

// 2^n applied as two factors 2^(n/2) so that both stay normal floats for n in [-150, 129]: the
// product then rounds once, which gives correct gradual underflow and overflow to +inf.
inline float scale_by_pow2(float v, std::int32_t n) {
  const std::int32_t n1 = n >> 1;
  const std::int32_t n2 = n - n1;
  const float s1 = std::bit_cast<float>((static_cast<std::uint32_t>(n1) + 127u) << 23);
  const float s2 = std::bit_cast<float>((static_cast<std::uint32_t>(n2) + 127u) << 23);
  return v * s1 * s2;
}

}  // namespace detail

inline float exp(float x) {
  const detail::ExpParts e = detail::exp_parts(x);
  return detail::scale_by_pow2(1.0f + e.q, e.n);
}

// exp(x) - 1 without cancellation near 0: for |x| < ln2/2 (n == 0) the polynomial value is the
// answer; otherwise (2^n - 1) + 2^n * q, where 2^n - 1 is exact for the n that matter. Near the
// overflow bound 2^n alone overflows, so there 2^n * (1 + q) - 1 is used.
inline float expm1(float x) {
  const detail::ExpParts e = detail::exp_parts(x);
  const float mid = (detail::scale_by_pow2(1.0f, e.n) - 1.0f) + detail::scale_by_pow2(e.q, e.n);
  const float big = detail::scale_by_pow2(1.0f + e.q, e.n) - 1.0f;
  return e.n == 0 ? e.q : (e.n < 100 ? mid : big);
}

// 1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) for x < 0, so that exp never overflows
// and results in the subnormal range are not flushed to 0.
inline float sigmoid(float x) {
  const float e = fast_math::exp(-std::fabs(x));
  const float s = 1.0f / (1.0f + e);
  return x < 0.0f ? e * s : s;
}

// |x| < 0.625: x + x^3 * Q(x^2), Q fitted on [0, 0.390625] (max error 1.6e-9); otherwise
// 1 - 2 / (exp(2|x|) + 1) with the sign of x (no cancellation there since tanh >= 0.55).
inline float tanh(float x) {
  const float z = x * x;
  float q = 2.292744816e-3f;
  q = q * z - 8.343945516e-3f;
  q = q * z + 2.176891865e-2f;
  q = q * z - 5.395925958e-2f;
  q = q * z + 1.333330356e-1f;
  q = q * z - 3.333333317e-1f;
  const float small = x + x * z * q;
  const float a = std::fabs(x);
  const float large = std::copysign(1.0f - 2.0f / (fast_math::exp(2.0f * a) + 1.0f), x);
  return a < 0.625f ? small : large;
}

// |x| < 1: x * P(x^2), P fitted on [0, 1] (max error 1.2e-9). Otherwise
// 1 - exp(-x^2) * erfcx(x) with the sign of x, where erfcx(x) = exp(x^2) * erfc(x) is fitted as a
// polynomial in u = 1/x on [1/4, 1] (max error 4.7e-9); erf(x) rounds to 1 for |x| >= 4.
// Always inlined: GCC otherwise keeps it out of line (it holds an exp), and a loop over it then
// makes one scalar call per element instead of vectorising.
[[gnu::always_inline]] inline float erf(float x) {
  const float z = x * x;
  float p = 7.875875063e-5f;
  p = p * z - 8.016864287e-4f;
  p = p * z + 5.189087423e-3f;
  p = p * z - 2.685421201e-2f;
  p = p * z + 1.128359472e-1f;
  p = p * z - 3.761262667e-1f;
  p = p * z + 1.128379166e+0f;
  const float small = x * p;
  // min(|x|, 4) on the bit patterns (ordered like the values for non-negative floats): a float
  // min here becomes a branch that GCC threads, and the loop does not vectorise. NaN becomes 4, but
  // a NaN x takes the small branch below (NaN * p = NaN).
  const float a = std::bit_cast<float>(
      std::min(std::bit_cast<std::uint32_t>(std::fabs(x)), std::bit_cast<std::uint32_t>(4.0f)));
  const float u = 1.0f / a;
  float c = 2.503254319e-2f;
  c = c * u - 1.478984446e-1f;
  c = c * u + 3.608618604e-1f;
  c = c * u - 4.298337486e-1f;
  c = c * u + 1.454773476e-1f;
  c = c * u + 2.825897937e-1f;
  c = c * u - 3.948595879e-1f;
  c = c * u + 2.484752126e-2f;
  c = c * u + 5.612146380e-1f;
  c = c * u + 1.516556858e-4f;
  // -a * a is in [-16, 0] here, so exp needs no clamp (whose float min/max would again become
  // branches).
  const detail::ExpParts e = detail::exp_parts_in_range(-a * a);
  const float large = std::copysign(1.0f - detail::scale_by_pow2(1.0f + e.q, e.n) * c, x);
  // Blended with a bit mask rather than `?:`, which GCC turns into a branch around the large-|x|
  // arithmetic (so the loop did not vectorise; see log below). NaN picks small.
  const std::uint32_t pick_small = 0u - static_cast<std::uint32_t>(!(std::fabs(x) >= 1.0f));
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(small) & pick_small) |
                              (std::bit_cast<std::uint32_t>(large) & ~pick_small));
}

// log(x) = e * ln2 + log(m) with x = m * 2^e, m in [sqrt(1/2), sqrt(2)); for f = m - 1 (exact),
// log(1 + f) = f - f^2/2 + f^3 * P(f), P fitted on [sqrt(1/2) - 1, sqrt(2) - 1] (max error
// 3.0e-8). log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, log(NaN) = NaN.
// Everything before the polynomial is integer arithmetic and the special cases are blended in
// with bit masks: GCC does not if-convert a floating-point operation that would be executed
// conditionally (it may trap), and the loop would not vectorise.
inline float log(float x) {
  const std::uint32_t xb = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t ab = xb & 0x7fffffffu;
  // A subnormal mantissa is normalised by a binary search for its leading bit.
  std::uint32_t sm = ab;
  std::int32_t shift = 0;
  for (const std::int32_t step : {16, 8, 4, 2, 1}) {
    const bool low = sm < (1u << (24 - step));
    sm = low ? sm << step : sm;
    shift += low ? step : 0;
  }
  const bool subnormal = ab < 0x00800000u;
  std::int32_t e = subnormal ? -126 - shift : static_cast<std::int32_t>(ab >> 23) - 127;
  std::uint32_t mb = ((subnormal ? sm : ab) & 0x007fffffu) | 0x3f800000u;  // m in [1, 2)
  const bool high = mb > 0x3fb504f3u;                                      // m > sqrt(2): use m / 2
  mb -= high ? 0x00800000u : 0u;
  e += high ? 1 : 0;
  const float f = std::bit_cast<float>(mb) - 1.0f;
  float p = 6.971611471e-2f;
  p = p * f - 1.147973385e-1f;
  p = p * f + 1.168541992e-1f;
  p = p * f - 1.242568733e-1f;
  p = p * f + 1.424905765e-1f;
  p = p * f - 1.666780232e-1f;
  p = p * f + 2.000071575e-1f;
  p = p * f - 2.499999696e-1f;
  p = p * f + 3.333333118e-1f;
  const float ef = static_cast<float>(e);
  const float f2 = f * f;
  float y = f2 * f * p + ef * -2.12194440e-4f;  // the low part of e * ln2 (see exp_parts)
  y -= 0.5f * f2;
  const float r = (f + y) + ef * 0.693359375f;
  // +-0 -> -inf, x < 0 -> NaN, +inf and NaN -> x.
  const bool regular = (xb - 1u) < 0x7f7fffffu;  // 0 < x < inf
  const std::uint32_t special = ab == 0 ? 0xff800000u : ((xb >> 31) != 0 ? 0x7fc00000u : xb);
  const std::uint32_t keep = 0u - static_cast<std::uint32_t>(regular);
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(r) & keep) | (special & ~keep));
}

// log(1 + u) for u >= 0 (what Softplus needs): log(w) for w = 1 + u rounded, corrected by the
// rounding error of w to first order.
inline float log1p_nonnegative(float u) {
  const float w = 1.0f + u;
  return fast_math::log(w) - ((w - 1.0f) - u) / w;
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow, and small results stay accurate.
inline float softplus(float x) {
  const float l = log1p_nonnegative(fast_math::exp(-std::fabs(x)));
  return (x > 0.0f ? x : 0.0f) + l;
}

}  // namespace dnnfi::fast_math
