// Broadcasting elementwise ops (binary.cpp, variadic.cpp, compare.cpp): hand-computed goldens,
// load-time and run-time errors, and the optimised loops against both the reference kernel and a
// plain index-arithmetic loop written here, on shapes that force each fast path.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/broadcast.h"
#include "ops/registry.h"

namespace dnnfi {
namespace {

using test::OpCall;
using test::OpResult;
using test::run_op;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

OpResult run(const std::string& op, std::vector<Tensor> inputs, bool reference = false) {
  OpCall call;
  call.op_type = op;
  for (Tensor& t : inputs) call.inputs.emplace_back(std::move(t));
  call.reference = reference;
  return run_op(call);
}

// Runs the op, expects OK, returns the single output.
Tensor run_ok(const std::string& op, std::vector<Tensor> inputs, bool reference = false) {
  OpResult r = run(op, std::move(inputs), reference);
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  return r.outputs.at(0);
}

template <typename T>
void expect_tensor(const Tensor& t, const Shape& shape, const std::vector<T>& values) {
  ASSERT_EQ(t.dtype(), dtype_of<T>());
  ASSERT_EQ(shape_to_string(t.shape()), shape_to_string(shape));
  ASSERT_EQ(t.numel(), static_cast<std::int64_t>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(values[i])) {
        EXPECT_TRUE(std::isnan(t.data<T>()[i])) << "element " << i;
        continue;
      }
      EXPECT_FLOAT_EQ(t.data<T>()[i], values[i]) << "element " << i;
    } else {
      EXPECT_EQ(t.data<T>()[i], values[i]) << "element " << i;
    }
  }
}

// Bool outputs, compared as bytes.
void expect_bools(const Tensor& t, const Shape& shape, const std::vector<int>& values) {
  ASSERT_EQ(t.dtype(), DType::kBool);
  ASSERT_EQ(shape_to_string(t.shape()), shape_to_string(shape));
  ASSERT_EQ(t.numel(), static_cast<std::int64_t>(values.size()));
  const auto* bytes = static_cast<const std::uint8_t*>(t.raw());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(bytes[i], values[i]) << "element " << i;
}

// A bool tensor from raw bytes (non-0/1 bytes model a fault-corrupted bool).
Tensor bool_tensor(Shape shape, const std::vector<std::uint8_t>& bytes) {
  Tensor t(DType::kBool, std::move(shape));
  std::memcpy(t.raw(), bytes.data(), bytes.size());
  return t;
}

template <typename T>
Tensor tensor(Shape shape, const std::vector<T>& values) {
  return make_tensor<T>(std::move(shape), values);
}

// ---- hand-computed goldens ----

TEST(Binary, AddSameShape) {
  expect_tensor<float>(
      run_ok("Add", {tensor<float>({2, 2}, {1, 2, 3, 4}), tensor<float>({2, 2}, {10, 20, 30, 40})}),
      {2, 2}, {11, 22, 33, 44});
}

TEST(Binary, ScalarOperandEitherSide) {
  expect_tensor<float>(
      run_ok("Add", {tensor<float>({2, 2}, {1, 2, 3, 4}), tensor<float>({}, {0.5f})}), {2, 2},
      {1.5f, 2.5f, 3.5f, 4.5f});
  expect_tensor<float>(run_ok("Sub", {tensor<float>({}, {10}), tensor<float>({3}, {1, 2, 3})}), {3},
                       {9, 8, 7});
  expect_tensor<float>(run_ok("Mul", {tensor<float>({3}, {1, 2, 3}), tensor<float>({1}, {-2})}),
                       {3}, {-2, -4, -6});
  // Scalar op scalar is a scalar.
  expect_tensor<float>(run_ok("Div", {tensor<float>({}, {3}), tensor<float>({}, {4})}), {},
                       {0.75f});
}

