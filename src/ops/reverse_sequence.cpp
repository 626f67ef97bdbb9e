// ReverseSequence: for each batch entry b, the first sequence_lens[b] steps along the time axis
// are reversed and the rest copied. time_axis and batch_axis are 0 and 1 in either order.
// sequence_lens is data: every length is checked against [0, time dim] on every run, and a length
// outside it (a corrupted tensor) is a run-time error naming the node, the batch entry and value.
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

class ReverseSequenceKernel final : public Kernel {
 public:
  ReverseSequenceKernel(std::string tag, TensorInfo x, TensorInfo lens, int time_axis)
      : tag_(std::move(tag)), x_(std::move(x)), lens_(std::move(lens)), time_axis_(time_axis) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, x_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, lens_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, x_));
    const std::int64_t steps = x_.shape[static_cast<std::size_t>(time_axis_)];
    const std::int64_t batch = x_.shape[static_cast<std::size_t>(1 - time_axis_)];
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t len = index_value(*in[1], b);
      if (len < 0 || len > steps) {
        return run_error(tag_, "sequence length " + std::to_string(len) + " of batch entry " +
                                   std::to_string(b) + " is outside [0, " + std::to_string(steps) +
                                   "]");
      }
    }
    // Axes 0 and 1 are time and batch in some order; everything after them is one block.
    const std::int64_t block =
        x_.shape[0] * x_.shape[1] == 0
            ? 0
            : static_cast<std::int64_t>(x_.nbytes()) / (x_.shape[0] * x_.shape[1]);
    const std::int64_t time_stride = time_axis_ == 0 ? batch : 1;
    const std::int64_t batch_stride = time_axis_ == 0 ? 1 : steps;
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t len = index_value(*in[1], b);
      for (std::int64_t t = 0; t < steps; ++t) {
        const std::int64_t from = t < len ? len - 1 - t : t;
        std::memcpy(dst + (t * time_stride + b * batch_stride) * block,
                    src + (from * time_stride + b * batch_stride) * block,
                    static_cast<std::size_t>(block));
      }
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo x_;
  TensorInfo lens_;
  int time_axis_;
};

}  // namespace

Prepared prepare_reverse_sequence(const PrepareContext& ctx) {
  ctx.allow_attributes({"batch_axis", "time_axis"});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  require_static_shape(ctx, 1);
  ctx.require_dtype(1, {DType::kInt64});
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& lens = ctx.input(1);
  if (x.shape.size() < 2) ctx.fail("input must have rank >= 2, is " + shape_to_string(x.shape));
  const std::int64_t batch_axis = ctx.attr_int("batch_axis", 1);
  const std::int64_t time_axis = ctx.attr_int("time_axis", 0);
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0))) {
    ctx.fail("batch_axis and time_axis must be 0 and 1 in some order, are " +
             std::to_string(batch_axis) + " and " + std::to_string(time_axis));
  }
  if (lens.shape != Shape{x.shape[static_cast<std::size_t>(batch_axis)]}) {
    ctx.fail("sequence_lens " + shape_to_string(lens.shape) + " must be 1-D with the batch dim " +
             std::to_string(x.shape[static_cast<std::size_t>(batch_axis)]));
  }
  Prepared p;
  p.outputs = {x};
  p.kernel =
      std::make_unique<ReverseSequenceKernel>(node_tag(ctx), x, lens, static_cast<int>(time_axis));
  return p;
}

}  // namespace dnnfi
