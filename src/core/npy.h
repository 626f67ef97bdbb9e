// NumPy .npy files (format versions 1-3, little-endian, C order) <-> Tensor. No .npy library is
// packaged for Debian, and the format is small and fully specified by NumPy's NEP 1.
#pragma once

#include <string>

#include "core/tensor.h"

namespace dnnfi {

// Throws InputError naming the file on any problem (missing, truncated, unsupported dtype,
// Fortran order, big-endian).
Tensor load_npy(const std::string& path);
// Parses .npy bytes; `what` names the source in errors.
Tensor parse_npy(const std::string& bytes, const std::string& what);
// Throws InputError if the file cannot be written.
void save_npy(const std::string& path, const Tensor& t);
std::string serialize_npy(const Tensor& t);

}  // namespace dnnfi
