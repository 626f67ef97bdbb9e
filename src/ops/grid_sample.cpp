// GridSample (opset 16: 4-D input, modes bilinear / nearest / bicubic, padding zeros / border /
// reflection, align_corners), following ONNX Runtime's CPU kernel: grid (x, y) in [-1, 1] maps to
// pixel coordinates, out-of-range points are clamped or reflected per padding_mode (bicubic pads
// each tap instead, like PyTorch), and the output interpolates the 1, 4 or 16 pixels around the
// point (bicubic: Keys, alpha -0.75). Checked against PyTorch and ONNX Runtime 1.30.
//
// The grid is data that also chooses which pixels are read, so a corrupted grid must not steer a
// read out of bounds: a NaN or infinite coordinate gives a NaN output (NaN is data, the campaign
// classifies it), coordinates are brought into a small range around the image before any integer
// conversion, and every tap is checked against the image before it is read.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

enum class GridMode { kBilinear, kNearest, kBicubic };
enum class GridPadding { kZeros, kBorder, kReflection };

struct GridParams {
  GridMode mode = GridMode::kBilinear;
  GridPadding padding = GridPadding::kZeros;
  bool align_corners = false;
};

// Reflects x into [lo, hi] by its near border as often as needed (exact for any finite x).
double grid_reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (!(range > 0)) return lo;
  if (x >= lo && x <= hi) return x;
  const double dx = x < lo ? lo - x : x - hi;
  const double n = std::floor(dx / range);
  const double r = std::clamp(dx - n * range, 0.0, range);
  const bool even = std::fmod(n, 2.0) == 0.0;
  if (x < lo) return even ? lo + r : hi - r;
  return even ? hi - r : lo + r;
}

// Keys cubic convolution coefficients for the 4 taps around a point at fraction t in [0, 1).
void grid_cubic_coeffs(double t, double c[4]) {
  constexpr double a = -0.75;
  const double x = std::abs(t);
  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

class GridSampleKernel final : public Kernel {
 public:
  GridSampleKernel(std::string tag, TensorInfo x, TensorInfo grid, TensorInfo y, GridParams p)
      : tag_(std::move(tag)), x_(std::move(x)), grid_(std::move(grid)), y_(std::move(y)), p_(p) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, x_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, grid_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, y_));
    if (x_.dtype == DType::kFloat64) {
      sample(in[0]->data<double>(), in[1]->data<double>(), out[0]->data<double>());
    } else {
      sample(in[0]->data<float>(), in[1]->data<float>(), out[0]->data<float>());
    }
    return Status::ok();
  }

 private:
  // The pixel offset (r * W + c) of tap (r, c) after padding, or -1 for a zero tap.
  std::int64_t tap(std::int64_t r, std::int64_t c) const {
    const std::int64_t h = x_.shape[2], w = x_.shape[3];
    switch (p_.padding) {
      case GridPadding::kZeros:
        if (r < 0 || r >= h || c < 0 || c >= w) return -1;
        break;
      case GridPadding::kBorder:
        break;
      case GridPadding::kReflection: {
        const double lo = p_.align_corners ? 0.0 : -0.5;
        c = static_cast<std::int64_t>(
            grid_reflect(static_cast<double>(c), lo, p_.align_corners ? w - 1.0 : w - 0.5));
        r = static_cast<std::int64_t>(
            grid_reflect(static_cast<double>(r), lo, p_.align_corners ? h - 1.0 : h - 0.5));
        break;
      }
    }
    // Border padding, and the bounds check of every other tap: never outside the image.
    return std::clamp<std::int64_t>(r, 0, h - 1) * w + std::clamp<std::int64_t>(c, 0, w - 1);
  }

  template <typename T>
  void sample(const T* x, const T* grid, T* y) const {
    const std::int64_t n_ = x_.shape[0], c_ = x_.shape[1], h = x_.shape[2], w = x_.shape[3];
    const std::int64_t points = y_.shape[2] * y_.shape[3];
    const double x_lo = p_.align_corners ? 0.0 : -0.5, x_hi = p_.align_corners ? w - 1.0 : w - 0.5;
    const double y_lo = p_.align_corners ? 0.0 : -0.5, y_hi = p_.align_corners ? h - 1.0 : h - 0.5;
    for (std::int64_t n = 0; n < n_; ++n) {
      for (std::int64_t pt = 0; pt < points; ++pt) {
        const double gx = grid[(n * points + pt) * 2], gy = grid[(n * points + pt) * 2 + 1];
        std::int64_t offsets[16];
        double weights[16];
        int taps = 0;
        if (!std::isfinite(gx) || !std::isfinite(gy)) {
          for (std::int64_t c = 0; c < c_; ++c) {
            y[(n * c_ + c) * points + pt] = std::numeric_limits<T>::quiet_NaN();
          }
          continue;
        }
        double fx = p_.align_corners ? (gx + 1) / 2 * (w - 1) : ((gx + 1) * w - 1) / 2;
        double fy = p_.align_corners ? (gy + 1) / 2 * (h - 1) : ((gy + 1) * h - 1) / 2;
        if (p_.mode == GridMode::kNearest) {
          fx = std::nearbyint(fx);
          fy = std::nearbyint(fy);
        }
        if (p_.mode == GridMode::kBicubic) {
          // Bicubic pads each of its 16 taps, not the point. Far points are brought near the
          // image without changing a tap: zeros and border see only edge (or zero) taps beyond a
          // few pixels, and reflection is periodic with an integer period.
          if (p_.padding == GridPadding::kReflection) {
            const double period_x = 2 * (x_hi - x_lo), period_y = 2 * (y_hi - y_lo);
            if (period_x > 0) fx -= period_x * std::floor((fx - x_lo) / period_x);
            if (period_y > 0) fy -= period_y * std::floor((fy - y_lo) / period_y);
          }
          // Within a period of the image already for reflection; a no-op clamp then, except for
          // a 1-pixel axis (period 0).
          fx = std::clamp(fx, -4.0, 2.0 * w + 3.0);
          fy = std::clamp(fy, -4.0, 2.0 * h + 3.0);
        } else if (fx < x_lo || fx > x_hi || fy < y_lo || fy > y_hi) {
          if (p_.padding == GridPadding::kBorder) {
            fx = std::clamp(fx, 0.0, w - 1.0);
            fy = std::clamp(fy, 0.0, h - 1.0);
          } else if (p_.padding == GridPadding::kReflection) {
            fx = grid_reflect(fx, x_lo, x_hi);
            fy = grid_reflect(fy, y_lo, y_hi);
          } else {
            // Zero padding: beyond a few pixels outside, every tap is zero however far the point.
            fx = std::clamp(fx, -4.0, w + 3.0);
            fy = std::clamp(fy, -4.0, h + 3.0);
          }
        }
        if (p_.mode == GridMode::kNearest) {
          offsets[0] = tap(static_cast<std::int64_t>(fy), static_cast<std::int64_t>(fx));
          weights[0] = 1.0;
          taps = 1;
        } else if (p_.mode == GridMode::kBilinear) {
          const double x1 = std::floor(fx), y1 = std::floor(fy);
          const double dx1 = fx - x1, dy1 = fy - y1;
          const auto ix = static_cast<std::int64_t>(x1), iy = static_cast<std::int64_t>(y1);
          for (int r = 0; r < 2; ++r) {
            for (int c = 0; c < 2; ++c) {
              offsets[taps] = tap(iy + r, ix + c);
              weights[taps++] = (r ? dy1 : 1 - dy1) * (c ? dx1 : 1 - dx1);
            }
          }
        } else {
          const double x0 = std::floor(fx) - 1, y0 = std::floor(fy) - 1;
          double cx[4], cy[4];
          grid_cubic_coeffs(fx - x0 - 1, cx);
          grid_cubic_coeffs(fy - y0 - 1, cy);
          const auto ix = static_cast<std::int64_t>(x0), iy = static_cast<std::int64_t>(y0);
          for (int r = 0; r < 4; ++r) {
            for (int c = 0; c < 4; ++c) {
              offsets[taps] = tap(iy + r, ix + c);
              weights[taps++] = cy[r] * cx[c];
            }
          }
        }
        for (std::int64_t c = 0; c < c_; ++c) {
          const T* plane = x + (n * c_ + c) * h * w;
          double acc = 0;
          for (int t = 0; t < taps; ++t) {
            if (offsets[t] >= 0) acc += weights[t] * static_cast<double>(plane[offsets[t]]);
          }
          y[(n * c_ + c) * points + pt] = static_cast<T>(acc);
        }
      }
    }
  }

  std::string tag_;
  TensorInfo x_;
  TensorInfo grid_;
  TensorInfo y_;
  GridParams p_;
};

}  // namespace

