// Concat and Split: both move whole rows between one "joined" tensor and several pieces along an
// axis, so both use copy_joined (contiguous memcpy runs, split over threads when big).
#include <algorithm>
#include <cstring>

#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

// Rows of bytes along `axis`: outer = prod(dims before axis), and per piece its dim along axis
// times the bytes of everything after it.
struct JoinedLayout {
  std::int64_t outer = 1;
  std::vector<std::int64_t> row_offsets;  // bytes, one per piece plus the total
};

JoinedLayout joined_layout(const Shape& shape, std::size_t axis, std::size_t esize,
                           const std::vector<std::int64_t>& axis_dims) {
  JoinedLayout l;
  std::int64_t inner = static_cast<std::int64_t>(esize);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i < axis) l.outer *= shape[i];
    if (i > axis) inner *= shape[i];
  }
  l.row_offsets.assign(axis_dims.size() + 1, 0);
  for (std::size_t k = 0; k < axis_dims.size(); ++k) {
    l.row_offsets[k + 1] = l.row_offsets[k] + axis_dims[k] * inner;
  }
  return l;
}

class ConcatKernel final : public Kernel {
 public:
  // channel_rows: an NCHW Concat of rank-4 tensors along axis 1, whose rows run_rows can copy.
  ConcatKernel(std::string tag, std::vector<TensorInfo> inputs, TensorInfo output,
               JoinedLayout layout, bool channel_rows)
      : tag_(std::move(tag)),
        inputs_(std::move(inputs)),
        output_(std::move(output)),
        layout_(std::move(layout)),
        channel_rows_(channel_rows) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    if (in.size() != inputs_.size()) return run_error(tag_, "wrong number of inputs at run time");
    for (std::size_t k = 0; k < inputs_.size(); ++k) {
      DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, k, inputs_[k]));
    }
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    copy_joined(static_cast<std::byte*>(out[0]->raw()), layout_.outer, layout_.row_offsets.data(),
                inputs_.size(), true,
                [&](std::size_t k) { return const_cast<void*>(in[k]->raw()); });
    return Status::ok();
  }

  // Rows [lo, hi) of every output plane: the same rows of the input plane it comes from.
  bool run_rows(std::span<const RowInput> in, Tensor& out, std::int64_t lo,
                std::int64_t hi) const override {
    if (!channel_rows_ || in.size() != inputs_.size() || out.shape() != output_.shape ||
        out.dtype() != output_.dtype) {
      return false;
    }
    auto fits = [&](const Tensor* t, std::size_t k) {
      return t->shape() == inputs_[k].shape && t->dtype() == output_.dtype;
    };
    for (std::size_t k = 0; k < in.size(); ++k) {
      if (in[k].rest == nullptr || !fits(in[k].rest, k)) return false;
      if (in[k].band != nullptr && !fits(in[k].band, k)) return false;
    }
    const Shape& s = output_.shape;
    const std::int64_t h = s[2], w = s[3];
    lo = std::max<std::int64_t>(lo, 0);
    hi = std::min(hi, h);
    const std::size_t esize = dtype_size(output_.dtype);
    auto* y = static_cast<std::byte*>(out.raw());
    std::int64_t first_channel = 0;
    for (std::size_t k = 0; k < in.size(); ++k) {
      const RowInput& x = in[k];
      const std::int64_t channels = inputs_[k].shape[1];
      // Row segments in which the input comes from one tensor.
      std::int64_t cuts[4] = {lo, std::clamp(x.lo, lo, hi), std::clamp(x.hi, lo, hi), hi};
      if (x.band == nullptr) cuts[1] = cuts[2] = lo;
      for (int c = 0; c < 3; ++c) {
        const std::int64_t a = cuts[c], b = cuts[c + 1];
        if (b <= a) continue;
        const auto* src = static_cast<const std::byte*>(x.at(a).raw());
        const auto bytes = static_cast<std::size_t>((b - a) * w) * esize;
        for (std::int64_t n = 0; n < s[0]; ++n) {
          for (std::int64_t ch = 0; ch < channels; ++ch) {
            const std::int64_t from = (n * channels + ch) * h + a;
            const std::int64_t to = (n * s[1] + first_channel + ch) * h + a;
            std::memcpy(y + static_cast<std::size_t>(to * w) * esize,
                        src + static_cast<std::size_t>(from * w) * esize, bytes);
          }
        }
      }
      first_channel += channels;
    }
    return true;
  }

 private:
  std::string tag_;
  std::vector<TensorInfo> inputs_;
  TensorInfo output_;
  JoinedLayout layout_;
  bool channel_rows_;
};