TEST(Binary, PerChannel) {
  const Tensor x = tensor<float>({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const std::vector<float> want = {10, 20, 30, 40, 500, 600, 700, 800};
  expect_tensor<float>(run_ok("Mul", {x, tensor<float>({2, 1, 1}, {10, 100})}), {1, 2, 2, 2}, want);
  expect_tensor<float>(run_ok("Mul", {x, tensor<float>({1, 2, 1, 1}, {10, 100})}), {1, 2, 2, 2},
                       want);
  expect_tensor<float>(run_ok("Mul", {tensor<float>({2, 1, 1}, {10, 100}), x}), {1, 2, 2, 2}, want);
  // Squeeze-excite: [N,C,H,W] * [N,C,1,1].
  expect_tensor<float>(run_ok("Mul", {tensor<float>({2, 2, 1, 2}, {1, 2, 3, 4, 5, 6, 7, 8}),
                                      tensor<float>({2, 2, 1, 1}, {1, 10, 100, 1000})}),
                       {2, 2, 1, 2}, {1, 2, 30, 40, 500, 600, 7000, 8000});
}

TEST(Binary, BothSidesBroadcast) {
  expect_tensor<float>(
      run_ok("Sub", {tensor<float>({3, 1}, {1, 2, 3}), tensor<float>({1, 4}, {10, 20, 30, 40})}),
      {3, 4}, {-9, -19, -29, -39, -8, -18, -28, -38, -7, -17, -27, -37});
}

TEST(Binary, RankMismatch) {
  expect_tensor<float>(
      run_ok("Add", {tensor<float>({2, 3}, {0, 1, 2, 3, 4, 5}), tensor<float>({3}, {10, 20, 30})}),
      {2, 3}, {10, 21, 32, 13, 24, 35});
  expect_tensor<float>(run_ok("Add", {tensor<float>({2, 1}, {1, 2}),
                                      tensor<float>({2, 1, 3}, {0, 10, 20, 30, 40, 50})}),
                       {2, 2, 3}, {1, 11, 21, 2, 12, 22, 31, 41, 51, 32, 42, 52});
}

TEST(Binary, EmptyOutput) {
  Tensor y = run_ok("Add", {Tensor(DType::kFloat32, {0, 3}), tensor<float>({3}, {1, 2, 3})});
  EXPECT_EQ(shape_to_string(y.shape()), "[0,3]");
  // No output element divides by the zero, so it is not an error.
  y = run_ok("Div", {Tensor(DType::kInt32, {0, 2}), tensor<std::int32_t>({2}, {0, 1})});
  EXPECT_EQ(shape_to_string(y.shape()), "[0,2]");
}

TEST(Binary, DivFloat) {
  expect_tensor<float>(
      run_ok("Div", {tensor<float>({4}, {1, -3, 5, 1}), tensor<float>({4}, {2, 4, -0.5f, 0})}), {4},
      {0.5f, -0.75f, -10, kInf});
  expect_tensor<double>(run_ok("Div", {tensor<double>({2}, {1, 2}), tensor<double>({}, {8})}), {2},
                        {0.125, 0.25});
}

TEST(Binary, DivIntegerTruncatesAndWraps) {
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  expect_tensor<std::int64_t>(run_ok("Div", {tensor<std::int64_t>({5}, {7, -7, 7, -7, kMin}),
                                             tensor<std::int64_t>({5}, {2, 2, -2, -2, -1})}),
                              {5}, {3, -3, -3, 3, kMin});
  expect_tensor<std::int32_t>(
      run_ok("Div", {tensor<std::int32_t>({2}, {std::numeric_limits<std::int32_t>::min(), 9}),
                     tensor<std::int32_t>({}, {-1})}),
      {2}, {std::numeric_limits<std::int32_t>::min(), -9});
  expect_tensor<std::uint8_t>(
      run_ok("Div", {tensor<std::uint8_t>({2}, {255, 7}), tensor<std::uint8_t>({2}, {2, 7})}), {2},
      {127, 1});
}

TEST(Binary, DivIntegerByZeroIsRunTimeError) {
  OpResult r = run("Div", {tensor<std::int32_t>({2}, {1, 2}), tensor<std::int32_t>({2}, {1, 0})});
  ASSERT_FALSE(r.status.is_ok());
  EXPECT_NE(r.status.message().find("test_Div"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("division by zero"), std::string::npos) << r.status.message();
  r = run("Div", {tensor<std::int64_t>({2, 2}, {1, 2, 3, 4}), tensor<std::int64_t>({}, {0})});
  EXPECT_FALSE(r.status.is_ok());
  r = run("Div", {tensor<std::uint8_t>({1}, {1}), tensor<std::uint8_t>({1}, {0})});
  EXPECT_FALSE(r.status.is_ok());
  r = run("Div", {tensor<std::int32_t>({2}, {1, 2}), tensor<std::int32_t>({2}, {1, 0})}, true);
  EXPECT_FALSE(r.status.is_ok());
}

TEST(Binary, Int64ArithmeticWraps) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  // Shape arithmetic as PyTorch exports it.
  expect_tensor<std::int64_t>(
      run_ok("Mul", {tensor<std::int64_t>({2}, {3, 224}), tensor<std::int64_t>({}, {2})}), {2},
      {6, 448});
  expect_tensor<std::int64_t>(
      run_ok("Sub", {tensor<std::int64_t>({2}, {-1, 5}), tensor<std::int64_t>({2}, {1, 7})}), {2},
      {-2, -2});
  expect_tensor<std::int64_t>(
      run_ok("Add", {tensor<std::int64_t>({2}, {kMax, -5}), tensor<std::int64_t>({2}, {1, 5})}),
      {2}, {kMin, 0});
  expect_tensor<std::int64_t>(
      run_ok("Mul", {tensor<std::int64_t>({1}, {kMax}), tensor<std::int64_t>({1}, {2})}), {1},
      {-2});
  expect_tensor<std::int64_t>(
      run_ok("Sub", {tensor<std::int64_t>({1}, {kMin}), tensor<std::int64_t>({1}, {1})}), {1},
      {kMax});
}

TEST(Binary, SmallIntegers) {
  expect_tensor<std::uint8_t>(
      run_ok("Add", {tensor<std::uint8_t>({2}, {250, 1}), tensor<std::uint8_t>({2}, {10, 2})}), {2},
      {4, 3});
  expect_tensor<std::int8_t>(
      run_ok("Mul", {tensor<std::int8_t>({3}, {100, -3, 7}), tensor<std::int8_t>({}, {2})}), {3},
      {-56, -6, 14});
  expect_tensor<std::int32_t>(
      run_ok("Sub", {tensor<std::int32_t>({2, 1}, {10, 20}), tensor<std::int32_t>({2}, {1, 2})}),
      {2, 2}, {9, 8, 19, 18});
}

TEST(Binary, Pow) {
  const Tensor x = tensor<float>({3}, {2, 3, -4});
  expect_tensor<float>(run_ok("Pow", {x, tensor<float>({}, {2})}), {3}, {4, 9, 16});
  expect_tensor<float>(run_ok("Pow", {x, tensor<float>({}, {3})}), {3}, {8, 27, -64});
  expect_tensor<float>(run_ok("Pow", {x, tensor<float>({3}, {0.5f, 0, 2})}), {3},
                       {std::sqrt(2.0f), 1, 16});
  expect_tensor<float>(run_ok("Pow", {x, tensor<float>({}, {0.5f})}), {3},
                       {std::sqrt(2.0f), std::sqrt(3.0f), kNaN});
  // Float base, integer exponent (opset 12+).
  expect_tensor<float>(run_ok("Pow", {tensor<float>({2}, {2, 4}), tensor<std::int64_t>({}, {-1})}),
                       {2}, {0.5f, 0.25f});
  expect_tensor<float>(run_ok("Pow", {x, tensor<std::int32_t>({}, {2})}), {3}, {4, 9, 16});
  // Integer base, integer exponent: exact.
  expect_tensor<std::int64_t>(run_ok("Pow", {tensor<std::int64_t>({4}, {2, 3, -2, 0}),
                                             tensor<std::int64_t>({4}, {10, 3, 3, 0})}),
                              {4}, {1024, 27, -8, 1});
  expect_tensor<std::int64_t>(
      run_ok("Pow", {tensor<std::int64_t>({1}, {3}), tensor<std::int64_t>({1}, {39})}), {1},
      {4052555153018976267LL});
  // Integer base, float exponent: pow in double, saturating.
  expect_tensor<std::int32_t>(
      run_ok("Pow", {tensor<std::int32_t>({3}, {4, 9, 10}), tensor<float>({3}, {0.5f, 0.5f, 20})}),
      {3}, {2, 3, std::numeric_limits<std::int32_t>::max()});
}

TEST(Binary, PowIntegerNegativeExponentIsRunTimeError) {
  OpResult r = run("Pow", {tensor<std::int32_t>({2}, {2, 2}), tensor<std::int32_t>({2}, {1, -1})});
  ASSERT_FALSE(r.status.is_ok());
  EXPECT_NE(r.status.message().find("negative exponent"), std::string::npos);
}

TEST(Binary, MinMaxVariadicBroadcast) {
  const Tensor a = tensor<float>({2, 2}, {1, 5, 3, 2});
  const Tensor b = tensor<float>({2}, {4, 0});
  const Tensor c = tensor<float>({}, {2});
  expect_tensor<float>(run_ok("Max", {a, b, c}), {2, 2}, {4, 5, 4, 2});
  expect_tensor<float>(run_ok("Min", {a, b, c}), {2, 2}, {1, 0, 2, 0});
  // The output shape is the broadcast of all inputs, not of the first two.
  expect_tensor<float>(run_ok("Max", {c, b, tensor<float>({2, 1}, {1, 7})}), {2, 2}, {4, 2, 7, 7});
  expect_tensor<std::int64_t>(
      run_ok("Min", {tensor<std::int64_t>({3}, {5, -1, 9}), tensor<std::int64_t>({3}, {2, 8, 9})}),
      {3}, {2, -1, 9});
  expect_tensor<std::uint16_t>(
      run_ok("Max", {tensor<std::uint16_t>({2}, {5, 65535}), tensor<std::uint16_t>({2}, {6, 1})}),
      {2}, {6, 65535});
}

TEST(Binary, MinMaxPropagateNaN) {
  const Tensor a = tensor<float>({3}, {kNaN, 1, 2});
  const Tensor b = tensor<float>({3}, {0, kNaN, 3});
  expect_tensor<float>(run_ok("Min", {a, b}), {3}, {kNaN, kNaN, 2});
  expect_tensor<float>(run_ok("Max", {a, b}), {3}, {kNaN, kNaN, 3});
  expect_tensor<float>(run_ok("Max", {tensor<float>({2}, {1, 2}), tensor<float>({}, {kNaN})}), {2},
                       {kNaN, kNaN});
}

TEST(Binary, VariadicOneInputCopies) {
  for (const char* op : {"Sum", "Mean", "Min", "Max"}) {
    expect_tensor<float>(run_ok(op, {tensor<float>({2}, {1.5f, -2})}), {2}, {1.5f, -2});
  }
}

TEST(Binary, SumMeanThreeInputs) {
  const Tensor a = tensor<float>({2}, {1, 2});
  const Tensor b = tensor<float>({2, 1}, {10, 20});
  const Tensor c = tensor<float>({}, {100});
  expect_tensor<float>(run_ok("Sum", {a, b, c}), {2, 2}, {111, 112, 121, 122});
  const float third = 1.0f / 3.0f;
  expect_tensor<float>(run_ok("Mean", {a, b, c}), {2, 2},
                       {111 * third, 112 * third, 121 * third, 122 * third});
  expect_tensor<float>(run_ok("Mean", {tensor<float>({2}, {1, 2}), tensor<float>({2}, {3, 4}),
                                       tensor<float>({2}, {5, 6})}),
                       {2}, {3, 4});
  expect_tensor<std::int64_t>(
      run_ok("Sum", {tensor<std::int64_t>({2}, {1, 2}), tensor<std::int64_t>({}, {10}),
                     tensor<std::int64_t>({2}, {100, 200})}),
      {2}, {111, 212});
}

TEST(Binary, Comparisons) {
  const Tensor a = tensor<float>({4}, {1, 2, 3, kNaN});
  const Tensor two = tensor<float>({}, {2});
  expect_bools(run_ok("Equal", {a, two}), {4}, {0, 1, 0, 0});
  expect_bools(run_ok("Less", {a, two}), {4}, {1, 0, 0, 0});
  expect_bools(run_ok("Greater", {a, two}), {4}, {0, 0, 1, 0});
  expect_bools(
      run_ok("Less", {tensor<std::int64_t>({2, 1}, {1, 5}), tensor<std::int64_t>({3}, {0, 1, 6})}),
      {2, 3}, {0, 0, 1, 0, 0, 1});
  expect_bools(
      run_ok("Equal", {tensor<std::int32_t>({3}, {7, 8, 9}), tensor<std::int32_t>({3}, {7, 0, 9})}),
      {3}, {1, 0, 1});
}

TEST(Binary, EqualOnBoolTreatsAnyNonzeroByteAsTrue) {
  expect_bools(run_ok("Equal", {bool_tensor({4}, {0, 1, 2, 0}), bool_tensor({4}, {0, 1, 1, 255})}),
               {4}, {1, 1, 1, 0});
}

TEST(Binary, Where) {
  expect_tensor<float>(run_ok("Where", {bool_tensor({2, 1}, {1, 0}),
                                        tensor<float>({1, 3}, {1, 2, 3}), tensor<float>({}, {-1})}),
                       {2, 3}, {1, 2, 3, -1, -1, -1});
  // A corrupted bool byte is still true.
  expect_tensor<std::int64_t>(
      run_ok("Where", {bool_tensor({3}, {7, 0, 1}), tensor<std::int64_t>({3}, {1, 2, 3}),
                       tensor<std::int64_t>({3}, {10, 20, 30})}),
      {3}, {1, 20, 3});
  // Any dtype: elements are copied as bits.
  expect_bools(
      run_ok("Where", {bool_tensor({2}, {1, 0}), bool_tensor({2}, {1, 1}), bool_tensor({}, {0})}),
      {2}, {1, 0});
  Tensor y = run_ok("Where", {bool_tensor({2}, {0, 1}), tensor<std::uint16_t>({2}, {1, 2}),
                              tensor<std::uint16_t>({2}, {3, 4})});
  EXPECT_EQ(y.data<std::uint16_t>()[0], 3);
  EXPECT_EQ(y.data<std::uint16_t>()[1], 2);
}

TEST(Binary, PReluPerChannelSlope) {
  expect_tensor<float>(run_ok("PRelu", {tensor<float>({1, 2, 2, 1}, {-1, 2, -3, 4}),
                                        tensor<float>({2, 1, 1}, {0.1f, 0.5f})}),
                       {1, 2, 2, 1}, {-0.1f, 2, -1.5f, 4});
  expect_tensor<float>(
      run_ok("PRelu", {tensor<float>({3}, {-2, 0, 3}), tensor<float>({1}, {0.25f})}), {3},
      {-0.5f, 0, 3});
}

// ---- load-time errors ----

// A NodeError for an invalid node, not an UnsupportedError (which marks valid ONNX).
void expect_invalid(const std::string& op, std::vector<Tensor> inputs) {
  try {
    (void)run(op, std::move(inputs));
    ADD_FAILURE() << op << " did not throw";
  } catch (const UnsupportedError& e) {
    ADD_FAILURE() << "unsupported instead of invalid: " << e.what();
  } catch (const NodeError& e) {
    EXPECT_NE(std::string(e.what()).find("test_" + op), std::string::npos) << e.what();
  }
}

TEST(Binary, IncompatibleShapesFailAtPrepare) {
  expect_invalid("Add", {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {4})});
  expect_invalid("Sum", {Tensor(DType::kFloat32, {3}), Tensor(DType::kFloat32, {2, 1}),
                         Tensor(DType::kFloat32, {4})});
  expect_invalid("Where", {Tensor(DType::kBool, {2}), Tensor(DType::kFloat32, {3}),
                           Tensor(DType::kFloat32, {1})});
  expect_invalid("PRelu", {Tensor(DType::kFloat32, {2}), Tensor(DType::kFloat32, {3, 2})});
  expect_invalid("Add", {Tensor(DType::kFloat32, {2}), Tensor(DType::kInt64, {2})});
  EXPECT_THROW(run("Add", {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {4})}),
               NodeError);
  EXPECT_THROW(run("Mul", {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {3, 2})}),
               NodeError);
  EXPECT_THROW(run("Sum", {Tensor(DType::kFloat32, {3}), Tensor(DType::kFloat32, {2, 1}),
                           Tensor(DType::kFloat32, {4})}),
               NodeError);
  EXPECT_THROW(run("Where", {Tensor(DType::kBool, {2}), Tensor(DType::kFloat32, {3}),
                             Tensor(DType::kFloat32, {1})}),
               NodeError);
  EXPECT_THROW(run("Equal", {Tensor(DType::kInt64, {2}), Tensor(DType::kInt64, {5})}), NodeError);
  try {
    (void)run("Add", {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {4})});
  } catch (const NodeError& e) {
    EXPECT_NE(std::string(e.what()).find("test_Add"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2,3]"), std::string::npos) << e.what();
  }
}

