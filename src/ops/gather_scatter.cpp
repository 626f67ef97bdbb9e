// GatherElements, ScatterElements (and Scatter, its opset 9-10 name), GatherND and ScatterND.
// Plain loops: these ops move few elements in the models this engine runs, so the reference
// kernel is the only one. Every index is read from tensor data (a fault may have corrupted it):
// the kernels check all of them before they touch the output, and an index outside [-dim, dim)
// is a run-time error naming the node, the position and the value. Negative indices count from
// the end of their axis, as the spec says.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

// The 'reduction' attribute of ScatterElements / ScatterND: add and mul since opset 16, max and
// min since 18.
Reduction read_reduction(const PrepareContext& ctx) {
  const std::string r = ctx.attr_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  const bool add_mul = r == "add" || r == "mul";
  const bool max_min = r == "max" || r == "min";
  if (!add_mul && !max_min) ctx.fail("unknown reduction '" + r + "'");
  const std::int64_t since = add_mul ? 16 : 18;
  if (ctx.opset() < since) {
    ctx.fail("reduction '" + r + "' needs opset >= " + std::to_string(since));
  }
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  return r == "max" ? Reduction::kMax : Reduction::kMin;
}

// Integer add/mul wrap (two's complement) instead of overflowing: corrupted data must not be UB.
template <typename T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <typename T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

// dst[i] = dst[i] <op> src[i] for n elements.
using CombineFn = void (*)(std::byte* dst, const std::byte* src, std::int64_t n);

template <typename T, Reduction R>
void combine(std::byte* dst_bytes, const std::byte* src_bytes, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    T a, b;
    std::memcpy(&a, dst_bytes + i * static_cast<std::int64_t>(sizeof(T)), sizeof(T));
    std::memcpy(&b, src_bytes + i * static_cast<std::int64_t>(sizeof(T)), sizeof(T));
    if constexpr (R == Reduction::kAdd) a = wrapping_add(a, b);
    if constexpr (R == Reduction::kMul) a = wrapping_mul(a, b);
    if constexpr (R == Reduction::kMax) a = std::max(a, b);
    if constexpr (R == Reduction::kMin) a = std::min(a, b);
    std::memcpy(dst_bytes + i * static_cast<std::int64_t>(sizeof(T)), &a, sizeof(T));
  }
}

template <typename T>
CombineFn combine_for(Reduction r) {
  switch (r) {
    case Reduction::kAdd:
      return combine<T, Reduction::kAdd>;
    case Reduction::kMul:
      return combine<T, Reduction::kMul>;
    case Reduction::kMax:
      return combine<T, Reduction::kMax>;
    case Reduction::kMin:
      return combine<T, Reduction::kMin>;
    case Reduction::kNone:
      break;
  }
  return nullptr;
}

// nullptr for reduction none (a plain copy); unsupported for a dtype without arithmetic here.
CombineFn select_combine(const PrepareContext& ctx, DType dtype, Reduction r) {
  if (r == Reduction::kNone) return nullptr;
  switch (dtype) {
    case DType::kFloat32:
      return combine_for<float>(r);
    case DType::kFloat64:
      return combine_for<double>(r);
    case DType::kInt32:
      return combine_for<std::int32_t>(r);
    case DType::kInt64:
      return combine_for<std::int64_t>(r);
    default:
      ctx.unsupported("reduction on " + std::string(dtype_name(dtype)) +
                      " data is not implemented (float32, float64, int32, int64 are)");
  }
}

// An index tensor's values are checked against [-dim, dim) before use.
Status check_index_range(const std::string& tag, const Tensor& idx, std::int64_t j,
                         std::int64_t dim, std::int64_t& value) {
  value = index_value(idx, j);
  if (value < -dim || value >= dim) {
    return run_error(tag, "index " + std::to_string(value) + " at position " + std::to_string(j) +
                              " is out of range for dimension " + std::to_string(dim));
  }
  if (value < 0) value += dim;
  return Status::ok();
}

// ------------------------------------------------------------- GatherElements / ScatterElements

