#include "ops/binary_common.h"

namespace dnnfi::binary {

std::string node_label(const PrepareContext& ctx) {
  return "node '" + ctx.node().name + "' (" + ctx.node().op_type + ")";
}

void require_known_shape(const PrepareContext& ctx, std::size_t i) {
  for (std::int64_t d : ctx.input(i).shape) {
    if (d < 0) {
      ctx.unsupported("input " + std::to_string(i) + " has unknown shape " +
                      shape_to_string(ctx.input(i).shape));
    }
  }
}

Shape broadcast_or_fail(const PrepareContext& ctx, const Shape& a, const Shape& b) {
  std::optional<Shape> out = broadcast_shapes(a, b);
  if (!out) {
    ctx.fail("shapes " + shape_to_string(a) + " and " + shape_to_string(b) +
             " cannot be broadcast together");
  }
  return std::move(*out);
}

BinaryPlan make_binary_plan(const PrepareContext& ctx, const Shape& a, const Shape& b,
                            const Shape& y) {
  BinaryPlan p;
  p.a = a;
  p.b = b;
  p.y = y;
  p.loop = make_broadcast_loop({a, b}, y);
  if (p.loop.dims.size() > kBroadcastLoopMaxRank) {
    ctx.unsupported("broadcasting " + shape_to_string(a) + " with " + shape_to_string(b) +
                    " alternates between broadcast and full axes too often");
  }
  p.ref_strides[0] = broadcast_strides(a, y);
  p.ref_strides[1] = broadcast_strides(b, y);
  p.reference = ctx.reference();
  return p;
}

void allow_elementwise_attributes(const PrepareContext& ctx, bool consumed_inputs) {
  if (ctx.opset() >= 7) {
    ctx.allow_attributes({});
  } else {
    ctx.allow_attributes(
        {"axis", "broadcast", consumed_inputs && ctx.opset() < 6 ? "consumed_inputs" : ""});
  }
}

BinaryPlan make_elementwise_plan(const PrepareContext& ctx) {
  require_known_shape(ctx, 0);
  require_known_shape(ctx, 1);
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(1).shape;
  if (ctx.opset() >= 7) return make_binary_plan(ctx, a, b, broadcast_or_fail(ctx, a, b));
  const std::int64_t broadcast = ctx.attr_int("broadcast", 0);
  if (broadcast == 0) {
    if (a != b) {
      ctx.fail("shapes " + shape_to_string(a) + " and " + shape_to_string(b) +
               " differ and attribute broadcast is not set (opset " + std::to_string(ctx.opset()) +
               " has no implicit broadcasting)");
    }
    return make_binary_plan(ctx, a, b, a);
  }
  if (broadcast != 1) ctx.fail("attribute broadcast must be 0 or 1");
  const auto rank_a = static_cast<std::int64_t>(a.size());
  const auto rank_b = static_cast<std::int64_t>(b.size());
  Shape aligned(a.size(), 1);
  if (shape_numel(b) != 1 || rank_b > rank_a) {
    const std::int64_t axis = ctx.attr_int("axis", rank_a - rank_b);
    if (axis < 0 || rank_b > rank_a || axis + rank_b > rank_a) {
      ctx.fail("B of shape " + shape_to_string(b) + " at axis " + std::to_string(axis) +
               " does not fit in A of shape " + shape_to_string(a));
    }
    for (std::int64_t i = 0; i < rank_b; ++i) {
      const auto k = static_cast<std::size_t>(axis + i);
      const std::int64_t d = b[static_cast<std::size_t>(i)];
      if (d != a[k] && d != 1) {
        ctx.fail("B of shape " + shape_to_string(b) + " at axis " + std::to_string(axis) +
                 " does not broadcast to A of shape " + shape_to_string(a));
      }
      aligned[k] = d;
    }
  }
  BinaryPlan plan = make_binary_plan(ctx, a, aligned, a);
  plan.b = b;  // the same elements in the same order: only size-1 axes were added
  return plan;
}

void require_same_dtype(const PrepareContext& ctx, std::size_t i, std::size_t j) {
  const DType a = ctx.input(i).dtype;
  const DType b = ctx.input(j).dtype;
  if (a != b) {
    ctx.fail("input " + std::to_string(j) + " has dtype " + std::string(dtype_name(b)) +
             ", input " + std::to_string(i) + " has " + std::string(dtype_name(a)));
  }
}

Status check_input(const std::string& label, std::span<const Tensor* const> in, std::size_t i,
                   DType dtype, const Shape& shape) {
  if (i >= in.size() || in[i] == nullptr) {
    return Status::error(label + ": input " + std::to_string(i) + " is missing");
  }
  if (in[i]->dtype() != dtype || in[i]->shape() != shape) {
    return Status::error(label + ": input " + std::to_string(i) + " is " +
                         std::string(dtype_name(in[i]->dtype())) + shape_to_string(in[i]->shape()) +
                         ", prepared for " + std::string(dtype_name(dtype)) +
                         shape_to_string(shape));
  }
  return Status::ok();
}

}  // namespace dnnfi::binary
