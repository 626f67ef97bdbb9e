// Ops whose output is (mostly) known at prepare time: Constant, ConstantOfShape, Shape, Size,
// EyeLike, Range.
// ConstantOfShape's shape and Range's start/limit/delta must be constant; they are re-read on
// every run and a value that changes the output shape is a run-time error.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "ops/ops.h"
#include "ops/shape_common.h"
#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

// Writes a tensor held since prepare time (Constant).
class ConstantKernel final : public Kernel {
 public:
  ConstantKernel(std::string tag, Tensor value) : tag_(std::move(tag)), value_(std::move(value)) {}

  Status run(std::span<const Tensor* const>, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, value_.info()));
    if (value_.nbytes() > 0) std::memcpy(out[0]->raw(), value_.raw(), value_.nbytes());
    return Status::ok();
  }

 private:
  std::string tag_;
  Tensor value_;
};

class ConstantOfShapeKernel final : public Kernel {
 public:
  ConstantOfShapeKernel(std::string tag, TensorInfo output, std::uint64_t value)
      : tag_(std::move(tag)), output_(std::move(output)), value_(value) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const auto rank = static_cast<std::int64_t>(output_.shape.size());
    DNNFI_RETURN_IF_ERROR(check_index_input(tag_, in, 0, "shape", rank));
    for (std::int64_t i = 0; i < rank; ++i) {
      const std::int64_t v = index_value(*in[0], i);
      if (v != output_.shape[static_cast<std::size_t>(i)]) {
        return run_error(tag_, "shape[" + std::to_string(i) + "] is " + std::to_string(v) +
                                   " at run time, prepared as " +
                                   std::to_string(output_.shape[static_cast<std::size_t>(i)]));
      }
    }
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    fill_elements(out[0]->raw(), &value_, dtype_size(output_.dtype), output_.numel());
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo output_;
  std::uint64_t value_;  // the element's bytes
};

// Shape, Size, EyeLike: an output fixed by the input's (static) shape, written after checking
// that the input is the tensor prepare saw.
class ShapeKernel final : public Kernel {
 public:
  ShapeKernel(std::string tag, TensorInfo input, Tensor value)
      : tag_(std::move(tag)), input_(std::move(input)), value_(std::move(value)) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, 0, input_));
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, value_.info()));
    if (value_.nbytes() > 0) std::memcpy(out[0]->raw(), value_.raw(), value_.nbytes());
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo input_;
  Tensor value_;
};

// Range's element count, per the spec: max(ceil((limit - start) / delta), 0), computed in T for
// floating types. Returns -1 when it is undefined or too large.
template <typename T>
std::int64_t range_count(T start, T limit, T delta) {
  constexpr std::int64_t kMaxCount = std::int64_t{1} << 40;
  if constexpr (std::is_floating_point_v<T>) {
    const T n = std::ceil((limit - start) / delta);
    if (!std::isfinite(n) || n > static_cast<T>(kMaxCount)) return -1;
    return n <= 0 ? 0 : static_cast<std::int64_t>(n);
  } else {
    if (delta == 0) return -1;
    const __int128 diff = static_cast<__int128>(limit) - start;
    const __int128 d = delta;
    __int128 n = diff / d;
    if (n * d != diff && ((diff > 0) == (d > 0))) ++n;  // ceil for same signs
    if (n <= 0) return 0;
    return n > kMaxCount ? -1 : static_cast<std::int64_t>(n);
  }
}

template <typename T>
T scalar_of(const Tensor& t) {
  T v;
  std::memcpy(&v, t.raw(), sizeof(T));
  return v;
}

// output[i] = start + i * delta; integers wrap (two's complement) instead of overflowing.
template <typename T>
void range_fill(T start, T delta, T* out, std::int64_t n) {
  if constexpr (std::is_floating_point_v<T>) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = start + static_cast<T>(i) * delta;
  } else {
    using U = std::make_unsigned_t<T>;
    for (std::int64_t i = 0; i < n; ++i) {
      out[i] = static_cast<T>(
          static_cast<U>(static_cast<std::uint64_t>(start) +
                         static_cast<std::uint64_t>(i) * static_cast<std::uint64_t>(delta)));
    }
  }
}

