// Comparisons with a bool output (Equal, Less, Greater, LessOrEqual, GreaterOrEqual), the logical
// And, Or, Xor on bool tensors, and Where, all with numpy broadcasting (before opset 7, the legacy
// `broadcast` / `axis` form of binary_common.h's make_elementwise_plan). A bool element is read as
// a byte and any nonzero byte is true: a fault can flip a bool to a byte other than 0/1, and
// loading that as C++ bool would be UB. Bool outputs are always 0 or 1. Where moves elements as raw
// bits of their size, so it takes every dtype and keeps NaN payloads.
#include <cstring>

#include "ops/binary_common.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

using binary::BinaryPlan;

struct EqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a == b;
  }
};
struct LessOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a < b;
  }
};
struct GreaterOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a > b;
  }
};
// NaN compares false, so these are not the negations of Less / Greater.
struct LessOrEqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a <= b;
  }
};
struct GreaterOrEqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a >= b;
  }
};
// Equal and the logical ops on bool tensors, given their bytes.
struct BoolEqualOp {
  bool operator()(std::uint8_t a, std::uint8_t b) const { return (a != 0) == (b != 0); }
};
struct AndOp {
  bool operator()(std::uint8_t a, std::uint8_t b) const { return a != 0 && b != 0; }
};
struct OrOp {
  bool operator()(std::uint8_t a, std::uint8_t b) const { return a != 0 || b != 0; }
};
struct XorOp {
  bool operator()(std::uint8_t a, std::uint8_t b) const { return (a != 0) != (b != 0); }
};

// y = Op(a, b) for inputs of dtype (storage type) T, bool output.
template <typename T, typename Op>
Prepared make_compare_kernel(const PrepareContext& ctx, BinaryPlan plan) {
  const DType dtype = ctx.input(0).dtype;
  Prepared p;
  p.outputs = {TensorInfo{DType::kBool, plan.y}};
  p.kernel =
      make_kernel([plan = std::move(plan), dtype, label = binary::node_label(ctx)](
                      std::span<const Tensor* const> in, std::span<Tensor* const> out) -> Status {
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 0, dtype, plan.a));
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 1, dtype, plan.b));
        binary::run_binary(plan, in[0]->data<T>(), in[1]->data<T>(), out[0]->data<bool>(), Op{});
        return Status::ok();
      });
  return p;
}

template <typename Op>
Prepared prepare_compare(const PrepareContext& ctx, bool takes_bool) {
  binary::allow_elementwise_attributes(ctx, false);
  ctx.require_inputs(2, 2);
  binary::require_same_dtype(ctx, 0, 1);
  BinaryPlan plan = binary::make_elementwise_plan(ctx);
  if (takes_bool && ctx.input(0).dtype == DType::kBool) {
    return make_compare_kernel<std::uint8_t, BoolEqualOp>(ctx, std::move(plan));
  }
  return binary::dispatch(ctx, 0, binary::NumericTypes{}, [&](auto tag) {
    return make_compare_kernel<decltype(tag), Op>(ctx, std::move(plan));
  });
}

// And, Or, Xor: bool inputs; versions 1 and 7 differ only in the legacy broadcast attributes.
template <typename Op>
Prepared prepare_logical(const PrepareContext& ctx) {
  binary::allow_elementwise_attributes(ctx, false);
  ctx.require_inputs(2, 2);
  ctx.require_dtype(0, {DType::kBool});
  ctx.require_dtype(1, {DType::kBool});
  return make_compare_kernel<std::uint8_t, Op>(ctx, binary::make_elementwise_plan(ctx));
}

struct WherePlan {
  Shape c, x, y, out;
  BroadcastLoop loop;
  std::vector<std::int64_t> ref_strides[3];
  bool reference = false;
};

// Optimised Where for one combination of contiguous (true) / one-value (false) inner runs.
template <typename T, bool kC, bool kX, bool kY>
void where_rows(const BroadcastLoop& loop, const std::uint8_t* c, const T* x, const T* y, T* out) {
  for_each_broadcast_row<3>(loop, [&](std::int64_t o, const std::int64_t* off, std::int64_t n) {
    const std::uint8_t* pc = c + off[0];
    const T* px = x + off[1];
    const T* py = y + off[2];
    T* po = out + o;
    for (std::int64_t j = 0; j < n; ++j) {
      po[j] = pc[kC ? j : 0] != 0 ? px[kX ? j : 0] : py[kY ? j : 0];
    }
  });
}

