// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12, 13).
//
// Input [N, C, d1..dk] (scores; log-probabilities for NLL), target [N, d1..dk] of class indices,
// optional weight [C]. Each target position p = (n, d) gives loss(p) = -weight[t] * logp[n, t, d]
// with t = target[p], or 0 (and weight 0) when t == ignore_index. reduction "none" returns the
// [N, d1..dk] losses, "sum" their sum and "mean" their sum divided by the sum of the weights of the
// positions taken (NaN when every position is ignored, as in the ONNX reference).
// SoftmaxCrossEntropyLoss computes logp = log_softmax(scores, axis 1) first and may also return it
// (second output, log_prob).
//
// The target tensor is data: a class outside [0, C) that is not ignore_index is a run-time error
// (DUE), never an out-of-bounds read. Sums accumulate in double in position order.
#include <cmath>
#include <string>

#include "ops/ops.h"

namespace dnnfi {

namespace {

enum class LossReduction { kNone, kSum, kMean };

struct LossShape {
  std::int64_t n = 0;  // batch
  std::int64_t c = 0;  // classes
  std::int64_t d = 0;  // positions per batch element (product of d1..dk)
};

// The loss of every target position and their reduction. logp(n, t, d) is the log-probability
// of class t at position (n, d). Writes `y` (numel n*d for kNone, else 1) unless it is nullptr.
template <typename T, typename TI, typename LogProb>
Status loss_run(const LossShape& s, const TI* target, const T* weight, bool has_ignore,
                std::int64_t ignore_index, LossReduction reduction, T* y, const LogProb& logp,
                const std::string& node_name) {
  double sum_loss = 0.0;
  double sum_weight = 0.0;
  for (std::int64_t n = 0; n < s.n; ++n) {
    for (std::int64_t d = 0; d < s.d; ++d) {
      const std::int64_t pos = n * s.d + d;
      const auto t = static_cast<std::int64_t>(target[pos]);
      double loss = 0.0;
      double w = 0.0;
      if (!has_ignore || t != ignore_index) {
        if (t < 0 || t >= s.c) {
          return Status::error("node '" + node_name + "': target class " + std::to_string(t) +
                               " at position " + std::to_string(pos) + " is out of range [0, " +
                               std::to_string(s.c) + ")");
        }
        w = weight != nullptr ? static_cast<double>(weight[t]) : 1.0;
        loss = -logp(n, t, d) * w;
      }
      if (reduction == LossReduction::kNone) {
        if (y != nullptr) y[pos] = static_cast<T>(loss);
      } else {
        sum_loss += loss;
        sum_weight += w;
      }
    }
  }
  if (y == nullptr) return Status::ok();
  if (reduction == LossReduction::kSum) y[0] = static_cast<T>(sum_loss);
  if (reduction == LossReduction::kMean) y[0] = static_cast<T>(sum_loss / sum_weight);
  return Status::ok();
}

struct LossSetup {
  LossShape shape;
  LossReduction reduction = LossReduction::kMean;
  bool has_ignore = false;
  std::int64_t ignore_index = 0;
  bool has_weight = false;
  Shape loss_shape;
};

// Validates the attributes and inputs both losses share.
LossSetup prepare_loss_common(const PrepareContext& ctx) {
  ctx.allow_attributes({"reduction", "ignore_index"});
  ctx.require_inputs(2, 3);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  ctx.require_dtype(1, {DType::kInt32, DType::kInt64});
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& target = ctx.input(1);
  LossSetup s;
  if (x.shape.size() < 2) {
    ctx.fail("input must have shape [N, C, d1..dk], got " + shape_to_string(x.shape));
  }
  Shape expected_target = {x.shape[0]};
  expected_target.insert(expected_target.end(), x.shape.begin() + 2, x.shape.end());
  if (target.shape != expected_target) {
    ctx.fail("target shape " + shape_to_string(target.shape) + " does not match input shape " +
             shape_to_string(x.shape) + " (expected " + shape_to_string(expected_target) + ")");
  }
  s.shape.n = x.shape[0];
  s.shape.c = x.shape[1];
  s.shape.d = shape_numel(Shape(x.shape.begin() + 2, x.shape.end()));
  if (ctx.has_input(2)) {
    ctx.require_dtype(2, {x.dtype});
    if (ctx.input(2).shape != Shape{s.shape.c}) {
      ctx.fail("weight shape " + shape_to_string(ctx.input(2).shape) + " is not [C] = [" +
               std::to_string(s.shape.c) + "]");
    }
    s.has_weight = true;
  }
  const std::string reduction = ctx.attr_string("reduction", "mean");
  if (reduction == "none") {
    s.reduction = LossReduction::kNone;
    s.loss_shape = expected_target;
  } else if (reduction == "sum") {
    s.reduction = LossReduction::kSum;
  } else if (reduction == "mean") {
    s.reduction = LossReduction::kMean;
  } else {
    ctx.fail("reduction '" + reduction + "' is not one of none, sum, mean");
  }
  s.has_ignore = ctx.has_attr("ignore_index");
  s.ignore_index = ctx.attr_int("ignore_index", 0);
  return s;
}

// Instantiates make.operator()<T, TI>() for the input and target dtypes (checked by
// prepare_loss_common).
template <typename Make>
std::unique_ptr<Kernel> make_for_loss_dtypes(DType x, DType target, Make& make) {
  if (x == DType::kFloat32) {
    return target == DType::kInt32 ? make.template operator()<float, std::int32_t>()
                                   : make.template operator()<float, std::int64_t>();
  }
  return target == DType::kInt32 ? make.template operator()<double, std::int32_t>()
                                 : make.template operator()<double, std::int64_t>();
}

}  // namespace

Prepared prepare_negative_log_likelihood_loss(const PrepareContext& ctx) {
  const LossSetup s = prepare_loss_common(ctx);
  const TensorInfo& x = ctx.input(0);
  const std::string node_name = ctx.node().name;
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, s.loss_shape}};
  auto make = [&]<typename T, typename TI>() -> std::unique_ptr<Kernel> {
    return make_kernel(
        [s, node_name](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
          const T* xp = in[0]->data<T>();
          const LossShape& sh = s.shape;
          auto logp = [xp, &sh](std::int64_t n, std::int64_t t, std::int64_t d) {
            return static_cast<double>(xp[(n * sh.c + t) * sh.d + d]);
          };
          const T* w = s.has_weight ? in[2]->data<T>() : nullptr;
          return loss_run<T, TI>(sh, in[1]->data<TI>(), w, s.has_ignore, s.ignore_index,
                                 s.reduction, out[0]->data<T>(), logp, node_name);
        });
  };
  p.kernel = make_for_loss_dtypes(x.dtype, ctx.input(1).dtype, make);
  return p;
}

