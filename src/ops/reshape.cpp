// Flatten, Reshape, Squeeze, Unsqueeze: the data is copied unchanged, only the shape differs. The
// shape-like inputs (Reshape's shape, Squeeze/Unsqueeze axes at opset >= 13) are re-read on every
// run; if they no longer give the prepared output shape the kernel returns an error.
#include <algorithm>
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

// Which rule maps the shape-like input (input 1) to the output shape.
enum class ShapeRule { kNone, kReshape, kSqueeze, kUnsqueeze };

// Reshape's target shape from the `shape` values: 0 copies the input dim (unless allowzero), one
// -1 is inferred. get(i) returns value i. Calls emit(i, dim) for each output dim. Returns an empty
// string on success, else what is wrong. No overflow for any int64 values.
template <typename Get, typename Emit>
std::string resolve_reshape(const Shape& in, std::int64_t n, Get&& get, bool allowzero,
                            Emit&& emit) {
  std::int64_t infer_at = -1;
  std::int64_t known = 1;
  bool has_zero = false;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t v = get(i);
    if (v == -1) {
      if (infer_at >= 0) return "more than one -1";
      infer_at = i;
      continue;
    }
    if (v < -1) return "dimension " + std::to_string(v) + " at " + std::to_string(i);
    if (v == 0 && !allowzero) {
      if (i >= static_cast<std::int64_t>(in.size())) {
        return "0 at " + std::to_string(i) + " copies a dimension the input does not have";
      }
      v = in[static_cast<std::size_t>(i)];
    }
    has_zero |= v == 0;
    if (__builtin_mul_overflow(known, v, &known)) return "too many elements";
  }
  const std::int64_t numel = shape_numel(in);
  std::int64_t inferred = 0;
  if (infer_at >= 0) {
    if (has_zero) return "-1 cannot be inferred next to a 0 dimension";
    if (numel % known != 0) return "-1 cannot be inferred: no whole dimension fits";
    inferred = numel / known;
  } else if (known != numel) {
    return std::to_string(known) + " elements, the input has " + std::to_string(numel);
  }
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t v = i == infer_at ? inferred : get(i);
    if (v == 0 && !allowzero) v = in[static_cast<std::size_t>(i)];
    emit(i, v);
  }
  return {};
}

// Squeeze (squeeze = true) or Unsqueeze: output dims from the axes, with the checks of both.
// Squeeze axes index the input and name dims of size 1; Unsqueeze axes index the output. Calls
// emit(i, dim) for each output dim; returns an empty string on success.
template <typename Get, typename Emit>
std::string resolve_squeeze(const Shape& in, bool squeeze, std::int64_t n, Get&& get, Emit&& emit) {
  const auto in_rank = static_cast<std::int64_t>(in.size());
  const std::int64_t axis_rank = squeeze ? in_rank : in_rank + n;
  auto axis_at = [&](std::int64_t k) {
    std::int64_t a = get(k);
    return normalize_axis(a, axis_rank) ? a : -1;
  };
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t a = axis_at(k);
    if (a < 0) {
      return "axes[" + std::to_string(k) + "] = " + std::to_string(get(k)) +
             " is out of range for rank " + std::to_string(axis_rank);
    }
    for (std::int64_t j = 0; j < k; ++j) {
      if (axis_at(j) == a) return "axis " + std::to_string(a) + " is repeated";
    }
    if (squeeze && in[static_cast<std::size_t>(a)] != 1) {
      return "axis " + std::to_string(a) + " has dimension " +
             std::to_string(in[static_cast<std::size_t>(a)]) + ", not 1";
    }
  }
  auto listed = [&](std::int64_t a) {
    for (std::int64_t k = 0; k < n; ++k) {
      if (axis_at(k) == a) return true;
    }
    return false;
  };
  std::int64_t out_i = 0, in_i = 0;
  for (std::int64_t a = 0; a < axis_rank; ++a) {
    if (squeeze) {
      const std::int64_t d = in[static_cast<std::size_t>(a)];
      if (!(n == 0 ? d == 1 : listed(a))) emit(out_i++, d);
    } else {
      emit(out_i++, listed(a) ? 1 : in[static_cast<std::size_t>(in_i++)]);
    }
  }
  return {};
}