class SplitKernel final : public Kernel {
 public:
  SplitKernel(std::string tag, TensorInfo input, std::vector<TensorInfo> outputs,
              JoinedLayout layout, bool split_input, std::vector<std::int64_t> split)
      : tag_(std::move(tag)),
        input_(std::move(input)),
        outputs_(std::move(outputs)),
        layout_(std::move(layout)),
        split_input_(split_input),
        split_(std::move(split)) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, input_));
    if (split_input_) {
      const auto n = static_cast<std::int64_t>(split_.size());
      DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, 1, "split", n));
      for (std::int64_t k = 0; k < n; ++k) {
        const std::int64_t v = index_value(*in[1], k);
        if (v != split_[static_cast<std::size_t>(k)]) {
          return run_error(tag_, "split[" + std::to_string(k) + "] is " + std::to_string(v) +
                                     " at run time, prepared as " +
                                     std::to_string(split_[static_cast<std::size_t>(k)]));
        }
      }
    }
    if (out.size() != outputs_.size()) return run_error(tag_, "wrong number of outputs");
    for (std::size_t k = 0; k < outputs_.size(); ++k) {
      if (out[k] != nullptr) DNNFI_RETURN_IF_ERROR(check_output(tag_, out, k, outputs_[k]));
    }
    copy_joined(static_cast<std::byte*>(const_cast<void*>(in[0]->raw())), layout_.outer,
                layout_.row_offsets.data(), outputs_.size(), false,
                [&](std::size_t k) { return out[k] != nullptr ? out[k]->raw() : nullptr; });
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo input_;
  std::vector<TensorInfo> outputs_;
  JoinedLayout layout_;
  bool split_input_;
  std::vector<std::int64_t> split_;
};

}  // namespace

