// Cast between every dtype of the engine: float32, float64, float16, bfloat16, int8..int64,
// uint8..uint64 and bool. String (and float8 / int4) targets are load-time errors.
//
// Conversion rules (numpy / ONNX Runtime where they are defined; defined here where they are
// not, so that no input bit pattern — faults produce any — is UB):
//   float -> float   round to nearest even, one rounding (float64 -> float16/bfloat16 goes
//                    through float32 rounded to odd, which makes the two roundings one).
//   float -> integer truncate toward zero; NaN -> 0; values beyond the target range saturate to
//                    its minimum / maximum (C++ leaves them undefined; x86 would give INT_MIN).
//   integer -> integer keep the low bits (two's complement wrap-around, like numpy and C++20).
//   integer -> float  round to nearest even (for float16/bfloat16 via float64; exact for
//                    integers up to 2^53, which covers every integer dtype below 64 bits).
//   anything -> bool  nonzero -> true (NaN -> true); bool -> number gives 0 or 1. Bool bytes are
//                    read as bytes: any nonzero byte is true, and Cast to bool stores 0 or 1.
//   same dtype        a bitwise copy (NaN payloads kept); bool -> bool normalises to 0/1.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "ops/ops.h"
#include "ops/unary_common.h"

namespace dnnfi {

namespace {

// Tags for the dtypes whose storage type is not the value type.
struct Half {};
struct BFloat16 {};
struct Bool {};

template <typename T>
struct StorageOf {
  using type = T;
};
template <>
struct StorageOf<Half> {
  using type = std::uint16_t;
};
template <>
struct StorageOf<BFloat16> {
  using type = std::uint16_t;
};
template <>
struct StorageOf<Bool> {
  using type = std::uint8_t;
};
template <typename T>
using Storage = typename StorageOf<T>::type;

template <typename T>
inline constexpr bool kIs16BitFloat = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// float64 -> float32 rounded to odd: truncate toward zero and set the last bit if inexact. A
// second rounding of the result to a format with at least 2 fewer significand bits (float16,
// bfloat16) then equals a single correct rounding of the float64 value.
float round_to_odd_float(double d) {
  const float f = static_cast<float>(d);
  const double back = static_cast<double>(f);
  const bool inexact = back != d && d == d;
  const bool away = std::fabs(back) > std::fabs(d);  // rounded away from zero (incl. to inf)
  std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  bits -= (inexact && away) ? 1u : 0u;
  bits |= inexact ? 1u : 0u;
  return std::bit_cast<float>(bits);
}

// Saturating float -> integer conversion (see the file comment).
template <typename I, typename F>
I saturate_to_int(F v) {
  constexpr F kLow = static_cast<F>(std::numeric_limits<I>::lowest());  // 0 or -2^(k-1): exact
  constexpr F kHighExclusive = static_cast<F>(std::numeric_limits<I>::max() / 2 + 1) * F(2);
  if (!(v == v)) return I{0};
  if (v <= kLow) return std::numeric_limits<I>::lowest();
  if (v >= kHighExclusive) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

// ---- loading: storage -> value (float, double, or an integer; bool becomes uint8 0/1) ------

template <typename S, bool kReference>
auto load(Storage<S> x) {
  if constexpr (std::is_same_v<S, Half>) {
    if constexpr (kReference) {
      return half_to_float(x);
    } else {
      return unary::half_bits_to_float(x);
    }
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    if constexpr (kReference) {
      return bfloat16_to_float(x);
    } else {
      return unary::bfloat16_bits_to_float(x);
    }
  } else if constexpr (std::is_same_v<S, Bool>) {
    return static_cast<std::uint8_t>(x != 0 ? 1 : 0);
  } else {
    return x;
  }
}

// A value as float32 on its way to float16/bfloat16 (one correct rounding overall).
template <typename V>
float to_float_for_16bit(V v) {
  if constexpr (std::is_same_v<V, float>) {
    return v;
  } else if constexpr (std::is_same_v<V, double>) {
    return round_to_odd_float(v);
  } else {
    return round_to_odd_float(static_cast<double>(v));
  }
}

// ---- storing: value -> storage -------------------------------------------------------------

template <typename D, bool kReference, typename V>
Storage<D> store(V v) {
  if constexpr (std::is_same_v<D, Half>) {
    return float_to_half(to_float_for_16bit(v));
  } else if constexpr (std::is_same_v<D, BFloat16>) {
    if constexpr (kReference) {
      return float_to_bfloat16(to_float_for_16bit(v));
    } else {
      return unary::float_to_bfloat16_bits(to_float_for_16bit(v));
    }
  } else if constexpr (std::is_same_v<D, Bool>) {
    return static_cast<std::uint8_t>(v != V(0) ? 1 : 0);
  } else if constexpr (std::is_floating_point_v<D>) {
    return static_cast<D>(v);
  } else if constexpr (std::is_floating_point_v<V>) {
    return saturate_to_int<D>(v);
  } else {
    return static_cast<D>(v);  // integer -> integer: modular
  }
}

// Plain loop with the scalar conversions of core/dtype.h.
template <typename S, typename D>
void cast_reference(const void* src, void* dst, std::int64_t n) {
  const auto* x = static_cast<const Storage<S>*>(src);
  auto* y = static_cast<Storage<D>*>(dst);
  for (std::int64_t i = 0; i < n; ++i) y[i] = store<D, true>(load<S, true>(x[i]));
}

template <typename T>
struct FormatOf;
template <>
struct FormatOf<Half> {
  using type = unary::HalfFormat;
};
template <>
struct FormatOf<BFloat16> {
  using type = unary::BFloat16Format;
};

// Chunked, parallel for large tensors; float16/bfloat16 go through a float32 block so that their
// conversions vectorise. Bitwise equal to cast_reference (tested).
template <typename S, typename D>
void cast_optimised(const void* src, void* dst, std::int64_t n) {
  const auto* x = static_cast<const Storage<S>*>(src);
  auto* y = static_cast<Storage<D>*>(dst);
  unary::for_chunks(n, [&](std::int64_t begin, std::int64_t end) {
    if constexpr (kIs16BitFloat<S> || kIs16BitFloat<D>) {
      float buf[unary::kConvertBlock];
      for (std::int64_t s = begin; s < end; s += unary::kConvertBlock) {
        const std::int64_t m = std::min(unary::kConvertBlock, end - s);
        if constexpr (kIs16BitFloat<S>) {
          FormatOf<S>::type::to_float(x + s, buf, m);
        } else {
          for (std::int64_t j = 0; j < m; ++j)
            buf[j] = to_float_for_16bit(load<S, false>(x[s + j]));
        }
        if constexpr (kIs16BitFloat<D>) {
          FormatOf<D>::type::from_float(buf, y + s, m);
        } else {
          for (std::int64_t j = 0; j < m; ++j) y[s + j] = store<D, false>(buf[j]);
        }
      }
    } else {
      for (std::int64_t i = begin; i < end; ++i) y[i] = store<D, false>(load<S, false>(x[i]));
    }
  });
}

using CastFn = void (*)(const void*, void*, std::int64_t);

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) for the type that represents dtype t; false if there is none.
template <typename F>
bool visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32:
      f(TypeTag<float>{});
      return true;
    case DType::kFloat64:
      f(TypeTag<double>{});
      return true;
    case DType::kFloat16:
      f(TypeTag<Half>{});
      return true;
    case DType::kBFloat16:
      f(TypeTag<BFloat16>{});
      return true;
    case DType::kInt8:
      f(TypeTag<std::int8_t>{});
      return true;
    case DType::kUInt8:
      f(TypeTag<std::uint8_t>{});
      return true;
    case DType::kInt16:
      f(TypeTag<std::int16_t>{});
      return true;
    case DType::kUInt16:
      f(TypeTag<std::uint16_t>{});
      return true;
    case DType::kInt32:
      f(TypeTag<std::int32_t>{});
      return true;
    case DType::kUInt32:
      f(TypeTag<std::uint32_t>{});
      return true;
    case DType::kInt64:
      f(TypeTag<std::int64_t>{});
      return true;
    case DType::kUInt64:
      f(TypeTag<std::uint64_t>{});
      return true;
    case DType::kBool:
      f(TypeTag<Bool>{});
      return true;
    case DType::kUndefined:
      return false;
  }
  return false;
}

