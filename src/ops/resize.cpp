// Resize (opsets 10, 11, 13) and Upsample (opsets 7, 9).
//
// Every output coordinate is mapped back to the input, axis by axis, once at prepare (scales and
// sizes must be constant): nearest modes give one input index per output index, linear and cubic
// give 2 or 4 taps (index, weight) per output index, computed in double as the ONNX reference
// does (taps outside the input read the edge value; exclude_outside drops them and renormalises).
// An axis whose taps all reduce to one input element with weight 1 (e.g. scale 1) keeps a single
// tap. The kernel walks output rows (all axes but the last), expands the taps of the leading
// axes into at most kMaxRowTaps (offset, weight) pairs on the stack and interpolates the last
// axis; each output element is written by one thread.
//
// Opset 10 Resize and Upsample use the asymmetric transform and, for nearest, ONNX Runtime's
// original rule (floor when upsampling, ceil when downsampling an axis).
//
// Unsupported (load-time error): tf_crop_and_resize (and so roi), half_pixel_symmetric,
// antialias, axes, keep_aspect_ratio_policy, exclude_outside with nearest, linear/cubic on
// non-float dtypes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ops/ops.h"

namespace dnnfi {

namespace {

constexpr std::size_t kMaxRank = 8;
constexpr int kMaxRowTaps = 256;

enum class InterpMode { kNearest, kLinear, kCubic };
enum class CoordMode { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelNn };
enum class NearestMode { kSimple, kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeSpec {
  InterpMode mode = InterpMode::kNearest;
  CoordMode coord = CoordMode::kAsymmetric;
  NearestMode nearest = NearestMode::kSimple;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  std::vector<double> scales;  // per axis; from sizes: out / in
  Shape in_shape;
  Shape out_shape;
};

double original_coordinate(const ResizeSpec& s, std::size_t d, std::int64_t o) {
  const double scale = s.scales[d];
  const auto in = static_cast<double>(s.in_shape[d]);
  const auto x = static_cast<double>(o);
  switch (s.coord) {
    case CoordMode::kHalfPixel:
      return (x + 0.5) / scale - 0.5;
    case CoordMode::kPytorchHalfPixel:
      return s.out_shape[d] > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case CoordMode::kAlignCorners: {
      // The ONNX reference uses the unrounded output length scale * in here.
      const double out_len = scale * in;
      return out_len == 1.0 ? 0.0 : x * (in - 1.0) / (out_len - 1.0);
    }
    case CoordMode::kAsymmetric:
      return x / scale;
    case CoordMode::kTfHalfPixelNn:
      return (x + 0.5) / scale;
  }
  return 0.0;
}

std::int64_t clamp_index(std::int64_t i, std::int64_t n) {
  return std::clamp<std::int64_t>(i, 0, n - 1);
}

std::int64_t nearest_index(const ResizeSpec& s, std::size_t d, double x) {
  const double fl = std::floor(x);
  const double ratio = x - fl;
  double r = fl;
  switch (s.nearest) {
    case NearestMode::kSimple:
      r = s.scales[d] < 1.0 ? std::ceil(x) : std::trunc(x);
      break;
    case NearestMode::kRoundPreferFloor:
      r = ratio <= 0.5 ? fl : fl + 1.0;
      break;
    case NearestMode::kRoundPreferCeil:
      r = ratio < 0.5 ? fl : fl + 1.0;
      break;
    case NearestMode::kFloor:
      r = fl;
      break;
    case NearestMode::kCeil:
      r = std::ceil(x);
      break;
  }
  // Far outside the input (absurd scales) saturates before the clamp.
  r = std::clamp(r, -1.0, static_cast<double>(s.in_shape[d]));
  return clamp_index(static_cast<std::int64_t>(r), s.in_shape[d]);
}

// Taps of one axis: for output index o, indices idx[o*taps + k] (already multiplied by the
// input stride) with weights w[o*taps + k].
struct AxisTaps {
  int taps = 1;
  std::vector<std::int64_t> idx;
  std::vector<double> w;
};

AxisTaps build_axis_taps(const PrepareContext& ctx, const ResizeSpec& s, std::size_t d,
                         std::int64_t stride) {
  const std::int64_t in = s.in_shape[d];
  const std::int64_t out = s.out_shape[d];
  AxisTaps a;
  if (s.mode == InterpMode::kNearest) {
    a.idx.resize(static_cast<std::size_t>(out));
    for (std::int64_t o = 0; o < out; ++o) {
      a.idx[static_cast<std::size_t>(o)] =
          nearest_index(s, d, original_coordinate(s, d, o)) * stride;
    }
    a.w.assign(a.idx.size(), 1.0);
    return a;
  }
  const int taps = s.mode == InterpMode::kLinear ? 2 : 4;
  a.taps = taps;
  a.idx.resize(static_cast<std::size_t>(out * taps));
  a.w.resize(static_cast<std::size_t>(out * taps));
  bool single = true;  // every output index reads one input element with weight 1
  for (std::int64_t o = 0; o < out; ++o) {
    double x = original_coordinate(s, d, o);
    x = std::clamp(x, -4.0, static_cast<double>(in) + 4.0);  // taps beyond the edge read the edge
    // The reference prefers the left neighbours: an integral x gives ratio 1, not 0.
    double base = std::floor(x);
    double ratio = x - base;
    if (ratio == 0.0) {
      base -= 1.0;
      ratio = 1.0;
    }
    double coeff[4];
    std::int64_t first;
    if (taps == 2) {
      coeff[0] = 1.0 - ratio;
      coeff[1] = ratio;
      first = static_cast<std::int64_t>(base);
    } else {
      const double A = s.cubic_a;
      const double r1 = ratio + 1.0;
      const double q = 1.0 - ratio;
      const double q1 = q + 1.0;
      coeff[0] = ((A * r1 - 5.0 * A) * r1 + 8.0 * A) * r1 - 4.0 * A;
      coeff[1] = ((A + 2.0) * ratio - (A + 3.0)) * ratio * ratio + 1.0;
      coeff[2] = ((A + 2.0) * q - (A + 3.0)) * q * q + 1.0;
      coeff[3] = ((A * q1 - 5.0 * A) * q1 + 8.0 * A) * q1 - 4.0 * A;
      first = static_cast<std::int64_t>(base) - 1;
    }
    if (s.exclude_outside) {
      double sum = 0.0;
      for (int k = 0; k < taps; ++k) {
        const std::int64_t i = first + k;
        if (i < 0 || i >= in) coeff[k] = 0.0;
        sum += coeff[k];
      }
      if (sum == 0.0)
        ctx.fail("exclude_outside leaves no input for output index " + std::to_string(o));
      for (int k = 0; k < taps; ++k) coeff[k] /= sum;
    }
    int nonzero = 0;
    for (int k = 0; k < taps; ++k) {
      const auto j = static_cast<std::size_t>(o * taps + k);
      a.idx[j] = clamp_index(first + k, in) * stride;
      a.w[j] = coeff[k];
      if (coeff[k] != 0.0) {
        ++nonzero;
        if (coeff[k] != 1.0) single = false;
      }
    }
    if (nonzero != 1) single = false;
  }
  if (single) {
    AxisTaps one;
    for (std::int64_t o = 0; o < out; ++o) {
      for (int k = 0; k < taps; ++k) {
        const auto j = static_cast<std::size_t>(o * taps + k);
        if (a.w[j] != 0.0) one.idx.push_back(a.idx[j]);
      }
    }
    one.w.assign(one.idx.size(), 1.0);
    return one;
  }
  return a;
}

// Everything the kernel needs, immutable after prepare.
struct ResizePlan {
  std::size_t rank = 0;
  Shape out_shape;
  std::vector<AxisTaps> axes;
  bool nearest = true;
  // Run-time check of the scales/sizes input against the value the plan was built from.
  int checked_input = -1;
  std::vector<unsigned char> checked_bytes;
  std::string node_name;
};

Status check_shape_input(const ResizePlan& p, std::span<const Tensor* const> in) {
  if (p.checked_input < 0) return Status::ok();
  const auto i = static_cast<std::size_t>(p.checked_input);
  const Tensor* t = i < in.size() ? in[i] : nullptr;
  if (t == nullptr || t->nbytes() != p.checked_bytes.size() ||
      (t->nbytes() > 0 && std::memcmp(t->raw(), p.checked_bytes.data(), t->nbytes()) != 0)) {
    return Status::error("node '" + p.node_name + "': input " + std::to_string(i) +
                         " (scales/sizes) differs from its value at load time; the output shape " +
                         shape_to_string(p.out_shape) + " was prepared for that value");
  }
  return Status::ok();
}

// Output coordinate of row r (all axes but the last) -> input offset of its nearest element.
template <typename E>
void resize_nearest_run(const E* x, E* y, const ResizePlan& p) {
  const std::size_t last = p.rank - 1;
  const std::int64_t width = p.out_shape[last];
  const std::int64_t rows = shape_numel(p.out_shape) / width;
  const std::int64_t* last_idx = p.axes[last].idx.data();
  const bool parallel = rows > 1 && rows * width >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t rem = r;
    std::int64_t base = 0;
    for (std::size_t d = last; d-- > 0;) {
      base += p.axes[d].idx[static_cast<std::size_t>(rem % p.out_shape[d])];
      rem /= p.out_shape[d];
    }
    E* yr = y + r * width;
    for (std::int64_t i = 0; i < width; ++i) yr[i] = x[base + last_idx[i]];
  }
}

// One output row: for each of the n row taps (input row offset, weight), adds weight times the
// kL-tap interpolation along the last axis, in chunks accumulated in double on the stack.
template <typename T, int kL>
void interp_row(const T* x, T* yr, std::int64_t width, const std::int64_t* roff, const double* rw,
                int n, const std::int64_t* li, const double* lw) {
  constexpr std::int64_t kChunk = 256;
  double acc[kChunk];
  for (std::int64_t i0 = 0; i0 < width; i0 += kChunk) {
    const std::int64_t w = std::min(kChunk, width - i0);
    std::fill(acc, acc + w, 0.0);
    for (int t = 0; t < n; ++t) {
      const T* xr = x + roff[t];
      const double wt = rw[t];
      for (std::int64_t i = 0; i < w; ++i) {
        const std::int64_t* ii = li + (i0 + i) * kL;
        const double* ww = lw + (i0 + i) * kL;
        double v = 0.0;
        for (int k = 0; k < kL; ++k) v += ww[k] * static_cast<double>(xr[ii[k]]);
        acc[i] += wt * v;
      }
    }
    for (std::int64_t i = 0; i < w; ++i) yr[i0 + i] = static_cast<T>(acc[i]);
  }
}

template <typename T>
void resize_interp_run(const T* x, T* y, const ResizePlan& p) {
  const std::size_t last = p.rank - 1;
  const std::int64_t width = p.out_shape[last];
  const std::int64_t rows = shape_numel(p.out_shape) / width;
  const AxisTaps& lt = p.axes[last];
  const int ltaps = lt.taps;
  const bool parallel = rows > 1 && rows * width >= (1 << 14);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t coord[kMaxRank];
    std::int64_t rem = r;
    for (std::size_t d = last; d-- > 0;) {
      coord[d] = rem % p.out_shape[d];
      rem /= p.out_shape[d];
    }
    std::int64_t roff[kMaxRowTaps];
    double rw[kMaxRowTaps];
    int n = 1;
    roff[0] = 0;
    rw[0] = 1.0;
    for (std::size_t d = 0; d < last; ++d) {
      const AxisTaps& a = p.axes[d];
      const std::size_t j0 = static_cast<std::size_t>(coord[d] * a.taps);
      // Expand in place from the back: entry t becomes entries t*taps .. t*taps+taps-1.
      for (int t = n; t-- > 0;) {
        for (int k = a.taps; k-- > 0;) {
          roff[t * a.taps + k] = roff[t] + a.idx[j0 + static_cast<std::size_t>(k)];
          rw[t * a.taps + k] = rw[t] * a.w[j0 + static_cast<std::size_t>(k)];
        }
      }
      n *= a.taps;
    }
    T* yr = y + r * width;
    const std::int64_t* li = lt.idx.data();
    const double* lw = lt.w.data();
    switch (ltaps) {
      case 1:
        interp_row<T, 1>(x, yr, width, roff, rw, n, li, lw);
        break;
      case 2:
        interp_row<T, 2>(x, yr, width, roff, rw, n, li, lw);
        break;
      default:
        interp_row<T, 4>(x, yr, width, roff, rw, n, li, lw);
        break;
    }
  }
}

template <typename E>
std::unique_ptr<Kernel> make_resize_kernel(ResizePlan plan) {
  return make_kernel(
      [plan = std::move(plan)](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
        DNNFI_RETURN_IF_ERROR(check_shape_input(plan, in));
        if (out[0]->numel() == 0) return Status::ok();
        const E* x = static_cast<const E*>(in[0]->raw());
        E* y = static_cast<E*>(out[0]->raw());
        if (plan.rank == 0) {
          y[0] = x[0];
        } else if (plan.nearest) {
          resize_nearest_run<E>(x, y, plan);
        } else {
          resize_interp_run<E>(x, y, plan);
        }
        return Status::ok();
      });
}

// Validates the spec (scales/out_shape filled in), builds the plan and the kernel.
Prepared finish_resize(const PrepareContext& ctx, ResizeSpec s, int checked_input) {
  const TensorInfo& x = ctx.input(0);
  const std::size_t rank = x.shape.size();
  if (rank > kMaxRank)
    ctx.unsupported("input rank " + std::to_string(rank) + " > 8 is not supported");
  if (s.mode != InterpMode::kNearest && x.dtype != DType::kFloat32 && x.dtype != DType::kFloat64) {
    ctx.unsupported("linear/cubic interpolation of dtype " + std::string(dtype_name(x.dtype)) +
                    " is not supported (float32, float64 only)");
  }
  if (dtype_size(x.dtype) == 0) ctx.unsupported("unsupported dtype");
  ResizePlan plan;
  plan.rank = rank;
  plan.out_shape = s.out_shape;
  plan.nearest = s.mode == InterpMode::kNearest;
  plan.node_name = ctx.node().name;
  plan.checked_input = checked_input;
  if (checked_input >= 0) {
    const Tensor& t = ctx.require_constant(static_cast<std::size_t>(checked_input));
    const auto* b = static_cast<const unsigned char*>(t.raw());
    plan.checked_bytes.assign(b, b + t.nbytes());
  }
  if (shape_numel(s.out_shape) > 0 && rank > 0) {
    const std::vector<std::int64_t> strides = shape_strides(s.in_shape);
    int row_taps = 1;
    for (std::size_t d = 0; d < rank; ++d) {
      if (s.in_shape[d] == 0) ctx.fail("cannot resize an empty axis to a non-empty one");
      plan.axes.push_back(build_axis_taps(ctx, s, d, strides[d]));
      if (d + 1 < rank) row_taps *= plan.axes[d].taps;
    }
    if (row_taps > kMaxRowTaps) ctx.fail("too many interpolated axes");
  }
  Prepared p;
  p.outputs.assign(ctx.num_outputs(), TensorInfo{});
  p.outputs[0] = TensorInfo{x.dtype, s.out_shape};
  if (x.dtype == DType::kFloat32) {
    p.kernel = make_resize_kernel<float>(std::move(plan));
  } else if (x.dtype == DType::kFloat64) {
    p.kernel = make_resize_kernel<double>(std::move(plan));
  } else if (dtype_size(x.dtype) == 1) {
    p.kernel = make_resize_kernel<std::uint8_t>(std::move(plan));
  } else if (dtype_size(x.dtype) == 2) {
    p.kernel = make_resize_kernel<std::uint16_t>(std::move(plan));
  } else if (dtype_size(x.dtype) == 4) {
    p.kernel = make_resize_kernel<std::uint32_t>(std::move(plan));
  } else {
    p.kernel = make_resize_kernel<std::uint64_t>(std::move(plan));
  }
  return p;
}

InterpMode parse_mode(const PrepareContext& ctx, bool allow_cubic) {
  const std::string mode = ctx.attr_string("mode", "nearest");
  if (mode == "nearest") return InterpMode::kNearest;
  if (mode == "linear") return InterpMode::kLinear;
  if (mode == "cubic" && allow_cubic) return InterpMode::kCubic;
  ctx.unsupported("mode '" + mode + "' is not supported");
}

// Scales -> output shape floor(in * scale) (in double, as the ONNX reference computes it).
void apply_scales(const PrepareContext& ctx, ResizeSpec& s, const std::vector<float>& scales,
                  bool upsample) {
  if (scales.size() != s.in_shape.size()) {
    ctx.fail("scales has " + std::to_string(scales.size()) + " values for an input of rank " +
             std::to_string(s.in_shape.size()));
  }
  s.out_shape.clear();
  s.scales.clear();
  for (std::size_t d = 0; d < scales.size(); ++d) {
    const double sc = scales[d];
    if (!(sc > 0.0) || !std::isfinite(sc) || (upsample && sc < 1.0)) {
      ctx.fail("scale " + std::to_string(sc) + " on axis " + std::to_string(d) +
               (upsample ? " must be >= 1" : " must be > 0"));
    }
    const double out = std::floor(sc * static_cast<double>(s.in_shape[d]));
    if (out > 1e15) ctx.fail("scale " + std::to_string(sc) + " gives an absurd output size");
    s.scales.push_back(sc);
    s.out_shape.push_back(static_cast<std::int64_t>(out));
  }
}

std::vector<float> scales_from_tensor(const PrepareContext& ctx, std::size_t i) {
  ctx.require_dtype(i, {DType::kFloat32});
  const Tensor& t = ctx.require_constant(i);
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

}  // namespace

Prepared prepare_resize(const PrepareContext& ctx) {
  const std::int64_t opset = ctx.opset();
  ResizeSpec s;
  s.in_shape = ctx.input(0).shape;
  if (opset < 11) {
    ctx.allow_attributes({"mode"});
    ctx.require_inputs(2, 2);
    s.mode = parse_mode(ctx, false);
    apply_scales(ctx, s, scales_from_tensor(ctx, 1), false);
    return finish_resize(ctx, std::move(s), 1);
  }
  ctx.allow_attributes({"coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                        "extrapolation_value", "mode", "nearest_mode"});
  ctx.require_inputs(opset < 13 ? 3 : 1, 4);
  s.mode = parse_mode(ctx, true);
  const std::string coord = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") {
    s.coord = CoordMode::kHalfPixel;
  } else if (coord == "pytorch_half_pixel") {
    s.coord = CoordMode::kPytorchHalfPixel;
  } else if (coord == "align_corners") {
    s.coord = CoordMode::kAlignCorners;
  } else if (coord == "asymmetric") {
    s.coord = CoordMode::kAsymmetric;
  } else if (coord == "tf_half_pixel_for_nn") {
    s.coord = CoordMode::kTfHalfPixelNn;
  } else {
    ctx.unsupported("coordinate_transformation_mode '" + coord + "' is not supported");
  }
  const std::string nearest = ctx.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") {
    s.nearest = NearestMode::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    s.nearest = NearestMode::kRoundPreferCeil;
  } else if (nearest == "floor") {
    s.nearest = NearestMode::kFloor;
  } else if (nearest == "ceil") {
    s.nearest = NearestMode::kCeil;
  } else {
    ctx.unsupported("nearest_mode '" + nearest + "' is not supported");
  }
  s.cubic_a = ctx.attr_float("cubic_coeff_a", -0.75f);
  s.exclude_outside = ctx.attr_int("exclude_outside", 0) != 0;
  if (s.exclude_outside && s.mode == InterpMode::kNearest) {
    ctx.unsupported("exclude_outside=1 is not supported with mode 'nearest'");
  }
  // extrapolation_value only matters for tf_crop_and_resize, which is rejected above.
  const bool has_scales = ctx.has_input(2) && ctx.require_constant(2).numel() > 0;
  const bool has_sizes = ctx.has_input(3);
  if (has_scales == has_sizes) {
    ctx.fail(has_scales ? "scales and sizes are both given; exactly one is allowed"
                        : "neither scales nor sizes is given");
  }
  if (has_scales) {
    apply_scales(ctx, s, scales_from_tensor(ctx, 2), false);
    return finish_resize(ctx, std::move(s), 2);
  }
  ctx.require_dtype(3, {DType::kInt64});
  const std::vector<std::int64_t> sizes = ctx.require_constant(3).to_int64_vector();
  if (sizes.size() != s.in_shape.size()) {
    ctx.fail("sizes has " + std::to_string(sizes.size()) + " values for an input of rank " +
             std::to_string(s.in_shape.size()));
  }
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0) ctx.fail("sizes[" + std::to_string(d) + "] is negative");
    const std::int64_t in = s.in_shape[d];
    s.scales.push_back(in == 0 ? 1.0 : static_cast<double>(sizes[d]) / static_cast<double>(in));
  }
  s.out_shape = sizes;
  return finish_resize(ctx, std::move(s), 3);
}

Prepared prepare_upsample(const PrepareContext& ctx) {
  ResizeSpec s;
  s.in_shape = ctx.input(0).shape;
  std::vector<float> scales;
  int checked_input = -1;
  if (ctx.opset() < 9) {
    ctx.allow_attributes({"mode", "scales"});
    ctx.require_inputs(1, 1);
    if (!ctx.has_attr("scales")) ctx.fail("attribute 'scales' is required");
    scales = ctx.attr_floats("scales");
  } else {
    ctx.allow_attributes({"mode"});
    ctx.require_inputs(2, 2);
    scales = scales_from_tensor(ctx, 1);
    checked_input = 1;
  }
  s.mode = parse_mode(ctx, false);
  apply_scales(ctx, s, scales, true);
  return finish_resize(ctx, std::move(s), checked_input);
}

}  // namespace dnnfi
