// Det (opset 11): determinant of each square matrix in the last two dims, [*, M, M] -> [*].
//
// LU decomposition with partial pivoting in double precision; a zero pivot column gives 0. NaN and
// Inf are data and propagate through the elimination.
#include <cmath>
#include <utility>
#include <vector>

#include "ops/ops.h"

namespace dnnfi {

namespace {

template <typename T>
void det_run(const T* x, T* y, std::int64_t batch, std::int64_t m) {
  // Scratch matrix, kept per thread: no allocation once it has grown to M*M.
  thread_local std::vector<double> a;
  a.resize(static_cast<std::size_t>(m * m));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* xm = x + b * m * m;
    for (std::int64_t i = 0; i < m * m; ++i) a[static_cast<std::size_t>(i)] = xm[i];
    auto at = [&](std::int64_t r, std::int64_t c) -> double& {
      return a[static_cast<std::size_t>(r * m + c)];
    };
    double det = 1.0;
    for (std::int64_t k = 0; k < m; ++k) {
      std::int64_t piv = k;
      for (std::int64_t r = k + 1; r < m; ++r) {
        if (std::fabs(at(r, k)) > std::fabs(at(piv, k))) piv = r;
      }
      if (at(piv, k) == 0.0) {
        det = 0.0;
        break;
      }
      if (piv != k) {
        for (std::int64_t c = 0; c < m; ++c) std::swap(at(k, c), at(piv, c));
        det = -det;
      }
      const double p = at(k, k);
      det *= p;
      for (std::int64_t r = k + 1; r < m; ++r) {
        const double f = at(r, k) / p;
        for (std::int64_t c = k + 1; c < m; ++c) at(r, c) -= f * at(k, c);
      }
    }
    y[b] = static_cast<T>(det);
  }
}

}  // namespace

Prepared prepare_det(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  const TensorInfo& x = ctx.input(0);
  const std::size_t rank = x.shape.size();
  if (rank < 2 || x.shape[rank - 1] != x.shape[rank - 2]) {
    ctx.fail("input must have shape [*, M, M], got " + shape_to_string(x.shape));
  }
  const std::int64_t m = x.shape[rank - 1];
  const Shape out_shape(x.shape.begin(), x.shape.end() - 2);
  const std::int64_t batch = shape_numel(out_shape);
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, out_shape}};
  if (x.dtype == DType::kFloat32) {
    p.kernel = make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      det_run<float>(in[0]->data<float>(), out[0]->data<float>(), batch, m);
      return Status::ok();
    });
  } else {
    p.kernel = make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      det_run<double>(in[0]->data<double>(), out[0]->data<double>(), batch, m);
      return Status::ok();
    });
  }
  return p;
}

}  // namespace dnnfi
