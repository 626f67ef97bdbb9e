// Helpers for the shape-op tests (test_shape_*.cpp): tensor literals, exact comparison, and a
// prepared op whose kernel can be run again on different (corrupted) input tensors.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/registry.h"

// OpCall is written as a brace list that leaves later members at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace dnnfi::test {

inline Tensor f32(Shape shape, const std::vector<float>& v) {
  return make_tensor<float>(std::move(shape), v);
}
inline Tensor i64(Shape shape, const std::vector<std::int64_t>& v) {
  return make_tensor<std::int64_t>(std::move(shape), v);
}
inline Tensor i32(Shape shape, const std::vector<std::int32_t>& v) {
  return make_tensor<std::int32_t>(std::move(shape), v);
}
// 1-D int64 tensor.
inline Tensor ints(const std::vector<std::int64_t>& v) {
  return i64({static_cast<std::int64_t>(v.size())}, v);
}
// 0, 1, 2, ... as float32.
inline Tensor iota_f32(Shape shape) {
  Tensor t(DType::kFloat32, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

inline std::string describe(const Tensor& t) {
  std::ostringstream os;
  os << dtype_name(t.dtype()) << shape_to_string(t.shape()) << " {";
  for (std::int64_t i = 0; i < t.numel() && i < 64; ++i)
    os << (i ? ", " : "") << t.get_as_double(i);
  if (t.numel() > 64) os << ", ...";
  os << "}";
  return os.str();
}

// Exact equality of dtype, shape and bits.
inline ::testing::AssertionResult same_tensor(const Tensor& actual, const Tensor& expected) {
  if (actual.bit_equal(expected)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << describe(actual) << "\nexpected " << describe(expected);
}

// Runs the op (run_op) and returns its only output, asserting the status is OK.
inline Tensor run1(const OpCall& call) {
  OpResult r = run_op(call);
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  return r.outputs.empty() ? Tensor() : r.outputs[0];
}

// The run-time status of op `call` prepared as given, then run with input `index` replaced.
inline Status run_corrupted(const OpCall& call, std::size_t index, const Tensor& replacement) {
  PreparedOp op(call);
  std::vector<std::optional<Tensor>> inputs = call.inputs;
  inputs[index] = replacement;
  return op.run(inputs).status;
}

// A failing status whose message names the test node.
inline ::testing::AssertionResult named_error(const Status& s, const std::string& op_type) {
  if (s.is_ok()) return ::testing::AssertionFailure() << "status is OK";
  if (s.message().find("test_" + op_type) == std::string::npos) {
    return ::testing::AssertionFailure() << "message does not name the node: " << s.message();
  }
  return ::testing::AssertionSuccess() << s.message();
}

}  // namespace dnnfi::test