TEST(Binary, PReluSlopeMustBroadcastToX) {
  EXPECT_THROW(run("PRelu", {Tensor(DType::kFloat32, {1, 2, 2, 2}), Tensor(DType::kFloat32, {3})}),
               NodeError);
  // Slope larger than X would grow the output: not unidirectional.
  EXPECT_THROW(run("PRelu", {Tensor(DType::kFloat32, {2}), Tensor(DType::kFloat32, {3, 2})}),
               NodeError);
}

TEST(Binary, UnsupportedDtypesAndAttributesFailAtPrepare) {
  // Valid ONNX this engine does not implement.
  EXPECT_THROW(run("Add", {Tensor(DType::kFloat16, {2}), Tensor(DType::kFloat16, {2})}),
               UnsupportedError);
  EXPECT_THROW(run("Pow", {Tensor(DType::kFloat32, {2}), Tensor(DType::kUInt8, {2})}),
               UnsupportedError);
  EXPECT_THROW(run("Max", {Tensor(DType::kFloat16, {2}), Tensor(DType::kFloat16, {2})}),
               UnsupportedError);
  // Invalid nodes (or dtypes the spec does not allow).
  EXPECT_THROW(run("Add", {Tensor(DType::kFloat32, {2}), Tensor(DType::kInt64, {2})}), NodeError);
  EXPECT_THROW(run("Mean", {Tensor(DType::kInt32, {2}), Tensor(DType::kInt32, {2})}), NodeError);
  EXPECT_THROW(run("Less", {Tensor(DType::kBool, {2}), Tensor(DType::kBool, {2})}), NodeError);
  EXPECT_THROW(run("Where", {Tensor(DType::kFloat32, {2}), Tensor(DType::kFloat32, {2}),
                             Tensor(DType::kFloat32, {2})}),
               NodeError);
  EXPECT_THROW(run("Pow", {Tensor(DType::kInt8, {2}), Tensor(DType::kInt8, {2})}), NodeError);
  OpCall call;
  call.op_type = "Add";
  call.inputs = {Tensor(DType::kFloat32, {2}), Tensor(DType::kFloat32, {1})};
  call.attributes["broadcast"] = test::attr_int(1);
  EXPECT_THROW(run_op(call), NodeError);
  call.op_type = "Sum";
  call.inputs = {};
  call.attributes.clear();
  EXPECT_THROW(run_op(call), NodeError);
  call.op_type = "Sub";
  call.inputs = {Tensor(DType::kFloat32, {2})};
  EXPECT_THROW(run_op(call), NodeError);
}

