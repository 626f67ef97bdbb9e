// Dense row-major tensor in ONNX logical layout. Storage is shared (copying a Tensor is cheap and
// aliases the data); clone() makes an independent copy. Data is 64-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dnnfi {

using Shape = std::vector<std::int64_t>;

// Product of the dims (1 for a scalar). Dims must be >= 0.
std::int64_t shape_numel(const Shape& shape);
// The same for dims read from a file or computed from them: -1 when a dim is negative or the
// product is so large that its size in bytes (up to 16 per element) would not fit in int64.
std::int64_t checked_numel(std::span<const std::int64_t> dims);
std::string shape_to_string(const Shape& shape);  // "[1,3,224,224]"
// Row-major strides in elements.
std::vector<std::int64_t> shape_strides(const Shape& shape);

struct TensorInfo {
  DType dtype = DType::kUndefined;
  Shape shape;

  std::int64_t numel() const { return shape_numel(shape); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  bool operator==(const TensorInfo&) const = default;
};

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled storage.
  Tensor(DType dtype, Shape shape);
  // Wraps external memory that must outlive the tensor and every copy of it.
  static Tensor wrap(DType dtype, Shape shape, void* data);

  DType dtype() const { return info_.dtype; }
  const Shape& shape() const { return info_.shape; }
  const TensorInfo& info() const { return info_; }
  std::int64_t numel() const { return info_.numel(); }
  std::size_t nbytes() const { return info_.nbytes(); }
  std::size_t rank() const { return info_.shape.size(); }
  std::int64_t dim(std::size_t i) const { return info_.shape[i]; }
  bool empty() const { return data_ == nullptr && info_.dtype == DType::kUndefined; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }
  template <typename T>
  std::span<T> span() {
    return {data<T>(), static_cast<std::size_t>(numel())};
  }
  template <typename T>
  std::span<const T> span() const {
    return {data<T>(), static_cast<std::size_t>(numel())};
  }

  // Deep copy.
  Tensor clone() const;
  // True when this tensor owns its storage and no other tensor shares it.
  bool sole_owner() const { return storage_ != nullptr && storage_.use_count() == 1; }
  // The storage's owner, to tell later whether that storage still lives (empty for wrapped
  // memory, which has none).
  std::weak_ptr<const void> owner() const { return storage_; }
  // Same storage, new shape of the same element count.
  Tensor reshaped(Shape shape) const;
  // Bitwise equality of dtype, shape and contents.
  bool bit_equal(const Tensor& other) const;

  // Element i converted to double / int64 (for shape tensors and printing).
  double get_as_double(std::int64_t i) const;
  std::int64_t get_as_int64(std::int64_t i) const;
  // All elements as int64 (for shape/index tensors of any integer dtype).
  std::vector<std::int64_t> to_int64_vector() const;

 private:
  TensorInfo info_;
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
};

// Builds a tensor from values (tests, constants).
template <typename T>
Tensor make_tensor(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  T* p = t.data<T>();
  for (std::size_t i = 0; i < values.size() && static_cast<std::int64_t>(i) < t.numel(); ++i) {
    p[i] = values[i];
  }
  return t;
}

}  // namespace dnnfi