template <typename T>
class RangeKernel final : public Kernel {
 public:
  RangeKernel(std::string tag, TensorInfo output)
      : tag_(std::move(tag)), output_(std::move(output)) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    static const char* const kNames[] = {"start", "limit", "delta"};
    for (std::size_t i = 0; i < 3; ++i) {
      if (i >= in.size() || in[i] == nullptr || in[i]->dtype() != output_.dtype ||
          in[i]->numel() != 1) {
        return run_error(tag_, std::string(kNames[i]) + " (input " + std::to_string(i) +
                                   ") is missing or not a single " +
                                   std::string(dtype_name(output_.dtype)) + " at run time");
      }
    }
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    const T start = scalar_of<T>(*in[0]), limit = scalar_of<T>(*in[1]),
            delta = scalar_of<T>(*in[2]);
    const std::int64_t n = range_count(start, limit, delta);
    if (n != output_.shape[0]) {
      return run_error(
          tag_, "start/limit/delta changed at run time: " +
                    (n < 0 ? std::string("invalid range") : std::to_string(n) + " elements") +
                    " instead of prepared " + std::to_string(output_.shape[0]));
    }
    range_fill(start, delta, out[0]->data<T>(), n);
    return Status::ok();
  }

 private:
  std::string tag_;
  TensorInfo output_;
};

template <typename T>
Prepared prepare_range_typed(const PrepareContext& ctx) {
  const T start = scalar_of<T>(ctx.require_constant(0));
  const T limit = scalar_of<T>(ctx.require_constant(1));
  const T delta = scalar_of<T>(ctx.require_constant(2));
  const std::int64_t n = range_count(start, limit, delta);
  if (n < 0) ctx.fail("start/limit/delta give no valid element count (delta 0, NaN or too large)");
  Prepared p;
  p.outputs = {TensorInfo{dtype_of<T>(), {n}}};
  p.kernel = std::make_unique<RangeKernel<T>>(node_tag(ctx), p.outputs[0]);
  return p;
}

}  // namespace

Prepared prepare_constant(const PrepareContext& ctx) {
  ctx.allow_attributes({"value", "value_float", "value_floats", "value_int", "value_ints",
                        "value_string", "value_strings", "sparse_value"});
  ctx.require_inputs(0, 0);
  if (ctx.node().attributes.size() != 1) {
    ctx.fail("needs exactly one of the attributes value, value_float(s), value_int(s)");
  }
  for (const char* name : {"sparse_value", "value_string", "value_strings"}) {
    if (ctx.has_attr(name))
      ctx.unsupported(std::string("attribute '") + name + "' is not supported");
  }
  Tensor value;
  if (const Tensor* t = ctx.attr_tensor("value")) {
    if (t->dtype() == DType::kUndefined || t->numel() < 0) ctx.fail("'value' has no dtype");
    if (t->raw() == nullptr && t->nbytes() > 0) ctx.fail("'value' has no data");
    value = t->clone();
  } else if (ctx.has_attr("value_float")) {
    value = make_tensor<float>({}, {ctx.attr_float("value_float", 0.0f)});
  } else if (ctx.has_attr("value_floats")) {
    const std::vector<float> v = ctx.attr_floats("value_floats");
    value = make_tensor<float>({static_cast<std::int64_t>(v.size())}, v);
  } else if (ctx.has_attr("value_int")) {
    value = make_tensor<std::int64_t>({}, {ctx.attr_int("value_int", 0)});
  } else {
    const std::vector<std::int64_t> v = ctx.attr_ints("value_ints");
    value = make_tensor<std::int64_t>({static_cast<std::int64_t>(v.size())}, v);
  }
  Prepared p;
  p.outputs = {value.info()};
  p.kernel = std::make_unique<ConstantKernel>(node_tag(ctx), std::move(value));
  return p;
}

Prepared prepare_constant_of_shape(const PrepareContext& ctx) {
  ctx.allow_attributes({"value"});
  ctx.require_inputs(1, 1);
  const std::vector<std::int64_t> dims = read_index_constant(ctx, 0, "shape");
  Shape shape(dims.begin(), dims.end());
  require_valid_shape(ctx, shape, "shape");
  DType dtype = DType::kFloat32;
  std::uint64_t bits = 0;
  if (const Tensor* t = ctx.attr_tensor("value")) {
    if (t->numel() != 1 || t->dtype() == DType::kUndefined) {
      ctx.fail("'value' must be a one-element tensor, is " + shape_to_string(t->shape()));
    }
    dtype = t->dtype();
    std::memcpy(&bits, t->raw(), dtype_size(dtype));
  }
  Prepared p;
  p.outputs = {TensorInfo{dtype, shape}};
  p.kernel = std::make_unique<ConstantOfShapeKernel>(node_tag(ctx), p.outputs[0], bits);
  return p;
}

