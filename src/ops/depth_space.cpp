// DepthToSpace (modes DCR, the default, and CRD) and SpaceToDepth on NCHW tensors of any dtype.
// Pure data movement with the layout fixed at prepare time; the kernel is a plain loop over the
// output that computes each element's source (both ops read nothing from tensor data but the
// values they move).
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

enum class SpaceMode { kDepthToSpaceDcr, kDepthToSpaceCrd, kSpaceToDepth };

class DepthSpaceKernel final : public Kernel {
 public:
  DepthSpaceKernel(std::string tag, TensorInfo x, TensorInfo y, std::int64_t block, SpaceMode mode)
      : tag_(std::move(tag)), x_(std::move(x)), y_(std::move(y)), block_(block), mode_(mode) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, x_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, y_));
    const auto es = static_cast<std::size_t>(dtype_size(x_.dtype));
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    const std::int64_t n_ = y_.shape[0], c_ = y_.shape[1], h_ = y_.shape[2], w_ = y_.shape[3];
    const std::int64_t xc = x_.shape[1], xh = x_.shape[2], xw = x_.shape[3];
    const std::int64_t b = block_;
    std::int64_t o = 0;
    for (std::int64_t n = 0; n < n_; ++n) {
      for (std::int64_t c = 0; c < c_; ++c) {
        for (std::int64_t h = 0; h < h_; ++h) {
          for (std::int64_t w = 0; w < w_; ++w, ++o) {
            std::int64_t sc = 0, sh = 0, sw = 0;
            if (mode_ == SpaceMode::kSpaceToDepth) {
              // y[n, (bh*b + bw)*C + c', h, w] = x[n, c', h*b + bh, w*b + bw]
              const std::int64_t blk = c / xc;
              sc = c % xc;
              sh = h * b + blk / b;
              sw = w * b + blk % b;
            } else {
              // y[n, c, h, w] = x[n, channel(c, h % b, w % b), h / b, w / b]
              const std::int64_t bh = h % b, bw = w % b;
              sc = mode_ == SpaceMode::kDepthToSpaceDcr ? (bh * b + bw) * c_ + c
                                                        : (c * b + bh) * b + bw;
              sh = h / b;
              sw = w / b;
            }
            const std::int64_t s = ((n * xc + sc) * xh + sh) * xw + sw;
            std::memcpy(dst + static_cast<std::size_t>(o) * es,
                        src + static_cast<std::size_t>(s) * es, es);
          }
        }
      }
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo x_;
  TensorInfo y_;
  std::int64_t block_;
  SpaceMode mode_;
};

}  // namespace

Prepared prepare_depth_to_space(const PrepareContext& ctx) {
  const bool to_depth = ctx.node().op_type == "SpaceToDepth";
  if (to_depth) {
    ctx.allow_attributes({"blocksize"});
  } else {
    ctx.allow_attributes({"blocksize", "mode"});
  }
  ctx.require_inputs(1, 1);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  if (x.shape.size() != 4) ctx.fail("input must be 4-D NCHW, is " + shape_to_string(x.shape));
  if (!ctx.has_attr("blocksize")) ctx.fail("attribute blocksize is required");
  const std::int64_t b = ctx.attr_int("blocksize", 0);
  if (b < 1 || b > (std::int64_t{1} << 20)) {
    ctx.fail("blocksize must be >= 1, is " + std::to_string(b));
  }
  SpaceMode mode = SpaceMode::kSpaceToDepth;
  Shape y = x.shape;
  if (to_depth) {
    if (x.shape[2] % b != 0 || x.shape[3] % b != 0) {
      ctx.fail("H and W of " + shape_to_string(x.shape) + " must be multiples of blocksize " +
               std::to_string(b));
    }
    y = {x.shape[0], x.shape[1] * b * b, x.shape[2] / b, x.shape[3] / b};
  } else {
    const std::string m = ctx.attr_string("mode", "DCR");
    if (m != "DCR" && m != "CRD") ctx.fail("mode must be DCR or CRD, is '" + m + "'");
    mode = m == "DCR" ? SpaceMode::kDepthToSpaceDcr : SpaceMode::kDepthToSpaceCrd;
    if (x.shape[1] % (b * b) != 0) {
      ctx.fail("C of " + shape_to_string(x.shape) + " must be a multiple of blocksize^2 (" +
               std::to_string(b * b) + ")");
    }
    y = {x.shape[0], x.shape[1] / (b * b), x.shape[2] * b, x.shape[3] * b};
  }
  require_valid_shape(ctx, y, "output shape");
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, y}};
  p.kernel = std::make_unique<DepthSpaceKernel>(node_tag(ctx), x, p.outputs[0], b, mode);
  return p;
}

}  // namespace dnnfi
