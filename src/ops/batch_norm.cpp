// BatchNormalization, inference form (opsets 7, 9, 14, 15):
//   Y = (X - mean) / sqrt(var + epsilon) * scale + B, per channel (axis 1).
// The optimised kernel folds the four parameter vectors into one multiplier and one offset per
// channel, y = x * a[c] + b[c]; when the parameters are constants (the usual case) a and b are
// computed once at prepare, otherwise per channel at run time. The reference kernel evaluates the
// formula element by element. Each (n, c) plane is written by one thread.
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "ops/ops.h"
#include "ops/row_map.h"

namespace dnnfi {

namespace {

// Folded per-channel multiplier and offset, computed in double and rounded once to T.
template <typename T>
void fold_bn_params(const T* scale, const T* bias, const T* mean, const T* var, double epsilon,
                    std::int64_t channels, T* a, T* b) {
  for (std::int64_t c = 0; c < channels; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + epsilon);
    const double ac = static_cast<double>(scale[c]) * inv;
    a[c] = static_cast<T>(ac);
    b[c] = static_cast<T>(static_cast<double>(bias[c]) - static_cast<double>(mean[c]) * ac);
  }
}

// Relu fused after BatchNormalization (inference sessions, exec/fusion.h): the same expression as
// the Relu kernel's, on the value BatchNormalization rounded to T.
template <bool Relu, typename T>
inline T activate(T v) {
  if constexpr (Relu) return v < T(0) ? T(0) : v;
  return v;
}

// y[p * inner + i] = x[...] * a[p % channels] + b[p % channels] over planes p = n * C + c.
template <bool Relu, typename T>
void apply_bn_affine(const T* x, T* y, std::int64_t planes, std::int64_t channels,
                     std::int64_t inner, const T* a, const T* b) {
  const bool parallel = planes > 1 && planes * inner >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T ac = a[p % channels];
    const T bc = b[p % channels];
    const T* xp = x + p * inner;
    T* yp = y + p * inner;
    for (std::int64_t i = 0; i < inner; ++i) {
      const T v = xp[i] * ac + bc;
      yp[i] = activate<Relu>(v);
    }
  }
}

// Channels-last (inference sessions, exec/fusion.h): y[q * channels + c] = x[...] * a[c] + b[c]
// over the pixels q, the same expression per element as apply_bn_affine.
template <bool Relu, typename T>
void apply_bn_affine_nhwc(const T* x, T* y, std::int64_t pixels, std::int64_t channels, const T* a,
                          const T* b) {
  const bool parallel = pixels > 1 && pixels * channels >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t q = 0; q < pixels; ++q) {
    const T* xq = x + q * channels;
    T* yq = y + q * channels;
    for (std::int64_t c = 0; c < channels; ++c) {
      const T v = xq[c] * a[c] + b[c];
      yq[c] = activate<Relu>(v);
    }
  }
}

struct BnShape {
  std::int64_t batch = 0;
  std::int64_t channels = 0;
  std::int64_t inner = 0;  // product of the spatial dims
};

// The parameters folded once from the constants; valid only while the run-time inputs are those
// constants (a weight fault hands the kernel a corrupted copy instead: is_source says).
template <typename T>
struct ConstantFold {
  std::vector<T> a, b;
  std::array<const void*, 4> sources;

  ConstantFold(const PrepareContext& ctx, std::int64_t channels, double epsilon)
      : a(static_cast<std::size_t>(channels)),
        b(static_cast<std::size_t>(channels)),
        sources{ctx.constant(1)->raw(), ctx.constant(2)->raw(), ctx.constant(3)->raw(),
                ctx.constant(4)->raw()} {
    fold_bn_params<T>(ctx.constant(1)->data<T>(), ctx.constant(2)->data<T>(),
                      ctx.constant(3)->data<T>(), ctx.constant(4)->data<T>(), epsilon, channels,
                      a.data(), b.data());
  }
  bool is_source(std::span<const Tensor* const> in) const {
    for (std::size_t i = 0; i < 4; ++i) {
      if (in[i + 1]->raw() != sources[i]) return false;
    }
    return true;
  }
};