Prepared prepare_shape(const PrepareContext& ctx) {
  if (ctx.opset() >= 15) {
    ctx.allow_attributes({"start", "end"});
  } else {
    ctx.allow_attributes({});
  }
  ctx.require_inputs(1, 1);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  // Negative positions count from the end; both are then clamped into [0, rank].
  auto position = [&](const char* name, std::int64_t fallback) {
    std::int64_t v = ctx.attr_int(name, fallback);
    if (v < 0) v += rank;
    return std::clamp<std::int64_t>(v, 0, rank);
  };
  const std::int64_t start = position("start", 0);
  const std::int64_t end = std::max(start, position("end", rank));
  const std::vector<std::int64_t> dims(x.shape.begin() + start, x.shape.begin() + end);
  Tensor value = make_tensor<std::int64_t>({end - start}, dims);
  Prepared p;
  p.outputs = {value.info()};
  p.kernel = std::make_unique<ShapeKernel>(node_tag(ctx), x, std::move(value));
  return p;
}

Prepared prepare_size(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(1, 1);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  Tensor value = make_tensor<std::int64_t>({}, {shape_numel(x.shape)});
  Prepared p;
  p.outputs = {value.info()};
  p.kernel = std::make_unique<ShapeKernel>(node_tag(ctx), x, std::move(value));
  return p;
}

// EyeLike: a 2-D tensor of the input's shape with ones on diagonal k (k > 0 above the main one)
// and zeros elsewhere, of dtype `dtype` (an ONNX type code) or else the input's.
Prepared prepare_eye_like(const PrepareContext& ctx) {
  ctx.allow_attributes({"dtype", "k"});
  ctx.require_inputs(1, 1);
  require_static_shape(ctx, 0);
  const TensorInfo& x = ctx.input(0);
  if (x.shape.size() != 2) ctx.fail("input must be 2-D, has shape " + shape_to_string(x.shape));
  DType dtype = x.dtype;
  if (ctx.has_attr("dtype")) {
    const std::int64_t code = ctx.attr_int("dtype", 0);
    dtype = code > 0 && code <= 64 ? dtype_from_onnx(static_cast<int>(code)) : DType::kUndefined;
  }
  // One, as the bytes of each supported dtype.
  std::uint64_t one = 0;
  switch (dtype) {
    case DType::kFloat32:
      one = std::bit_cast<std::uint32_t>(1.0f);
      break;
    case DType::kFloat64:
      one = std::bit_cast<std::uint64_t>(1.0);
      break;
    case DType::kFloat16:
      one = 0x3c00;
      break;
    case DType::kBFloat16:
      one = 0x3f80;
      break;
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUInt8:
    case DType::kUInt16:
    case DType::kUInt32:
    case DType::kUInt64:
    case DType::kBool:
      one = 1;
      break;
    default:
      ctx.unsupported("output dtype " + std::string(dtype_name(dtype)) + " is not supported");
  }
  const std::int64_t k = ctx.attr_int("k", 0);
  const std::int64_t rows = x.shape[0], cols = x.shape[1];
  Tensor value(dtype, x.shape);
  if (value.nbytes() > 0) std::memset(value.raw(), 0, value.nbytes());
  const std::size_t size = dtype_size(dtype);
  auto* bytes = static_cast<unsigned char*>(value.raw());
  for (std::int64_t r = 0; r < rows; ++r) {
    // Column r + k, in range; k beyond the matrix (any int64) leaves it all zeros.
    if (k >= cols || k <= -rows) break;
    const std::int64_t c = r + k;
    if (c < 0) continue;
    if (c >= cols) break;
    std::memcpy(bytes + static_cast<std::size_t>(r * cols + c) * size, &one, size);
  }
  Prepared p;
  p.outputs = {value.info()};
  p.kernel = std::make_unique<ShapeKernel>(node_tag(ctx), x, std::move(value));
  return p;
}

Prepared prepare_range(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(3, 3);
  const DType t = ctx.input(0).dtype;
  for (std::size_t i = 0; i < 3; ++i) {
    if (ctx.input(i).dtype != t || ctx.input(i).numel() != 1) {
      ctx.fail("start, limit and delta must be scalars of the same dtype");
    }
  }
  switch (t) {
    case DType::kFloat32:
      return prepare_range_typed<float>(ctx);
    case DType::kFloat64:
      return prepare_range_typed<double>(ctx);
    case DType::kInt16:
      return prepare_range_typed<std::int16_t>(ctx);
    case DType::kInt32:
      return prepare_range_typed<std::int32_t>(ctx);
    case DType::kInt64:
      return prepare_range_typed<std::int64_t>(ctx);
    default:
      ctx.unsupported("dtype " + std::string(dtype_name(t)) + " is not supported");
  }
}

}  // namespace dnnfi