// The element-wise index layout: positions run over the index tensor's shape; position j maps to
// the data element with the same coordinates except along `axis`, where the index value is used.
struct ElementsLayout {
  int rank = 0;
  std::int64_t index_dims[kMaxShapeOpRank] = {};
  std::int64_t data_strides[kMaxShapeOpRank] = {};
  int axis = 0;
  std::int64_t axis_dim = 0;
};

// Calls f(j, base) for every position j of the index tensor (row-major); base is the data offset
// of its coordinates without the axis term.
template <typename F>
void for_each_index_position(const ElementsLayout& l, std::int64_t count, F&& f) {
  std::int64_t coord[kMaxShapeOpRank] = {};
  std::int64_t base = 0;
  for (std::int64_t j = 0; j < count; ++j) {
    f(j, base);
    for (int d = l.rank - 1; d >= 0; --d) {
      const std::int64_t stride = d == l.axis ? 0 : l.data_strides[d];
      if (++coord[d] < l.index_dims[d]) {
        base += stride;
        break;
      }
      base -= (l.index_dims[d] - 1) * stride;
      coord[d] = 0;
    }
  }
}

ElementsLayout make_elements_layout(const PrepareContext& ctx, const TensorInfo& data,
                                    const TensorInfo& indices) {
  const auto rank = static_cast<std::int64_t>(data.shape.size());
  if (rank == 0) ctx.fail("data must have rank >= 1");
  require_rank_at_most_max(ctx, data.shape.size());
  if (indices.shape.size() != data.shape.size()) {
    ctx.fail("indices " + shape_to_string(indices.shape) + " must have the rank of data " +
             shape_to_string(data.shape));
  }
  ElementsLayout l;
  l.rank = static_cast<int>(rank);
  l.axis = static_cast<int>(normalize_axis(ctx, ctx.attr_int("axis", 0), rank, "axis"));
  l.axis_dim = data.shape[static_cast<std::size_t>(l.axis)];
  const std::vector<std::int64_t> strides = shape_strides(data.shape);
  for (int d = 0; d < l.rank; ++d) {
    const auto du = static_cast<std::size_t>(d);
    if (d != l.axis && indices.shape[du] > data.shape[du]) {
      ctx.fail("indices " + shape_to_string(indices.shape) + " exceed data " +
               shape_to_string(data.shape) + " on axis " + std::to_string(d));
    }
    l.index_dims[d] = indices.shape[du];
    l.data_strides[d] = strides[du];
  }
  return l;
}

Status check_all_indices(const std::string& tag, const Tensor& idx, std::int64_t dim) {
  for (std::int64_t j = 0, n = idx.numel(); j < n; ++j) {
    std::int64_t v = 0;
    DNNFI_RETURN_IF_ERROR(check_index_range(tag, idx, j, dim, v));
  }
  return Status::ok();
}

class GatherElementsKernel final : public Kernel {
 public:
  GatherElementsKernel(std::string tag, TensorInfo data, TensorInfo indices, ElementsLayout l)
      : tag_(std::move(tag)), data_(std::move(data)), indices_(std::move(indices)), l_(l) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, data_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, indices_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, TensorInfo{data_.dtype, indices_.shape}));
    const Tensor& idx = *in[1];
    DNNFI_RETURN_IF_ERROR(check_all_indices(tag_, idx, l_.axis_dim));
    const auto es = static_cast<std::int64_t>(dtype_size(data_.dtype));
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    const std::int64_t axis_stride = l_.data_strides[l_.axis];
    for_each_index_position(l_, idx.numel(), [&](std::int64_t j, std::int64_t base) {
      std::int64_t v = index_value(idx, j);
      if (v < 0) v += l_.axis_dim;
      std::memcpy(dst + j * es, src + (base + v * axis_stride) * es, static_cast<std::size_t>(es));
    });
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo data_;
  TensorInfo indices_;
  ElementsLayout l_;
};

