// LayerNormalization (opset 17) and InstanceNormalization (opset 6). Both normalise independent
// rows: statistics are computed in double, two-pass (mean, then mean of squared deviations), each
// row by one thread in a fixed order, so results do not depend on the thread count.
#include <cmath>

#include "ops/ops.h"

namespace dnnfi {

namespace {

struct RowStats {
  double mean;
  double inv_std;  // 1 / sqrt(var + epsilon)
};

// Two passes (mean, then mean squared deviation), each summed in kLanes interleaved double
// partial sums combined in a fixed order: the loops vectorise and the result depends only on n.
template <typename T>
RowStats row_stats(const T* x, std::int64_t n, double epsilon) {
  constexpr int kLanes = 8;
  double lanes[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(x[i + j]);
  }
  for (; i < n; ++i) lanes[0] += static_cast<double>(x[i]);
  double sum = 0.0;
  for (int j = 0; j < kLanes; ++j) sum += lanes[j];
  const double mean = sum / static_cast<double>(n);
  double sq[kLanes] = {};
  for (i = 0; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const double d = static_cast<double>(x[i + j]) - mean;
      sq[j] += d * d;
    }
  }
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    sq[0] += d * d;
  }
  double sqsum = 0.0;
  for (int j = 0; j < kLanes; ++j) sqsum += sq[j];
  const double var = sqsum / static_cast<double>(n);
  return {mean, 1.0 / std::sqrt(var + epsilon)};
}

// `shape` without its leading 1s.
Shape strip_leading_ones(const Shape& shape) {
  std::size_t i = 0;
  while (i < shape.size() && shape[i] == 1) ++i;
  return Shape(shape.begin() + static_cast<std::ptrdiff_t>(i), shape.end());
}

}  // namespace

// Y = (X - mean) / sqrt(var + epsilon) * Scale + B, statistics over axes [axis, rank).
Prepared prepare_layer_normalization(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis", "epsilon", "stash_type"});
  ctx.require_inputs(2, 3);
  ctx.require_dtype(0, {DType::kFloat32});
  ctx.require_dtype(1, {DType::kFloat32});
  const bool has_bias = ctx.has_input(2);
  if (has_bias) ctx.require_dtype(2, {DType::kFloat32});
  const std::int64_t stash_type = ctx.attr_int("stash_type", 1);
  if (stash_type != 1) {
    ctx.unsupported("stash_type=" + std::to_string(stash_type) +
                    " is not supported; only 1 (float32)");
  }
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  std::int64_t axis = ctx.attr_int("axis", -1);
  if (axis < -rank || axis >= rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  const Shape norm_shape(x.shape.begin() + axis, x.shape.end());
  const std::int64_t cols = shape_numel(norm_shape);
  const std::int64_t rows = shape_numel(Shape(x.shape.begin(), x.shape.begin() + axis));
  // Scale and B: either one value or exactly the normalised shape (leading 1s allowed).
  auto param_is_scalar = [&](std::size_t i) {
    const TensorInfo& info = ctx.input(i);
    if (info.numel() == 1) return true;
    if (strip_leading_ones(info.shape) != strip_leading_ones(norm_shape) ||
        info.shape.size() > norm_shape.size()) {
      ctx.unsupported("input " + std::to_string(i) + " shape " + shape_to_string(info.shape) +
                      " is not supported: must be one value or the normalised shape " +
                      shape_to_string(norm_shape));
    }
    return false;
  };
  const bool scale_scalar = param_is_scalar(1);
  const bool bias_scalar = has_bias ? param_is_scalar(2) : true;
  const double epsilon = ctx.attr_float("epsilon", 1e-5f);

  Prepared p;
  p.outputs.assign(ctx.num_outputs(), TensorInfo{});
  if (ctx.num_outputs() < 1 || ctx.num_outputs() > 3) ctx.fail("expects 1..3 outputs");
  p.outputs[0] = x;
  Shape stat_shape = x.shape;
  for (std::int64_t d = axis; d < rank; ++d) stat_shape[static_cast<std::size_t>(d)] = 1;
  bool want_stat[2] = {false, false};
  for (std::size_t i = 1; i < ctx.num_outputs(); ++i) {
    if (ctx.node().outputs[i] == kNoValue) continue;
    want_stat[i - 1] = true;
    p.outputs[i] = TensorInfo{DType::kFloat32, stat_shape};
  }
  const bool want_mean = want_stat[0];
  const bool want_inv = want_stat[1];
  p.kernel = make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    const float* xd = in[0]->data<float>();
    const float* scale = in[1]->data<float>();
    const float* bias = has_bias ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    float* mean_out = want_mean && out.size() > 1 && out[1] ? out[1]->data<float>() : nullptr;
    float* inv_out = want_inv && out.size() > 2 && out[2] ? out[2]->data<float>() : nullptr;
    const bool parallel = rows > 1 && rows * cols >= (1 << 14);
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* xr = xd + r * cols;
      float* yr = y + r * cols;
      const RowStats st = row_stats(xr, cols, epsilon);
      const auto mean = static_cast<float>(st.mean);
      const auto inv = static_cast<float>(st.inv_std);
      if (mean_out) mean_out[r] = mean;
      if (inv_out) inv_out[r] = inv;
      if (!scale_scalar && bias != nullptr && !bias_scalar) {
        for (std::int64_t i = 0; i < cols; ++i) yr[i] = (xr[i] - mean) * inv * scale[i] + bias[i];
      } else {
        for (std::int64_t i = 0; i < cols; ++i) {
          const float s = scale[scale_scalar ? 0 : i];
          const float b = bias ? bias[bias_scalar ? 0 : i] : 0.0f;
          yr[i] = (xr[i] - mean) * inv * s + b;
        }
      }
    }
    return Status::ok();
  });
  return p;
}

