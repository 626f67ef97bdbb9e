// Expand (numpy broadcast to a shape) and Tile (repeat along each axis). Both are strided copies
// whose layout is fixed by the prepared shapes; the shape / repeats inputs are re-read on every run
// and a value that changes the output shape is a run-time error.
#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

constexpr int kMax = kMaxShapeOpRank;

// Expand's output dims: the input (right-aligned) broadcast against `shape` (n values from get).
// Returns an empty string on success, else what is wrong.
template <typename Get>
std::string expand_dims(const Shape& in, std::int64_t n, Get&& get, std::int64_t* out,
                        std::int64_t& out_rank) {
  const auto r = static_cast<std::int64_t>(in.size());
  out_rank = std::max(r, n);
  if (out_rank > kMax) return "output rank " + std::to_string(out_rank) + " is too large";
  for (std::int64_t i = 0; i < out_rank; ++i) {
    const std::int64_t d = i < out_rank - r ? 1 : in[static_cast<std::size_t>(i - (out_rank - r))];
    const std::int64_t s = i < out_rank - n ? 1 : get(i - (out_rank - n));
    if (s < 0) return "shape value " + std::to_string(s) + " is negative";
    if (d == s || s == 1) {
      out[i] = d;
    } else if (d == 1) {
      out[i] = s;
    } else {
      return "dimension " + std::to_string(d) + " cannot be expanded to " + std::to_string(s);
    }
  }
  return {};
}

// Tile's output dims in[a] * repeats[a]; returns an empty string on success.
template <typename Get>
std::string tile_dims(const Shape& in, Get&& get, std::int64_t* out) {
  for (std::size_t a = 0; a < in.size(); ++a) {
    const std::int64_t rep = get(static_cast<std::int64_t>(a));
    if (rep < 0)
      return "repeats[" + std::to_string(a) + "] = " + std::to_string(rep) + " is negative";
    if (__builtin_mul_overflow(in[a], rep, &out[a]) || out[a] > (INT64_MAX >> 8)) {
      return "repeats[" + std::to_string(a) + "] = " + std::to_string(rep) + " is too large";
    }
  }
  return {};
}

enum class Rule { kExpand, kTile };

class ExpandTileKernel final : public Kernel {
 public:
  ExpandTileKernel(std::string tag, Rule rule, TensorInfo input, TensorInfo output,
                   std::int64_t count, const CopyLayout& layout)
      : tag_(std::move(tag)),
        rule_(rule),
        input_(std::move(input)),
        output_(std::move(output)),
        count_(count),
        layout_(layout) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, input_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    const char* what = rule_ == Rule::kExpand ? "shape" : "repeats";
    DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, 1, what, count_));
    const Tensor& t = *in[1];
    auto get = [&](std::int64_t i) { return index_value(t, i); };
    std::int64_t dims[kMax];
    std::int64_t rank = static_cast<std::int64_t>(input_.shape.size());
    const std::string err = rule_ == Rule::kExpand
                                ? expand_dims(input_.shape, count_, get, dims, rank)
                                : tile_dims(input_.shape, get, dims);
    if (!err.empty()) return run_error(tag_, std::string(what) + " is invalid at run time: " + err);
    bool same = rank == static_cast<std::int64_t>(output_.shape.size());
    for (std::int64_t i = 0; same && i < rank; ++i) {
      same = dims[i] == output_.shape[static_cast<std::size_t>(i)];
    }
    if (!same) {
      return run_error(tag_, std::string(what) + " (input 1) changed at run time: output shape " +
                                 dims_to_string(std::span(dims, static_cast<std::size_t>(rank))) +
                                 " instead of prepared " + shape_to_string(output_.shape));
    }
    copy_strided(in[0]->raw(), out[0]->raw(), dtype_size(input_.dtype), layout_);
    return Status::ok();
  }

 private:
  std::string tag_;
  Rule rule_;
  TensorInfo input_;
  TensorInfo output_;
  std::int64_t count_;
  CopyLayout layout_;
};

}  // namespace

Prepared prepare_expand(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  require_rank_at_most_max(ctx, x.shape.size());
  const std::vector<std::int64_t> shape = read_index_constant(ctx, 1, "shape");
  std::int64_t dims[kMax];
  std::int64_t rank = 0;
  const std::string err = expand_dims(
      x.shape, static_cast<std::int64_t>(shape.size()),
      [&](std::int64_t i) { return shape[static_cast<std::size_t>(i)]; }, dims, rank);
  if (!err.empty()) {
    ctx.fail("cannot expand " + shape_to_string(x.shape) + " to " + dims_to_string(shape) + ": " +
             err);
  }
  Shape out_shape(dims, dims + rank);
  require_valid_shape(ctx, out_shape, "output shape");
  CopyLayout l;
  l.rank = static_cast<int>(rank);
  const auto lead = rank - static_cast<std::int64_t>(x.shape.size());
  std::int64_t in_stride = 1, out_stride = 1;
  for (std::int64_t i = rank - 1; i >= 0; --i) {
    const std::int64_t d = i < lead ? 1 : x.shape[static_cast<std::size_t>(i - lead)];
    l.dims[i] = dims[i];
    l.src_strides[i] = d == 1 ? 0 : in_stride;
    l.dst_strides[i] = out_stride;
    in_stride *= d;
    out_stride *= dims[i];
  }
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, out_shape}};
  p.kernel = std::make_unique<ExpandTileKernel>(node_tag(ctx), Rule::kExpand, x, p.outputs[0],
                                                static_cast<std::int64_t>(shape.size()), l);
  return p;
}

Prepared prepare_tile(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  require_rank_at_most_max(ctx, x.shape.size());
  const std::vector<std::int64_t> repeats = read_index_constant(ctx, 1, "repeats");
  if (repeats.size() != x.shape.size()) {
    ctx.fail("repeats has " + std::to_string(repeats.size()) + " entries for rank " +
             std::to_string(x.shape.size()));
  }
  std::int64_t dims[kMax];
  const std::string err = tile_dims(
      x.shape, [&](std::int64_t i) { return repeats[static_cast<std::size_t>(i)]; }, dims);
  if (!err.empty()) ctx.fail(err);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  Shape out_shape(dims, dims + rank);
  require_valid_shape(ctx, out_shape, "output shape");
  // Two copy axes per tensor axis: (repeat, element), the repeat axis reading the same data again.
  CopyLayout l;
  l.rank = static_cast<int>(2 * rank);
  std::int64_t in_stride = 1, out_stride = 1;
  for (std::int64_t a = rank - 1; a >= 0; --a) {
    const std::int64_t d = x.shape[static_cast<std::size_t>(a)];
    l.dims[2 * a] = repeats[static_cast<std::size_t>(a)];
    l.src_strides[2 * a] = 0;
    l.dst_strides[2 * a] = d * out_stride;
    l.dims[2 * a + 1] = d;
    l.src_strides[2 * a + 1] = in_stride;
    l.dst_strides[2 * a + 1] = out_stride;
    in_stride *= d;
    out_stride *= dims[a];
  }
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, out_shape}};
  p.kernel =
      std::make_unique<ExpandTileKernel>(node_tag(ctx), Rule::kTile, x, p.outputs[0], rank, l);
  return p;
}

}  // namespace dnnfi
