#include "ops/shape_common.h"

namespace dnnfi {

std::string node_tag(const PrepareContext& ctx) {
  return "node '" + ctx.node().name + "' (" + ctx.node().op_type + ")";
}

void require_static_shape(const PrepareContext& ctx, std::size_t i) {
  const TensorInfo& info = ctx.input(i);
  for (std::int64_t d : info.shape) {
    if (d < 0) {
      ctx.fail("input " + std::to_string(i) + " has an unknown dimension " +
               shape_to_string(info.shape));
    }
  }
}

void require_rank_at_most_max(const PrepareContext& ctx, std::size_t rank) {
  if (rank > static_cast<std::size_t>(kMaxShapeOpRank)) {
    ctx.fail("rank " + std::to_string(rank) + " is above the supported maximum " +
             std::to_string(kMaxShapeOpRank));
  }
}

void require_valid_shape(const PrepareContext& ctx, const Shape& shape, const std::string& what) {
  if (checked_numel(shape) < 0) {
    ctx.fail(what + " " + dims_to_string(shape) + " has a negative dimension or is too large");
  }
}

std::int64_t normalize_axis(const PrepareContext& ctx, std::int64_t axis, std::int64_t rank,
                            const std::string& what) {
  std::int64_t a = axis;
  if (!normalize_axis(a, rank)) {
    ctx.fail(what + " " + std::to_string(axis) + " is out of range for rank " +
             std::to_string(rank));
  }
  return a;
}

bool normalize_axis(std::int64_t& axis, std::int64_t rank) {
  if (axis < -rank || axis >= rank) return false;
  if (axis < 0) axis += rank;
  return true;
}

void require_index_input(const PrepareContext& ctx, std::size_t i, const std::string& what) {
  const TensorInfo& info = ctx.input(i);
  if (info.dtype != DType::kInt64 && info.dtype != DType::kInt32) {
    ctx.fail(what + " (input " + std::to_string(i) + ") must be int64 or int32, is " +
             std::string(dtype_name(info.dtype)));
  }
  if (info.shape.size() > 1) {
    ctx.fail(what + " (input " + std::to_string(i) + ") must be 1-D, has shape " +
             shape_to_string(info.shape));
  }
}

std::vector<std::int64_t> read_index_constant(const PrepareContext& ctx, std::size_t i,
                                              const std::string& what) {
  require_index_input(ctx, i, what);
  return ctx.require_constant(i).to_int64_vector();
}

std::int64_t index_value(const Tensor& t, std::int64_t i) {
  switch (t.dtype()) {
    case DType::kInt64:
      return t.data<std::int64_t>()[i];
    case DType::kInt32:
      return t.data<std::int32_t>()[i];
    default:
      return t.get_as_int64(i);
  }
}

std::string dims_to_string(std::span<const std::int64_t> dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

Status run_error(const std::string& tag, const std::string& message) {
  return Status::error(tag + ": " + message);
}

Status check_data_input(const std::string& tag, std::span<const Tensor* const> in, std::size_t i,
                        const TensorInfo& expected) {
  if (i >= in.size() || in[i] == nullptr || (in[i]->raw() == nullptr && in[i]->nbytes() != 0)) {
    return run_error(tag, "input " + std::to_string(i) + " is missing at run time");
  }
  if (in[i]->info() != expected) {
    return run_error(
        tag, "input " + std::to_string(i) + " is " + std::string(dtype_name(in[i]->dtype())) +
                 shape_to_string(in[i]->shape()) + " at run time, prepared as " +
                 std::string(dtype_name(expected.dtype)) + shape_to_string(expected.shape));
  }
  return Status::ok();
}

Status check_index_input(const std::string& tag, std::span<const Tensor* const> in, std::size_t i,
                         const std::string& what, std::int64_t count) {
  if (i >= in.size() || in[i] == nullptr || (in[i]->raw() == nullptr && in[i]->nbytes() != 0)) {
    return run_error(tag, what + " (input " + std::to_string(i) + ") is missing at run time");
  }
  const DType t = in[i]->dtype();
  const bool integer = t == DType::kInt64 || t == DType::kInt32 || t == DType::kInt16 ||
                       t == DType::kInt8 || t == DType::kUInt8 || t == DType::kUInt16 ||
                       t == DType::kUInt32 || t == DType::kUInt64;
  if (!integer) {
    return run_error(tag, what + " (input " + std::to_string(i) + ") has dtype " +
                              std::string(dtype_name(t)) + " at run time");
  }
  const std::int64_t n = checked_numel(in[i]->shape());
  if (n != count) {
    return run_error(tag, what + " (input " + std::to_string(i) + ") has shape " +
                              shape_to_string(in[i]->shape()) + " at run time, prepared with " +
                              std::to_string(count) + " elements");
  }
  return Status::ok();
}

Status check_output(const std::string& tag, std::span<Tensor* const> out, std::size_t i,
                    const TensorInfo& expected) {
  if (i >= out.size() || out[i] == nullptr || (out[i]->raw() == nullptr && out[i]->nbytes() != 0)) {
    return run_error(tag, "output " + std::to_string(i) + " is missing");
  }
  if (out[i]->info() != expected) {
    return run_error(
        tag, "output " + std::to_string(i) + " is " + std::string(dtype_name(out[i]->dtype())) +
                 shape_to_string(out[i]->shape()) + ", prepared as " +
                 std::string(dtype_name(expected.dtype)) + shape_to_string(expected.shape));
  }
  return Status::ok();
}

}  // namespace dnnfi
