// MeanVarianceNormalization (opset 9, 13): y = (x - mean) / (sqrt(variance) + 1e-9), with mean and
// variance taken over `axes` (default [0, 2, 3]).
//
// The ONNX definition computes variance as E[x^2] - E[x]^2 in the element type; this kernel takes
// the mean of squared deviations in double (same value, never negative from rounding). Each group
// of kept indices is normalised in three passes over its reduced elements; no scratch memory.
#include <array>
#include <cmath>
#include <vector>

#include "ops/ops.h"

namespace dnnfi {

namespace {

constexpr std::size_t kMvnMaxRank = 16;

// Dims split into kept and reduced, each with its input strides.
struct MvnPlan {
  std::vector<std::int64_t> kept_size, kept_stride, red_size, red_stride;
  std::int64_t groups = 1;  // product of kept sizes
  std::int64_t count = 1;   // product of reduced sizes
};

// Calls f(offset) for every reduced element of the group at `base`.
template <typename F>
void for_each_in_group(const MvnPlan& p, std::int64_t base, F&& f) {
  const std::size_t nd = p.red_size.size();
  std::array<std::int64_t, kMvnMaxRank> idx{};
  std::int64_t off = base;
  for (std::int64_t i = 0; i < p.count; ++i) {
    f(off);
    for (std::size_t k = nd; k-- > 0;) {
      off += p.red_stride[k];
      if (++idx[k] < p.red_size[k]) break;
      off -= p.red_stride[k] * p.red_size[k];
      idx[k] = 0;
    }
  }
}

template <typename T>
void mvn_run(const T* x, T* y, const MvnPlan& p) {
  if (p.count == 0) return;
  for (std::int64_t g = 0; g < p.groups; ++g) {
    std::int64_t base = 0;
    std::int64_t rest = g;
    for (std::size_t k = p.kept_size.size(); k-- > 0;) {
      base += (rest % p.kept_size[k]) * p.kept_stride[k];
      rest /= p.kept_size[k];
    }
    double sum = 0.0;
    for_each_in_group(p, base, [&](std::int64_t off) { sum += static_cast<double>(x[off]); });
    const double mean = sum / static_cast<double>(p.count);
    double sq = 0.0;
    for_each_in_group(p, base, [&](std::int64_t off) {
      const double d = static_cast<double>(x[off]) - mean;
      sq += d * d;
    });
    const double denom = std::sqrt(sq / static_cast<double>(p.count)) + 1e-9;
    for_each_in_group(p, base, [&](std::int64_t off) {
      y[off] = static_cast<T>((static_cast<double>(x[off]) - mean) / denom);
    });
  }
}

}  // namespace

Prepared prepare_mean_variance_normalization(const PrepareContext& ctx) {
  ctx.allow_attributes({"axes"});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  if (static_cast<std::size_t>(rank) > kMvnMaxRank) ctx.unsupported("input rank above 16");
  const std::vector<std::int64_t> axes = ctx.attr_ints("axes", {0, 2, 3});
  std::vector<bool> reduced(static_cast<std::size_t>(rank), false);
  for (std::int64_t a : axes) {
    if (a < -rank || a >= rank) {
      ctx.fail("axis " + std::to_string(a) + " is out of range for input shape " +
               shape_to_string(x.shape));
    }
    const auto d = static_cast<std::size_t>(a < 0 ? a + rank : a);
    if (reduced[d]) ctx.fail("axes repeat axis " + std::to_string(a));
    reduced[d] = true;
  }
  MvnPlan plan;
  const std::vector<std::int64_t> strides = shape_strides(x.shape);
  for (std::size_t d = 0; d < x.shape.size(); ++d) {
    if (reduced[d]) {
      plan.red_size.push_back(x.shape[d]);
      plan.red_stride.push_back(strides[d]);
      plan.count *= x.shape[d];
    } else {
      plan.kept_size.push_back(x.shape[d]);
      plan.kept_stride.push_back(strides[d]);
      plan.groups *= x.shape[d];
    }
  }
  Prepared p;
  p.outputs = {x};
  if (x.dtype == DType::kFloat32) {
    p.kernel = make_kernel([plan](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      mvn_run<float>(in[0]->data<float>(), out[0]->data<float>(), plan);
      return Status::ok();
    });
  } else {
    p.kernel = make_kernel([plan](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      mvn_run<double>(in[0]->data<double>(), out[0]->data<double>(), plan);
      return Status::ok();
    });
  }
  return p;
}

}  // namespace dnnfi
