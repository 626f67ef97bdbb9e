// Slice: attributes starts/ends/axes (opset 1-9) or inputs starts/ends/axes/steps (opset >= 10).
// The effective start and step of each axis are re-derived from the inputs on every run: a
// corrupted start that keeps the output shape moves the window (still in bounds), anything that
// would change the output shape or is invalid is a run-time error.
#include <algorithm>

#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

constexpr int kMax = kMaxShapeOpRank;

// Effective per-axis window: output dim, first index read, and step.
struct SliceParams {
  std::int64_t out[kMax] = {};
  std::int64_t start[kMax] = {};
  std::int64_t step[kMax] = {};
};

// The raw slice description: n entries; axes / steps may be null (defaults 0..n-1 / 1).
struct SliceSpec {
  std::int64_t n = 0;
  const std::int64_t* starts = nullptr;
  const std::int64_t* ends = nullptr;
  const std::int64_t* axes = nullptr;
  const std::int64_t* steps = nullptr;
};

// Clamps and counts per the ONNX Slice rules, with no overflow for any int64 input. Returns an
// empty string on success, else what is wrong.
std::string derive_slice(const Shape& in, const SliceSpec& s, SliceParams& p) {
  const auto rank = static_cast<std::int64_t>(in.size());
  if (s.n > rank) {
    return std::to_string(s.n) + " entries for rank " + std::to_string(rank);
  }
  bool seen[kMax] = {};
  for (std::int64_t a = 0; a < rank; ++a) {
    p.out[a] = in[static_cast<std::size_t>(a)];
    p.start[a] = 0;
    p.step[a] = 1;
  }
  for (std::int64_t i = 0; i < s.n; ++i) {
    std::int64_t a = s.axes != nullptr ? s.axes[i] : i;
    if (!normalize_axis(a, rank)) {
      return "axes[" + std::to_string(i) + "] = " + std::to_string(a) + " is out of range";
    }
    if (seen[a]) return "axis " + std::to_string(a) + " is repeated";
    seen[a] = true;
    const std::int64_t step = s.steps != nullptr ? s.steps[i] : 1;
    if (step == 0) return "steps[" + std::to_string(i) + "] is 0";
    const std::int64_t d = in[static_cast<std::size_t>(a)];
    std::int64_t b = s.starts[i];
    std::int64_t e = s.ends[i];
    if (b < 0) b += d;  // d >= 0: cannot overflow
    if (e < 0) e += d;
    std::int64_t count = 0;
    if (d == 0) {
      b = 0;
    } else if (step > 0) {
      b = std::clamp<std::int64_t>(b, 0, d);
      e = std::clamp<std::int64_t>(e, 0, d);
      count = e > b ? (e - b - 1) / step + 1 : 0;
    } else {
      b = std::clamp<std::int64_t>(b, 0, d - 1);
      e = std::clamp<std::int64_t>(e, -1, d - 1);
      const std::int64_t mag = step == INT64_MIN ? INT64_MAX : -step;
      count = b > e ? (b - e - 1) / mag + 1 : 0;
    }
    p.out[a] = count;
    p.start[a] = b;
    p.step[a] = step;
  }
  return {};
}

