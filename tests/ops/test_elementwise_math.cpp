// Tests of the unary_math.cpp ops: hand-computed values (closed forms noted beside them), special
// values (NaN, infinities, halves for Round), integer dtypes, float16 / bfloat16, load-time errors,
// reference == optimised on random data, and the ONNX backend node cases of every op.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "ops/elementwise_test_util.h"
#include "ops/onnx_node_case.h"

namespace dnnfi::test {
namespace {

using namespace elementwise;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kPi = std::numbers::pi;

TEST(ElementwiseMath, Trigonometric) {
  expect_values<float>(run1("Sin", {f32({0.0f, float(kPi / 2), float(-kPi / 6), kInf, kNaN})}),
                       {0.0f, 1.0f, -0.5f, kNaN, kNaN}, 1e-6);
  expect_values<float>(run1("Cos", {f32({0.0f, float(kPi), float(kPi / 3)})}), {1.0f, -1.0f, 0.5f},
                       1e-6);
  expect_values<float>(run1("Tan", {f32({0.0f, float(kPi / 4), float(-kPi / 4)})}),
                       {0.0f, 1.0f, -1.0f}, 1e-6);
  // asin(1) = pi/2, asin(0.5) = pi/6, outside [-1, 1] NaN.
  expect_values<float>(run1("Asin", {f32({1.0f, 0.5f, -0.5f, 2.0f})}),
                       {float(kPi / 2), float(kPi / 6), float(-kPi / 6), kNaN}, 1e-6);
  expect_values<float>(run1("Acos", {f32({1.0f, 0.5f, -1.0f, -1.5f})}),
                       {0.0f, float(kPi / 3), float(kPi), kNaN}, 1e-6);
  expect_values<float>(run1("Atan", {f32({1.0f, -1.0f, kInf, 0.0f})}),
                       {float(kPi / 4), float(-kPi / 4), float(kPi / 2), 0.0f}, 1e-6);
  // float64 keeps double precision: sin(pi/6) = 0.5.
  expect_values<double>(run1("Sin", {vec<double>({kPi / 6})}), {0.5}, 1e-15);
}

TEST(ElementwiseMath, Hyperbolic) {
  // sinh(1) = (e - 1/e) / 2, cosh(1) = (e + 1/e) / 2.
  const double e = std::numbers::e;
  expect_values<float>(run1("Sinh", {f32({0.0f, 1.0f, -1.0f})}),
                       {0.0f, float((e - 1 / e) / 2), float(-(e - 1 / e) / 2)}, 1e-6);
  expect_values<float>(run1("Cosh", {f32({0.0f, 1.0f, -kInf})}),
                       {1.0f, float((e + 1 / e) / 2), kInf}, 1e-6);
  // asinh(1) = ln(1 + sqrt 2), acosh(2) = ln(2 + sqrt 3), atanh(0.5) = ln(3) / 2.
  expect_values<float>(
      run1("Asinh", {f32({1.0f, 0.0f, -1.0f})}),
      {float(std::log(1 + std::sqrt(2.0))), 0.0f, float(-std::log(1 + std::sqrt(2.0)))}, 1e-6);
  expect_values<float>(run1("Acosh", {f32({1.0f, 2.0f, 0.5f})}),
                       {0.0f, float(std::log(2 + std::sqrt(3.0))), kNaN}, 1e-6);
  expect_values<float>(run1("Atanh", {f32({0.5f, 1.0f, -1.0f, 2.0f})}),
                       {float(std::log(3.0) / 2), kInf, -kInf, kNaN}, 1e-6);
}

TEST(ElementwiseMath, Sign) {
  expect_values<float>(run1("Sign", {f32({-2.5f, -0.0f, 0.0f, 3.0f, kNaN, -kInf, 1e-40f})}),
                       {-1.0f, 0.0f, 0.0f, 1.0f, kNaN, -1.0f, 1.0f}, 0.0);
  EXPECT_EQ(values<std::int8_t>(run1("Sign", {vec<std::int8_t>({-128, -1, 0, 127})})),
            (std::vector<std::int8_t>{-1, -1, 0, 1}));
  EXPECT_EQ(values<std::uint64_t>(run1("Sign", {vec<std::uint64_t>({0, 5, ~0ull})})),
            (std::vector<std::uint64_t>{0, 1, 1}));
  EXPECT_EQ(values<std::int64_t>(run1("Sign", {vec<std::int64_t>({-7, 0, 9})})),
            (std::vector<std::int64_t>{-1, 0, 1}));
}

TEST(ElementwiseMath, FloorCeil) {
  const Tensor x = f32({-1.5f, -0.5f, 0.5f, 1.5f, 2.0f, kNaN, -kInf, 16777215.0f});
  expect_values<float>(run1("Floor", {x}),
                       {-2.0f, -1.0f, 0.0f, 1.0f, 2.0f, kNaN, -kInf, 16777215.0f}, 0.0);
  expect_values<float>(run1("Ceil", {x}),
                       {-1.0f, -0.0f, 1.0f, 2.0f, 2.0f, kNaN, -kInf, 16777215.0f}, 0.0);
  // Version 1 carries the ignorable consumed_inputs; version 6 no longer has it.
  expect_values<float>(run1("Floor", {f32({2.7f})}, {{"consumed_inputs", attr_ints({0})}}, 1),
                       {2.0f}, 0.0);
  expect_node_error(make_call("Floor", {f32({2.7f})}, {{"consumed_inputs", attr_ints({0})}}, 6));
  expect_node_error(make_call("Floor", {vec<std::int32_t>({1})}));
}

TEST(ElementwiseMath, RoundHalfToEven) {
  expect_values<float>(run1("Round", {f32({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, 2.6f, -2.6f,
                                           0.49999997f, 8388609.0f, 1e20f, kNaN, -kInf})}),
                       {0.0f, 2.0f, 2.0f, -0.0f, -2.0f, -2.0f, 2.0f, 3.0f, -3.0f, 0.0f, 8388609.0f,
                        1e20f, kNaN, -kInf},
                       0.0);
  expect_values<double>(run1("Round", {vec<double>({4.5, 5.5, -4.5, 4503599627370495.5})}),
                        {4.0, 6.0, -4.0, 4503599627370496.0}, 0.0);
  // -0.5 rounds to -0: the sign of zero is kept as numpy does.
  EXPECT_TRUE(std::signbit(run1("Round", {f32({-0.5f})}).data<float>()[0]));
}

TEST(ElementwiseMath, Celu) {
  // alpha * (exp(x / alpha) - 1) for x <= 0: alpha 2, x -1 -> 2 (e^-0.5 - 1).
  expect_values<float>(
      run1("Celu", {f32({-1.0f, 0.0f, 3.0f, -kInf, kNaN})}, {{"alpha", attr_float(2.0f)}}),
      {float(2 * (std::exp(-0.5) - 1)), 0.0f, 3.0f, -2.0f, kNaN}, 1e-6);
  expect_values<float>(run1("Celu", {f32({-1.0f})}), {float(std::exp(-1.0) - 1)}, 1e-6);
  expect_node_error(make_call("Celu", {f32({1.0f})}, {{"alpha", attr_float(0.0f)}}));
}

TEST(ElementwiseMath, ThresholdedRelu) {
  expect_values<float>(run1("ThresholdedRelu", {f32({0.5f, 1.0f, 1.5f, kNaN, -3.0f, kInf})}),
                       {0.0f, 0.0f, 1.5f, 0.0f, 0.0f, kInf}, 0.0);
  expect_values<float>(
      run1("ThresholdedRelu", {f32({-0.5f, -2.0f})}, {{"alpha", attr_float(-1.0f)}}), {-0.5f, 0.0f},
      0.0);
}

TEST(ElementwiseMath, Shrink) {
  expect_values<float>(run1("Shrink", {f32({-3.0f, -1.5f, -1.0f, 0.0f, 1.0f, 1.5f, 2.0f, kNaN})},
                            {{"lambd", attr_float(1.5f)}, {"bias", attr_float(1.0f)}}),
                       {-2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f}, 0.0);
  // Defaults lambd 0.5, bias 0 (hard shrink).
  expect_values<float>(run1("Shrink", {f32({-0.6f, 0.5f, 0.7f})}), {-0.6f, 0.0f, 0.7f}, 0.0);
  EXPECT_EQ(values<std::int8_t>(run1("Shrink", {vec<std::int8_t>({-128, -1, 0, 127})},
                                     {{"lambd", attr_float(0.5f)}, {"bias", attr_float(10.0f)}})),
            (std::vector<std::int8_t>{-118, 9, 0, 117}));
  // Results beyond the integer range saturate.
  EXPECT_EQ(values<std::int8_t>(run1("Shrink", {vec<std::int8_t>({-1, 1})},
                                     {{"lambd", attr_float(0.0f)}, {"bias", attr_float(200.0f)}})),
            (std::vector<std::int8_t>{127, -128}));
  EXPECT_EQ(values<std::uint8_t>(run1("Shrink", {vec<std::uint8_t>({0, 255})},
                                      {{"lambd", attr_float(0.0f)}, {"bias", attr_float(-10.0f)}})),
            (std::vector<std::uint8_t>{0, 255}));
}

TEST(ElementwiseMath, IsNaNIsInf) {
  const Tensor x = f32({1.0f, kNaN, kInf, -kNaN, -kInf, std::numeric_limits<float>::max()});
  const Tensor nan = run1("IsNaN", {x});
  ASSERT_EQ(nan.dtype(), DType::kBool);
  EXPECT_EQ(values<std::uint8_t>(nan), (std::vector<std::uint8_t>{0, 1, 0, 1, 0, 0}));
  EXPECT_EQ(values<std::uint8_t>(run1("IsInf", {x})),
            (std::vector<std::uint8_t>{0, 0, 1, 0, 1, 0}));
  EXPECT_EQ(values<std::uint8_t>(run1("IsInf", {x}, {{"detect_negative", attr_int(0)}}, 10)),
            (std::vector<std::uint8_t>{0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(values<std::uint8_t>(run1("IsInf", {x}, {{"detect_positive", attr_int(0)}}, 10)),
            (std::vector<std::uint8_t>{0, 0, 0, 0, 1, 0}));
  const double dinf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(values<std::uint8_t>(run1("IsNaN", {vec<double>({std::nan(""), dinf, 0.0})})),
            (std::vector<std::uint8_t>{1, 0, 0}));
  // float16: 0x7e00 NaN, 0x7c00 +inf, 0xfc00 -inf, 0x3c00 1; bfloat16: 0x7f80 +inf, 0x7fc1 NaN.
  const Tensor h = raw<std::uint16_t>(DType::kFloat16, {4}, {0x7e00, 0x7c00, 0xfc00, 0x3c00});
  EXPECT_EQ(values<std::uint8_t>(run1("IsNaN", {h})), (std::vector<std::uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(values<std::uint8_t>(run1("IsInf", {h})), (std::vector<std::uint8_t>{0, 1, 1, 0}));
  const Tensor b = raw<std::uint16_t>(DType::kBFloat16, {3}, {0x7f80, 0x7fc1, 0x3f80});
  EXPECT_EQ(values<std::uint8_t>(run1("IsInf", {b})), (std::vector<std::uint8_t>{1, 0, 0}));
  EXPECT_EQ(values<std::uint8_t>(run1("IsNaN", {b})), (std::vector<std::uint8_t>{0, 1, 0}));
  expect_node_error(make_call("IsNaN", {vec<std::int32_t>({1})}));
  expect_node_error(make_call("IsInf", {f32({1.0f})}, {{"detect_all", attr_int(1)}}));
}

TEST(ElementwiseMath, Float16AndBFloat16) {
  // float16 bits: 0x3e00 = 1.5, 0xc100 = -2.5, 0x3800 = 0.5; Round gives 2, -2, 0 (0x4000,
  // 0xc000, 0x0000); Floor gives 1, -3, 0 (0x3c00, 0xc200, 0x0000).
  const Tensor h = raw<std::uint16_t>(DType::kFloat16, {3}, {0x3e00, 0xc100, 0x3800});
  EXPECT_EQ(values<std::uint16_t>(run1("Round", {h})),
            (std::vector<std::uint16_t>{0x4000, 0xc000, 0x0000}));
  EXPECT_EQ(values<std::uint16_t>(run1("Floor", {h})),
            (std::vector<std::uint16_t>{0x3c00, 0xc200, 0x0000}));
  // bfloat16 -2.5 (0xc020): Sign -1 (0xbf80).
  EXPECT_EQ(
      values<std::uint16_t>(run1("Sign", {raw<std::uint16_t>(DType::kBFloat16, {1}, {0xc020})})),
      (std::vector<std::uint16_t>{0xbf80}));
}

TEST(ElementwiseMath, UnsupportedDtypesAndAttributes) {
  for (const char* op : {"Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
                         "Acosh", "Atanh", "Round", "Celu", "ThresholdedRelu"}) {
    SCOPED_TRACE(op);
    expect_unsupported(make_call(op, {vec<std::int32_t>({1})}));
    expect_node_error(make_call(op, {f32({1.0f})}, {{"gamma", attr_float(1.0f)}}));
  }
  expect_unsupported(make_call("Sign", {bools({1})}));
}

TEST(ElementwiseMath, LargeInputsMatchReference) {
  // Large enough for the parallel chunked path; run1 checks reference == optimised bitwise.
  const Tensor x = random_tensor({70000}, 11, -3.0f, 3.0f);
  for (const char* op : {"Sin", "Cos", "Atan", "Sinh", "Asinh", "Sign", "Floor", "Ceil", "Round",
                         "Celu", "ThresholdedRelu", "Shrink"}) {
    SCOPED_TRACE(op);
    const Tensor y = run1(op, {x});
    EXPECT_EQ(y.numel(), x.numel());
  }
  const Tensor y = run1("Round", {x});
  for (std::int64_t i = 0; i < x.numel(); i += 997) {
    EXPECT_EQ(y.data<float>()[i], std::nearbyint(x.data<float>()[i])) << i;
  }
}

TEST(ElementwiseMathNodeCases, Onnx) {
  for (const char* name : {"test_sin",
                           "test_sin_example",
                           "test_cos",
                           "test_cos_example",
                           "test_tan",
                           "test_tan_example",
                           "test_asin",
                           "test_asin_example",
                           "test_acos",
                           "test_acos_example",
                           "test_atan",
                           "test_atan_example",
                           "test_sinh",
                           "test_sinh_example",
                           "test_cosh",
                           "test_cosh_example",
                           "test_asinh",
                           "test_asinh_example",
                           "test_acosh",
                           "test_acosh_example",
                           "test_atanh",
                           "test_atanh_example",
                           "test_sign",
                           "test_floor",
                           "test_floor_example",
                           "test_ceil",
                           "test_ceil_example",
                           "test_round",
                           "test_celu",
                           "test_thresholdedrelu",
                           "test_thresholdedrelu_default",
                           "test_thresholdedrelu_example",
                           "test_shrink_hard",
                           "test_shrink_soft",
                           "test_isnan",
                           "test_isinf",
                           "test_isinf_negative",
                           "test_isinf_positive"}) {
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
}

}  // namespace
}  // namespace dnnfi::test
