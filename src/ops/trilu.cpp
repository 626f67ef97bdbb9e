// Trilu: keeps the upper (upper=1, the default) or lower triangle of the last two dims, diagonal
// shifted by k (optional int64 scalar input 1), and zeroes the rest. k does not change the output
// shape, so it is read at run time like data: any int64 value is valid (a huge one keeps or clears
// everything), and only its presence and element count are checked.
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

class TriluKernel final : public Kernel {
 public:
  TriluKernel(std::string tag, TensorInfo x, bool upper, bool has_k)
      : tag_(std::move(tag)), x_(std::move(x)), upper_(upper), has_k_(has_k) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, x_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, x_));
    std::int64_t k = 0;
    if (has_k_) {
      DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, 1, "k", 1));
      k = index_value(*in[1], 0);
    }
    const std::size_t rank = x_.shape.size();
    const std::int64_t rows = x_.shape[rank - 2], cols = x_.shape[rank - 1];
    const std::int64_t matrices = rows * cols == 0 ? 0 : x_.numel() / (rows * cols);
    const auto es = static_cast<std::int64_t>(dtype_size(x_.dtype));
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    for (std::int64_t m = 0; m < matrices; ++m) {
      for (std::int64_t i = 0; i < rows; ++i) {
        const std::int64_t row = (m * rows + i) * cols;
        for (std::int64_t j = 0; j < cols; ++j) {
          // Compared as j - i against k: both sides are far from overflow for any int64 k.
          const bool keep = upper_ ? (j - i >= k) : (j - i <= k);
          std::byte* d = dst + (row + j) * es;
          if (keep) {
            std::memcpy(d, src + (row + j) * es, static_cast<std::size_t>(es));
          } else {
            std::memset(d, 0, static_cast<std::size_t>(es));  // zero of every dtype
          }
        }
      }
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo x_;
  bool upper_;
  bool has_k_;
};

}  // namespace

Prepared prepare_trilu(const PrepareContext& ctx) {
  ctx.allow_attributes({"upper"});
  ctx.require_inputs(1, 2);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  if (x.shape.size() < 2) ctx.fail("input must have rank >= 2, has " + shape_to_string(x.shape));
  const std::int64_t upper = ctx.attr_int("upper", 1);
  if (upper != 0 && upper != 1) ctx.fail("upper must be 0 or 1, is " + std::to_string(upper));
  const bool has_k = ctx.has_input(1);
  if (has_k) {
    ctx.require_dtype(1, {DType::kInt64});
    if (ctx.input(1).numel() != 1) {
      ctx.fail("k must be a scalar, has shape " + shape_to_string(ctx.input(1).shape));
    }
  }
  Prepared p;
  p.outputs = {x};
  p.kernel = std::make_unique<TriluKernel>(node_tag(ctx), x, upper == 1, has_k);
  return p;
}

}  // namespace dnnfi