class ReshapeKernel final : public Kernel {
 public:
  ReshapeKernel(std::string tag, TensorInfo input, TensorInfo output, ShapeRule rule,
                std::int64_t shape_count, bool allowzero)
      : tag_(std::move(tag)),
        input_(std::move(input)),
        output_(std::move(output)),
        rule_(rule),
        shape_count_(shape_count),
        allowzero_(allowzero) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, input_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    if (rule_ != ShapeRule::kNone) DNNFI_RETURN_IF_ERROR(check_shape_input(in));
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    const auto bytes = static_cast<std::int64_t>(output_.nbytes());
    if (src != dst) {
      parallel_chunks(bytes, bytes, [&](std::int64_t b, std::int64_t e) {
        std::memcpy(dst + b, src + b, static_cast<std::size_t>(e - b));
      });
    }
    return Status::ok();
  }

 private:
  Status check_shape_input(std::span<const Tensor* const> in) const {
    const char* what = rule_ == ShapeRule::kReshape ? "shape" : "axes";
    DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, 1, what, shape_count_));
    const Tensor& t = *in[1];
    auto get = [&](std::int64_t i) { return index_value(t, i); };
    bool same = true;
    std::int64_t count = 0;
    auto emit = [&](std::int64_t i, std::int64_t d) {
      ++count;
      same &= i < static_cast<std::int64_t>(output_.shape.size()) &&
              output_.shape[static_cast<std::size_t>(i)] == d;
    };
    const std::string err =
        rule_ == ShapeRule::kReshape
            ? resolve_reshape(input_.shape, shape_count_, get, allowzero_, emit)
            : resolve_squeeze(input_.shape, rule_ == ShapeRule::kSqueeze, shape_count_, get, emit);
    if (!err.empty()) return run_error(tag_, std::string(what) + " is invalid at run time: " + err);
    if (!same || count != static_cast<std::int64_t>(output_.shape.size())) {
      return run_error(tag_, std::string(what) +
                                 " (input 1) changed at run time: it no longer gives " +
                                 "the prepared output shape " + shape_to_string(output_.shape));
    }
    return Status::ok();
  }

  std::string tag_;
  TensorInfo input_;
  TensorInfo output_;
  ShapeRule rule_;
  std::int64_t shape_count_;
  bool allowzero_;
};

Prepared make_reshape_like(const PrepareContext& ctx, Shape out_shape, ShapeRule rule,
                           std::int64_t shape_count, bool allowzero) {
  require_valid_shape(ctx, out_shape, "output shape");
  const TensorInfo& x = ctx.input(0);
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, std::move(out_shape)}};
  p.kernel =
      std::make_unique<ReshapeKernel>(node_tag(ctx), x, p.outputs[0], rule, shape_count, allowzero);
  return p;
}

// Squeeze and Unsqueeze: axes from the attribute (opset < 13) or input 1.
Prepared prepare_squeeze_like(const PrepareContext& ctx, bool squeeze) {
  const bool axes_input = ctx.opset() >= 13;
  if (axes_input) {
    ctx.allow_attributes({});
    ctx.require_inputs(squeeze ? 1 : 2, 2);
  } else {
    ctx.allow_attributes({"axes"});
    ctx.require_inputs(1, 1);
    if (!squeeze && !ctx.has_attr("axes")) ctx.fail("attribute 'axes' is required");
  }
  require_static_shape(ctx, 0);
  const bool has_axes_input = axes_input && ctx.has_input(1);
  const std::vector<std::int64_t> axes =
      has_axes_input ? read_index_constant(ctx, 1, "axes") : ctx.attr_ints("axes");
  Shape out_shape;
  const std::string err = resolve_squeeze(
      ctx.input(0).shape, squeeze, static_cast<std::int64_t>(axes.size()),
      [&](std::int64_t k) { return axes[static_cast<std::size_t>(k)]; },
      [&](std::int64_t, std::int64_t d) { out_shape.push_back(d); });
  if (!err.empty()) ctx.fail("invalid axes " + dims_to_string(axes) + ": " + err);
  return make_reshape_like(
      ctx, std::move(out_shape),
      has_axes_input ? (squeeze ? ShapeRule::kSqueeze : ShapeRule::kUnsqueeze) : ShapeRule::kNone,
      static_cast<std::int64_t>(axes.size()), false);
}

}  // namespace

