// HannWindow, HammingWindow, BlackmanWindow (opset 17): a cosine-sum window of `size` samples,
//   w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N),  N = size (periodic=1) or size - 1,
// with (a0, a1, a2) = (0.5, 0.5, 0), (25/46, 21/46, 0) and (0.42, 0.5, 0.08).
//
// The size input sets the output shape, so it must be known at load time; a value that differs at
// run time is an error. output_datatype float (1) and double (11) are implemented.
#include <cmath>
#include <numbers>

#include "core/dtype.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

struct CosineSum {
  double a0, a1, a2;
};

Prepared prepare_window(const PrepareContext& ctx, CosineSum coef) {
  ctx.allow_attributes({"output_datatype", "periodic"});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kInt32, DType::kInt64});
  const Tensor& size_tensor = ctx.require_constant(0);
  if (size_tensor.numel() != 1 || size_tensor.rank() > 1) {
    ctx.fail("size must be a scalar, got shape " + shape_to_string(size_tensor.shape()));
  }
  const std::int64_t size = size_tensor.get_as_int64(0);
  if (size < 0) ctx.fail("size " + std::to_string(size) + " is negative");
  const std::int64_t code = ctx.attr_int("output_datatype", 1);
  const DType dtype = dtype_from_onnx(static_cast<int>(code));
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) {
    ctx.unsupported("output_datatype " + std::to_string(code) + " (only float and double)");
  }
  const bool periodic = ctx.attr_int("periodic", 1) != 0;
  // A symmetric window of one sample divides 0 by 0, as the ONNX definition does.
  const double denom = static_cast<double>(periodic ? size : size - 1);
  const std::string node_name = ctx.node().name;
  Prepared p;
  p.outputs = {TensorInfo{dtype, {size}}};
  p.kernel = make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    const Tensor* s = in[0];
    if (s == nullptr || s->numel() != 1 ||
        (s->dtype() != DType::kInt32 && s->dtype() != DType::kInt64) ||
        s->get_as_int64(0) != size) {
      return Status::error("node '" + node_name +
                           "': size input differs from its value at load time");
    }
    for (std::int64_t n = 0; n < size; ++n) {
      const double phase = 2.0 * std::numbers::pi * static_cast<double>(n) / denom;
      const double w = coef.a0 - coef.a1 * std::cos(phase) + coef.a2 * std::cos(2.0 * phase);
      if (dtype == DType::kFloat32) {
        out[0]->data<float>()[n] = static_cast<float>(w);
      } else {
        out[0]->data<double>()[n] = w;
      }
    }
    return Status::ok();
  });
  return p;
}

}  // namespace

Prepared prepare_hann_window(const PrepareContext& ctx) {
  return prepare_window(ctx, {0.5, 0.5, 0.0});
}

Prepared prepare_hamming_window(const PrepareContext& ctx) {
  return prepare_window(ctx, {25.0 / 46.0, 21.0 / 46.0, 0.0});
}

Prepared prepare_blackman_window(const PrepareContext& ctx) {
  return prepare_window(ctx, {0.42, 0.5, 0.08});
}

}  // namespace dnnfi
