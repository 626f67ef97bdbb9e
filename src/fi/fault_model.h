// Applying a fault model to one element of a given dtype.
#pragma once

#include "fi/fault.h"

namespace dnnfi {

// Number of bits of an element (8 * dtype_size).
int dtype_bits(DType t);

// Throws InputError when the model cannot apply to the dtype (bit out of range, callback missing).
void validate_fault_model(const FaultModel& model, DType dtype);

// Applies the model to the element at `element` (of `dtype`), returning the before/after record.
// The model must have been validated for the dtype.
AppliedFault apply_fault_model(const FaultModel& model, DType dtype, void* element);

// The bits of an element, zero-extended, and the value they mean.
std::uint64_t element_bits(DType dtype, const void* element);
double element_value(DType dtype, const void* element);

}  // namespace dnnfi