// T: an unsigned integer of the element size; elements are copied as bits.
template <typename T>
void run_where(const WherePlan& p, const std::uint8_t* c, const T* x, const T* y, T* out) {
  if (p.reference) {
    for_each_broadcast<3>(p.out, p.ref_strides, [&](std::int64_t i, const std::int64_t* off) {
      out[i] = c[off[0]] != 0 ? x[off[1]] : y[off[2]];
    });
    return;
  }
  const int runs = (p.loop.inner_stride(0) != 0 ? 4 : 0) | (p.loop.inner_stride(1) != 0 ? 2 : 0) |
                   (p.loop.inner_stride(2) != 0 ? 1 : 0);
  switch (runs) {
    case 7:
      return where_rows<T, true, true, true>(p.loop, c, x, y, out);
    case 6:
      return where_rows<T, true, true, false>(p.loop, c, x, y, out);
    case 5:
      return where_rows<T, true, false, true>(p.loop, c, x, y, out);
    case 4:
      return where_rows<T, true, false, false>(p.loop, c, x, y, out);
    case 3:
      return where_rows<T, false, true, true>(p.loop, c, x, y, out);
    case 2:
      return where_rows<T, false, true, false>(p.loop, c, x, y, out);
    case 1:
      return where_rows<T, false, false, true>(p.loop, c, x, y, out);
    default:
      return;  // every operand broadcast along the inner axis cannot happen
  }
}

template <typename T>
Prepared make_where_kernel(const PrepareContext& ctx, WherePlan plan) {
  const DType dtype = ctx.input(1).dtype;
  Prepared p;
  p.outputs = {TensorInfo{dtype, plan.out}};
  p.kernel =
      make_kernel([plan = std::move(plan), dtype, label = binary::node_label(ctx)](
                      std::span<const Tensor* const> in, std::span<Tensor* const> out) -> Status {
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 0, DType::kBool, plan.c));
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 1, dtype, plan.x));
        DNNFI_RETURN_IF_ERROR(binary::check_input(label, in, 2, dtype, plan.y));
        run_where(plan, in[0]->data<std::uint8_t>(), in[1]->data<T>(), in[2]->data<T>(),
                  out[0]->data<T>());
        return Status::ok();
      });
  return p;
}

}  // namespace

Prepared prepare_equal(const PrepareContext& ctx) { return prepare_compare<EqualOp>(ctx, true); }
Prepared prepare_less(const PrepareContext& ctx) { return prepare_compare<LessOp>(ctx, false); }
Prepared prepare_greater(const PrepareContext& ctx) {
  return prepare_compare<GreaterOp>(ctx, false);
}
Prepared prepare_less_or_equal(const PrepareContext& ctx) {
  return prepare_compare<LessOrEqualOp>(ctx, false);
}
Prepared prepare_greater_or_equal(const PrepareContext& ctx) {
  return prepare_compare<GreaterOrEqualOp>(ctx, false);
}
Prepared prepare_and(const PrepareContext& ctx) { return prepare_logical<AndOp>(ctx); }
Prepared prepare_or(const PrepareContext& ctx) { return prepare_logical<OrOp>(ctx); }
Prepared prepare_xor(const PrepareContext& ctx) { return prepare_logical<XorOp>(ctx); }

Prepared prepare_where(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(3, 3);
  ctx.require_dtype(0, {DType::kBool});
  binary::require_same_dtype(ctx, 1, 2);
  for (std::size_t i = 0; i < 3; ++i) binary::require_known_shape(ctx, i);
  WherePlan plan;
  plan.c = ctx.input(0).shape;
  plan.x = ctx.input(1).shape;
  plan.y = ctx.input(2).shape;
  plan.out = binary::broadcast_or_fail(ctx, binary::broadcast_or_fail(ctx, plan.c, plan.x), plan.y);
  plan.loop = make_broadcast_loop({plan.c, plan.x, plan.y}, plan.out);
  if (plan.loop.dims.size() > kBroadcastLoopMaxRank) {
    ctx.unsupported("broadcast pattern alternates between broadcast and full axes too often");
  }
  plan.ref_strides[0] = broadcast_strides(plan.c, plan.out);
  plan.ref_strides[1] = broadcast_strides(plan.x, plan.out);
  plan.ref_strides[2] = broadcast_strides(plan.y, plan.out);
  plan.reference = ctx.reference();
  switch (dtype_size(ctx.input(1).dtype)) {
    case 1:
      return make_where_kernel<std::uint8_t>(ctx, std::move(plan));
    case 2:
      return make_where_kernel<std::uint16_t>(ctx, std::move(plan));
    case 4:
      return make_where_kernel<std::uint32_t>(ctx, std::move(plan));
    case 8:
      return make_where_kernel<std::uint64_t>(ctx, std::move(plan));
    default:
      ctx.unsupported("input 1 has unsupported dtype " +
                      std::string(dtype_name(ctx.input(1).dtype)));
  }
}

}  // namespace dnnfi
