// MaxUnpool: scatters X into a zero tensor at the flat positions of I (MaxPool's Indices output:
// flat over the whole output tensor, N and C included), as ONNX Runtime and PyTorch do. I is data:
// every index is checked against [0, output elements) on every run, and one outside it (a
// corrupted index tensor) is a run-time error naming the node, the position and the value.
//
// The optional output_shape input must be known at load time and equal the shape the attributes
// give: for any other output_shape the ONNX reference data and ONNX Runtime place the indices
// differently (the former as positions in the inferred shape, the latter as flat positions in
// output_shape), so that variant is rejected as unsupported rather than computed one way.
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

class MaxUnpoolKernel final : public Kernel {
 public:
  MaxUnpoolKernel(std::string tag, TensorInfo x, TensorInfo indices, TensorInfo y)
      : tag_(std::move(tag)), x_(std::move(x)), indices_(std::move(indices)), y_(std::move(y)) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, x_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, indices_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, y_));
    const std::int64_t* idx = in[1]->data<std::int64_t>();
    const std::int64_t total = y_.numel();
    for (std::int64_t i = 0, n = x_.numel(); i < n; ++i) {
      if (idx[i] < 0 || idx[i] >= total) {
        return run_error(tag_, "index " + std::to_string(idx[i]) + " at position " +
                                   std::to_string(i) + " is outside the " + std::to_string(total) +
                                   " output elements");
      }
    }
    const std::size_t es = dtype_size(x_.dtype);
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    std::memset(dst, 0, y_.nbytes());
    for (std::int64_t i = 0, n = x_.numel(); i < n; ++i) {
      std::memcpy(dst + static_cast<std::size_t>(idx[i]) * es,
                  src + static_cast<std::size_t>(i) * es, es);
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo x_;
  TensorInfo indices_;
  TensorInfo y_;
};

}  // namespace

Prepared prepare_max_unpool(const PrepareContext& ctx) {
  ctx.allow_attributes({"kernel_shape", "pads", "strides"});
  ctx.require_inputs(2, 3);
  require_static_shape(ctx, 0);
  require_static_shape(ctx, 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kFloat16});
  ctx.require_dtype(1, {DType::kInt64});
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  if (x.shape.size() < 3) ctx.fail("X must have rank >= 3, is " + shape_to_string(x.shape));
  if (indices.shape != x.shape) {
    ctx.fail("I " + shape_to_string(indices.shape) + " must have the shape of X " +
             shape_to_string(x.shape));
  }
  const std::size_t spatial = x.shape.size() - 2;
  const std::vector<std::int64_t> kernel = ctx.attr_ints("kernel_shape");
  const std::vector<std::int64_t> strides =
      ctx.attr_ints("strides", std::vector<std::int64_t>(spatial, 1));
  const std::vector<std::int64_t> pads =
      ctx.attr_ints("pads", std::vector<std::int64_t>(2 * spatial, 0));
  if (kernel.size() != spatial || strides.size() != spatial || pads.size() != 2 * spatial) {
    ctx.fail("kernel_shape, strides and pads must have " + std::to_string(spatial) + ", " +
             std::to_string(spatial) + " and " + std::to_string(2 * spatial) + " entries");
  }
  Shape y = {x.shape[0], x.shape[1]};
  for (std::size_t d = 0; d < spatial; ++d) {
    if (kernel[d] < 1 || strides[d] < 1 || pads[d] < 0 || pads[d + spatial] < 0) {
      ctx.fail("kernel_shape and strides must be >= 1 and pads >= 0");
    }
    y.push_back((x.shape[d + 2] - 1) * strides[d] + kernel[d] - pads[d] - pads[d + spatial]);
  }
  require_valid_shape(ctx, y, "output shape");
  if (ctx.has_input(2)) {
    const std::vector<std::int64_t> given = read_index_constant(ctx, 2, "output_shape");
    if (given != y) {
      ctx.unsupported("output_shape " + dims_to_string(given) +
                      " differs from the inferred shape " + dims_to_string(y) +
                      " (ONNX's reference data and ONNX Runtime disagree on where indices land)");
    }
  }
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, y}};
  p.kernel = std::make_unique<MaxUnpoolKernel>(node_tag(ctx), x, indices, p.outputs[0]);
  return p;
}

}  // namespace dnnfi
