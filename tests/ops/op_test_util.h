// Test helpers (header-only) shared by the hand-computed op tests: tensors from literals, one op
// call, its first output, and float comparison with NaN/Inf handled as data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/op_runner.h"

namespace dnnfi::test {

inline constexpr float kInf = std::numeric_limits<float>::infinity();
inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline Tensor f32(Shape shape, std::vector<float> v) {
  return make_tensor<float>(std::move(shape), v);
}
inline Tensor i64(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return make_tensor<std::int64_t>({n}, v);
}

inline OpCall make_call(const std::string& op, std::vector<std::optional<Tensor>> inputs,
                        std::map<std::string, Attribute> attrs = {}, std::int64_t opset = 13) {
  OpCall c;
  c.op_type = op;
  c.inputs = std::move(inputs);
  c.attributes = std::move(attrs);
  c.opset = opset;
  return c;
}

// The call's first output; a failed run is a test failure (and an empty tensor).
inline Tensor run1(const OpCall& call) {
  OpResult r = run_op(call);
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  return r.outputs.empty() ? Tensor() : r.outputs[0];
}

// float32 `actual` has `shape` and the `expected` values: NaN where NaN is expected, the same
// infinity where one is expected, else within tol * (1 + |expected|).
inline void expect_floats(const Tensor& actual, Shape shape, std::vector<float> expected,
                          double tol = 1e-6) {
  ASSERT_EQ(actual.dtype(), DType::kFloat32);
  ASSERT_EQ(actual.shape(), shape);
  ASSERT_EQ(actual.numel(), static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const float a = actual.data<float>()[i];
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(a)) << "element " << i << ": " << a;
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(a, expected[i]) << "element " << i;
    } else {
      EXPECT_NEAR(a, expected[i], tol * (1.0 + std::fabs(expected[i]))) << "element " << i;
    }
  }
}

}  // namespace dnnfi::test
