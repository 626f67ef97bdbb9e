// Applying a fault model to one element of a given dtype.
#pragma once

#include "fi/fault.h"

namespace dnnfi {

// Number of bits of an element (8 * dtype_size).
int dtype_bits(DType t);

// Throws InputError when the model cannot apply to the dtype (bit out of range, callback missing).
void validate_fault_model(const FaultModel& model, DType dtype);

// Applies the model to the element at `element` (of `dtype`), returning the before/after record.
// The model must have been validated for the dtype and must not be kTensorCallback, which needs
// the whole tensor (apply_fault_model_at).
AppliedFault apply_fault_model(const FaultModel& model, DType dtype, void* element);
// Applies the model to element `flat_index` of `tensor` (in range), or for kTensorCallback passes
// the whole tensor to the callback; the record is that element before and after.
AppliedFault apply_fault_model_at(const FaultModel& model, Tensor& tensor, std::int64_t flat_index);

// The bits of an element, zero-extended, and the value they mean.
std::uint64_t element_bits(DType dtype, const void* element);
double element_value(DType dtype, const void* element);

}  // namespace dnnfi
