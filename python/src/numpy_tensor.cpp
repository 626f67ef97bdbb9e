#include "numpy_tensor.h"

#include <vector>

#include "core/error.h"

namespace py = pybind11;

namespace dnnfi::python {

py::dtype numpy_dtype(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return py::dtype("float32");
    case DType::kFloat16:
      return py::dtype("float16");
    case DType::kBFloat16:
      return py::dtype("uint16");
    case DType::kFloat64:
      return py::dtype("float64");
    case DType::kInt8:
      return py::dtype("int8");
    case DType::kUInt8:
      return py::dtype("uint8");
    case DType::kInt16:
      return py::dtype("int16");
    case DType::kUInt16:
      return py::dtype("uint16");
    case DType::kInt32:
      return py::dtype("int32");
    case DType::kUInt32:
      return py::dtype("uint32");
    case DType::kInt64:
      return py::dtype("int64");
    case DType::kUInt64:
      return py::dtype("uint64");
    case DType::kBool:
      return py::dtype("bool");
    case DType::kUndefined:
      break;
  }
  throw InputError("a tensor of undefined dtype has no NumPy dtype");
}

DType dtype_from_numpy(const py::dtype& dtype, const std::string& what) {
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt8, DType::kUInt8,
                  DType::kInt16, DType::kUInt16, DType::kInt32, DType::kUInt32, DType::kInt64,
                  DType::kUInt64, DType::kBool}) {
    if (dtype.equal(numpy_dtype(t))) return t;
  }
  throw InputError(what + ": NumPy dtype " +
                   py::str(static_cast<const py::handle&>(dtype)).cast<std::string>() +
                   " has no dnnfi dtype");
}

Tensor wrap_array(py::array& array, const std::string& what) {
  const DType dtype = dtype_from_numpy(array.dtype(), what);
  if (!(array.flags() & py::array::c_style)) {
    array = py::array::ensure(array, py::array::c_style);
    if (!array) throw py::error_already_set();
  }
  Shape shape(array.shape(), array.shape() + array.ndim());
  // The engine only reads inputs; wrap() takes a non-const pointer for tensors in general.
  return Tensor::wrap(dtype, std::move(shape), const_cast<void*>(array.data()));
}

py::array tensor_to_array(const Tensor& tensor, bool writable) {
  std::vector<py::ssize_t> shape(tensor.shape().begin(), tensor.shape().end());
  // The capsule holds a Tensor that aliases the storage: the array keeps the buffer alive.
  auto* keep = new Tensor(tensor);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  py::array a(numpy_dtype(tensor.dtype()), shape, const_cast<void*>(tensor.raw()), owner);
  if (!writable) a.attr("setflags")(py::arg("write") = false);
  return a;
}

}  // namespace dnnfi::python