Prepared prepare_softmax_cross_entropy_loss(const PrepareContext& ctx) {
  const LossSetup s = prepare_loss_common(ctx);
  const TensorInfo& x = ctx.input(0);
  const std::string node_name = ctx.node().name;
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, s.loss_shape}};
  if (ctx.num_outputs() > 1) p.outputs.push_back(x);  // log_prob
  auto make = [&]<typename T, typename TI>() -> std::unique_ptr<Kernel> {
    return make_kernel(
        [s, node_name](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
          const T* xp = in[0]->data<T>();
          const LossShape& sh = s.shape;
          // log_prob, written only when the node asks for it (second output).
          T* lp = out.size() > 1 && out[1] != nullptr ? out[1]->data<T>() : nullptr;
          if (lp != nullptr) {
            for (std::int64_t n = 0; n < sh.n; ++n) {
              for (std::int64_t d = 0; d < sh.d; ++d) {
                const T* xs = xp + n * sh.c * sh.d + d;
                double m = -INFINITY;
                for (std::int64_t c = 0; c < sh.c; ++c)
                  m = std::fmax(m, static_cast<double>(xs[c * sh.d]));
                double sum = 0.0;
                for (std::int64_t c = 0; c < sh.c; ++c)
                  sum += std::exp(static_cast<double>(xs[c * sh.d]) - m);
                const double shift = m + std::log(sum);
                for (std::int64_t c = 0; c < sh.c; ++c) {
                  lp[n * sh.c * sh.d + d + c * sh.d] =
                      static_cast<T>(static_cast<double>(xs[c * sh.d]) - shift);
                }
              }
            }
          }
          // log_softmax at the target class only.
          auto logp = [xp, &sh](std::int64_t n, std::int64_t t, std::int64_t d) {
            const T* xs = xp + n * sh.c * sh.d + d;
            double m = -INFINITY;
            for (std::int64_t c = 0; c < sh.c; ++c)
              m = std::fmax(m, static_cast<double>(xs[c * sh.d]));
            double sum = 0.0;
            for (std::int64_t c = 0; c < sh.c; ++c)
              sum += std::exp(static_cast<double>(xs[c * sh.d]) - m);
            return static_cast<double>(xs[t * sh.d]) - m - std::log(sum);
          };
          const T* w = s.has_weight ? in[2]->data<T>() : nullptr;
          T* y = out[0] != nullptr ? out[0]->data<T>() : nullptr;
          return loss_run<T, TI>(sh, in[1]->data<TI>(), w, s.has_ignore, s.ignore_index,
                                 s.reduction, y, logp, node_name);
        });
  };
  p.kernel = make_for_loss_dtypes(x.dtype, ctx.input(1).dtype, make);
  return p;
}

}  // namespace dnnfi
