// OneHot: output[..., v, ...] = on_value where v is the (normalised) index, off_value elsewhere,
// with the depth axis inserted at 'axis'. depth sets the output shape, so it must be known at
// load time; at run time the depth tensor passed must still hold that value (else a run-time
// error: a corrupted depth cannot resize the output). Indices are data and may be of any numeric
// dtype: a value in [-depth, depth) is normalised as the spec says (opset 11; opset 9 takes only
// [0, depth)), and a value outside it
// (NaN included) gives an all-off_value row, which is the spec's defined result for it (so the
// kernel never writes outside its output and needs no error for it).
#include <cmath>
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

// The depth value of a numeric scalar (or one-element) tensor; -1 when not an integer >= 1.
std::int64_t depth_of(const Tensor& t) {
  if (t.numel() != 1) return -1;
  const double d = t.get_as_double(0);
  if (!(d >= 1.0 && d < 9.0e15)) return -1;
  return static_cast<std::int64_t>(d);
}

// Index j of `t` as a position in [0, depth), or -1 when outside [-depth, depth) (outside
// [0, depth) before opset 11, which did not count negative indices from the end).
std::int64_t one_hot_position(const Tensor& t, std::int64_t j, std::int64_t depth,
                              bool negative_from_end) {
  std::int64_t v = 0;
  switch (t.dtype()) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16:
    case DType::kBFloat16: {
      const double d = t.get_as_double(j);
      if (!(d > -static_cast<double>(depth) - 1.0 && d < static_cast<double>(depth))) return -1;
      v = static_cast<std::int64_t>(d);  // truncates toward zero, like a cast to int64
      break;
    }
    case DType::kUInt64: {
      const std::uint64_t u = t.data<std::uint64_t>()[j];
      if (u >= static_cast<std::uint64_t>(depth)) return -1;
      v = static_cast<std::int64_t>(u);
      break;
    }
    default:
      v = t.get_as_int64(j);
  }
  if (v < (negative_from_end ? -depth : 0) || v >= depth) return -1;
  return v < 0 ? v + depth : v;
}

class OneHotKernel final : public Kernel {
 public:
  OneHotKernel(std::string tag, TensorInfo indices, TensorInfo depth, TensorInfo values,
               TensorInfo output, std::int64_t depth_value, std::int64_t inner,
               bool negative_from_end)
      : tag_(std::move(tag)),
        indices_(std::move(indices)),
        depth_(std::move(depth)),
        values_(std::move(values)),
        output_(std::move(output)),
        depth_value_(depth_value),
        inner_(inner),
        negative_from_end_(negative_from_end) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, indices_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, depth_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 2, values_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    if (depth_of(*in[1]) != depth_value_) {
      return run_error(tag_, "depth is " + std::to_string(in[1]->get_as_double(0)) +
                                 " at run time, prepared as " + std::to_string(depth_value_));
    }
    const auto es = static_cast<std::size_t>(dtype_size(values_.dtype));
    const auto* off = static_cast<const std::byte*>(in[2]->raw());
    const std::byte* on = off + es;
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    for (std::int64_t o = 0, n = output_.numel(); o < n; ++o) {
      std::memcpy(dst + static_cast<std::size_t>(o) * es, off, es);
    }
    const Tensor& idx = *in[0];
    for (std::int64_t j = 0, n = idx.numel(); j < n; ++j) {
      const std::int64_t v = one_hot_position(idx, j, depth_value_, negative_from_end_);
      if (v < 0) continue;
      const std::int64_t outer = j / inner_, in_pos = j % inner_;
      const std::int64_t o = (outer * depth_value_ + v) * inner_ + in_pos;
      std::memcpy(dst + static_cast<std::size_t>(o) * es, on, es);
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo indices_;
  TensorInfo depth_;
  TensorInfo values_;
  TensorInfo output_;
  std::int64_t depth_value_;
  std::int64_t inner_;  // index elements after the depth axis
  bool negative_from_end_;
};

}  // namespace

Prepared prepare_one_hot(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis"});
  ctx.require_inputs(3, 3);
  require_static_shape(ctx, 0);
  require_static_shape(ctx, 2);
  const TensorInfo& indices = ctx.input(0);
  const TensorInfo& values = ctx.input(2);
  if (indices.dtype == DType::kBool) ctx.fail("indices must be numeric, are bool");
  const std::int64_t depth = depth_of(ctx.require_constant(1));
  if (depth < 1) ctx.fail("depth must be one integer value >= 1");
  if (values.numel() != 2 || values.shape.size() != 1) {
    ctx.fail("values must be [off_value, on_value], has shape " + shape_to_string(values.shape));
  }
  const auto rank = static_cast<std::int64_t>(indices.shape.size());
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), rank + 1, "axis"));
  Shape out_shape = indices.shape;
  out_shape.insert(out_shape.begin() + static_cast<std::ptrdiff_t>(axis), depth);
  require_valid_shape(ctx, out_shape, "output shape");
  std::int64_t inner = 1;
  for (std::size_t d = axis; d < indices.shape.size(); ++d) inner *= indices.shape[d];
  Prepared p;
  p.outputs = {TensorInfo{values.dtype, out_shape}};
  p.kernel =
      std::make_unique<OneHotKernel>(node_tag(ctx), indices, ctx.input(1), values, p.outputs[0],
                                     depth, inner == 0 ? 1 : inner, ctx.opset() >= 11);
  return p;
}

}  // namespace dnnfi