class ScatterElementsKernel final : public Kernel {
 public:
  ScatterElementsKernel(std::string tag, TensorInfo data, TensorInfo indices, ElementsLayout l,
                        CombineFn combine)
      : tag_(std::move(tag)),
        data_(std::move(data)),
        indices_(std::move(indices)),
        l_(l),
        combine_(combine) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, data_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, indices_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 2, TensorInfo{data_.dtype, indices_.shape}));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, data_));
    const Tensor& idx = *in[1];
    DNNFI_RETURN_IF_ERROR(check_all_indices(tag_, idx, l_.axis_dim));
    const auto es = static_cast<std::int64_t>(dtype_size(data_.dtype));
    const auto* upd = static_cast<const std::byte*>(in[2]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    if (data_.numel() > 0) std::memcpy(dst, in[0]->raw(), data_.nbytes());
    const std::int64_t axis_stride = l_.data_strides[l_.axis];
    for_each_index_position(l_, idx.numel(), [&](std::int64_t j, std::int64_t base) {
      std::int64_t v = index_value(idx, j);
      if (v < 0) v += l_.axis_dim;
      std::byte* target = dst + (base + v * axis_stride) * es;
      if (combine_ == nullptr) {
        std::memcpy(target, upd + j * es, static_cast<std::size_t>(es));
      } else {
        combine_(target, upd + j * es, 1);
      }
    });
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo data_;
  TensorInfo indices_;
  ElementsLayout l_;
  CombineFn combine_;
};

// ------------------------------------------------------------------------ GatherND / ScatterND

// The tuple layout: indices [..., k] hold `tuples` index tuples of k entries each; tuple t (in
// batch t / tuples_per_batch) selects the slice of `slice` elements at data offset
// batch * batch_stride + sum_i v_i * strides[i].
struct TupleLayout {
  std::int64_t k = 0;
  std::int64_t tuples = 0;
  std::int64_t tuples_per_batch = 1;
  std::int64_t batch_stride = 0;
  std::int64_t slice = 1;
  std::int64_t dims[kMaxShapeOpRank] = {};  // data dims indexed by the tuple entries
  std::int64_t strides[kMaxShapeOpRank] = {};
};

TupleLayout make_tuple_layout(const PrepareContext& ctx, const TensorInfo& data,
                              const TensorInfo& indices, std::int64_t batch_dims) {
  const auto r = static_cast<std::int64_t>(data.shape.size());
  const auto q = static_cast<std::int64_t>(indices.shape.size());
  if (r < 1 || q < 1) ctx.fail("data and indices must have rank >= 1");
  require_rank_at_most_max(ctx, data.shape.size());
  if (batch_dims < 0 || batch_dims >= std::min(q, r)) {
    ctx.fail("batch_dims " + std::to_string(batch_dims) + " must be in [0, min(rank(data), " +
             "rank(indices)))");
  }
  const auto b = static_cast<std::size_t>(batch_dims);
  for (std::size_t d = 0; d < b; ++d) {
    if (data.shape[d] != indices.shape[d]) {
      ctx.fail("the batch dims of indices " + shape_to_string(indices.shape) + " and data " +
               shape_to_string(data.shape) + " differ");
    }
  }
  TupleLayout l;
  l.k = indices.shape.back();
  if (l.k < 1 || l.k > r - batch_dims) {
    ctx.fail("the last dim of indices (" + std::to_string(l.k) + ") must be in [1, " +
             std::to_string(r - batch_dims) + "]");
  }
  const std::vector<std::int64_t> strides = shape_strides(data.shape);
  for (std::int64_t i = 0; i < l.k; ++i) {
    l.dims[i] = data.shape[b + static_cast<std::size_t>(i)];
    l.strides[i] = strides[b + static_cast<std::size_t>(i)];
  }
  l.tuples = shape_numel(Shape(indices.shape.begin(), indices.shape.end() - 1));
  std::int64_t batches = 1;
  for (std::size_t d = 0; d < b; ++d) batches *= indices.shape[d];
  l.tuples_per_batch = batches == 0 ? 0 : l.tuples / batches;
  l.batch_stride = b == 0 ? 0 : strides[b - 1];
  for (std::size_t d = b + static_cast<std::size_t>(l.k); d < data.shape.size(); ++d) {
    l.slice *= data.shape[d];
  }
  return l;
}

