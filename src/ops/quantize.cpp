// QuantizeLinear, DequantizeLinear (opset 10: per-tensor; opset 13: per-tensor or per-axis) and
// DynamicQuantizeLinear, int8 / uint8, float32 on the float side.
//
//   QuantizeLinear    y = saturate(round_half_even(x / y_scale) + y_zero_point)
//   DequantizeLinear  y = (x - x_zero_point) * x_scale            (x int8 / uint8 / int32)
//   DynamicQuantizeLinear  uint8: scale = (max(0, max x) - min(0, min x)) / 255,
//                     zero_point = saturate(round(0 - min(0, min x) / scale)), y as above.
//
// Scales and zero points are read at run time from their tensors (a fault may corrupt them). A
// corrupted scale of 0, NaN or Inf is data: the division gives +-Inf or NaN, which saturate or
// map to the zero point (quant_common.h), never UB.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "ops/int8_gemm.h"
#include "ops/ops.h"
#include "ops/quant_common.h"

namespace dnnfi {

namespace quant {

void check_zero_point(const PrepareContext& ctx, std::size_t i, std::size_t scale_index) {
  if (!ctx.has_input(i)) return;
  const TensorInfo& zp = ctx.input(i);
  const TensorInfo& s = ctx.input(scale_index);
  if (zp.shape != s.shape && !(is_per_tensor(zp) && is_per_tensor(s))) {
    ctx.fail("zero point " + shape_to_string(zp.shape) + " must have the shape of its scale " +
             shape_to_string(s.shape));
  }
}

void require_scalar_scale(const PrepareContext& ctx, std::size_t i, const char* name) {
  ctx.require_dtype(i, {DType::kFloat32});
  if (!is_per_tensor(ctx.input(i))) {
    ctx.unsupported(std::string(name) + " must be a scalar (per-tensor), got " +
                    shape_to_string(ctx.input(i).shape));
  }
}

void require_scalar_zero_point(const PrepareContext& ctx, std::size_t i, DType dtype,
                               const char* name) {
  if (!ctx.has_input(i)) return;
  if (ctx.input(i).dtype != dtype) {
    ctx.fail(std::string(name) + " has dtype " + std::string(dtype_name(ctx.input(i).dtype)) +
             ", expected " + std::string(dtype_name(dtype)));
  }
  if (!is_per_tensor(ctx.input(i))) {
    ctx.unsupported(std::string(name) + " must be a scalar (per-tensor), got " +
                    shape_to_string(ctx.input(i).shape));
  }
}

AxisSplit quant_axis_split(const PrepareContext& ctx, const Shape& x, std::size_t scale_index,
                           int zp_index, bool allow_axis) {
  const TensorInfo& s = ctx.input(scale_index);
  ctx.require_dtype(scale_index, {DType::kFloat32});
  if (zp_index >= 0) check_zero_point(ctx, static_cast<std::size_t>(zp_index), scale_index);
  AxisSplit split;
  if (is_per_tensor(s)) {
    split.inner = shape_numel(x);
    return split;
  }
  if (!allow_axis)
    ctx.fail("scale must be a scalar before opset 13, got " + shape_to_string(s.shape));
  if (s.shape.size() != 1)
    ctx.fail("scale must be a scalar or 1-D, got " + shape_to_string(s.shape));
  const std::int64_t rank = static_cast<std::int64_t>(x.size());
  std::int64_t axis = ctx.attr_int("axis", 1);
  if (axis < -rank || axis >= rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  if (s.shape[0] != x[static_cast<std::size_t>(axis)]) {
    ctx.fail("per-axis scale " + shape_to_string(s.shape) + " does not match dim " +
             std::to_string(axis) + " of " + shape_to_string(x));
  }
  for (std::int64_t d = 0; d < axis; ++d) split.outer *= x[static_cast<std::size_t>(d)];
  split.channels = s.shape[0];
  for (std::int64_t d = axis + 1; d < rank; ++d) split.inner *= x[static_cast<std::size_t>(d)];
  return split;
}

}  // namespace quant

namespace {

using quant::AxisSplit;

template <typename Q>
Status quantize_linear(int8_gemm::Isa isa, const AxisSplit& sp, const Tensor& x,
                       const Tensor& scale, const Tensor* zp, Tensor& y) {
  const float* xp = x.data<float>();
  Q* yp = y.data<Q>();
  for (std::int64_t o = 0; o < sp.outer; ++o) {
    for (std::int64_t c = 0; c < sp.channels; ++c) {
      const float s = quant::scale_at(&scale, c);
      const std::int32_t z = quant::zero_point_at(zp, c);
      const std::int64_t base = (o * sp.channels + c) * sp.inner;
      int8_gemm::quantize(isa, xp + base, sp.inner, s, z, std::numeric_limits<Q>::lowest(),
                          std::numeric_limits<Q>::max(),
                          reinterpret_cast<std::uint8_t*>(yp + base));
    }
  }
  return Status::ok();
}

template <typename Q>
Status dequantize_linear(const AxisSplit& sp, const Tensor& x, const Tensor& scale,
                         const Tensor* zp, Tensor& y) {
  const Q* xp = x.data<Q>();
  float* yp = y.data<float>();
  for (std::int64_t o = 0; o < sp.outer; ++o) {
    for (std::int64_t c = 0; c < sp.channels; ++c) {
      const float s = quant::scale_at(&scale, c);
      const std::int32_t z = quant::zero_point_at(zp, c);
      const std::int64_t base = (o * sp.channels + c) * sp.inner;
      for (std::int64_t i = 0; i < sp.inner; ++i) {
        // int32 difference, exact in float for 8-bit inputs (ONNX Runtime's order).
        yp[base + i] = static_cast<float>(static_cast<std::int32_t>(xp[base + i]) - z) * s;
      }
    }
  }
  return Status::ok();
}

void allow_quant_attributes(const PrepareContext& ctx) {
  if (ctx.opset() >= 13) {
    ctx.allow_attributes({"axis"});
  } else {
    ctx.allow_attributes({});
  }
}

}  // namespace

Prepared prepare_quantize_linear(const PrepareContext& ctx) {
  allow_quant_attributes(ctx);
  ctx.require_inputs(2, 3);
  if (ctx.input(0).dtype != DType::kFloat32) {
    ctx.unsupported("input x of dtype " + std::string(dtype_name(ctx.input(0).dtype)) +
                    " (only float32 is implemented)");
  }
  DType out = DType::kUInt8;
  if (ctx.has_input(2)) {
    ctx.require_dtype(2, {DType::kInt8, DType::kUInt8});
    out = ctx.input(2).dtype;
  }
  const AxisSplit sp = quant::quant_axis_split(ctx, ctx.input(0).shape, 1,
                                               ctx.has_input(2) ? 2 : -1, ctx.opset() >= 13);
  Prepared p;
  p.outputs = {{out, ctx.input(0).shape}};
  // The reference kernel is the portable scalar loop (int8_gemm::quantize with kNone).
  static const int8_gemm::Isa best = int8_gemm::detect();
  const int8_gemm::Isa isa = ctx.reference() ? int8_gemm::Isa::kNone : best;
  p.kernel =
      make_kernel([sp, out, isa](std::span<const Tensor* const> in, std::span<Tensor* const> o) {
        const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
        if (out == DType::kInt8)
          return quantize_linear<std::int8_t>(isa, sp, *in[0], *in[1], zp, *o[0]);
        return quantize_linear<std::uint8_t>(isa, sp, *in[0], *in[1], zp, *o[0]);
      });
  return p;
}

Prepared prepare_dequantize_linear(const PrepareContext& ctx) {
  allow_quant_attributes(ctx);
  ctx.require_inputs(2, 3);
  ctx.require_dtype(0, {DType::kInt8, DType::kUInt8, DType::kInt32});
  const DType in = ctx.input(0).dtype;
  if (ctx.has_input(2) && ctx.input(2).dtype != in) {
    ctx.fail("x_zero_point has dtype " + std::string(dtype_name(ctx.input(2).dtype)) + ", x has " +
             std::string(dtype_name(in)));
  }
  const AxisSplit sp = quant::quant_axis_split(ctx, ctx.input(0).shape, 1,
                                               ctx.has_input(2) ? 2 : -1, ctx.opset() >= 13);
  Prepared p;
  p.outputs = {{DType::kFloat32, ctx.input(0).shape}};
  p.kernel = make_kernel([sp, in](std::span<const Tensor* const> i, std::span<Tensor* const> o) {
    const Tensor* zp = i.size() > 2 ? i[2] : nullptr;
    if (in == DType::kInt8) return dequantize_linear<std::int8_t>(sp, *i[0], *i[1], zp, *o[0]);
    if (in == DType::kUInt8) return dequantize_linear<std::uint8_t>(sp, *i[0], *i[1], zp, *o[0]);
    return dequantize_linear<std::int32_t>(sp, *i[0], *i[1], zp, *o[0]);
  });
  return p;
}

// dnnfi.Requantize(x, x_scale, x_zero_point, y_scale, y_zero_point): what inference sessions
// make of DequantizeLinear -> QuantizeLinear with per-tensor parameters (exec/qdq_fusion.h; the
// pairs ONNX Runtime leaves between a convolution and its Relu's scale). y depends only on the
// 8-bit x, so each run tabulates the pair for the 256 values of x, with the same operations as
// the two kernels (DequantizeLinear's int32 difference times the scale, QuantizeLinear's scalar
// division and rounding), and maps x through the table: the pair's result bit for bit, without
// its float32 tensor.
Prepared prepare_requantize(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(5, 5);
  ctx.require_dtype(0, {DType::kInt8, DType::kUInt8});
  quant::require_scalar_scale(ctx, 1, "x_scale");
  quant::require_scalar_zero_point(ctx, 2, ctx.input(0).dtype, "x_zero_point");
  quant::require_scalar_scale(ctx, 3, "y_scale");
  ctx.require_dtype(4, {DType::kInt8, DType::kUInt8});
  quant::require_scalar_zero_point(ctx, 4, ctx.input(4).dtype, "y_zero_point");
  const bool x_signed = ctx.input(0).dtype == DType::kInt8;
  const DType out = ctx.input(4).dtype;
  const bool reference = ctx.reference();
  Prepared p;
  p.outputs = {{out, ctx.input(0).shape}};
  p.kernel = make_kernel(
      [x_signed, out, reference](std::span<const Tensor* const> in, std::span<Tensor* const> o) {
        const float sx = quant::scale_at(in[1], 0), sy = quant::scale_at(in[3], 0);
        const std::int32_t zx = quant::zero_point_at(in[2], 0), zy = quant::zero_point_at(in[4], 0);
        float dq[256];
        for (int b = 0; b < 256; ++b) {
          const std::int32_t v = x_signed ? static_cast<std::int8_t>(b) : b;  // the byte as x
          dq[b] = static_cast<float>(v - zx) * sx;
        }
        std::uint8_t table[256];
        if (out == DType::kInt8) {
          int8_gemm::quantize(int8_gemm::Isa::kNone, dq, 256, sy, zy, -128, 127, table);
        } else {
          int8_gemm::quantize(int8_gemm::Isa::kNone, dq, 256, sy, zy, 0, 255, table);
        }
        const auto* x = static_cast<const std::uint8_t*>(in[0]->raw());
        auto* y = static_cast<std::uint8_t*>(o[0]->raw());
        const std::int64_t n = in[0]->numel();
        if (reference) {
          for (std::int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
        } else {
          int8_gemm::map_bytes(table, x, n, y);  // byte permutes where the CPU has them
        }
        return Status::ok();
      });
  return p;
}

// ONNX Runtime's DynamicQuantizeLinear (GetQuantizationParameter): the range always includes 0;
// the zero point is rounded half to even and saturated. An all-zero input (scale 0) gives scale
// 0, zero point 0 and y = 0 (x / 0 is NaN for x = 0, which maps to the zero point).
Prepared prepare_dynamic_quantize_linear(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32});
  Prepared p;
  p.outputs = {{DType::kUInt8, ctx.input(0).shape}, {DType::kFloat32, {}}, {DType::kUInt8, {}}};
  p.kernel = make_kernel([](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    const float* x = in[0]->data<float>();
    const std::int64_t n = in[0]->numel();
    // fmin/fmax skip NaN (a corrupted activation) instead of propagating it into the scale.
    float lo = 0.0f, hi = 0.0f;
    for (std::int64_t i = 0; i < n; ++i) {
      lo = std::fmin(lo, x[i]);
      hi = std::fmax(hi, x[i]);
    }
    const float scale = (hi - lo) / 255.0f;
    std::int32_t zp = 0;
    if (scale != 0.0f) zp = quant::round_saturate(0.0f - lo / scale, 0, 0, 255);
    out[1]->data<float>()[0] = scale;
    out[2]->data<std::uint8_t>()[0] = static_cast<std::uint8_t>(zp);
    std::uint8_t* y = out[0]->data<std::uint8_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      y[i] = static_cast<std::uint8_t>(quant::round_saturate_to<std::uint8_t>(x[i] / scale, zp));
    }
    return Status::ok();
  });
  return p;
}

}  // namespace dnnfi
