// RoiAlign, average mode, following ONNX Runtime's CPU kernel: each output bin averages bilinear
// samples on a regular grid (sampling_ratio per side, or ceil(roi size / bins) when 0); samples
// more than one pixel outside the image count as zero. coordinate_transformation_mode is
// half_pixel (the opset 16 default) or output_half_pixel (the only behaviour before opset 16).
// mode=max is rejected: ONNX Runtime takes the max of the weighted corner pixels while newer ONNX
// reference code takes the max of the interpolated samples, so there is no one answer to match.
//
// rois and batch_indices are data. A batch index outside [0, N) is a run-time error; a non-finite
// roi coordinate gives NaN bins (NaN is data); a roi so large that its adaptive sampling grid would
// exceed a few times the image size (only a corrupted roi does that) is a run-time error rather
// than an unbounded loop.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

struct RoiParams {
  std::int64_t out_h = 1, out_w = 1;
  std::int64_t sampling_ratio = 0;
  double spatial_scale = 1.0;
  bool half_pixel = true;
};

class RoiAlignKernel final : public Kernel {
 public:
  RoiAlignKernel(std::string tag, TensorInfo x, TensorInfo rois, TensorInfo batch, TensorInfo y,
                 RoiParams p)
      : tag_(std::move(tag)),
        x_(std::move(x)),
        rois_(std::move(rois)),
        batch_(std::move(batch)),
        y_(std::move(y)),
        p_(p) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, x_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, rois_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 2, batch_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, y_));
    if (x_.dtype == DType::kFloat64) {
      return align(in[0]->data<double>(), in[1]->data<double>(), in[2]->data<std::int64_t>(),
                   out[0]->data<double>());
    }
    return align(in[0]->data<float>(), in[1]->data<float>(), in[2]->data<std::int64_t>(),
                 out[0]->data<float>());
  }

 private:
  template <typename T>
  Status align(const T* x, const T* rois, const std::int64_t* batch, T* y) const {
    const std::int64_t n_ = x_.shape[0], c_ = x_.shape[1], h = x_.shape[2], w = x_.shape[3];
    const std::int64_t num_rois = rois_.shape[0];
    const std::int64_t bins = p_.out_h * p_.out_w;
    for (std::int64_t r = 0; r < num_rois; ++r) {
      if (batch[r] < 0 || batch[r] >= n_) {
        return run_error(tag_, "batch index " + std::to_string(batch[r]) + " of roi " +
                                   std::to_string(r) + " is outside [0, " + std::to_string(n_) +
                                   ")");
      }
    }
    for (std::int64_t r = 0; r < num_rois; ++r) {
      T* out = y + r * c_ * bins;
      const T* roi = rois + r * 4;
      const double offset = p_.half_pixel ? 0.5 : 0.0;
      const double x0 = roi[0] * p_.spatial_scale - offset, y0 = roi[1] * p_.spatial_scale - offset;
      const double x1 = roi[2] * p_.spatial_scale - offset, y1 = roi[3] * p_.spatial_scale - offset;
      double roi_w = x1 - x0, roi_h = y1 - y0;
      if (!std::isfinite(roi_w) || !std::isfinite(roi_h) || !std::isfinite(x0) ||
          !std::isfinite(y0)) {
        std::fill(out, out + c_ * bins, std::numeric_limits<T>::quiet_NaN());
        continue;
      }
      if (!p_.half_pixel) {
        roi_w = std::max(roi_w, 1.0);
        roi_h = std::max(roi_h, 1.0);
      }
      const double bin_h = roi_h / static_cast<double>(p_.out_h);
      const double bin_w = roi_w / static_cast<double>(p_.out_w);
      const double grid_hd = p_.sampling_ratio > 0
                                 ? static_cast<double>(p_.sampling_ratio)
                                 : std::ceil(roi_h / static_cast<double>(p_.out_h));
      const double grid_wd = p_.sampling_ratio > 0
                                 ? static_cast<double>(p_.sampling_ratio)
                                 : std::ceil(roi_w / static_cast<double>(p_.out_w));
      const double limit = 4.0 * static_cast<double>(std::max(h, w)) + 64.0;
      if (grid_hd > limit || grid_wd > limit) {
        return run_error(tag_, "roi " + std::to_string(r) + " is too large to sample (" +
                                   std::to_string(roi_w) + " x " + std::to_string(roi_h) + ")");
      }
      const auto grid_h = static_cast<std::int64_t>(std::max(grid_hd, 0.0));
      const auto grid_w = static_cast<std::int64_t>(std::max(grid_wd, 0.0));
      const double count = static_cast<double>(std::max<std::int64_t>(grid_h * grid_w, 1));
      const T* image = x + batch[r] * c_ * h * w;
      for (std::int64_t c = 0; c < c_; ++c) {
        const T* plane = image + c * h * w;
        for (std::int64_t ph = 0; ph < p_.out_h; ++ph) {
          for (std::int64_t pw = 0; pw < p_.out_w; ++pw) {
            double sum = 0;
            for (std::int64_t iy = 0; iy < grid_h; ++iy) {
              const double sy =
                  y0 + static_cast<double>(ph) * bin_h +
                  (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(grid_h);
              for (std::int64_t ix = 0; ix < grid_w; ++ix) {
                const double sx =
                    x0 + static_cast<double>(pw) * bin_w +
                    (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(grid_w);
                sum += bilinear(plane, h, w, sy, sx);
              }
            }
            out[(c * p_.out_h + ph) * p_.out_w + pw] = static_cast<T>(sum / count);
          }
        }
      }
    }
    return Status::ok();
  }

  // ONNX Runtime's bilinear sample: zero beyond one pixel outside, else clamped to the image.
  template <typename T>
  static double bilinear(const T* plane, std::int64_t h, std::int64_t w, double y, double x) {
    if (y < -1.0 || y > static_cast<double>(h) || x < -1.0 || x > static_cast<double>(w)) return 0;
    y = std::max(y, 0.0);
    x = std::max(x, 0.0);
    auto y_lo = static_cast<std::int64_t>(y), x_lo = static_cast<std::int64_t>(x);
    std::int64_t y_hi = y_lo + 1, x_hi = x_lo + 1;
    if (y_lo >= h - 1) {
      y_hi = y_lo = h - 1;
      y = static_cast<double>(y_lo);
    }
    if (x_lo >= w - 1) {
      x_hi = x_lo = w - 1;
      x = static_cast<double>(x_lo);
    }
    const double ly = y - static_cast<double>(y_lo), lx = x - static_cast<double>(x_lo);
    const double hy = 1 - ly, hx = 1 - lx;
    return hy * hx * plane[y_lo * w + x_lo] + hy * lx * plane[y_lo * w + x_hi] +
           ly * hx * plane[y_hi * w + x_lo] + ly * lx * plane[y_hi * w + x_hi];
  }

  std::string tag_;
  TensorInfo x_;
  TensorInfo rois_;
  TensorInfo batch_;
  TensorInfo y_;
  RoiParams p_;
};

}  // namespace