// The data offset of every tuple is checked before any is used; offset_of then recomputes it.
Status check_tuples(const std::string& tag, const TupleLayout& l, const Tensor& idx) {
  for (std::int64_t t = 0; t < l.tuples; ++t) {
    for (std::int64_t i = 0; i < l.k; ++i) {
      std::int64_t v = 0;
      DNNFI_RETURN_IF_ERROR(check_index_range(tag, idx, t * l.k + i, l.dims[i], v));
    }
  }
  return Status::ok();
}

std::int64_t offset_of(const TupleLayout& l, const Tensor& idx, std::int64_t t) {
  std::int64_t off = l.tuples_per_batch == 0 ? 0 : (t / l.tuples_per_batch) * l.batch_stride;
  for (std::int64_t i = 0; i < l.k; ++i) {
    std::int64_t v = index_value(idx, t * l.k + i);
    if (v < 0) v += l.dims[i];
    off += v * l.strides[i];
  }
  return off;
}

class GatherNdKernel final : public Kernel {
 public:
  GatherNdKernel(std::string tag, TensorInfo data, TensorInfo indices, TensorInfo output,
                 TupleLayout l)
      : tag_(std::move(tag)),
        data_(std::move(data)),
        indices_(std::move(indices)),
        output_(std::move(output)),
        l_(l) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, data_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, indices_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    const Tensor& idx = *in[1];
    DNNFI_RETURN_IF_ERROR(check_tuples(tag_, l_, idx));
    const auto bytes = static_cast<std::int64_t>(dtype_size(data_.dtype)) * l_.slice;
    const auto es = static_cast<std::int64_t>(dtype_size(data_.dtype));
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    for (std::int64_t t = 0; t < l_.tuples; ++t) {
      std::memcpy(dst + t * bytes, src + offset_of(l_, idx, t) * es,
                  static_cast<std::size_t>(bytes));
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo data_;
  TensorInfo indices_;
  TensorInfo output_;
  TupleLayout l_;
};

class ScatterNdKernel final : public Kernel {
 public:
  ScatterNdKernel(std::string tag, TensorInfo data, TensorInfo indices, TensorInfo updates,
                  TupleLayout l, CombineFn combine)
      : tag_(std::move(tag)),
        data_(std::move(data)),
        indices_(std::move(indices)),
        updates_(std::move(updates)),
        l_(l),
        combine_(combine) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, data_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 1, indices_));
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 2, updates_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, data_));
    const Tensor& idx = *in[1];
    DNNFI_RETURN_IF_ERROR(check_tuples(tag_, l_, idx));
    const auto es = static_cast<std::int64_t>(dtype_size(data_.dtype));
    const std::int64_t bytes = es * l_.slice;
    const auto* upd = static_cast<const std::byte*>(in[2]->raw());
    auto* dst = static_cast<std::byte*>(out[0]->raw());
    if (data_.numel() > 0) std::memcpy(dst, in[0]->raw(), data_.nbytes());
    for (std::int64_t t = 0; t < l_.tuples; ++t) {
      std::byte* target = dst + offset_of(l_, idx, t) * es;
      if (combine_ == nullptr) {
        std::memcpy(target, upd + t * bytes, static_cast<std::size_t>(bytes));
      } else {
        combine_(target, upd + t * bytes, l_.slice);
      }
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo data_;
  TensorInfo indices_;
  TensorInfo updates_;
  TupleLayout l_;
  CombineFn combine_;
};

void require_index_tensor(const PrepareContext& ctx, std::size_t i) {
  require_static_shape(ctx, i);
  ctx.require_dtype(i, {DType::kInt32, DType::kInt64});
}

// Constant indices are checked at load time too, so that a bad model fails there.
void check_constant_indices(const PrepareContext& ctx, std::int64_t dim) {
  if (const Tensor* c = ctx.constant(1)) {
    const Status s = check_all_indices(node_tag(ctx), *c, dim);
    if (!s.is_ok()) ctx.fail(s.message());
  }
}

}  // namespace