// ---- run-time guard on tensors that differ from what prepare saw ----

TEST(Binary, RunWithUnpreparedShapeIsError) {
  Node node;
  node.name = "n";
  node.op_type = "Add";
  node.inputs = {0, 1};
  node.outputs = {2};
  const Tensor a = tensor<float>({2}, {1, 2});
  const Tensor b = tensor<float>({2}, {3, 4});
  PrepareContext ctx(node, 13, "test", {a.info(), b.info()}, {nullptr, nullptr}, false);
  Prepared p = find_op("", "Add", 13)->prepare(ctx);
  Tensor y(DType::kFloat32, {2});
  const Tensor wrong = tensor<float>({3}, {1, 2, 3});
  std::vector<const Tensor*> in = {&a, &wrong};
  std::vector<Tensor*> out = {&y};
  Status s = p.kernel->run(in, out);
  EXPECT_FALSE(s.is_ok());
  in = {&a, nullptr};
  EXPECT_FALSE(p.kernel->run(in, out).is_ok());
  in = {&a, &b};
  EXPECT_TRUE(p.kernel->run(in, out).is_ok());
  expect_tensor<float>(y, {2}, {4, 6});
}

// ---- the merged loop ----

TEST(BroadcastLoop, MergesAxes) {
  BroadcastLoop loop = make_broadcast_loop({{2, 3, 4, 5}, {3, 1, 1}}, {2, 3, 4, 5});
  EXPECT_EQ(loop.dims, (Shape{2, 3, 20}));
  EXPECT_EQ(loop.strides[0], (std::vector<std::int64_t>{60, 20, 1}));
  EXPECT_EQ(loop.strides[1], (std::vector<std::int64_t>{0, 1, 0}));
  loop = make_broadcast_loop({{2, 3, 4, 5}, {2, 3, 4, 5}}, {2, 3, 4, 5});
  EXPECT_EQ(loop.dims, (Shape{120}));
  loop = make_broadcast_loop({{2, 3, 4, 5}, {}}, {2, 3, 4, 5});
  EXPECT_EQ(loop.dims, (Shape{120}));
  EXPECT_EQ(loop.inner_stride(1), 0);
  loop = make_broadcast_loop({{1, 3, 1, 1}, {2, 3, 4, 5}}, {2, 3, 4, 5});
  EXPECT_EQ(loop.dims, (Shape{2, 3, 20}));
  loop = make_broadcast_loop({{3, 1}, {1, 4}}, {3, 4});
  EXPECT_EQ(loop.dims, (Shape{3, 4}));
  EXPECT_EQ(loop.strides[0], (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(loop.strides[1], (std::vector<std::int64_t>{0, 1}));
  loop = make_broadcast_loop({{1, 1}, {1}}, {1, 1});
  EXPECT_EQ(loop.dims, (Shape{1}));
  loop = make_broadcast_loop({{0, 3}, {3}}, {0, 3});
  EXPECT_EQ(loop.numel, 0);
}

// ---- optimised vs reference vs a plain loop, on random inputs ----

// Offset in an input of shape `in` of the element broadcast to flat output index i of `out`.
std::int64_t naive_offset(const Shape& in, const Shape& out, std::int64_t i) {
  std::int64_t off = 0;
  std::int64_t stride = 1;
  const std::size_t lead = out.size() - in.size();
  for (std::size_t ax = out.size(); ax-- > 0;) {
    const std::int64_t coord = i % out[ax];
    i /= out[ax];
    if (ax < lead) continue;
    const std::int64_t d = in[ax - lead];
    if (d != 1) off += coord * stride;
    stride *= d;
  }
  return off;
}

Shape naive_broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const std::int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor random_int32(Shape shape, std::uint32_t seed, std::int32_t lo, std::int32_t hi) {
  Tensor t(DType::kInt32, std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_int_distribution<std::int32_t> dist(lo, hi);
  for (std::int32_t& v : t.span<std::int32_t>()) v = dist(gen);
  return t;
}

// Shape pairs that force each path: same shape, scalar either side, per-channel either side,
// squeeze-excite, row and column broadcast, both sides, rank mismatch, one element, empty, and
// large ones that run on OpenMP blocks (with rows split across block boundaries).
const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{2, 3, 4, 5}, {2, 3, 4, 5}},
    {{2, 3, 4, 5}, {}},
    {{}, {2, 3, 4, 5}},
    {{2, 3, 4, 5}, {1}},
    {{2, 3, 4, 5}, {3, 1, 1}},
    {{2, 3, 4, 5}, {1, 3, 1, 1}},
    {{1, 3, 1, 1}, {2, 3, 4, 5}},
    {{2, 3, 4, 5}, {2, 3, 1, 1}},
    {{4, 5}, {5}},
    {{4, 5}, {4, 1}},
    {{3, 1}, {1, 4}},
    {{2, 1, 4}, {3, 1}},
    {{2, 3, 4, 5}, {4, 5}},
    {{5, 1, 3, 1}, {1, 4, 1, 2}},
    {{1, 1}, {1}},
    {{0, 3}, {3}},
    {{2, 32, 32, 33}, {32, 1, 1}},
    {{70001}, {70001}},
    {{64, 1, 30}, {1, 40, 30}},
    {{4, 64, 16, 16}, {}},
    {{1, 64, 1, 1}, {4, 64, 16, 16}},
    {{300, 300}, {300, 1}},
};

using FloatFn = std::function<float(float, float)>;

void check_float_op(const std::string& op, const FloatFn& f, float lo = -2, float hi = 2,
                    bool b_positive = false) {
  std::uint32_t seed = 1;
  for (const auto& [sa, sb] : kShapePairs) {
    if (op == "PRelu" && naive_broadcast(sa, sb) != sa) continue;
    SCOPED_TRACE(op + " " + shape_to_string(sa) + " " + shape_to_string(sb));
    const Tensor a = test::random_tensor(sa, seed++, lo, hi);
    const Tensor b = test::random_tensor(sb, seed++, b_positive ? 0.5f : lo, hi);
    const Tensor fast = run_ok(op, {a, b});
    const Tensor ref = run_ok(op, {a, b}, true);
    const Shape out = naive_broadcast(sa, sb);
    Tensor want(DType::kFloat32, out);
    for (std::int64_t i = 0; i < want.numel(); ++i) {
      want.data<float>()[i] =
          f(a.data<float>()[naive_offset(sa, out, i)], b.data<float>()[naive_offset(sb, out, i)]);
    }
    EXPECT_TRUE(fast.bit_equal(ref)) << test::compare_close(fast, ref, 0, 0);
    EXPECT_TRUE(fast.bit_equal(want)) << test::compare_close(fast, want, 0, 0);
  }
}

TEST(BinaryRandom, FloatOpsMatchPlainLoop) {
  check_float_op("Add", [](float a, float b) { return a + b; });
  check_float_op("Sub", [](float a, float b) { return a - b; });
  check_float_op("Mul", [](float a, float b) { return a * b; });
  check_float_op("Div", [](float a, float b) { return a / b; });
  check_float_op("Min", [](float a, float b) { return std::isnan(a) || a < b ? a : b; });
  check_float_op("Max", [](float a, float b) { return std::isnan(a) || a > b ? a : b; });
  check_float_op("Sum", [](float a, float b) { return a + b; });
  check_float_op("Mean", [](float a, float b) { return (a + b) * 0.5f; });
  check_float_op("PRelu", [](float a, float b) { return a > 0 ? a : a * b; });
  check_float_op(
      "Pow", [](float a, float b) { return std::pow(a, b); }, 0.1f, 3);
}

TEST(BinaryRandom, ComparisonsMatchPlainLoop) {
  std::uint32_t seed = 100;
  const std::vector<std::pair<std::string, std::function<bool(float, float)>>> ops = {
      {"Less", [](float a, float b) { return a < b; }},
      {"Greater", [](float a, float b) { return a > b; }},
      {"Equal", [](float a, float b) { return a == b; }}};
  for (const auto& [op, f] : ops) {
    for (const auto& [sa, sb] : kShapePairs) {
      SCOPED_TRACE(op + " " + shape_to_string(sa) + " " + shape_to_string(sb));
      // Few distinct values, so Equal is sometimes true.
      Tensor a = test::random_tensor(sa, seed++, 0, 4);
      Tensor b = test::random_tensor(sb, seed++, 0, 4);
      for (float& v : a.span<float>()) v = std::floor(v);
      for (float& v : b.span<float>()) v = std::floor(v);
      const Tensor fast = run_ok(op, {a, b});
      const Tensor ref = run_ok(op, {a, b}, true);
      const Shape out = naive_broadcast(sa, sb);
      Tensor want(DType::kBool, out);
      for (std::int64_t i = 0; i < want.numel(); ++i) {
        want.data<bool>()[i] =
            f(a.data<float>()[naive_offset(sa, out, i)], b.data<float>()[naive_offset(sb, out, i)]);
      }
      EXPECT_TRUE(fast.bit_equal(ref));
      EXPECT_TRUE(fast.bit_equal(want));
    }
  }
}

TEST(BinaryRandom, Int32OpsMatchPlainLoop) {
  std::uint32_t seed = 200;
  const std::vector<std::pair<std::string, std::function<std::int32_t(std::int32_t, std::int32_t)>>>
      ops = {{"Add", [](std::int32_t a, std::int32_t b) { return a + b; }},
             {"Sub", [](std::int32_t a, std::int32_t b) { return a - b; }},
             {"Mul", [](std::int32_t a, std::int32_t b) { return a * b; }},
             {"Div", [](std::int32_t a, std::int32_t b) { return a / b; }},
             {"Max", [](std::int32_t a, std::int32_t b) { return std::max(a, b); }}};
  for (const auto& [op, f] : ops) {
    for (const auto& [sa, sb] : kShapePairs) {
      SCOPED_TRACE(op + " " + shape_to_string(sa) + " " + shape_to_string(sb));
      const Tensor a = random_int32(sa, seed++, -1000, 1000);
      const Tensor b = random_int32(sb, seed++, 1, 1000);
      const Tensor fast = run_ok(op, {a, b});
      const Tensor ref = run_ok(op, {a, b}, true);
      const Shape out = naive_broadcast(sa, sb);
      Tensor want(DType::kInt32, out);
      for (std::int64_t i = 0; i < want.numel(); ++i) {
        want.data<std::int32_t>()[i] = f(a.data<std::int32_t>()[naive_offset(sa, out, i)],
                                         b.data<std::int32_t>()[naive_offset(sb, out, i)]);
      }
      EXPECT_TRUE(fast.bit_equal(ref));
      EXPECT_TRUE(fast.bit_equal(want));
    }
  }
}

TEST(BinaryRandom, VariadicThreeInputsMatchPlainLoop) {
  const std::vector<std::vector<Shape>> cases = {
      {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}},
      {{3, 1}, {1, 4}, {}},
      {{4}, {2, 3, 4}, {3, 1}},
      {{1, 64, 1, 1}, {4, 64, 16, 16}, {64, 1, 1}},
  };
  std::uint32_t seed = 300;
  for (const auto& shapes : cases) {
    const Shape out = naive_broadcast(naive_broadcast(shapes[0], shapes[1]), shapes[2]);
    std::vector<Tensor> in;
    for (const Shape& s : shapes) in.push_back(test::random_tensor(s, seed++));
    for (const std::string op : {"Sum", "Mean", "Max"}) {
      SCOPED_TRACE(op + " " + shape_to_string(out));
      const Tensor fast = run_ok(op, in);
      const Tensor ref = run_ok(op, in, true);
      Tensor want(DType::kFloat32, out);
      for (std::int64_t i = 0; i < want.numel(); ++i) {
        float v[3];
        for (int k = 0; k < 3; ++k) v[k] = in[k].data<float>()[naive_offset(shapes[k], out, i)];
        float r;
        if (op == "Max") {
          r = std::max(std::max(v[0], v[1]), v[2]);
        } else {
          r = (v[0] + v[1]) + v[2];
          if (op == "Mean") r *= 1.0f / 3.0f;
        }
        want.data<float>()[i] = r;
      }
      EXPECT_TRUE(fast.bit_equal(ref));
      EXPECT_TRUE(fast.bit_equal(want)) << test::compare_close(fast, want, 0, 0);
    }
  }
}

