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