class SliceKernel final : public Kernel {
 public:
  SliceKernel(std::string tag, TensorInfo input, TensorInfo output, const SliceParams& params,
              bool from_inputs, std::int64_t n, bool has_axes, bool has_steps)
      : tag_(std::move(tag)),
        input_(std::move(input)),
        output_(std::move(output)),
        params_(params),
        from_inputs_(from_inputs),
        n_(n),
        has_axes_(has_axes),
        has_steps_(has_steps) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, input_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    const int rank = static_cast<int>(input_.shape.size());
    SliceParams p;
    if (from_inputs_) {
      DNNFI_RETURN_IF_ERROR(read_params(in, p));
    } else {
      p = params_;
    }
    if (output_.numel() == 0) return Status::ok();
    CopyLayout l;
    l.rank = rank;
    std::int64_t in_stride = 1, out_stride = 1, base = 0;
    for (int a = rank - 1; a >= 0; --a) {
      l.dims[a] = p.out[a];
      // A step only matters when the axis has two or more outputs; then |step| < dim, so the
      // stride cannot overflow.
      l.src_strides[a] = p.out[a] > 1 ? in_stride * p.step[a] : 0;
      l.dst_strides[a] = out_stride;
      base += p.start[a] * in_stride;
      in_stride *= input_.shape[static_cast<std::size_t>(a)];
      out_stride *= p.out[a];
    }
    const std::size_t esize = dtype_size(input_.dtype);
    copy_strided(
        static_cast<const std::byte*>(in[0]->raw()) + base * static_cast<std::int64_t>(esize),
        out[0]->raw(), esize, l);
    return Status::ok();
  }

 private:
  // Re-reads starts/ends/axes/steps (inputs 1-4) and checks they still give the prepared shape.
  Status read_params(std::span<const Tensor* const> in, SliceParams& p) const {
    static const char* const kNames[] = {"starts", "ends", "axes", "steps"};
    std::int64_t values[4][kMax] = {};
    SliceSpec spec;
    spec.n = n_;
    for (std::size_t k = 0; k < 4; ++k) {
      if ((k == 2 && !has_axes_) || (k == 3 && !has_steps_)) continue;
      DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, k + 1, kNames[k], n_));
      for (std::int64_t i = 0; i < n_; ++i) values[k][i] = index_value(*in[k + 1], i);
    }
    spec.starts = values[0];
    spec.ends = values[1];
    spec.axes = has_axes_ ? values[2] : nullptr;
    spec.steps = has_steps_ ? values[3] : nullptr;
    const std::string err = derive_slice(input_.shape, spec, p);
    if (!err.empty()) return run_error(tag_, "invalid slice at run time: " + err);
    const int rank = static_cast<int>(input_.shape.size());
    for (int a = 0; a < rank; ++a) {
      if (p.out[a] != output_.shape[static_cast<std::size_t>(a)]) {
        return run_error(tag_,
                         "starts/ends/axes/steps changed at run time: output shape " +
                             dims_to_string(std::span(p.out, static_cast<std::size_t>(rank))) +
                             " instead of prepared " + shape_to_string(output_.shape));
      }
    }
    return Status::ok();
  }

  std::string tag_;
  TensorInfo input_;
  TensorInfo output_;
  SliceParams params_;  // used when the slice comes from attributes
  bool from_inputs_;
  std::int64_t n_;
  bool has_axes_;
  bool has_steps_;
};

}  // namespace

Prepared prepare_slice(const PrepareContext& ctx) {
  const bool from_inputs = ctx.opset() >= 10;
  std::vector<std::int64_t> starts, ends, axes, steps;
  bool has_axes = false, has_steps = false;
  if (from_inputs) {
    ctx.allow_attributes({});
    ctx.require_inputs(3, 5);
    starts = read_index_constant(ctx, 1, "starts");
    ends = read_index_constant(ctx, 2, "ends");
    has_axes = ctx.has_input(3);
    has_steps = ctx.has_input(4);
    if (has_axes) axes = read_index_constant(ctx, 3, "axes");
    if (has_steps) steps = read_index_constant(ctx, 4, "steps");
  } else {
    ctx.allow_attributes({"starts", "ends", "axes"});
    ctx.require_inputs(1, 1);
    if (!ctx.has_attr("starts") || !ctx.has_attr("ends")) {
      ctx.fail("attributes 'starts' and 'ends' are required");
    }
    starts = ctx.attr_ints("starts");
    ends = ctx.attr_ints("ends");
    has_axes = ctx.has_attr("axes");
    if (has_axes) axes = ctx.attr_ints("axes");
  }
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  require_rank_at_most_max(ctx, x.shape.size());
  if (x.shape.empty()) ctx.fail("input must have rank >= 1");
  if (ends.size() != starts.size() || (has_axes && axes.size() != starts.size()) ||
      (has_steps && steps.size() != starts.size())) {
    ctx.fail("starts, ends, axes and steps must have the same length");
  }
  SliceSpec spec;
  spec.n = static_cast<std::int64_t>(starts.size());
  spec.starts = starts.data();
  spec.ends = ends.data();
  spec.axes = has_axes ? axes.data() : nullptr;
  spec.steps = has_steps ? steps.data() : nullptr;
  SliceParams params;
  const std::string err = derive_slice(x.shape, spec, params);
  if (!err.empty()) ctx.fail("invalid slice: " + err);
  Shape out_shape(params.out, params.out + x.shape.size());
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, out_shape}};
  p.kernel = std::make_unique<SliceKernel>(node_tag(ctx), x, p.outputs[0], params, from_inputs,
                                           spec.n, has_axes, has_steps);
  return p;
}

}  // namespace dnnfi
