// Gather along any axis with int32 or int64 indices (negative ones count from the end). Indices are
// data: every one is bounds-checked on every run, and an out-of-range index (a corrupted index
// tensor) is a run-time error naming the node, the position and the value.
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

class GatherKernel final : public Kernel {
 public:
  GatherKernel(std::string tag, TensorInfo data, TensorInfo indices, TensorInfo output,
               std::int64_t outer, std::int64_t axis_dim, std::int64_t inner_bytes)
      : tag_(std::move(tag)),
        data_(std::move(data)),
        indices_(std::move(indices)),
        output_(std::move(output)),
        outer_(outer),
        axis_dim_(axis_dim),
        inner_bytes_(inner_bytes) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, data_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, indices_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    if (indices_.dtype == DType::kInt64) {
      return gather(in[1]->data<std::int64_t>(), in[0], out[0]);
    }
    return gather(in[1]->data<std::int32_t>(), in[0], out[0]);
  }

 private:
  template <typename I>
  Status gather(const I* idx, const Tensor* data, Tensor* out) const {
    const std::int64_t q = indices_.numel();
    for (std::int64_t j = 0; j < q; ++j) {
      const auto v = static_cast<std::int64_t>(idx[j]);
      if (v < -axis_dim_ || v >= axis_dim_) {
        return run_error(tag_, "index " + std::to_string(v) + " at position " + std::to_string(j) +
                                   " is out of range for axis dimension " +
                                   std::to_string(axis_dim_));
      }
    }
    const auto* src = static_cast<const std::byte*>(data->raw());
    auto* dst = static_cast<std::byte*>(out->raw());
    const std::int64_t copies = outer_ * q;
    parallel_chunks(copies, copies * inner_bytes_, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t c = begin; c < end; ++c) {
        const std::int64_t o = c / q;
        auto v = static_cast<std::int64_t>(idx[c % q]);
        if (v < 0) v += axis_dim_;
        std::memcpy(dst + c * inner_bytes_, src + (o * axis_dim_ + v) * inner_bytes_,
                    static_cast<std::size_t>(inner_bytes_));
      }
    });
    return Status::ok();
  }

  std::string tag_;
  TensorInfo data_;
  TensorInfo indices_;
  TensorInfo output_;
  std::int64_t outer_;
  std::int64_t axis_dim_;
  std::int64_t inner_bytes_;
};

}  // namespace

Prepared prepare_gather(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis"});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  require_static_shape(ctx, 1);
  ctx.require_dtype(1, {DType::kInt32, DType::kInt64});
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  const auto rank = static_cast<std::int64_t>(data.shape.size());
  if (rank == 0) ctx.fail("data must have rank >= 1");
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), rank, "axis"));
  Shape out_shape(data.shape.begin(), data.shape.begin() + static_cast<std::ptrdiff_t>(axis));
  out_shape.insert(out_shape.end(), indices.shape.begin(), indices.shape.end());
  out_shape.insert(out_shape.end(), data.shape.begin() + static_cast<std::ptrdiff_t>(axis) + 1,
                   data.shape.end());
  require_valid_shape(ctx, out_shape, "output shape");
  std::int64_t outer = 1, inner = static_cast<std::int64_t>(dtype_size(data.dtype));
  for (std::size_t i = 0; i < data.shape.size(); ++i) {
    if (i < axis) outer *= data.shape[i];
    if (i > axis) inner *= data.shape[i];
  }
  if (data.shape[axis] == 0 && indices.numel() > 0) {
    ctx.fail("cannot gather from an empty axis");
  }
  // Constant indices are checked now too, so that a bad model fails at load time.
  if (const Tensor* c = ctx.constant(1)) {
    for (std::int64_t j = 0; j < c->numel(); ++j) {
      const std::int64_t v = index_value(*c, j);
      if (v < -data.shape[axis] || v >= data.shape[axis]) {
        ctx.fail("index " + std::to_string(v) + " is out of range for axis dimension " +
                 std::to_string(data.shape[axis]));
      }
    }
  }
  Prepared p;
  p.outputs = {TensorInfo{data.dtype, out_shape}};
  p.kernel = std::make_unique<GatherKernel>(node_tag(ctx), data, indices, p.outputs[0], outer,
                                            data.shape[axis], inner);
  return p;
}

}  // namespace dnnfi
