// TopK (opset 1, 10, 11): the k largest (or smallest) elements of each slice along `axis` and
// their indices, in sorted order.
//
// k is the attribute (opset 1) or the input K, which must be known at load time since it sets the
// output shape; a value that differs at run time is an error. Ties go to the lower index (the
// spec's order). NaN counts as larger than every number, so it comes first with largest=1 and last
// with largest=0. sorted=0 leaves the order unspecified; this engine returns sorted results then
// too.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/ops.h"

namespace dnnfi {

namespace {

template <typename T>
struct TopKOrder {
  const T* xs;
  std::int64_t inner;
  bool largest;
  // Whether slice element a comes before slice element b: a strict weak order.
  bool operator()(std::int64_t a, std::int64_t b) const {
    const T va = xs[a * inner];
    const T vb = xs[b * inner];
    if constexpr (std::is_floating_point_v<T>) {
      const bool na = va != va;
      const bool nb = vb != vb;
      if (na || nb) {
        if (na && nb) return a < b;
        return largest ? na : nb;
      }
    }
    if (va != vb) return largest ? va > vb : va < vb;
    return a < b;
  }
};

template <typename T>
void topk_run(const T* x, T* values, std::int64_t* indices, std::int64_t outer, std::int64_t n,
              std::int64_t inner, std::int64_t k, bool largest) {
  const std::int64_t total = outer * inner;
  const bool parallel = total > 1 && total * n >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t o = 0; o < total; ++o) {
    // Index scratch, kept per thread: no allocation once it has grown to the slice length.
    thread_local std::vector<std::int64_t> order;
    order.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    const std::int64_t in_base = (o / inner) * n * inner + o % inner;
    const std::int64_t out_base = (o / inner) * k * inner + o % inner;
    const TopKOrder<T> before{x + in_base, inner, largest};
    std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t i = order[static_cast<std::size_t>(j)];
      if (values != nullptr) values[out_base + j * inner] = x[in_base + i * inner];
      if (indices != nullptr) indices[out_base + j * inner] = i;
    }
  }
}

}  // namespace

Prepared prepare_topk(const PrepareContext& ctx) {
  const std::int64_t opset = ctx.opset();
  if (opset >= 11) {
    ctx.allow_attributes({"axis", "largest", "sorted"});
  } else if (opset >= 10) {
    ctx.allow_attributes({"axis"});
  } else {
    ctx.allow_attributes({"axis", "k"});
  }
  ctx.require_inputs(opset >= 10 ? 2 : 1, opset >= 10 ? 2 : 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64});
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  std::int64_t axis = ctx.attr_int("axis", -1);
  if (axis < -rank || axis >= rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for input shape " +
             shape_to_string(x.shape));
  }
  if (axis < 0) axis += rank;
  const auto ax = static_cast<std::size_t>(axis);
  const std::int64_t n = x.shape[ax];
  std::int64_t k = 0;
  const bool k_as_input = opset >= 10;
  if (k_as_input) {
    ctx.require_dtype(1, {DType::kInt64});
    const Tensor& kt = ctx.require_constant(1);
    if (kt.numel() != 1)
      ctx.fail("K must hold one value, got shape " + shape_to_string(kt.shape()));
    k = kt.get_as_int64(0);
  } else {
    if (!ctx.has_attr("k")) ctx.fail("attribute k is required");
    k = ctx.attr_int("k", 0);
  }
  if (k < 0 || k > n) {
    ctx.fail("k " + std::to_string(k) + " is out of range for axis " + std::to_string(axis) +
             " of input shape " + shape_to_string(x.shape));
  }
  const bool largest = ctx.attr_int("largest", 1) != 0;
  const std::int64_t outer = shape_numel(Shape(x.shape.begin(), x.shape.begin() + axis));
  const std::int64_t inner = shape_numel(Shape(x.shape.begin() + axis + 1, x.shape.end()));
  Shape out_shape = x.shape;
  out_shape[ax] = k;
  const std::string node_name = ctx.node().name;
  Prepared p;
  p.outputs = {TensorInfo{x.dtype, out_shape}, TensorInfo{DType::kInt64, out_shape}};
  auto make = [&]<typename T>() -> std::unique_ptr<Kernel> {
    return make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      if (k_as_input) {
        // K was folded at load time: it sets the output shape.
        const Tensor* kt = in[1];
        if (kt == nullptr || kt->dtype() != DType::kInt64 || kt->numel() != 1 ||
            kt->get_as_int64(0) != k) {
          return Status::error("node '" + node_name +
                               "': K input differs from its value at load time");
        }
      }
      if (k == 0) return Status::ok();
      // An omitted output (empty name) comes as nullptr.
      T* values = out[0] != nullptr ? out[0]->data<T>() : nullptr;
      std::int64_t* indices =
          out.size() > 1 && out[1] != nullptr ? out[1]->data<std::int64_t>() : nullptr;
      topk_run<T>(in[0]->data<T>(), values, indices, outer, n, inner, k, largest);
      return Status::ok();
    });
  };
  switch (x.dtype) {
    case DType::kFloat32:
      p.kernel = make.operator()<float>();
      break;
    case DType::kFloat64:
      p.kernel = make.operator()<double>();
      break;
    case DType::kInt32:
      p.kernel = make.operator()<std::int32_t>();
      break;
    default:
      p.kernel = make.operator()<std::int64_t>();
      break;
  }
  return p;
}

}  // namespace dnnfi