Prepared prepare_gather_elements(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis"});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  require_index_tensor(ctx, 1);
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  const ElementsLayout l = make_elements_layout(ctx, data, indices);
  check_constant_indices(ctx, l.axis_dim);
  Prepared p;
  p.outputs = {TensorInfo{data.dtype, indices.shape}};
  p.kernel = std::make_unique<GatherElementsKernel>(node_tag(ctx), data, indices, l);
  return p;
}

// ScatterElements (opset 11+) and Scatter (opset 9-10, the same op without 'reduction').
Prepared prepare_scatter_elements(const PrepareContext& ctx) {
  if (ctx.node().op_type == "Scatter") {
    ctx.allow_attributes({"axis"});
    if (ctx.opset() >= 11)
      ctx.fail("Scatter was removed in opset 11 (ScatterElements replaces it)");
  } else {
    ctx.allow_attributes({"axis", "reduction"});
  }
  ctx.require_inputs(3, 3);
  require_static_shape(ctx, 0);
  require_index_tensor(ctx, 1);
  require_static_shape(ctx, 2);
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  const TensorInfo& updates = ctx.input(2);
  if (updates.dtype != data.dtype || updates.shape != indices.shape) {
    ctx.fail("updates " + std::string(dtype_name(updates.dtype)) + shape_to_string(updates.shape) +
             " must have the dtype of data and the shape of " + "indices " +
             shape_to_string(indices.shape));
  }
  const ElementsLayout l = make_elements_layout(ctx, data, indices);
  const CombineFn combine = select_combine(ctx, data.dtype, read_reduction(ctx));
  check_constant_indices(ctx, l.axis_dim);
  Prepared p;
  p.outputs = {data};
  p.kernel = std::make_unique<ScatterElementsKernel>(node_tag(ctx), data, indices, l, combine);
  return p;
}

Prepared prepare_gather_nd(const PrepareContext& ctx) {
  ctx.allow_attributes({"batch_dims"});
  ctx.require_inputs(2, 2);
  require_static_shape(ctx, 0);
  require_index_tensor(ctx, 1);
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  const std::int64_t batch_dims = ctx.attr_int("batch_dims", 0);
  const TupleLayout l = make_tuple_layout(ctx, data, indices, batch_dims);
  Shape out_shape(indices.shape.begin(), indices.shape.end() - 1);
  out_shape.insert(out_shape.end(),
                   data.shape.begin() + static_cast<std::ptrdiff_t>(batch_dims + l.k),
                   data.shape.end());
  if (const Tensor* c = ctx.constant(1)) {
    const Status s = check_tuples(node_tag(ctx), l, *c);
    if (!s.is_ok()) ctx.fail(s.message());
  }
  Prepared p;
  p.outputs = {TensorInfo{data.dtype, out_shape}};
  p.kernel = std::make_unique<GatherNdKernel>(node_tag(ctx), data, indices, p.outputs[0], l);
  return p;
}

Prepared prepare_scatter_nd(const PrepareContext& ctx) {
  ctx.allow_attributes({"reduction"});
  ctx.require_inputs(3, 3);
  require_static_shape(ctx, 0);
  require_index_tensor(ctx, 1);
  require_static_shape(ctx, 2);
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  const TensorInfo& updates = ctx.input(2);
  const TupleLayout l = make_tuple_layout(ctx, data, indices, 0);
  Shape want(indices.shape.begin(), indices.shape.end() - 1);
  want.insert(want.end(), data.shape.begin() + static_cast<std::ptrdiff_t>(l.k), data.shape.end());
  if (updates.dtype != data.dtype || updates.shape != want) {
    ctx.fail("updates " + std::string(dtype_name(updates.dtype)) + shape_to_string(updates.shape) +
             " must be " + std::string(dtype_name(data.dtype)) + shape_to_string(want));
  }
  const CombineFn combine = select_combine(ctx, data.dtype, read_reduction(ctx));
  if (const Tensor* c = ctx.constant(1)) {
    const Status s = check_tuples(node_tag(ctx), l, *c);
    if (!s.is_ok()) ctx.fail(s.message());
  }
  Prepared p;
  p.outputs = {data};
  p.kernel = std::make_unique<ScatterNdKernel>(node_tag(ctx), data, indices, updates, l, combine);
  return p;
}

}  // namespace dnnfi
