// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
// ReduceLogSum, ReduceLogSumExp, ArgMax and ArgMin.
//
// Reductions: axes come from the `axes` attribute, or from the optional second input for
// ReduceSum opset >= 13 and the others opset >= 18 (it must then be constant; a value that
// differs at run time is an error). No axes reduces everything, unless
// noop_with_empty_axes=1, which makes the op an identity.
//
// Prepare merges adjacent dims that are all reduced or all kept and drops dims of size 1, so the
// kernel walks at most kMaxGroups alternating groups. Each output element is reduced by one
// thread, over its inputs in ascending flat-index order: results do not depend on the thread
// count. Float sums accumulate in double; integer sums wrap modulo 2^64. An empty reduction gives
// the kind's identity (0, 1 for Prod, +-inf or the integer extremes for Min/Max, -inf for the
// log kinds, NaN for Mean). ReduceLogSumExp shifts by the running maximum (no overflow).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/ops.h"

namespace dnnfi {

namespace {

// Instantiates make.operator()<T>() for the element type `dtype` of the numeric types the reduce
// ops support; any other dtype is unsupported.
template <typename Make>
std::unique_ptr<Kernel> make_for_dtype(const PrepareContext& ctx, DType dtype, Make& make) {
  switch (dtype) {
    case DType::kFloat32:
      return make.template operator()<float>();
    case DType::kFloat64:
      return make.template operator()<double>();
    case DType::kInt32:
      return make.template operator()<std::int32_t>();
    case DType::kInt64:
      return make.template operator()<std::int64_t>();
    case DType::kInt8:
      return make.template operator()<std::int8_t>();
    case DType::kUInt8:
      return make.template operator()<std::uint8_t>();
    default:
      ctx.unsupported("unsupported dtype");
  }
}

constexpr std::size_t kMaxGroups = 16;

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// Online log-sum-exp: the running maximum m and the sum s of exp(x - m) so far.
struct LogSumExpAcc {
  double m = -std::numeric_limits<double>::infinity();
  double s = 0.0;
};

template <typename T>
struct Acc {
  using type = std::conditional_t<std::is_floating_point_v<T>, double, std::uint64_t>;
};

// The accumulator, its start value, the step for one input and the final value of each kind.
// Integer sums, products and squares wrap modulo 2^64 and are then truncated to T.
template <typename T, ReduceKind K>
struct Reducer {
  static constexpr bool kExtremum = K == ReduceKind::kMax || K == ReduceKind::kMin;
  using A = std::conditional_t<
      kExtremum, T,
      std::conditional_t<K == ReduceKind::kLogSumExp, LogSumExpAcc, typename Acc<T>::type>>;
  static A init() {
    if constexpr (K == ReduceKind::kMax) {
      if constexpr (std::is_floating_point_v<T>) {
        return -std::numeric_limits<T>::infinity();
      } else {
        return std::numeric_limits<T>::lowest();
      }
    } else if constexpr (K == ReduceKind::kMin) {
      if constexpr (std::is_floating_point_v<T>) {
        return std::numeric_limits<T>::infinity();
      } else {
        return std::numeric_limits<T>::max();
      }
    } else if constexpr (K == ReduceKind::kProd) {
      return A{1};
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      return LogSumExpAcc{};
    } else {
      return A{0};
    }
  }
  // NaN propagates through max and min: once the accumulator is NaN it stays NaN.
  static void add(A& a, T v) {
    if constexpr (kExtremum) {
      const bool better = K == ReduceKind::kMax ? v > a : v < a;
      if constexpr (std::is_floating_point_v<T>) {
        a = (better || v != v) && a == a ? v : a;
      } else {
        a = better ? v : a;
      }
    } else if constexpr (K == ReduceKind::kProd) {
      a *= static_cast<A>(v);
    } else if constexpr (K == ReduceKind::kL1) {
      if constexpr (std::is_floating_point_v<T>) {
        a += std::fabs(static_cast<double>(v));
      } else {
        const A u = static_cast<A>(v);
        if constexpr (std::is_signed_v<T>) {
          a += v < 0 ? A{0} - u : u;
        } else {
          a += u;
        }
      }
    } else if constexpr (K == ReduceKind::kL2 || K == ReduceKind::kSumSquare) {
      const A u = static_cast<A>(v);
      a += u * u;
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      const double x = static_cast<double>(v);
      if (a.m != a.m) return;  // NaN so far
      if (x != x) {
        a.m = x;
      } else if (x > a.m) {
        a.s = a.s * std::exp(a.m - x) + 1.0;  // exp(-inf) = 0 for the first finite value
        a.m = x;
      } else if (x != -std::numeric_limits<double>::infinity() &&
                 a.m != std::numeric_limits<double>::infinity()) {
        a.s += std::exp(x - a.m);
      }
    } else {
      a += static_cast<A>(v);
    }
  }
  static T finish(A a, std::int64_t count) {
    if constexpr (K == ReduceKind::kMean) {
      return static_cast<T>(a / static_cast<double>(count));
    } else if constexpr (K == ReduceKind::kL2) {
      return static_cast<T>(std::sqrt(a));
    } else if constexpr (K == ReduceKind::kLogSum) {
      return static_cast<T>(std::log(a));
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      if (a.m != a.m || a.s == 0.0 || std::isinf(a.m)) return static_cast<T>(a.m);
      return static_cast<T>(a.m + std::log(a.s));
    } else {
      return static_cast<T>(a);
    }
  }
};

// The input seen as alternating groups of kept and reduced dims (size-1 dims dropped).
struct ReducePlan {
  int num_groups = 0;
  std::array<std::int64_t, kMaxGroups> size{};
  std::array<std::int64_t, kMaxGroups> stride{};  // input element stride of each group
  std::array<bool, kMaxGroups> reduced{};
  std::int64_t out_numel = 0;
  std::int64_t count = 1;  // inputs per output element
};

// Calls f(offset) for every input offset of the reduced groups below `last` (exclusive), in
// ascending order, starting from `base`.
template <typename F>
void for_each_reduced(const ReducePlan& p, int last, std::int64_t base, F&& f) {
  std::array<std::int64_t, kMaxGroups> idx{};
  int dims[kMaxGroups];
  int nd = 0;
  for (int g = 0; g < last; ++g) {
    if (p.reduced[g]) dims[nd++] = g;
  }
  std::int64_t off = base;
  while (true) {
    f(off);
    int k = nd - 1;
    for (; k >= 0; --k) {
      const int g = dims[k];
      off += p.stride[g];
      if (++idx[g] < p.size[g]) break;
      off -= p.stride[g] * p.size[g];
      idx[g] = 0;
    }
    if (k < 0) return;
  }
}

// Input offset of the first element reduced into output element o (kept groups only, the
// innermost kept group excluded when skip_last_kept).
std::int64_t kept_base(const ReducePlan& p, std::int64_t o, int end) {
  std::int64_t off = 0;
  for (int g = end - 1; g >= 0; --g) {
    if (p.reduced[g]) continue;
    off += (o % p.size[g]) * p.stride[g];
    o /= p.size[g];
  }
  return off;
}

// Float sums and means over a contiguous run add it in double in kLanes interleaved partial sums,
// combined in a fixed order: the loop vectorises (one serial chain of double adds does not; it
// made ReduceMean, LayerNorm's decomposed form in exported transformers, a tenth of ViT's time),
// and the result depends only on the run's length.
template <typename T, ReduceKind K>
constexpr bool kLaneSum = std::is_floating_point_v<T> &&
                          (K == ReduceKind::kSum || K == ReduceKind::kMean);

template <typename T>
double lane_sum(const T* v, std::int64_t n) {
  constexpr int kLanes = 8;
  double lanes[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(v[i + j]);
  }
  for (; i < n; ++i) lanes[i % kLanes] += static_cast<double>(v[i]);
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
         ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}

template <typename T, ReduceKind K>
void reduce_run(const T* x, T* y, const ReducePlan& p) {
  using R = Reducer<T, K>;
  using A = typename R::A;
  if (p.out_numel == 0) return;
  if (p.count == 0) {
    for (std::int64_t o = 0; o < p.out_numel; ++o) y[o] = R::finish(R::init(), 0);
    return;
  }
  const int ng = p.num_groups;
  const bool parallel = p.out_numel > 1 && p.out_numel * p.count >= (1 << 15);
  if (ng == 0 || p.reduced[ng - 1]) {
    // Innermost group reduced (or nothing to reduce): a contiguous run per output element.
    const std::int64_t run = ng == 0 ? 1 : p.size[ng - 1];
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t o = 0; o < p.out_numel; ++o) {
      A acc = R::init();
      for_each_reduced(p, ng - 1 < 0 ? 0 : ng - 1, kept_base(p, o, ng), [&](std::int64_t off) {
        const T* xr = x + off;
        if constexpr (kLaneSum<T, K>) {
          acc += lane_sum(xr, run);
        } else {
          for (std::int64_t i = 0; i < run; ++i) R::add(acc, xr[i]);
        }
      });
      y[o] = R::finish(acc, p.count);
    }
    return;
  }
  // Innermost group kept: accumulate whole rows of it, in chunks held on the stack.
  constexpr std::int64_t kChunk = 256;
  const std::int64_t inner = p.size[ng - 1];
  const std::int64_t rows = p.out_numel / inner;
  const std::int64_t chunks = (inner + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t t = 0; t < rows * chunks; ++t) {
    const std::int64_t r = t / chunks;
    const std::int64_t j0 = (t % chunks) * kChunk;
    const std::int64_t w = std::min(kChunk, inner - j0);
    A acc[kChunk];
    std::fill(acc, acc + w, R::init());
    for_each_reduced(p, ng - 1, kept_base(p, r, ng - 1) + j0, [&](std::int64_t off) {
      const T* xr = x + off;
      for (std::int64_t j = 0; j < w; ++j) R::add(acc[j], xr[j]);
    });
    T* yr = y + r * inner + j0;
    for (std::int64_t j = 0; j < w; ++j) yr[j] = R::finish(acc[j], p.count);
  }
}

std::string axes_to_string(const std::vector<std::int64_t>& axes) {
  std::string s = "[";
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(axes[i]);
  }
  return s + "]";
}