// The parameters folded at prepare; rows of a rank-4 input computed in place (Kernel::run_rows)
// with the same expression per element, while the parameters are the prepared constants.
template <typename T, bool Relu, typename PerRun>
class ConstantBnKernel final : public Kernel {
 public:
  ConstantBnKernel(BnShape s, ConstantFold<T> fold, PerRun per_run)
      : s_(s), fold_(std::move(fold)), per_run_(std::move(per_run)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    if (!fold_.is_source(in)) return per_run_(in, out);
    apply_bn_affine<Relu, T>(in[0]->data<T>(), out[0]->data<T>(), s_.batch * s_.channels,
                             s_.channels, s_.inner, fold_.a.data(), fold_.b.data());
    return Status::ok();
  }
  bool run_rows(std::span<const RowInput> in, Tensor& out, std::int64_t lo,
                std::int64_t hi) const override {
    if (in.size() != 5) return false;
    std::array<const Tensor*, 5> params{};
    for (std::size_t i = 1; i < 5; ++i) {
      params[i] = in[i].rest;
      if (params[i] == nullptr) return false;
    }
    const std::array<const RowInput*, 1> x{&in[0]};
    if (!fold_.is_source(params) || !rows::same_shape(x, out)) return false;
    const std::int64_t channels = s_.channels;
    const T* a = fold_.a.data();
    const T* b = fold_.b.data();
    rows::for_segments<T>(x, out, lo, hi,
                          [&](std::int64_t p, const auto& src, T* y, std::int64_t n) {
                            const T ac = a[p % channels];
                            const T bc = b[p % channels];
                            const T* xp = src[0];
                            for (std::int64_t i = 0; i < n; ++i) {
                              const T v = xp[i] * ac + bc;
                              y[i] = activate<Relu>(v);
                            }
                          });
    return true;
  }

 private:
  BnShape s_;
  ConstantFold<T> fold_;
  PerRun per_run_;
};

template <typename T, bool Relu>
std::unique_ptr<Kernel> make_bn_kernel(const PrepareContext& ctx, BnShape s, double epsilon,
                                       bool nhwc) {
  const bool params_constant =
      ctx.constant(1) && ctx.constant(2) && ctx.constant(3) && ctx.constant(4);
  if (nhwc) {
    if (!params_constant || ctx.reference()) {
      ctx.unsupported("channels-last BatchNormalization needs constant parameters");
    }
    return make_kernel([s, epsilon, fold = ConstantFold<T>(ctx, s.channels, epsilon)](
                           std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      if (fold.is_source(in)) {
        apply_bn_affine_nhwc<Relu, T>(in[0]->data<T>(), out[0]->data<T>(), s.batch * s.inner,
                                      s.channels, fold.a.data(), fold.b.data());
        return Status::ok();
      }
      // A weight fault corrupted a copy of the parameters (channels-last fault-injection
      // sessions): fold them now, each channel as the NCHW kernels fold it per run.
      std::vector<T> a(static_cast<std::size_t>(s.channels)), b(a.size());
      fold_bn_params<T>(in[1]->data<T>(), in[2]->data<T>(), in[3]->data<T>(), in[4]->data<T>(),
                        epsilon, s.channels, a.data(), b.data());
      apply_bn_affine_nhwc<Relu, T>(in[0]->data<T>(), out[0]->data<T>(), s.batch * s.inner,
                                    s.channels, a.data(), b.data());
      return Status::ok();
    });
  }
  if (ctx.reference()) {
    return make_kernel(
        [s, epsilon](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
          const T* x = in[0]->data<T>();
          const T* scale = in[1]->data<T>();
          const T* bias = in[2]->data<T>();
          const T* mean = in[3]->data<T>();
          const T* var = in[4]->data<T>();
          T* y = out[0]->data<T>();
          for (std::int64_t n = 0; n < s.batch; ++n) {
            for (std::int64_t c = 0; c < s.channels; ++c) {
              const double sd = std::sqrt(static_cast<double>(var[c]) + epsilon);
              for (std::int64_t i = 0; i < s.inner; ++i) {
                const std::int64_t k = (n * s.channels + c) * s.inner + i;
                const double v = (static_cast<double>(x[k]) - mean[c]) / sd * scale[c] + bias[c];
                y[k] = activate<Relu>(static_cast<T>(v));
              }
            }
          }
          return Status::ok();
        });
  }
  // Per-run folding, used when the parameters are computed by the graph or were corrupted by a
  // fault (their tensors are then not the constants seen at prepare time).
  auto fold_per_run = [s, epsilon](std::span<const Tensor* const> in,
                                   std::span<Tensor* const> out) {
    const T* x = in[0]->data<T>();
    const T* scale = in[1]->data<T>();
    const T* bias = in[2]->data<T>();
    const T* mean = in[3]->data<T>();
    const T* var = in[4]->data<T>();
    T* y = out[0]->data<T>();
    const std::int64_t planes = s.batch * s.channels;
    const bool parallel = planes > 1 && planes * s.inner >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t p = 0; p < planes; ++p) {
      const std::int64_t c = p % s.channels;
      T a;
      T b;
      fold_bn_params<T>(scale + c, bias + c, mean + c, var + c, epsilon, 1, &a, &b);
      const T* xp = x + p * s.inner;
      T* yp = y + p * s.inner;
      for (std::int64_t i = 0; i < s.inner; ++i) {
        const T v = xp[i] * a + b;
        yp[i] = activate<Relu>(v);
      }
    }
    return Status::ok();
  };
  if (params_constant) {
    return std::make_unique<ConstantBnKernel<T, Relu, decltype(fold_per_run)>>(
        s, ConstantFold<T>(ctx, s.channels, epsilon), fold_per_run);
  }
  return make_kernel(fold_per_run);
}

}  // namespace

