// Helpers shared by the quantization ops (quantize.cpp, qlinear_conv.cpp, qlinear_matmul.cpp,
// qlinear_contrib.cpp): quantization parameters read from tensors at run time (faults corrupt
// scales and zero points like any other weight), round-half-to-even with saturation, and the
// per-tensor / per-axis split of a tensor.
//
// Requantization follows ONNX Runtime (MLAS MlasRequantizeOutput / MlasQuantizeLinear): the int32
// accumulator is converted to float, multiplied by one fp32 multiplier (e.g. x_scale * w_scale /
// y_scale, computed in that order in float), rounded half to even, offset by the zero point and
// saturated. NaN (a corrupted scale) gives the zero point; +-Inf saturates.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "ops/kernel.h"

namespace dnnfi::quant {

// v rounded half to even, plus zero_point, saturated to [lo, hi]; NaN -> zero_point (saturated).
// v is clamped first to [lo - zero_point, hi - zero_point] (integers, so clamping and rounding
// commute), then rounded with MLAS's magic-number trick: for |v| < 2^22, (v + 1.5 * 2^23) - 1.5 *
// 2^23 is v rounded to an integer in the current rounding mode, which nothing in this program
// changes from round-to-nearest-even. (This file is never compiled with -ffast-math, which could
// fold the two additions away.)
inline std::int32_t round_saturate(float v, std::int32_t zero_point, std::int32_t lo,
                                   std::int32_t hi) {
  const float flo = static_cast<float>(lo - zero_point), fhi = static_cast<float>(hi - zero_point);
  if (!(v == v)) v = 0.0f;
  v = v < flo ? flo : v;
  v = v > fhi ? fhi : v;
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  const float r = (v + kMagic) - kMagic;
  return static_cast<std::int32_t>(r) + zero_point;
}

template <typename T>
inline std::int32_t round_saturate_to(float v, std::int32_t zero_point) {
  return round_saturate(v, zero_point, std::numeric_limits<T>::lowest(),
                        std::numeric_limits<T>::max());
}

// A tensor viewed as [outer, channels, inner] around the quantization axis. channels == 1 for
// per-tensor parameters.
struct AxisSplit {
  std::int64_t outer = 1, channels = 1, inner = 1;
};

// Whether a scale / zero point tensor is per-tensor: a scalar or a one-element 1-D tensor (ONNX
// Runtime accepts both).
inline bool is_per_tensor(const TensorInfo& t) {
  return t.shape.empty() || (t.shape.size() == 1 && t.shape[0] == 1);
}

// The split of `x` for the scale input `scale_index` (and zero point `zp_index`, or -1 when
// omitted) of QuantizeLinear / DequantizeLinear: per-tensor, or per-axis along `axis` (opset 13+).
AxisSplit quant_axis_split(const PrepareContext& ctx, const Shape& x, std::size_t scale_index,
                           int zp_index, bool allow_axis);

// Checks an optional zero-point input `i` against its scale input `scale_index`: same shape,
// dtype among `allowed`. No-op when the input is omitted.
void check_zero_point(const PrepareContext& ctx, std::size_t i, std::size_t scale_index);

// Checks input i is a float32 per-tensor scale (scalar or one element).
void require_scalar_scale(const PrepareContext& ctx, std::size_t i, const char* name);
// Checks input i is a per-tensor zero point (when present) of dtype `dtype`.
void require_scalar_zero_point(const PrepareContext& ctx, std::size_t i, DType dtype,
                               const char* name);

// Zero point of an optional input as int32 (0 when omitted); element k (0 for per-tensor).
inline std::int32_t zero_point_at(const Tensor* zp, std::int64_t k) {
  if (zp == nullptr) return 0;
  if (zp->numel() == 1) k = 0;
  switch (zp->dtype()) {
    case DType::kInt8:
      return zp->data<std::int8_t>()[k];
    case DType::kUInt8:
      return zp->data<std::uint8_t>()[k];
    case DType::kInt32:
      return zp->data<std::int32_t>()[k];
    default:
      return 0;
  }
}

inline float scale_at(const Tensor* s, std::int64_t k) {
  return s->data<float>()[s->numel() == 1 ? 0 : k];
}

}  // namespace dnnfi::quant
