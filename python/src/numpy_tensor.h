// NumPy arrays <-> dnnfi::Tensor for the extension module. Arrays become tensors without a copy
// when they are C-contiguous with the element type the model expects (the pure-Python layer
// converts anything else first); tensors become arrays that own a reference to the tensor's
// storage, so an engine buffer handed to Python is never copied either.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "core/tensor.h"

namespace dnnfi::python {

// The NumPy dtype of a DType (bfloat16, which NumPy lacks, as its raw uint16 bits).
pybind11::dtype numpy_dtype(DType dtype);

// The DType of a NumPy dtype; InputError naming `what` for one dnnfi has no type for.
DType dtype_from_numpy(const pybind11::dtype& dtype, const std::string& what);

// A tensor over the array's memory, of the array's own dtype (Session::check_inputs then says
// whether it fits the model). No copy when the array is C-contiguous; otherwise `array` is
// replaced by a C-contiguous copy. The caller keeps `array` alive as long as the tensor and its
// copies.
Tensor wrap_array(pybind11::array& array, const std::string& what);

// An array sharing the tensor's storage (the array keeps it alive). Needs the GIL.
pybind11::array tensor_to_array(const Tensor& tensor, bool writable = true);

}  // namespace dnnfi::python
