// Element types of tensors. The set is what ONNX models and fault models need; a dtype outside
// it is rejected at load time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dnnfi {

enum class DType : std::uint8_t {
  kUndefined,
  kFloat32,
  kFloat16,
  kBFloat16,
  kFloat64,
  kInt8,
  kUInt8,
  kInt16,
  kUInt16,
  kInt32,
  kUInt32,
  kInt64,
  kUInt64,
  kBool,
};

// Bytes per element; 0 for kUndefined.
std::size_t dtype_size(DType t);
std::string_view dtype_name(DType t);
// Inverse of dtype_name ("float32", "int8"...); kUndefined for anything else.
DType dtype_from_name(std::string_view name);
// ONNX TensorProto.DataType code -> DType; kUndefined when the code is not supported.
DType dtype_from_onnx(int onnx_code);
int dtype_to_onnx(DType t);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType dtype_of<std::int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType dtype_of<std::uint8_t>() {
  return DType::kUInt8;
}
template <>
constexpr DType dtype_of<std::int16_t>() {
  return DType::kInt16;
}
template <>
constexpr DType dtype_of<std::uint16_t>() {
  return DType::kUInt16;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType dtype_of<std::uint32_t>() {
  return DType::kUInt32;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtype_of<std::uint64_t>() {
  return DType::kUInt64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::kBool;
}

// fp16 / bf16 <-> fp32, round-to-nearest-even, NaN/Inf preserved.
float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);
float bfloat16_to_float(std::uint16_t b);
std::uint16_t float_to_bfloat16(float f);

}  // namespace dnnfi
