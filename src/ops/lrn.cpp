// LRN (opsets 1, 13): local response normalisation across channels,
//   y = x / (bias + alpha / size * square_sum) ^ beta,
// where square_sum at channel c sums x^2 over channels
// [max(0, c - floor((size-1)/2)), min(C-1, c + ceil((size-1)/2))].
#include <algorithm>
#include <cmath>

#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_lrn(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", "beta", "bias", "size"});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32});
  if (!ctx.has_attr("size")) ctx.fail("attribute 'size' is required");
  const std::int64_t size = ctx.attr_int("size", 0);
  if (size < 1) ctx.fail("size must be >= 1, is " + std::to_string(size));
  const float alpha = ctx.attr_float("alpha", 1e-4f);
  const float beta = ctx.attr_float("beta", 0.75f);
  const float bias = ctx.attr_float("bias", 1.0f);
  const TensorInfo& x = ctx.input(0);
  if (x.shape.size() < 3) {
    ctx.fail("X must have rank >= 3 (N, C, D1...), has shape " + shape_to_string(x.shape));
  }
  const std::int64_t batch = x.shape[0];
  const std::int64_t channels = x.shape[1];
  const std::int64_t inner = shape_numel(Shape(x.shape.begin() + 2, x.shape.end()));
  const std::int64_t before = (size - 1) / 2;
  const std::int64_t after = size - 1 - before;  // ceil((size-1)/2)
  const float alpha_over_size = alpha / static_cast<float>(size);
  Prepared p;
  p.outputs = {x};
  p.kernel = make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    const float* xd = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const std::int64_t planes = batch * channels;
    const bool parallel = planes > 1 && planes * inner * size >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t pl = 0; pl < planes; ++pl) {
      const std::int64_t n = pl / channels;
      const std::int64_t c = pl % channels;
      const std::int64_t lo = std::max<std::int64_t>(0, c - before);
      const std::int64_t hi = std::min<std::int64_t>(channels - 1, c + after);
      float* yp = y + pl * inner;
      const float* xp = xd + pl * inner;
      // The output plane accumulates the square sum, channels in ascending order.
      std::fill(yp, yp + inner, 0.0f);
      for (std::int64_t k = lo; k <= hi; ++k) {
        const float* xk = xd + (n * channels + k) * inner;
        for (std::int64_t i = 0; i < inner; ++i) yp[i] += xk[i] * xk[i];
      }
      for (std::int64_t i = 0; i < inner; ++i) {
        yp[i] = xp[i] / std::pow(bias + alpha_over_size * yp[i], beta);
      }
    }
    return Status::ok();
  });
  return p;
}

}  // namespace dnnfi