template <ReduceKind K>
Prepared prepare_reduce(const PrepareContext& ctx, std::int64_t axes_input_since) {
  const bool axes_as_input = ctx.opset() >= axes_input_since;
  if (axes_as_input) {
    ctx.allow_attributes({"keepdims", "noop_with_empty_axes"});
    ctx.require_inputs(1, 2);
  } else {
    ctx.allow_attributes({"axes", "keepdims"});
    ctx.require_inputs(1, 1);
  }
  if constexpr (K == ReduceKind::kMean || K == ReduceKind::kL2 || K == ReduceKind::kLogSum ||
                K == ReduceKind::kLogSumExp) {
    // Integer inputs are valid ONNX here, but their rounding of sqrt/log is not implemented.
    ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64});
  } else if constexpr (K == ReduceKind::kSum || K == ReduceKind::kProd || K == ReduceKind::kL1 ||
                       K == ReduceKind::kSumSquare) {
    ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64});
  } else {
    ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64,
                          DType::kInt8, DType::kUInt8});
  }
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const bool keepdims = ctx.attr_int("keepdims", 1) != 0;
  const bool noop_if_empty = ctx.attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<std::int64_t> axes;
  bool axes_given_as_input = false;
  if (axes_as_input) {
    if (ctx.has_input(1)) {
      ctx.require_dtype(1, {DType::kInt64});
      axes = ctx.require_constant(1).to_int64_vector();
      axes_given_as_input = true;
    }
  } else {
    axes = ctx.attr_ints("axes");
  }
  const std::vector<std::int64_t> axes_as_given = axes;
  std::vector<bool> is_reduced(static_cast<std::size_t>(rank), false);
  for (std::int64_t& a : axes) {
    if (a < -rank || a >= rank) {
      ctx.fail("axes " + axes_to_string(axes_as_given) + " out of range for input shape " +
               shape_to_string(x.shape));
    }
    if (a < 0) a += rank;
    if (is_reduced[static_cast<std::size_t>(a)]) {
      ctx.fail("axes " + axes_to_string(axes_as_given) + " repeats an axis");
    }
    is_reduced[static_cast<std::size_t>(a)] = true;
  }
  Prepared p;
  if (axes.empty() && noop_if_empty) {
    p.outputs = {x};
    p.kernel = make_kernel([](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      if (in[0]->nbytes() > 0) std::memcpy(out[0]->raw(), in[0]->raw(), in[0]->nbytes());
      return Status::ok();
    });
    return p;
  }
  if (axes.empty()) std::fill(is_reduced.begin(), is_reduced.end(), true);

  ReducePlan plan;
  Shape out_shape;
  const std::vector<std::int64_t> strides = shape_strides(x.shape);
  for (std::size_t d = 0; d < x.shape.size(); ++d) {
    if (is_reduced[d]) {
      plan.count *= x.shape[d];
      if (keepdims) out_shape.push_back(1);
    } else {
      out_shape.push_back(x.shape[d]);
    }
    if (x.shape[d] == 1) continue;
    const int g = plan.num_groups;
    if (g > 0 && plan.reduced[g - 1] == is_reduced[d]) {
      plan.size[g - 1] *= x.shape[d];
      plan.stride[g - 1] = strides[d];
      continue;
    }
    if (static_cast<std::size_t>(g) == kMaxGroups) ctx.fail("input rank too large");
    plan.size[g] = x.shape[d];
    plan.stride[g] = strides[d];
    plan.reduced[g] = is_reduced[d];
    ++plan.num_groups;
  }
  plan.out_numel = shape_numel(out_shape);
  p.outputs = {TensorInfo{x.dtype, out_shape}};

  const std::string node_name = ctx.node().name;
  auto make = [&]<typename T>() {
    return make_kernel([plan, axes_given_as_input, axes_as_given, node_name](
                           std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      if (axes_given_as_input) {
        // The axes input was folded at prepare; a changed value would change the result shape.
        const Tensor* a = in.size() > 1 ? in[1] : nullptr;
        if (a == nullptr || a->dtype() != DType::kInt64 ||
            a->numel() != static_cast<std::int64_t>(axes_as_given.size()) ||
            (a->nbytes() > 0 && std::memcmp(a->raw(), axes_as_given.data(), a->nbytes()) != 0)) {
          return Status::error("node '" + node_name +
                               "': axes input differs from its value at load time");
        }
      }
      reduce_run<T, K>(in[0]->data<T>(), out[0]->data<T>(), plan);
      return Status::ok();
    });
  };
  p.kernel = make_for_dtype(ctx, x.dtype, make);
  return p;
}

