// Transpose. The permutation is an attribute, so the whole copy layout is fixed at prepare time:
// axes that stay neighbours are merged, and a moved innermost axis (NCHW <-> NHWC and the like) is
// copied as a tiled 2-D transpose; an unmoved one as memcpy rows (see strided_copy.cpp). The
// reference kernel is a plain index loop.
#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

class TransposeKernel final : public Kernel {
 public:
  TransposeKernel(std::string tag, TensorInfo input, TensorInfo output, const CopyLayout& layout,
                  bool reference)
      : tag_(std::move(tag)),
        input_(std::move(input)),
        output_(std::move(output)),
        layout_(layout),
        reference_(reference) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, input_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    const std::size_t esize = dtype_size(input_.dtype);
    if (reference_) {
      run_reference(static_cast<const std::byte*>(in[0]->raw()),
                    static_cast<std::byte*>(out[0]->raw()), esize);
    } else {
      copy_strided(in[0]->raw(), out[0]->raw(), esize, layout_);
    }
    return Status::ok();
  }

 private:
  // Output element o (row-major) reads input element sum(idx[k] * src_strides[k]).
  void run_reference(const std::byte* src, std::byte* dst, std::size_t esize) const {
    const std::int64_t n = output_.numel();
    const int rank = layout_.rank;
    for (std::int64_t o = 0; o < n; ++o) {
      std::int64_t rest = o, offset = 0;
      for (int k = rank - 1; k >= 0; --k) {
        offset += (rest % layout_.dims[k]) * layout_.src_strides[k];
        rest /= layout_.dims[k];
      }
      std::memcpy(dst + o * static_cast<std::int64_t>(esize),
                  src + offset * static_cast<std::int64_t>(esize), esize);
    }
  }

  std::string tag_;
  TensorInfo input_;
  TensorInfo output_;
  CopyLayout layout_;  // over output axes, not simplified (copy_strided simplifies its copy)
  bool reference_;
};

}  // namespace

Prepared prepare_transpose(const PrepareContext& ctx) {
  ctx.allow_attributes({"perm"});
  ctx.require_inputs(1, 1);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  require_rank_at_most_max(ctx, x.shape.size());
  std::vector<std::int64_t> perm;
  if (ctx.has_attr("perm")) {
    perm = ctx.attr_ints("perm");
  } else {
    for (std::int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<std::int64_t>(perm.size()) != rank) {
    ctx.fail("perm " + dims_to_string(perm) + " has " + std::to_string(perm.size()) +
             " entries for rank " + std::to_string(rank));
  }
  bool used[kMaxShapeOpRank] = {};
  for (std::int64_t p : perm) {
    if (p < 0 || p >= rank || used[p]) {
      ctx.fail("perm " + dims_to_string(perm) + " is not a permutation of 0.." +
               std::to_string(rank - 1));
    }
    used[p] = true;
  }
  const std::vector<std::int64_t> in_strides = shape_strides(x.shape);
  Shape out_shape(perm.size());
  CopyLayout layout;
  layout.rank = static_cast<int>(rank);
  std::int64_t dst_stride = 1;
  for (std::int64_t k = rank - 1; k >= 0; --k) {
    const auto p = static_cast<std::size_t>(perm[static_cast<std::size_t>(k)]);
    out_shape[static_cast<std::size_t>(k)] = x.shape[p];
    layout.dims[k] = x.shape[p];
    layout.src_strides[k] = in_strides[p];
    layout.dst_strides[k] = dst_stride;
    dst_stride *= x.shape[p];
  }
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, out_shape}};
  p.kernel =
      std::make_unique<TransposeKernel>(node_tag(ctx), x, p.outputs[0], layout, ctx.reference());
  return p;
}

}  // namespace dnnfi
