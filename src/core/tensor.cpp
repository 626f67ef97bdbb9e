#include "core/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/memory.h"

namespace dnnfi {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::int64_t checked_numel(std::span<const std::int64_t> dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n > (INT64_MAX >> 4) ? -1 : n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

std::vector<std::int64_t> shape_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

Tensor::Tensor(DType dtype, Shape shape) {
  info_.dtype = dtype;
  info_.shape = std::move(shape);
  const std::size_t bytes = info_.nbytes();
  // Always allocate at least one cache line so that data() of an empty tensor is valid.
  storage_ = allocate_zeroed(((bytes + 63) / 64) * 64 + 64);
  data_ = storage_.get();
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data) {
  Tensor t;
  t.info_.dtype = dtype;
  t.info_.shape = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(info_.dtype, info_.shape);
  if (nbytes() > 0) std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  t.info_.shape = std::move(shape);
  return t;
}

bool Tensor::bit_equal(const Tensor& other) const {
  if (info_ != other.info_) return false;
  if (data_ == other.data_) return true;
  return nbytes() == 0 || std::memcmp(data_, other.data_, nbytes()) == 0;
}

double Tensor::get_as_double(std::int64_t i) const {
  switch (info_.dtype) {
    case DType::kFloat32:
      return data<float>()[i];
    case DType::kFloat64:
      return data<double>()[i];
    case DType::kFloat16:
      return half_to_float(data<std::uint16_t>()[i]);
    case DType::kBFloat16:
      return bfloat16_to_float(data<std::uint16_t>()[i]);
    case DType::kInt8:
      return data<std::int8_t>()[i];
    case DType::kUInt8:
      return data<std::uint8_t>()[i];
    case DType::kInt16:
      return data<std::int16_t>()[i];
    case DType::kUInt16:
      return data<std::uint16_t>()[i];
    case DType::kInt32:
      return data<std::int32_t>()[i];
    case DType::kUInt32:
      return data<std::uint32_t>()[i];
    case DType::kInt64:
      return static_cast<double>(data<std::int64_t>()[i]);
    case DType::kUInt64:
      return static_cast<double>(data<std::uint64_t>()[i]);
    case DType::kBool:
      return data<std::uint8_t>()[i] ? 1.0 : 0.0;
    case DType::kUndefined:
      return 0.0;
  }
  return 0.0;
}

std::int64_t Tensor::get_as_int64(std::int64_t i) const {
  switch (info_.dtype) {
    case DType::kInt8:
      return data<std::int8_t>()[i];
    case DType::kUInt8:
      return data<std::uint8_t>()[i];
    case DType::kInt16:
      return data<std::int16_t>()[i];
    case DType::kUInt16:
      return data<std::uint16_t>()[i];
    case DType::kInt32:
      return data<std::int32_t>()[i];
    case DType::kUInt32:
      return data<std::uint32_t>()[i];
    case DType::kInt64:
      return data<std::int64_t>()[i];
    case DType::kUInt64:
      return static_cast<std::int64_t>(data<std::uint64_t>()[i]);
    case DType::kBool:
      return data<std::uint8_t>()[i] ? 1 : 0;
    default: {
      const double d = get_as_double(i);
      // Saturate instead of invoking UB on out-of-range float->int conversion.
      if (!(d == d)) return 0;
      if (d >= 9.2e18) return INT64_MAX;
      if (d <= -9.2e18) return INT64_MIN;
      return static_cast<std::int64_t>(d);
    }
  }
}

std::vector<std::int64_t> Tensor::to_int64_vector() const {
  std::vector<std::int64_t> v(static_cast<std::size_t>(numel()));
  for (std::int64_t i = 0; i < numel(); ++i) v[static_cast<std::size_t>(i)] = get_as_int64(i);
  return v;
}

}  // namespace dnnfi
