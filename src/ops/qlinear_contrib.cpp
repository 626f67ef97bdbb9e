// com.microsoft contrib ops that ONNX Runtime's quantizer emits in QOperator format: QLinearAdd,
// QLinearMul (numpy broadcasting) and QLinearGlobalAveragePool (NCHW or channels_last); A, B and C
// share one dtype, int8 or uint8; every scale and zero point is per-tensor.
//
//   QLinearAdd  C = sat(rhe(fma(A, ra, fma(B, rb, F)))), ra = A_scale / C_scale,
//               rb = B_scale / C_scale, F = C_zp - fma(ra, A_zp, rb * B_zp)
//               (A a single element: A and B swap roles in all three)
//   QLinearMul  C = sat(rhe(float((A - A_zp) * (B - B_zp)) * (A_scale * B_scale / C_scale)) + C_zp)
//   QLinearGlobalAveragePool
//               y = sat(rhe(float(sum(x) - x_zp * S) * (x_scale / (y_scale * S))) + y_zp),
//               S = spatial size
//
// (rhe = round half to even, sat = saturate, fma = fused multiply-add, one rounding.) QLinearAdd is
// MLAS's AVX2 kernel (qladd_avx2.cpp, the one ONNX Runtime runs on any AVX2 CPU) step for step:
// the raw values, not value - zero point, are scaled, the zero points folded into F, whose
// ra * A_zp product the compiler fuses; the portable formula ra * (A - A_zp) + rb * (B - B_zp)
// lands on the other side of a rounding boundary on some elements (tests/ops/test_quantize.cpp),
// which in a deep QOperator model compounds to several output steps. Other broadcasts follow the
// same-shape formula; ONNX Runtime takes its single-element path per broadcast span, the same
// formula when B repeats within a span but not when A does ([N,C,1,1] + [N,C,H,W] may be one step
// off). QLinearMul and QLinearGlobalAveragePool are MLAS's portable fp32 formulas.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/quant_common.h"

namespace dnnfi {

namespace {

enum class QBinary { kAdd, kMul };

template <typename T>
Status run_qlinear_binary(QBinary op, const Shape& out_shape,
                          const std::vector<std::int64_t> (&strides)[2],
                          std::span<const Tensor* const> in, Tensor& out) {
  const T* a = in[0]->data<T>();
  const T* b = in[3]->data<T>();
  const float sa = quant::scale_at(in[1], 0), sb = quant::scale_at(in[4], 0);
  const float sc = quant::scale_at(in[6], 0);
  const std::int32_t za = quant::zero_point_at(in[2], 0), zb = quant::zero_point_at(in[5], 0);
  const std::int32_t zc = quant::zero_point_at(in.size() > 7 ? in[7] : nullptr, 0);
  T* c = out.data<T>();
  if (op == QBinary::kAdd) {
    const float ra = sa / sc, rb = sb / sc;
    // ONNX Runtime passes a single-element A to MLAS as B, so the roles swap there.
    const bool a_single = in[0]->numel() == 1 && in[3]->numel() != 1;
    const float fixed = a_single ? static_cast<float>(zc) - std::fma(rb, static_cast<float>(zb),
                                                                     ra * static_cast<float>(za))
                                 : static_cast<float>(zc) - std::fma(ra, static_cast<float>(za),
                                                                     rb * static_cast<float>(zb));
    for_each_broadcast(out_shape, strides, [&](std::int64_t o, const std::int64_t* off) {
      const float fa = static_cast<float>(a[off[0]]), fb = static_cast<float>(b[off[1]]);
      const float v = a_single ? std::fma(fb, rb, std::fma(fa, ra, fixed))
                               : std::fma(fa, ra, std::fma(fb, rb, fixed));
      // NaN (a corrupted scale) gives the zero point, as in every quantization kernel here.
      c[o] = static_cast<T>(v == v ? quant::round_saturate_to<T>(v, 0) : zc);
    });
  } else {
    const float multiplier = sa * sb / sc;
    for_each_broadcast(out_shape, strides, [&](std::int64_t o, const std::int64_t* off) {
      const std::int32_t p =
          (static_cast<std::int32_t>(a[off[0]]) - za) * (static_cast<std::int32_t>(b[off[1]]) - zb);
      c[o] = static_cast<T>(quant::round_saturate_to<T>(static_cast<float>(p) * multiplier, zc));
    });
  }
  return Status::ok();
}

Prepared prepare_qlinear_binary(const PrepareContext& ctx, QBinary op) {
  ctx.allow_attributes({});
  ctx.require_inputs(7, 8);
  ctx.require_dtype(0, {DType::kInt8, DType::kUInt8});
  const DType t = ctx.input(0).dtype;
  ctx.require_dtype(3, {t});
  quant::require_scalar_scale(ctx, 1, "A_scale");
  quant::require_scalar_scale(ctx, 4, "B_scale");
  quant::require_scalar_scale(ctx, 6, "C_scale");
  quant::require_scalar_zero_point(ctx, 2, t, "A_zero_point");
  quant::require_scalar_zero_point(ctx, 5, t, "B_zero_point");
  quant::require_scalar_zero_point(ctx, 7, t, "C_zero_point");
  const std::optional<Shape> out = broadcast_shapes(ctx.input(0).shape, ctx.input(3).shape);
  if (!out) {
    ctx.fail("A " + shape_to_string(ctx.input(0).shape) + " and B " +
             shape_to_string(ctx.input(3).shape) + " do not broadcast");
  }
  const Shape out_shape = *out;
  Prepared p;
  p.outputs = {{t, out_shape}};
  p.kernel =
      make_kernel([op, t, out_shape, a_strides = broadcast_strides(ctx.input(0).shape, out_shape),
                   b_strides = broadcast_strides(ctx.input(3).shape, out_shape)](
                      std::span<const Tensor* const> in, std::span<Tensor* const> o) {
        const std::vector<std::int64_t> strides[2] = {a_strides, b_strides};
        if (t == DType::kInt8)
          return run_qlinear_binary<std::int8_t>(op, out_shape, strides, in, *o[0]);
        return run_qlinear_binary<std::uint8_t>(op, out_shape, strides, in, *o[0]);
      });
  return p;
}

template <typename T>
Status run_qlinear_global_average_pool(std::int64_t batch, std::int64_t channels,
                                       std::int64_t spatial, bool channels_last,
                                       std::span<const Tensor* const> in, Tensor& out) {
  const T* x = in[0]->data<T>();
  T* y = out.data<T>();
  const float x_scale = quant::scale_at(in[1], 0), y_scale = quant::scale_at(in[3], 0);
  const std::int32_t xzp = quant::zero_point_at(in[2], 0);
  const std::int32_t yzp = quant::zero_point_at(in.size() > 4 ? in[4] : nullptr, 0);
  const float multiplier = x_scale / (y_scale * static_cast<float>(spatial));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t c = 0; c < channels; ++c) {
      std::int64_t sum = 0;
      for (std::int64_t s = 0; s < spatial; ++s) {
        const std::int64_t i =
            channels_last ? (n * spatial + s) * channels + c : (n * channels + c) * spatial + s;
        sum += static_cast<std::int32_t>(x[i]) - xzp;
      }
      y[n * channels + c] =
          static_cast<T>(quant::round_saturate_to<T>(static_cast<float>(sum) * multiplier, yzp));
    }
  }
  return Status::ok();
}

}  // namespace