CastFn select_cast(DType from, DType to, bool reference) {
  CastFn fn = nullptr;
  visit_dtype(from, [&](auto s) {
    using S = typename decltype(s)::type;
    visit_dtype(to, [&](auto d) {
      using D = typename decltype(d)::type;
      fn = reference ? &cast_reference<S, D> : &cast_optimised<S, D>;
    });
  });
  return fn;
}

// The Cast of input 0 to `to` (Cast and CastLike).
Prepared prepare_cast_to(const PrepareContext& ctx, DType to) {
  if (ctx.num_outputs() != 1)
    ctx.fail("expects 1 output, has " + std::to_string(ctx.num_outputs()));
  const TensorInfo& in = ctx.input(0);
  const DType from = in.dtype;
  Prepared p;
  p.outputs = {TensorInfo{to, in.shape}};
  if (from == to && from != DType::kBool) {
    p.kernel = make_kernel([](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
      unary::copy_bytes(in[0]->raw(), out[0]->raw(), in[0]->nbytes());
      return Status::ok();
    });
    return p;
  }
  const CastFn fn = select_cast(from, to, ctx.reference());
  if (fn == nullptr) {
    ctx.unsupported("Cast from " + std::string(dtype_name(from)) + " is not supported");
  }
  p.kernel = make_kernel([fn](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    fn(in[0]->raw(), out[0]->raw(), in[0]->numel());
    return Status::ok();
  });
  return p;
}

}  // namespace

Prepared prepare_cast(const PrepareContext& ctx) {
  // 'saturate' (opset 19) only changes float8 conversions, which are not supported.
  if (ctx.opset() >= 19) {
    ctx.allow_attributes({"to", "saturate"});
  } else {
    ctx.allow_attributes({"to"});
  }
  ctx.require_inputs(1, 1);
  if (!ctx.has_attr("to")) ctx.fail("attribute 'to' is required");
  const std::int64_t code = ctx.attr_int("to", 0);
  constexpr std::int64_t kOnnxString = 8;
  if (code == kOnnxString) ctx.unsupported("Cast to string is not supported");
  const DType to = code > 0 && code <= std::numeric_limits<int>::max()
                       ? dtype_from_onnx(static_cast<int>(code))
                       : DType::kUndefined;
  if (to == DType::kUndefined) {
    ctx.unsupported("Cast to ONNX data type " + std::to_string(code) + " is not supported");
  }
  return prepare_cast_to(ctx, to);
}

// CastLike (opset 15): Cast of input 0 to the dtype of input 1, whose values are not read.
Prepared prepare_cast_like(const PrepareContext& ctx) {
  if (ctx.opset() >= 19) {
    ctx.allow_attributes({"saturate"});
  } else {
    ctx.allow_attributes({});
  }
  ctx.require_inputs(2, 2);
  const DType to = ctx.input(1).dtype;
  if (to == DType::kUndefined) ctx.unsupported("input 1 has an unsupported dtype");
  return prepare_cast_to(ctx, to);
}

}  // namespace dnnfi
