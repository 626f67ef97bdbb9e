#include "conformance/compare.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

namespace dnnfi::conformance {

namespace {

bool is_floating(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 ||
         t == DType::kBFloat16;
}

// numpy.testing.assert_allclose(actual, desired, rtol, atol, equal_nan=True) for one element.
bool close(double a, double e, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(e)) return std::isnan(a) && std::isnan(e);
  if (std::isinf(a) || std::isinf(e)) return a == e;
  return std::abs(a - e) <= atol + rtol * std::abs(e);
}

// Element i as the bytes that define its value (bool: only zero / non-zero matters).
bool same_exact(const Tensor& a, const Tensor& e, std::int64_t i) {
  if (a.dtype() == DType::kBool) {
    return (a.data<std::uint8_t>()[i] != 0) == (e.data<std::uint8_t>()[i] != 0);
  }
  const std::size_t size = dtype_size(a.dtype());
  const auto offset = static_cast<std::size_t>(i) * size;
  return std::memcmp(static_cast<const char*>(a.raw()) + offset,
                     static_cast<const char*>(e.raw()) + offset, size) == 0;
}

std::string index_to_string(const Shape& shape, std::int64_t flat) {
  if (shape.empty()) return "[]";
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return shape_to_string(idx);
}

std::string value_to_string(const Tensor& t, std::int64_t i) {
  std::ostringstream os;
  os.precision(9);
  if (is_floating(t.dtype())) {
    os << t.get_as_double(i);
  } else if (t.dtype() == DType::kUInt64) {
    os << t.data<std::uint64_t>()[i];
  } else {
    os << t.get_as_int64(i);
  }
  return os.str();
}

}  // namespace

std::string compare_outputs(const Tensor& actual, const Tensor& expected, double rtol,
                            double atol) {
  std::ostringstream os;
  if (actual.dtype() != expected.dtype()) {
    os << "dtype " << dtype_name(actual.dtype()) << ", expected " << dtype_name(expected.dtype());
    return os.str();
  }
  if (actual.shape() != expected.shape()) {
    os << "shape " << shape_to_string(actual.shape()) << ", expected "
       << shape_to_string(expected.shape());
    return os.str();
  }
  const bool floating = is_floating(expected.dtype());
  std::int64_t first = -1;
  std::int64_t mismatches = 0;
  double max_abs_err = 0.0;
  for (std::int64_t i = 0, n = expected.numel(); i < n; ++i) {
    bool ok;
    if (floating) {
      const double a = actual.get_as_double(i);
      const double e = expected.get_as_double(i);
      ok = close(a, e, rtol, atol);
      if (!ok && std::isfinite(a) && std::isfinite(e)) {
        max_abs_err = std::max(max_abs_err, std::abs(a - e));
      }
    } else {
      ok = same_exact(actual, expected, i);
    }
    if (!ok) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  if (first < 0) return "";
  os << mismatches << "/" << expected.numel() << " elements differ ("
     << dtype_name(expected.dtype()) << " " << shape_to_string(expected.shape()) << "), first at "
     << index_to_string(expected.shape(), first) << ": got " << value_to_string(actual, first)
     << ", expected " << value_to_string(expected, first);
  if (floating && max_abs_err > 0.0) os << "; max abs err " << max_abs_err;
  return os.str();
}

}  // namespace dnnfi::conformance