Prepared prepare_flatten(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis"});
  ctx.require_inputs(1, 1);
  require_static_shape(ctx, 0);
  const Shape& in = ctx.input(0).shape;
  const auto rank = static_cast<std::int64_t>(in.size());
  std::int64_t axis = ctx.attr_int("axis", 1);
  if (axis < -rank || axis > rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < rank; ++i)
    (i < axis ? outer : inner) *= in[static_cast<std::size_t>(i)];
  return make_reshape_like(ctx, {outer, inner}, ShapeRule::kNone, 0, false);
}

namespace {

// Reshape-1: the new shape is the attribute `shape` (same rules as the later shape input without
// allowzero: 0 copies the input dim, one -1 is inferred), plus the legacy consumed_inputs.
Prepared prepare_reshape_v1(const PrepareContext& ctx) {
  ctx.allow_attributes({"consumed_inputs", "shape"});
  ctx.require_inputs(1, 1);
  require_static_shape(ctx, 0);
  if (!ctx.has_attr("shape")) ctx.fail("attribute 'shape' is required");
  const std::vector<std::int64_t> shape = ctx.attr_ints("shape");
  Shape out_shape;
  const std::string err = resolve_reshape(
      ctx.input(0).shape, static_cast<std::int64_t>(shape.size()),
      [&](std::int64_t i) { return shape[static_cast<std::size_t>(i)]; }, false,
      [&](std::int64_t, std::int64_t d) { out_shape.push_back(d); });
  if (!err.empty()) {
    ctx.fail("cannot reshape " + shape_to_string(ctx.input(0).shape) + " to " +
             dims_to_string(shape) + ": " + err);
  }
  return make_reshape_like(ctx, std::move(out_shape), ShapeRule::kNone, 0, false);
}

}  // namespace

Prepared prepare_reshape(const PrepareContext& ctx) {
  if (ctx.opset() < 5) return prepare_reshape_v1(ctx);
  ctx.allow_attributes({"allowzero"});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  const std::int64_t allowzero = ctx.opset() >= 14 ? ctx.attr_int("allowzero", 0) : 0;
  if (ctx.opset() < 14 && ctx.has_attr("allowzero")) {
    ctx.fail("attribute 'allowzero' needs opset >= 14");
  }
  if (allowzero != 0 && allowzero != 1) ctx.fail("allowzero must be 0 or 1");
  const std::vector<std::int64_t> shape = read_index_constant(ctx, 1, "shape");
  Shape out_shape;
  const std::string err = resolve_reshape(
      ctx.input(0).shape, static_cast<std::int64_t>(shape.size()),
      [&](std::int64_t i) { return shape[static_cast<std::size_t>(i)]; }, allowzero == 1,
      [&](std::int64_t, std::int64_t d) { out_shape.push_back(d); });
  if (!err.empty()) {
    ctx.fail("cannot reshape " + shape_to_string(ctx.input(0).shape) + " to " +
             dims_to_string(shape) + ": " + err);
  }
  return make_reshape_like(ctx, std::move(out_shape), ShapeRule::kReshape,
                           static_cast<std::int64_t>(shape.size()), allowzero == 1);
}

Prepared prepare_squeeze(const PrepareContext& ctx) { return prepare_squeeze_like(ctx, true); }

Prepared prepare_unsqueeze(const PrepareContext& ctx) { return prepare_squeeze_like(ctx, false); }

}  // namespace dnnfi