// y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c], statistics per (n, c) over the spatial
// dims.
// InstanceNormalization-1 differs from version 6 only in the legacy consumed_inputs.
Prepared prepare_instance_normalization(const PrepareContext& ctx) {
  ctx.allow_attributes({"epsilon", ctx.opset() < 6 ? "consumed_inputs" : ""});
  ctx.require_inputs(3, 3);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  const TensorInfo& x = ctx.input(0);
  for (std::size_t i = 1; i < 3; ++i) {
    if (ctx.input(i).dtype != x.dtype) {
      ctx.fail("input " + std::to_string(i) + " must have the dtype of X (" +
               std::string(dtype_name(x.dtype)) + ")");
    }
  }
  if (x.shape.size() < 3) {
    ctx.fail("X must have rank >= 3 (N, C, D1...), has shape " + shape_to_string(x.shape));
  }
  const std::int64_t channels = x.shape[1];
  for (std::size_t i = 1; i < 3; ++i) {
    if (ctx.input(i).shape != Shape{channels}) {
      ctx.fail("input " + std::to_string(i) + " must have shape [" + std::to_string(channels) +
               "], has " + shape_to_string(ctx.input(i).shape));
    }
  }
  const std::int64_t planes = x.shape[0] * channels;
  const std::int64_t inner = shape_numel(Shape(x.shape.begin() + 2, x.shape.end()));
  const double epsilon = ctx.attr_float("epsilon", 1e-5f);
  Prepared p;
  p.outputs = {x};
  auto body = [=]<typename T>(const Tensor& xt, const Tensor& st, const Tensor& bt, Tensor& yt) {
    const T* xd = xt.data<T>();
    const T* scale = st.data<T>();
    const T* bias = bt.data<T>();
    T* y = yt.data<T>();
    const bool parallel = planes > 1 && planes * inner >= (1 << 14);
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t pl = 0; pl < planes; ++pl) {
      const std::int64_t c = pl % channels;
      const T* xp = xd + pl * inner;
      T* yp = y + pl * inner;
      const RowStats rs = row_stats(xp, inner, epsilon);
      // Subtract the mean before scaling: folding it into the offset loses precision when the
      // mean is large against the deviation.
      const auto m = static_cast<T>(rs.mean);
      const auto a = static_cast<T>(rs.inv_std * static_cast<double>(scale[c]));
      const T b = bias[c];
      for (std::int64_t i = 0; i < inner; ++i) yp[i] = (xp[i] - m) * a + b;
    }
  };
  if (x.dtype == DType::kFloat32) {
    p.kernel = make_kernel([body](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      body.template operator()<float>(*in[0], *in[1], *in[2], *out[0]);
      return Status::ok();
    });
  } else {
    p.kernel = make_kernel([body](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      body.template operator()<double>(*in[0], *in[1], *in[2], *out[0]);
      return Status::ok();
    });
  }
  return p;
}

}  // namespace dnnfi
