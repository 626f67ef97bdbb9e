// Test helpers (header-only) shared by the elementwise op tests of test_elementwise_math.cpp,
// test_elementwise_binary.cpp and test_legacy_opsets.cpp: tensors from literals, one-op runs,
// and float comparisons where NaN must match NaN.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"

namespace dnnfi::test::elementwise {

template <typename T>
Tensor vec(std::vector<T> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return make_tensor<T>({n}, v);
}
inline Tensor f32(std::vector<float> v) { return vec<float>(std::move(v)); }
template <typename T>
Tensor shaped(Shape shape, std::vector<T> v) {
  return make_tensor<T>(std::move(shape), v);
}
// A tensor of raw bytes of dtype t (bool, float16, bfloat16 patterns).
template <typename Storage>
Tensor raw(DType t, Shape shape, std::vector<Storage> v) {
  Tensor out(t, std::move(shape));
  EXPECT_EQ(out.nbytes(), v.size() * sizeof(Storage));
  if (!v.empty()) std::memcpy(out.raw(), v.data(), v.size() * sizeof(Storage));
  return out;
}
inline Tensor bools(std::vector<std::uint8_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return raw<std::uint8_t>(DType::kBool, {n}, std::move(v));
}
template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
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

// Runs the call with the reference and with the optimised kernels, expects both to succeed with
// bitwise identical outputs, and returns the first output.
inline Tensor run1(const OpCall& call) {
  OpCall c = call;
  c.reference = true;
  OpResult ref = run_op(c);
  c.reference = false;
  OpResult opt = run_op(c);
  EXPECT_TRUE(ref.status.is_ok()) << ref.status.message();
  EXPECT_TRUE(opt.status.is_ok()) << opt.status.message();
  if (ref.outputs.empty() || opt.outputs.empty()) {
    ADD_FAILURE() << call.op_type << ": no output";
    return Tensor();
  }
  EXPECT_EQ(ref.outputs[0].info(), opt.outputs[0].info());
  if (ref.outputs[0].info() == opt.outputs[0].info() && ref.outputs[0].nbytes() > 0) {
    EXPECT_EQ(std::memcmp(ref.outputs[0].raw(), opt.outputs[0].raw(), ref.outputs[0].nbytes()), 0)
        << call.op_type << ": reference and optimised outputs differ";
  }
  return ref.outputs[0];
}
inline Tensor run1(const std::string& op, std::vector<std::optional<Tensor>> inputs,
                   std::map<std::string, Attribute> attrs = {}, std::int64_t opset = 13) {
  return run1(make_call(op, std::move(inputs), std::move(attrs), opset));
}

// Prepare must throw NodeError (UnsupportedError is one).
inline void expect_node_error(const OpCall& call) { EXPECT_THROW(run_op(call), NodeError); }
inline void expect_unsupported(const OpCall& call) { EXPECT_THROW(run_op(call), UnsupportedError); }

// NaN must match NaN, infinities and zeros exactly (zeros also in sign when exact_zero_sign),
// other values within rtol.
template <typename T>
void expect_values(const Tensor& actual, const std::vector<T>& expected, double rtol = 1e-6) {
  ASSERT_EQ(actual.dtype(), dtype_of<T>());
  ASSERT_EQ(actual.numel(), static_cast<std::int64_t>(expected.size()));
  const T* a = actual.data<T>();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double e = static_cast<double>(expected[i]);
    const double v = static_cast<double>(a[i]);
    if (std::isnan(e)) {
      EXPECT_TRUE(std::isnan(v)) << "element " << i << ": " << v << ", expected NaN";
    } else if (std::isinf(e) || e == 0.0 || rtol == 0.0) {
      EXPECT_EQ(v, e) << "element " << i;
    } else {
      EXPECT_LE(std::fabs(v - e), rtol * std::fabs(e))
          << "element " << i << ": " << v << ", expected " << e;
    }
  }
}

}  // namespace dnnfi::test::elementwise
