// Softmax and LogSoftmax (opsets 1, 11, 13).
//
// Opset < 13: the input is coerced to 2-D at `axis` (default 1) and each row of
// prod(shape[axis:]) elements is normalised. Opset >= 13: normalised along the single axis
// `axis` (default -1). Both are expressed as a view [outer, n, inner] normalised along n.
// The maximum is subtracted first (numerically stable); sums are accumulated in double, each
// row or column by one thread in a fixed order, so results do not depend on the thread count.
// The optimised float kernel uses fast_math::exp (vectorised), and on rows (inner == 1) the AVX2
// kernel of softmax_avx2.h where the CPU has AVX2 + FMA; the reference uses std::exp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/fast_math.h"
#include "ops/ops.h"
#include "ops/softmax_avx2.h"

namespace dnnfi {

namespace {

struct SoftmaxView {
  std::int64_t outer = 1;
  std::int64_t n = 1;
  std::int64_t inner = 1;
};

// exp in the working precision: float uses the auto-vectorisable fast_math::exp (1 ulp).
inline float exp_of(float v) { return fast_math::exp(v); }
inline double exp_of(double v) { return std::exp(v); }

constexpr int kLanes = 8;

// Sum of v[0..n) in double, in kLanes interleaved partial sums combined in a fixed order: the
// loop vectorises and the result depends only on n.
template <typename T>
double lane_sum(const T* v, std::int64_t n) {
  double lanes[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(v[i + j]);
  }
  for (; i < n; ++i) lanes[0] += static_cast<double>(v[i]);
  double sum = 0.0;
  for (int j = 0; j < kLanes; ++j) sum += lanes[j];
  return sum;
}

// Contiguous row of n elements. kLog selects LogSoftmax.
template <typename T, bool kLog>
void softmax_row(const T* x, T* y, std::int64_t n) {
  // The maximum does not depend on the order it is taken in, so a vectorised reduction is exact.
  // With a NaN in the row, m may or may not be NaN; either way every output is NaN (the NaN's exp
  // is NaN, hence the sum).
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (std::int64_t k = 0; k < n; ++k) m = x[k] > m ? x[k] : m;
  std::int64_t i = 0;
  if constexpr (kLog) {
    for (i = 0; i < n; ++i) y[i] = x[i] - m;
    // exp into a stack chunk, then its lane sum: two loops that vectorise separately (a loop
    // mixing the float exp and double sums does not).
    constexpr std::int64_t kChunk = 256;
    T e[kChunk];
    double sum = 0.0;
    for (std::int64_t i0 = 0; i0 < n; i0 += kChunk) {
      const std::int64_t w = std::min(kChunk, n - i0);
      for (std::int64_t j = 0; j < w; ++j) e[j] = exp_of(y[i0 + j]);
      sum += lane_sum(e, w);
    }
    const auto lse = static_cast<T>(std::log(sum));
    for (i = 0; i < n; ++i) y[i] -= lse;
  } else {
    for (i = 0; i < n; ++i) y[i] = exp_of(x[i] - m);
    const double inv = 1.0 / lane_sum(y, n);
    for (i = 0; i < n; ++i) y[i] = static_cast<T>(static_cast<double>(y[i]) * inv);
  }
}

// Columns [j0, j0 + width) of one [n, inner] block, normalised along n (strided rows).
template <typename T, bool kLog>
void softmax_columns(const T* x, T* y, std::int64_t n, std::int64_t inner, std::int64_t width) {
  constexpr int kChunk = 64;
  T m[kChunk];
  double s[kChunk];
  std::fill(m, m + width, -std::numeric_limits<T>::infinity());
  std::fill(s, s + width, 0.0);
  for (std::int64_t k = 0; k < n; ++k) {
    const T* xr = x + k * inner;
    for (std::int64_t j = 0; j < width; ++j) m[j] = xr[j] > m[j] ? xr[j] : m[j];
  }
  for (std::int64_t k = 0; k < n; ++k) {
    const T* xr = x + k * inner;
    T* yr = y + k * inner;
    // Separate float and double loops: each vectorises, a mixed one does not.
    if constexpr (kLog) {
      T e[kChunk];
      for (std::int64_t j = 0; j < width; ++j) {
        yr[j] = xr[j] - m[j];
        e[j] = exp_of(yr[j]);
      }
      for (std::int64_t j = 0; j < width; ++j) s[j] += static_cast<double>(e[j]);
    } else {
      for (std::int64_t j = 0; j < width; ++j) yr[j] = exp_of(xr[j] - m[j]);
      for (std::int64_t j = 0; j < width; ++j) s[j] += static_cast<double>(yr[j]);
    }
  }
  if constexpr (kLog) {
    T lse[kChunk];
    for (std::int64_t j = 0; j < width; ++j) lse[j] = static_cast<T>(std::log(s[j]));
    for (std::int64_t k = 0; k < n; ++k) {
      T* yr = y + k * inner;
      for (std::int64_t j = 0; j < width; ++j) yr[j] -= lse[j];
    }
  } else {
    for (std::int64_t j = 0; j < width; ++j) s[j] = 1.0 / s[j];
    for (std::int64_t k = 0; k < n; ++k) {
      T* yr = y + k * inner;
      for (std::int64_t j = 0; j < width; ++j) {
        yr[j] = static_cast<T>(static_cast<double>(yr[j]) * s[j]);
      }
    }
  }
}

template <typename T, bool kLog>
void softmax_optimised(const T* x, T* y, SoftmaxView v) {
  const std::int64_t total = v.outer * v.n * v.inner;
  // Small tensors run without entering an OpenMP region at all (entering one, even with
  // `if (false)`, costs about a microsecond: a measurable share of a transformer's small nodes).
  if (v.inner == 1) {
    const auto rows = [&](std::int64_t o0, std::int64_t o1) {
#if defined(__x86_64__)
      if constexpr (std::is_same_v<T, float>) {
        if (softmax_avx2::available()) {
          for (std::int64_t o = o0; o < o1; ++o) {
            softmax_avx2::row<kLog>(x + o * v.n, y + o * v.n, v.n);
          }
          return;
        }
      }
#endif
      for (std::int64_t o = o0; o < o1; ++o) softmax_row<T, kLog>(x + o * v.n, y + o * v.n, v.n);
    };
    if (v.outer > 1 && total >= (1 << 14)) {
#pragma omp parallel for schedule(static)
      for (std::int64_t o = 0; o < v.outer; ++o) rows(o, o + 1);
    } else {
      rows(0, v.outer);
    }
    return;
  }
  constexpr std::int64_t kChunk = 64;
  const std::int64_t chunks = (v.inner + kChunk - 1) / kChunk;
  const std::int64_t tasks = v.outer * chunks;
  const auto task = [&](std::int64_t t) {
    const std::int64_t o = t / chunks;
    const std::int64_t j0 = (t % chunks) * kChunk;
    const std::int64_t off = o * v.n * v.inner + j0;
    softmax_columns<T, kLog>(x + off, y + off, v.n, v.inner, std::min(kChunk, v.inner - j0));
  };
  if (tasks > 1 && total >= (1 << 14)) {
#pragma omp parallel for schedule(static)
    for (std::int64_t t = 0; t < tasks; ++t) task(t);
  } else {
    for (std::int64_t t = 0; t < tasks; ++t) task(t);
  }
}

// Plain loops, one output column at a time, dividing by the sum.
template <typename T, bool kLog>
void softmax_reference(const T* x, T* y, SoftmaxView v) {
  for (std::int64_t o = 0; o < v.outer; ++o) {
    for (std::int64_t j = 0; j < v.inner; ++j) {
      const std::int64_t base = o * v.n * v.inner + j;
      T m = -std::numeric_limits<T>::infinity();
      for (std::int64_t k = 0; k < v.n; ++k) m = std::max(m, x[base + k * v.inner]);
      double sum = 0.0;
      for (std::int64_t k = 0; k < v.n; ++k) {
        sum += std::exp(static_cast<double>(x[base + k * v.inner] - m));
      }
      for (std::int64_t k = 0; k < v.n; ++k) {
        const double d = static_cast<double>(x[base + k * v.inner] - m);
        y[base + k * v.inner] = static_cast<T>(kLog ? d - std::log(sum) : std::exp(d) / sum);
      }
    }
  }
}

template <typename T, bool kLog>
std::unique_ptr<Kernel> make_softmax_kernel(SoftmaxView v, bool reference) {
  if (reference) {
    return make_kernel([v](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      softmax_reference<T, kLog>(in[0]->data<T>(), out[0]->data<T>(), v);
      return Status::ok();
    });
  }
  return make_kernel([v](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    softmax_optimised<T, kLog>(in[0]->data<T>(), out[0]->data<T>(), v);
    return Status::ok();
  });
}

template <bool kLog>
Prepared prepare_softmax_common(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis"});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const bool coerce_2d = ctx.opset() < 13;
  std::int64_t axis = ctx.attr_int("axis", coerce_2d ? 1 : -1);
  if (axis < -rank || axis >= rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for input shape " +
             shape_to_string(x.shape));
  }
  if (axis < 0) axis += rank;
  SoftmaxView v;
  const auto ax = static_cast<std::size_t>(axis);
  v.outer = shape_numel(Shape(x.shape.begin(), x.shape.begin() + axis));
  if (coerce_2d) {
    v.n = shape_numel(Shape(x.shape.begin() + axis, x.shape.end()));
    v.inner = 1;
  } else {
    v.n = x.shape[ax];
    v.inner = shape_numel(Shape(x.shape.begin() + axis + 1, x.shape.end()));
  }
  Prepared p;
  p.outputs = {x};
  p.kernel = x.dtype == DType::kFloat32 ? make_softmax_kernel<float, kLog>(v, ctx.reference())
                                        : make_softmax_kernel<double, kLog>(v, ctx.reference());
  return p;
}

}  // namespace

Prepared prepare_softmax(const PrepareContext& ctx) { return prepare_softmax_common<false>(ctx); }

Prepared prepare_log_softmax(const PrepareContext& ctx) {
  return prepare_softmax_common<true>(ctx);
}

}  // namespace dnnfi
