// Checked arithmetic for values read from model files, which may hold anything: int64 sums and
// products that are nullopt when the exact result does not fit (the GCC/Clang builtins src/ops
// uses), and a double -> float conversion that is defined for every input.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace dnnfi {

inline std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<std::int64_t> checked_sub(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// static_cast<float> is undefined for a finite double beyond float's range; those become +-inf.
inline float to_float_saturated(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (v > kMax) return std::numeric_limits<float>::infinity();
  if (v < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);
}

}  // namespace dnnfi