Prepared prepare_batch_normalization(const PrepareContext& ctx) {
  const std::int64_t opset = ctx.opset();
  // Inference sessions' channels-last form (dnnfi domain, exec/fusion.h): layout = NHWC.
  const char* layout_attr = ctx.node().domain == "dnnfi" ? "layout" : "";
  if (opset < 7) {
    // Versions 1 and 6: `is_test` selects inference (nonzero) or training; version 1 also has the
    // legacy in-place hint `consumed_inputs`, which does not change the result.
    ctx.allow_attributes({"epsilon", "momentum", "spatial", "is_test",
                          opset < 6 ? "consumed_inputs" : "", layout_attr});
    if (ctx.attr_int("is_test", 0) == 0) {
      ctx.unsupported("is_test=0 (training mode) is not supported; only is_test=1 (inference)");
    }
  } else if (opset < 9) {
    ctx.allow_attributes({"epsilon", "momentum", "spatial", layout_attr});
  } else if (opset < 14) {
    ctx.allow_attributes({"epsilon", "momentum", layout_attr});
  } else {
    ctx.allow_attributes({"epsilon", "momentum", "training_mode", layout_attr});
  }
  if (ctx.attr_int("spatial", 1) != 1) {
    ctx.unsupported("spatial=" + std::to_string(ctx.attr_int("spatial", 1)) +
                    " (per-element statistics) is not supported; only spatial=1");
  }
  if (ctx.attr_int("training_mode", 0) != 0) {
    ctx.unsupported("training_mode=1 is not supported (inference only)");
  }
  ctx.require_inputs(5, 5);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  const TensorInfo& x = ctx.input(0);
  for (std::size_t i = 1; i < 5; ++i) {
    if (ctx.input(i).dtype != x.dtype) {
      ctx.fail("input " + std::to_string(i) + " has dtype " +
               std::string(dtype_name(ctx.input(i).dtype)) + ", expected " +
               std::string(dtype_name(x.dtype)) + " like X (mixed dtypes are not supported)");
    }
  }
  // Outputs after Y (running or saved statistics) exist only in training mode.
  for (std::size_t i = 1; i < ctx.num_outputs(); ++i) {
    if (ctx.node().outputs[i] != kNoValue) {
      ctx.fail("output " + std::to_string(i) + " is only produced in training mode");
    }
  }
  if (x.shape.size() < 2) ctx.fail("X must have rank >= 2, has shape " + shape_to_string(x.shape));
  BnShape s;
  s.batch = x.shape[0];
  s.channels = x.shape[1];
  s.inner = 1;
  for (std::size_t d = 2; d < x.shape.size(); ++d) s.inner *= x.shape[d];
  for (std::size_t i = 1; i < 5; ++i) {
    if (ctx.input(i).shape != Shape{s.channels}) {
      ctx.fail("input " + std::to_string(i) + " must have shape [" + std::to_string(s.channels) +
               "], has " + shape_to_string(ctx.input(i).shape));
    }
  }
  const double epsilon = ctx.attr_float("epsilon", 1e-5f);
  Prepared p;
  p.outputs.assign(ctx.num_outputs(), TensorInfo{});
  p.outputs[0] = x;
  const std::string layout = ctx.attr_string("layout", "NCHW");
  if (layout != "NCHW" && layout != "NHWC") ctx.fail("layout must be NCHW or NHWC");
  const bool nhwc = layout == "NHWC";
  if (nhwc && (x.shape.size() != 4 || x.dtype != DType::kFloat32)) {
    ctx.unsupported("channels-last BatchNormalization needs a float32 rank-4 X");
  }
  // BatchNormalizationRelu: what inference sessions make of BatchNormalization -> Relu.
  if (ctx.node().op_type == "BatchNormalizationRelu") {
    p.kernel = x.dtype == DType::kFloat32 ? make_bn_kernel<float, true>(ctx, s, epsilon, nhwc)
                                          : make_bn_kernel<double, true>(ctx, s, epsilon, nhwc);
  } else {
    p.kernel = x.dtype == DType::kFloat32 ? make_bn_kernel<float, false>(ctx, s, epsilon, nhwc)
                                          : make_bn_kernel<double, false>(ctx, s, epsilon, nhwc);
  }
  return p;
}

}  // namespace dnnfi