// ArgMax (kMin false) or ArgMin (kMin true) along one axis. NaN counts as the extreme value
// (numpy's argmax and argmin): the first NaN wins, or the last one with select_last_index=1.
template <typename T, bool kMin>
void arg_extremum_run(const T* x, std::int64_t* y, std::int64_t outer, std::int64_t n,
                      std::int64_t inner, bool select_last) {
  const std::int64_t total = outer * inner;
  const bool parallel = total > 1 && total * n >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t o = 0; o < total; ++o) {
    const T* xs = x + (o / inner) * n * inner + o % inner;
    T best = xs[0];
    std::int64_t best_k = 0;
    for (std::int64_t k = 1; k < n; ++k) {
      const T v = xs[k * inner];
      const bool beats =
          kMin ? (select_last ? v <= best : v < best) : (select_last ? v >= best : v > best);
      bool take;
      if constexpr (std::is_floating_point_v<T>) {
        if (best != best) {
          take = select_last && v != v;
        } else if (v != v) {
          take = true;
        } else {
          take = beats;
        }
      } else {
        take = beats;
      }
      if (take) {
        best = v;
        best_k = k;
      }
    }
    y[o] = best_k;
  }
}

template <bool kMin>
Prepared prepare_arg_extremum(const PrepareContext& ctx) {
  if (ctx.opset() >= 12) {
    ctx.allow_attributes({"axis", "keepdims", "select_last_index"});
  } else {
    ctx.allow_attributes({"axis", "keepdims"});
  }
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64,
                        DType::kInt8, DType::kUInt8});
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  std::int64_t axis = ctx.attr_int("axis", 0);
  if (axis < -rank || axis >= rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for input shape " +
             shape_to_string(x.shape));
  }
  if (axis < 0) axis += rank;
  const auto ax = static_cast<std::size_t>(axis);
  const std::int64_t n = x.shape[ax];
  if (n == 0) {
    ctx.fail("axis " + std::to_string(axis) + " has size 0: no " + (kMin ? "minimum" : "maximum") +
             " to select");
  }
  const bool keepdims = ctx.attr_int("keepdims", 1) != 0;
  const bool select_last = ctx.attr_int("select_last_index", 0) != 0;
  const std::int64_t outer = shape_numel(Shape(x.shape.begin(), x.shape.begin() + axis));
  const std::int64_t inner = shape_numel(Shape(x.shape.begin() + axis + 1, x.shape.end()));
  Shape out_shape = x.shape;
  if (keepdims) {
    out_shape[ax] = 1;
  } else {
    out_shape.erase(out_shape.begin() + axis);
  }
  Prepared p;
  p.outputs = {TensorInfo{DType::kInt64, out_shape}};
  auto make = [&]<typename T>() {
    return make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      arg_extremum_run<T, kMin>(in[0]->data<T>(), out[0]->data<std::int64_t>(), outer, n, inner,
                                select_last);
      return Status::ok();
    });
  };
  p.kernel = make_for_dtype(ctx, x.dtype, make);
  return p;
}

}  // namespace

Prepared prepare_reduce_mean(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kMean>(ctx, 18);
}

Prepared prepare_reduce_sum(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kSum>(ctx, 13);
}

Prepared prepare_reduce_max(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kMax>(ctx, 18);
}

Prepared prepare_reduce_min(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kMin>(ctx, 18);
}

Prepared prepare_reduce_prod(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kProd>(ctx, 18);
}

Prepared prepare_reduce_l1(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kL1>(ctx, 18);
}

Prepared prepare_reduce_l2(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kL2>(ctx, 18);
}

Prepared prepare_reduce_sum_square(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kSumSquare>(ctx, 18);
}

Prepared prepare_reduce_log_sum(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kLogSum>(ctx, 18);
}

Prepared prepare_reduce_log_sum_exp(const PrepareContext& ctx) {
  return prepare_reduce<ReduceKind::kLogSumExp>(ctx, 18);
}

Prepared prepare_argmax(const PrepareContext& ctx) { return prepare_arg_extremum<false>(ctx); }

Prepared prepare_argmin(const PrepareContext& ctx) { return prepare_arg_extremum<true>(ctx); }

}  // namespace dnnfi