Prepared prepare_roi_align(const PrepareContext& ctx) {
  if (ctx.opset() >= 16) {
    ctx.allow_attributes({"coordinate_transformation_mode", "mode", "output_height", "output_width",
                          "sampling_ratio", "spatial_scale"});
  } else {
    ctx.allow_attributes(
        {"mode", "output_height", "output_width", "sampling_ratio", "spatial_scale"});
  }
  ctx.require_inputs(3, 3);
  for (std::size_t i = 0; i < 3; ++i) require_static_shape(ctx, i);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  ctx.require_dtype(2, {DType::kInt64});
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& rois = ctx.input(1);
  const TensorInfo& batch = ctx.input(2);
  if (x.shape.size() != 4) ctx.fail("X must be 4-D (N, C, H, W), is " + shape_to_string(x.shape));
  if (rois.dtype != x.dtype || rois.shape.size() != 2 || rois.shape[1] != 4) {
    ctx.fail("rois must be (num_rois, 4) of X's dtype, is " + shape_to_string(rois.shape));
  }
  if (batch.shape != Shape{rois.shape[0]}) {
    ctx.fail("batch_indices " + shape_to_string(batch.shape) + " must be (num_rois)");
  }
  if (x.shape[2] < 1 || x.shape[3] < 1) ctx.fail("X must have H, W >= 1");
  const std::string mode = ctx.attr_string("mode", "avg");
  if (mode == "max") {
    ctx.unsupported(
        "mode 'max' (ONNX Runtime and the ONNX reference disagree on it; avg is "
        "implemented)");
  }
  if (mode != "avg") ctx.fail("unknown mode '" + mode + "'");
  RoiParams p;
  p.out_h = ctx.attr_int("output_height", 1);
  p.out_w = ctx.attr_int("output_width", 1);
  p.sampling_ratio = ctx.attr_int("sampling_ratio", 0);
  p.spatial_scale = ctx.attr_float("spatial_scale", 1.0f);
  if (p.out_h < 1 || p.out_w < 1 || p.sampling_ratio < 0) {
    ctx.fail("output_height and output_width must be >= 1 and sampling_ratio >= 0");
  }
  const std::string ctm = ctx.attr_string("coordinate_transformation_mode",
                                          ctx.opset() >= 16 ? "half_pixel" : "output_half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel") {
    ctx.fail("unknown coordinate_transformation_mode '" + ctm + "'");
  }
  p.half_pixel = ctm == "half_pixel";
  Shape y = {rois.shape[0], x.shape[1], p.out_h, p.out_w};
  require_valid_shape(ctx, y, "output shape");
  Prepared out;
  out.outputs = {TensorInfo{x.dtype, y}};
  out.kernel = std::make_unique<RoiAlignKernel>(node_tag(ctx), x, rois, batch, out.outputs[0], p);
  return out;
}

}  // namespace dnnfi