Prepared prepare_qlinear_add(const PrepareContext& ctx) {
  return prepare_qlinear_binary(ctx, QBinary::kAdd);
}

Prepared prepare_qlinear_mul(const PrepareContext& ctx) {
  return prepare_qlinear_binary(ctx, QBinary::kMul);
}

// Inputs X, x_scale, x_zero_point, y_scale, y_zero_point; X is [N, C, spatial...] or, with
// channels_last = 1, [N, spatial..., C]. The output keeps X's rank with spatial dims of 1.
Prepared prepare_qlinear_global_average_pool(const PrepareContext& ctx) {
  ctx.allow_attributes({"channels_last"});
  ctx.require_inputs(5, 5);
  ctx.require_dtype(0, {DType::kInt8, DType::kUInt8});
  const DType t = ctx.input(0).dtype;
  quant::require_scalar_scale(ctx, 1, "x_scale");
  quant::require_scalar_scale(ctx, 3, "y_scale");
  quant::require_scalar_zero_point(ctx, 2, t, "x_zero_point");
  quant::require_scalar_zero_point(ctx, 4, t, "y_zero_point");
  const bool channels_last = ctx.attr_int("channels_last", 0) != 0;
  const Shape& xs = ctx.input(0).shape;
  if (xs.size() < 3) ctx.fail("X must have rank >= 3, got " + shape_to_string(xs));
  const std::int64_t batch = xs[0];
  const std::int64_t channels = channels_last ? xs.back() : xs[1];
  const std::int64_t spatial = shape_numel(xs) / std::max<std::int64_t>(1, batch * channels);
  if (spatial < 1) ctx.fail("X " + shape_to_string(xs) + " has no spatial elements");
  Shape ys(xs.size(), 1);
  ys[0] = batch;
  ys[channels_last ? xs.size() - 1 : 1] = channels;
  Prepared p;
  p.outputs = {{t, ys}};
  p.kernel = make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> o) {
    if (t == DType::kInt8) {
      return run_qlinear_global_average_pool<std::int8_t>(batch, channels, spatial, channels_last,
                                                          in, *o[0]);
    }
    return run_qlinear_global_average_pool<std::uint8_t>(batch, channels, spatial, channels_last,
                                                         in, *o[0]);
  });
  return p;
}

}  // namespace dnnfi