TEST(BinaryRandom, WhereMatchesPlainLoop) {
  const std::vector<std::vector<Shape>> cases = {
      {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}, {{2, 1, 4}, {3, 1}, {}}, {{}, {5}, {2, 5}},
      {{3, 1}, {1, 4}, {3, 4}},          {{4}, {3, 4}, {3, 1}},   {{64, 1, 30}, {1, 40, 30}, {30}},
      {{70001}, {1}, {70001}},           {{0, 2}, {2}, {1}},
  };
  std::uint32_t seed = 400;
  for (const auto& shapes : cases) {
    const Shape out = naive_broadcast(naive_broadcast(shapes[0], shapes[1]), shapes[2]);
    SCOPED_TRACE(shape_to_string(out));
    Tensor c(DType::kBool, shapes[0]);
    std::mt19937 gen(seed++);
    for (std::int64_t i = 0; i < c.numel(); ++i) static_cast<std::uint8_t*>(c.raw())[i] = gen() % 3;
    const Tensor x = test::random_tensor(shapes[1], seed++);
    const Tensor y = test::random_tensor(shapes[2], seed++);
    const Tensor fast = run_ok("Where", {c, x, y});
    const Tensor ref = run_ok("Where", {c, x, y}, true);
    Tensor want(DType::kFloat32, out);
    for (std::int64_t i = 0; i < want.numel(); ++i) {
      const bool cond = static_cast<const std::uint8_t*>(c.raw())[naive_offset(shapes[0], out, i)];
      want.data<float>()[i] = cond ? x.data<float>()[naive_offset(shapes[1], out, i)]
                                   : y.data<float>()[naive_offset(shapes[2], out, i)];
    }
    EXPECT_TRUE(fast.bit_equal(ref));
    EXPECT_TRUE(fast.bit_equal(want));
  }
}

TEST(BinaryRandom, SameBitsForAnyThreadCount) {
  const Tensor a = test::random_tensor({4, 64, 16, 16}, 7);
  const Tensor b = test::random_tensor({64, 1, 1}, 8);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor one = run_ok("Mul", {a, b});
  const Tensor one_sum = run_ok("Sum", {a, b, a});
  omp_set_num_threads(3);
  const Tensor three = run_ok("Mul", {a, b});
  const Tensor three_sum = run_ok("Sum", {a, b, a});
  omp_set_num_threads(threads);
  EXPECT_TRUE(one.bit_equal(three));
  EXPECT_TRUE(one_sum.bit_equal(three_sum));
}

}  // namespace
}  // namespace dnnfi