// dnnfi.Concat (inference sessions, exec/fusion.h) may carry layout = "NHWC": rank-4 tensors
// whose bytes are channels-last, joined along the channel axis. In NHWC bytes the channel axis is
// the innermost one, so the same row copy applies to the permuted shape.
Prepared prepare_concat(const PrepareContext& ctx) {
  const bool internal = ctx.node().domain == "dnnfi";
  if (internal) {
    ctx.allow_attributes({"axis", "layout"});
  } else {
    ctx.allow_attributes({"axis"});
  }
  if (ctx.num_inputs() < 1) ctx.fail("needs at least one input");
  // Concat-1's axis is optional with default 1; from version 4 it is required.
  if (!ctx.has_attr("axis") && ctx.opset() >= 4) ctx.fail("attribute 'axis' is required");
  const TensorInfo& first = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(first.shape.size());
  if (rank == 0) ctx.fail("inputs must have rank >= 1");
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, ctx.attr_int("axis", 1), rank, "axis"));
  std::vector<TensorInfo> inputs;
  std::vector<std::int64_t> axis_dims;
  Shape out_shape = first.shape;
  out_shape[axis] = 0;
  for (std::size_t k = 0; k < ctx.num_inputs(); ++k) {
    require_static_shape(ctx, k);
    const TensorInfo& info = ctx.input(k);
    if (info.dtype != first.dtype) {
      ctx.fail("input " + std::to_string(k) + " is " + std::string(dtype_name(info.dtype)) +
               ", input 0 is " + std::string(dtype_name(first.dtype)));
    }
    bool same = info.shape.size() == first.shape.size();
    for (std::size_t i = 0; same && i < first.shape.size(); ++i) {
      same = i == axis || info.shape[i] == first.shape[i];
    }
    if (!same) {
      ctx.fail("input " + std::to_string(k) + " has shape " + shape_to_string(info.shape) +
               ", incompatible with input 0 " + shape_to_string(first.shape) + " along axis " +
               std::to_string(axis));
    }
    out_shape[axis] += info.shape[axis];
    axis_dims.push_back(info.shape[axis]);
    inputs.push_back(info);
  }
  require_valid_shape(ctx, out_shape, "output shape");
  Shape byte_shape = out_shape;  // the shape the bytes are laid out in
  std::size_t byte_axis = axis;
  const std::string layout = internal ? ctx.attr_string("layout", "NCHW") : "NCHW";
  if (layout == "NHWC") {
    if (rank != 4 || axis != 1)
      ctx.unsupported("an NHWC Concat must join rank-4 tensors on axis 1");
    byte_shape = {out_shape[0], out_shape[2], out_shape[3], out_shape[1]};
    byte_axis = 3;
  } else if (layout != "NCHW") {
    ctx.fail("layout must be NCHW or NHWC");
  }
  Prepared p;
  p.outputs = {TensorInfo{first.dtype, out_shape}};
  p.kernel = std::make_unique<ConcatKernel>(
      node_tag(ctx), std::move(inputs), p.outputs[0],
      joined_layout(byte_shape, byte_axis, dtype_size(first.dtype), axis_dims),
      layout == "NCHW" && rank == 4 && axis == 1);
  return p;
}

Prepared prepare_split(const PrepareContext& ctx) {
  const bool split_is_input = ctx.opset() >= 13;
  if (split_is_input) {
    ctx.allow_attributes({"axis"});
    ctx.require_inputs(1, 2);
  } else {
    ctx.allow_attributes({"axis", "split"});
    ctx.require_inputs(1, 1);
  }
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), rank, "axis"));
  const std::size_t num_outputs = ctx.num_outputs();
  if (num_outputs == 0) ctx.fail("needs at least one output");
  const std::int64_t dim = x.shape[axis];
  const bool has_split_input = split_is_input && ctx.has_input(1);
  std::vector<std::int64_t> split;
  if (has_split_input) {
    split = read_index_constant(ctx, 1, "split");
  } else if (!split_is_input && ctx.has_attr("split")) {
    split = ctx.attr_ints("split");
  } else {
    const auto n = static_cast<std::int64_t>(num_outputs);
    if (dim % n != 0) {
      ctx.fail("dimension " + std::to_string(dim) + " of axis " + std::to_string(axis) +
               " does not split evenly into " + std::to_string(n) + " outputs");
    }
    split.assign(num_outputs, dim / n);
  }
  if (split.size() != num_outputs) {
    ctx.fail("split has " + std::to_string(split.size()) + " entries for " +
             std::to_string(num_outputs) + " outputs");
  }
  std::int64_t sum = 0;
  for (std::int64_t s : split) {
    if (s < 0 || s > dim) ctx.fail("split " + dims_to_string(split) + " has an invalid entry");
    sum += s;
  }
  if (sum != dim) {
    ctx.fail("split " + dims_to_string(split) + " sums to " + std::to_string(sum) +
             ", dimension is " + std::to_string(dim));
  }
  Prepared p;
  for (std::int64_t s : split) {
    Shape shape = x.shape;
    shape[axis] = s;
    p.outputs.push_back(TensorInfo{x.dtype, shape});
  }
  JoinedLayout layout = joined_layout(x.shape, axis, dtype_size(x.dtype), split);
  p.kernel = std::make_unique<SplitKernel>(node_tag(ctx), x, p.outputs, std::move(layout),
                                           has_split_input, std::move(split));
  return p;
}

}  // namespace dnnfi