Prepared prepare_grid_sample(const PrepareContext& ctx) {
  ctx.allow_attributes({"align_corners", "mode", "padding_mode"});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  require_static_shape(ctx, 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& grid = ctx.input(1);
  if (grid.dtype != x.dtype) ctx.unsupported("grid and X must have the same dtype");
  if (x.shape.size() != 4) {
    ctx.unsupported("only 4-D input (N, C, H, W) is implemented, X is " + shape_to_string(x.shape));
  }
  if (grid.shape.size() != 4 || grid.shape[0] != x.shape[0] || grid.shape[3] != 2) {
    ctx.fail("grid " + shape_to_string(grid.shape) + " must be (N, H_out, W_out, 2) with N " +
             std::to_string(x.shape[0]));
  }
  if (x.shape[2] < 1 || x.shape[3] < 1) ctx.fail("X must have H, W >= 1");
  GridParams p;
  const std::int64_t align = ctx.attr_int("align_corners", 0);
  if (align != 0 && align != 1) ctx.fail("align_corners must be 0 or 1");
  p.align_corners = align == 1;
  const std::string mode = ctx.attr_string("mode", "bilinear");
  if (mode == "bilinear") {
    p.mode = GridMode::kBilinear;
  } else if (mode == "nearest") {
    p.mode = GridMode::kNearest;
  } else if (mode == "bicubic") {
    p.mode = GridMode::kBicubic;
  } else {
    ctx.unsupported("mode '" + mode + "' (bilinear, nearest, bicubic are implemented)");
  }
  const std::string padding = ctx.attr_string("padding_mode", "zeros");
  if (padding == "zeros") {
    p.padding = GridPadding::kZeros;
  } else if (padding == "border") {
    p.padding = GridPadding::kBorder;
  } else if (padding == "reflection") {
    p.padding = GridPadding::kReflection;
  } else {
    ctx.fail("unknown padding_mode '" + padding + "'");
  }
  Prepared out;
  out.outputs = {TensorInfo{x.dtype, {x.shape[0], x.shape[1], grid.shape[1], grid.shape[2]}}};
  out.kernel = std::make_unique<GridSampleKernel>(node_tag(ctx), x, grid, out.outputs[0], p);
  return out;
}

}  // namespace dnnfi
