// Quantization ops: hand-computed goldens (round half to even, saturation, per-axis parameters,
// ONNX Runtime's requantization order), corrupted scales and zero points (faults) giving data,
// not crashes, load-time errors, and the ONNX backend node cases.
//
// "QuantizeLinear" "DequantizeLinear" "DynamicQuantizeLinear" "ConvInteger" "QLinearConv"
// "Requantize" (dnnfi domain)
// "MatMulInteger" "QLinearMatMul" "QLinearAdd" "QLinearMul" "QLinearGlobalAveragePool" "QGemm"
// "MaxPool" (int8 / uint8)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/kernel_harness.h"
#include "ops/onnx_node_case.h"
#include "ops/ops.h"
#include "ops/quant_test_util.h"

namespace dnnfi {
namespace {

using test::attr_float;
using test::attr_int;
using test::attr_ints;
using test::OpCall;
using test::run_op;

using namespace quant_test;  // NOLINT(google-build-using-namespace)

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturatesUint8) {
  OpCall call;
  call.op_type = "QuantizeLinear";
  // x / 2 = 0, 0.5, 1.5, 2.5, -1.5, 500, -500, 63.5 -> 0, 0, 2, 2, -2, sat, sat, 64 (+128)
  call.inputs = {f32({8}, {0, 1, 3, 5, -3, 1000, -1000, 127}), scalar_f32(2.0f), u8({}, {128})};
  const Tensor y = run_both(call);
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(values<U8>(y), (std::vector<U8>{128, 128, 130, 130, 126, 255, 0, 192}));
  // Without a zero point: uint8, zero point 0.
  call.inputs.pop_back();
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{0, 0, 2, 2, 0, 255, 0, 64}));
}

TEST(QuantizeLinear, Int8SaturatesAtBothEnds) {
  OpCall call;
  call.op_type = "QuantizeLinear";
  // x / 0.5 = 127.5 -> 128 -> 127 (sat), -128.5 -> -128, -129 -> sat, 1.5 -> 2, -2.5 -> -2; zp -1
  call.inputs = {f32({5}, {63.75f, -64.25f, -64.5f, 0.75f, -1.25f}), scalar_f32(0.5f),
                 i8({}, {-1})};
  const Tensor y = run_both(call);
  EXPECT_EQ(y.dtype(), DType::kInt8);
  EXPECT_EQ(values<I8>(y), (std::vector<I8>{127, -128, -128, 1, -3}));
}

TEST(QuantizeLinear, PerAxisOpset13) {
  OpCall call;
  call.op_type = "QuantizeLinear";
  call.inputs = {f32({2, 3}, {1, 2, 4, -1, 5, -100}), f32({3}, {1, 2, 4}), u8({3}, {0, 10, 20})};
  // column 0: /1 +0; column 1: /2 +10 (2.5 -> 2); column 2: /4 +20 (-25 + 20 -> sat 0)
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{1, 11, 21, 0, 12, 0}));
  // axis = 0 with two rows: the same data, row scales 1 and 4.
  call.attributes["axis"] = attr_int(0);
  call.inputs[1] = f32({2}, {1, 4});
  call.inputs[2] = u8({2}, {0, 100});
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{1, 2, 4, 100, 101, 75}));
  // Negative axis.
  call.attributes["axis"] = attr_int(-2);
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{1, 2, 4, 100, 101, 75}));
}

// The vectorised QuantizeLinear against the scalar reference, bit for bit, on values around
// rounding ties, saturation limits, NaN, +-Inf, -0 and random floats, with a 37-element row (a
// masked tail), for uint8 and int8, and per-axis scales including NaN, 0 and Inf.
TEST(QuantizeLinear, OptimisedMatchesReference) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> d(-300.0f, 300.0f);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.5f,    1.5f,   2.5f,  -0.5f,  -1.5f, 254.5f, 255.5f,        -128.5f,
                          -127.5f, 127.5f, 1e30f, -1e30f, inf,   -inf,   std::nanf(""), -0.0f};
  while (x.size() < 37 * 3) x.push_back(d(gen));
  for (bool int8_y : {false, true}) {
    SCOPED_TRACE(int8_y ? "int8" : "uint8");
    OpCall call;
    call.op_type = "QuantizeLinear";
    call.opset = 10;
    call.inputs = {f32({3, 37}, x), scalar_f32(1.0f), int8_y ? i8({}, {-3}) : u8({}, {7})};
    const Tensor y = run_both(call);
    // Hand-checked: 2.5 -> 2 (half to even) + zero point; NaN -> the zero point.
    const std::int32_t y2 = int8_y ? std::int32_t{y.data<I8>()[2]} : y.data<U8>()[2];
    const std::int32_t ynan = int8_y ? std::int32_t{y.data<I8>()[14]} : y.data<U8>()[14];
    EXPECT_EQ(y2, int8_y ? -1 : 9);
    EXPECT_EQ(ynan, int8_y ? -3 : 7);
    call.opset = 13;
    call.attributes = {{"axis", attr_int(0)}};
    call.inputs = {f32({3, 37}, x), f32({3}, {0.7f, std::nanf(""), 0.0f}),
                   int8_y ? i8({3}, {-3, 4, 0}) : u8({3}, {7, 200, 0})};
    run_both(call);
  }
}

TEST(QuantizeLinear, LoadTimeErrors) {
  OpCall call;
  call.op_type = "QuantizeLinear";
  call.inputs = {f32({2, 3}, {}), f32({3}, {1, 2, 4}), u8({3}, {0, 0, 0})};
  call.opset = 10;  // per-axis scales came with opset 13
  EXPECT_THROW(run_op(call), NodeError);
  call.opset = 13;
  call.attributes["axis"] = attr_int(0);  // 3 scales for a dim of 2
  EXPECT_THROW(run_op(call), NodeError);
  call.attributes.clear();
  call.inputs[2] = u8({2}, {0, 0});  // zero point shape differs from the scale's
  EXPECT_THROW(run_op(call), NodeError);
  call.inputs = {i32({2}, {1, 2}), scalar_f32(1.0f)};  // int32 x: not implemented
  EXPECT_THROW(run_op(call), UnsupportedError);
  call.inputs = {f32({2}, {1, 2}), scalar_f32(1.0f)};
  call.attributes["saturate"] = attr_int(1);  // opset 19 float8 attribute
  EXPECT_THROW(run_op(call), NodeError);
}

TEST(QuantizeLinear, CorruptedScaleIsDataNotACrash) {
  OpCall call;
  call.op_type = "QuantizeLinear";
  call.inputs = {f32({4}, {0, 1, -1, std::nanf("")}), scalar_f32(0.0f), u8({}, {7})};
  // x / 0: 0/0 = NaN -> zero point, +-Inf saturate; NaN data -> zero point.
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{7, 255, 0, 7}));
  call.inputs[1] = scalar_f32(std::numeric_limits<float>::infinity());
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{7, 7, 7, 7}));
  call.inputs[1] = scalar_f32(std::nanf(""));
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{7, 7, 7, 7}));
  call.inputs[1] = scalar_f32(-1.0f);  // a flipped sign bit mirrors the values
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{7, 6, 8, 7}));
}

TEST(DequantizeLinear, Int8Uint8Int32AndPerAxis) {
  OpCall call;
  call.op_type = "DequantizeLinear";
  call.inputs = {i8({3}, {-128, 0, 127}), scalar_f32(0.5f), i8({}, {-1})};
  EXPECT_EQ(values<float>(run_both(call)), (std::vector<float>{-63.5f, 0.5f, 64.0f}));
  call.inputs = {u8({2, 2}, {0, 255, 10, 20}), f32({2}, {2.0f, 0.25f}), u8({2}, {10, 20})};
  // axis 1: column 0 (x - 10) * 2, column 1 (x - 20) * 0.25
  EXPECT_EQ(values<float>(run_both(call)), (std::vector<float>{-20.0f, 58.75f, 0.0f, 0.0f}));
  call.inputs = {i32({2}, {-5, 7}), scalar_f32(2.0f)};
  EXPECT_EQ(values<float>(run_both(call)), (std::vector<float>{-10.0f, 14.0f}));
  // A NaN scale is data.
  call.inputs[1] = scalar_f32(std::nanf(""));
  const Tensor y = run_both(call);
  EXPECT_TRUE(std::isnan(y.data<float>()[0]) && std::isnan(y.data<float>()[1]));
}

TEST(DynamicQuantizeLinear, HandComputed) {
  OpCall call;
  call.op_type = "DynamicQuantizeLinear";
  call.num_outputs = 3;
  call.opset = 11;
  // range [-51, 204]: scale 255 / 255 = 1, zero point 51
  call.inputs = {f32({3}, {-51, 0, 204})};
  EXPECT_EQ(values<U8>(run_both(call, 0)), (std::vector<U8>{0, 51, 255}));
  EXPECT_EQ(values<float>(run_both(call, 1)), (std::vector<float>{1.0f}));
  EXPECT_EQ(values<U8>(run_both(call, 2)), (std::vector<U8>{51}));
  // Positive only: the range still includes 0, zero point 0; 1.5 / (2.5/255) = 153.
  call.inputs = {f32({2}, {1.5f, 2.5f})};
  EXPECT_EQ(values<U8>(run_both(call, 0)), (std::vector<U8>{153, 255}));
  EXPECT_EQ(values<U8>(run_both(call, 2)), (std::vector<U8>{0}));
  // All zero: scale 0, zero point 0, y 0 (no division trap).
  call.inputs = {f32({2}, {0, 0})};
  EXPECT_EQ(values<U8>(run_both(call, 0)), (std::vector<U8>{0, 0}));
  EXPECT_EQ(values<float>(run_both(call, 1)), (std::vector<float>{0.0f}));
}

// x [1,1,2,2] = 10 20 30 40 (zero point 10 -> 0 10 20 30), w [1,1,2,2] = 1 -1 2 0:
// acc = 0 - 10 + 40 + 0 = 30.
OpCall qlinear_conv_call() {
  OpCall call;
  call.op_type = "QLinearConv";
  call.opset = 10;
  call.inputs = {u8({1, 1, 2, 2}, {10, 20, 30, 40}),
                 scalar_f32(0.5f),
                 u8({}, {10}),
                 i8({1, 1, 2, 2}, {1, -1, 2, 0}),
                 scalar_f32(0.25f),
                 i8({}, {0}),
                 scalar_f32(0.125f),
                 u8({}, {5}),
                 i32({1}, {4})};
  return call;
}

TEST(QLinearConv, RequantizesLikeOnnxRuntime) {
  OpCall call = qlinear_conv_call();
  // (30 + bias 4) * (0.5 * 0.25 / 0.125 = 1) + 5 = 39
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{39}));
  // y_scale 0.5: 34 * 0.25 = 8.5 -> 8 (half to even) + 5
  call.inputs[6] = scalar_f32(0.5f);
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{13}));
  // y_scale tiny: saturates.
  call.inputs[6] = scalar_f32(1e-6f);
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{255}));
  // Two output channels, per-channel w_scale / w_zero_point and bias; int8 output.
  call = qlinear_conv_call();
  call.inputs[3] = i8({2, 1, 2, 2}, {1, -1, 2, 0, 0, 0, 0, 3});
  call.inputs[4] = f32({2}, {0.25f, 0.5f});
  call.inputs[5] = i8({2}, {0, 2});  // channel 1: w - 2 = -2 -2 -2 1 -> acc -60 + 30 = -30
  call.inputs[6] = scalar_f32(0.5f);
  call.inputs[7] = i8({}, {-3});
  call.inputs[8] = i32({2}, {4, -2});
  // channel 0: 34 * 0.25 = 8.5 -> 8 - 3 = 5; channel 1: -32 * 0.5 = -16 - 3 = -19
  const Tensor y = run_both(call);
  EXPECT_EQ(y.dtype(), DType::kInt8);
  EXPECT_EQ(values<I8>(y), (std::vector<I8>{5, -19}));
}

TEST(QLinearConv, PaddingStandsForTheZeroPoint) {
  OpCall call = qlinear_conv_call();
  call.inputs[3] = i8({1, 1, 1, 1}, {2});
  call.inputs[6] = scalar_f32(0.25f);  // multiplier 0.5
  call.inputs.pop_back();              // no bias
  call.attributes["pads"] = attr_ints({1, 0, 0, 0});
  // Row of padding -> 0 + 5; then (x - 10) * 2 * 0.5 + 5
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{5, 5, 5, 15, 25, 35}));
}

TEST(QLinearConv, CorruptedScalesGiveDataNotACrash) {
  OpCall call = qlinear_conv_call();
  call.inputs[6] = scalar_f32(0.0f);  // multiplier +Inf: saturates
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{255}));
  call.inputs[6] = scalar_f32(std::nanf(""));  // NaN: the zero point
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{5}));
}

TEST(QLinearConv, LoadTimeErrors) {
  OpCall call = qlinear_conv_call();
  call.inputs[6] = f32({2}, {1, 1});  // per-channel y_scale
  EXPECT_THROW(run_op(call), UnsupportedError);
  call = qlinear_conv_call();
  call.inputs[4] = f32({3}, {1, 1, 1});  // w_scale of 3 for 1 output channel
  EXPECT_THROW(run_op(call), NodeError);
  call = qlinear_conv_call();
  call.inputs[5] = u8({}, {0});  // w_zero_point dtype differs from w
  EXPECT_THROW(run_op(call), NodeError);
}

TEST(ConvInteger, HandComputed) {
  OpCall call;
  call.op_type = "ConvInteger";
  call.opset = 10;
  call.inputs = {u8({1, 1, 2, 2}, {10, 20, 30, 40}), i8({1, 1, 2, 2}, {1, -1, 2, 0}), u8({}, {10})};
  Tensor y = run_both(call);
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(values<std::int32_t>(y), (std::vector<std::int32_t>{30}));
  // 1x1 kernel, w zero point 1: (x - 10) * (3 - 1)
  call.inputs = {u8({1, 1, 2, 2}, {10, 20, 30, 40}), u8({1, 1, 1, 1}, {3}), u8({}, {10}),
                 u8({}, {1})};
  EXPECT_EQ(values<std::int32_t>(run_both(call)), (std::vector<std::int32_t>{0, 20, 40, 60}));
}

TEST(QLinearMatMul, HandComputedHalfToEven) {
  OpCall call;
  call.op_type = "QLinearMatMul";
  call.opset = 10;
  // a - 10 = [2, 4]; b = [[1, 2], [3, -1]]: acc = [14, 0]; multiplier 0.5 * 1 / 2 = 0.25
  call.inputs = {u8({1, 2}, {12, 14}),      scalar_f32(0.5f), u8({}, {10}),
                 i8({2, 2}, {1, 2, 3, -1}), scalar_f32(1.0f), i8({}, {0}),
                 scalar_f32(2.0f),          u8({}, {100})};
  // 14 * 0.25 = 3.5 -> 4 (half to even), 0 -> 0
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{104, 100}));
  // Per-column b scale: column 1 scale 3 -> 0 still; column 0 scale 0.5 -> 1.75 -> 2.
  call.inputs[4] = f32({2}, {0.5f, 3.0f});
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{102, 100}));
}

TEST(MatMulInteger, HandComputedAndBatched) {
  OpCall call;
  call.op_type = "MatMulInteger";
  call.opset = 10;
  call.inputs = {u8({1, 2}, {12, 14}), i8({2, 2}, {1, 2, 3, -1}), u8({}, {10})};
  EXPECT_EQ(values<std::int32_t>(run_both(call)), (std::vector<std::int32_t>{14, 0}));
  // Per-column b zero point [1, 0]: b - zp = [[0, 2], [2, -1]] -> [8, 0]
  call.inputs.push_back(i8({2}, {1, 0}));
  EXPECT_EQ(values<std::int32_t>(run_both(call)), (std::vector<std::int32_t>{8, 0}));
  // Batch broadcast: a [2, 1, 2] x b [2, 2].
  call.inputs = {u8({2, 1, 2}, {1, 0, 0, 1}), u8({2, 2}, {1, 2, 3, 4})};
  const Tensor y = run_both(call);
  EXPECT_EQ(y.shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(values<std::int32_t>(y), (std::vector<std::int32_t>{1, 2, 3, 4}));
}

TEST(QLinearAdd, HandComputedWithBroadcast) {
  OpCall call;
  call.op_type = "QLinearAdd";
  call.domain = "com.microsoft";
  call.opset = 1;
  // ONNX Runtime's formula rounds after adding the C zero point: fixed part F = 3 - (0.5 * 10 +
  // 1 * 5) = -7, C = rhe(0.5 a + 1 * b + F). B scalar 5: 0.5 a - 2 = 3.5, 4.5, 3 -> 4, 4, 3 (the
  // portable rhe(0.5 (a - 10)) + 3 would give 3, 5, 3).
  call.inputs = {u8({3}, {11, 13, 10}), scalar_f32(0.5f), u8({}, {10}),     u8({}, {5}),
                 scalar_f32(1.0f),      u8({}, {5}),      scalar_f32(1.0f), u8({}, {3})};
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{4, 4, 3}));
  // B [2, 1] broadcast against A [3]: [2, 3] output; b = 7: 0.5 a = 5.5, 6.5, 5 -> 6, 6, 5;
  // b = 0: 0.5 a - 7 = -1.5, -0.5, -2 -> saturated to 0
  call.inputs[3] = u8({2, 1}, {7, 0});
  const Tensor y = run_both(call);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<U8>(y), (std::vector<U8>{6, 6, 5, 0, 0, 0}));
}

// Where ONNX Runtime's QLinearAdd (MLAS's AVX2 kernel: fused multiply-adds, the zero points folded
// into a fixed part with its first product fused) parts from the portable formula and from an
// unfused fixed part: scripts/make_qlinear_add_oracles.py runs every uint8 pair through
// onnxruntime-node 1.30.0 with these parameters and prints the pairs where any formula differs
// from ORT, with ORT's value. In a deep QOperator model one such step compounds (MobileNetV2 at
// 224x224 ended up to 6 output steps from ORT before this).
TEST(QLinearAdd, OnnxRuntimeRoundingWhereFormulasPart) {
  OpCall call;
  call.op_type = "QLinearAdd";
  call.domain = "com.microsoft";
  call.opset = 1;
  // Same shape: the portable formula gives 42 on the first pair, the unfused fixed part 42 and 50.
  call.inputs = {u8({2}, {115, 205}),
                 scalar_f32(0.07733962f),
                 u8({}, {117}),
                 u8({2}, {202, 67}),
                 scalar_f32(0.049851f),
                 u8({}, {231}),
                 scalar_f32(0.028835293f),
                 u8({}, {97})};
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{41, 49}));
  // A single element: ORT hands it to MLAS as B, so A and B swap roles and the same pairs round
  // the other way (the same-shape formula gives 41 and 49).
  call.inputs[0] = u8({1}, {115});
  call.inputs[3] = u8({2}, {202, 202});
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{42, 42}));
  call.inputs[0] = u8({1}, {205});
  call.inputs[3] = u8({2}, {67, 67});
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{50, 50}));
}

TEST(QLinearMul, HandComputed) {
  OpCall call;
  call.op_type = "QLinearMul";
  call.domain = "com.microsoft";
  call.opset = 1;
  // (12-10)*(7-5) = 4, (8-10)*(7-5) = -4; multiplier 0.5 * 0.5 / 0.25 = 1
  call.inputs = {i8({2}, {12, 8}), scalar_f32(0.5f), i8({}, {10}),      i8({1}, {7}),
                 scalar_f32(0.5f), i8({}, {5}),      scalar_f32(0.25f), i8({}, {-100})};
  EXPECT_EQ(values<I8>(run_both(call)), (std::vector<I8>{-96, -104}));
}

TEST(QLinearGlobalAveragePool, NchwAndChannelsLast) {
  OpCall call;
  call.op_type = "QLinearGlobalAveragePool";
  call.domain = "com.microsoft";
  call.opset = 1;
  // channel 0: 0 1 2 3 -> 1.5 -> 2; channel 1: 0 0 0 5 -> 1.25 -> 1 (x zero point 10)
  call.inputs = {u8({1, 2, 2, 2}, {10, 11, 12, 13, 10, 10, 10, 15}), scalar_f32(1.0f), u8({}, {10}),
                 scalar_f32(1.0f), u8({}, {0})};
  Tensor y = run_both(call);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(values<U8>(y), (std::vector<U8>{2, 1}));
  call.attributes["channels_last"] = attr_int(1);
  call.inputs[0] = u8({1, 2, 2, 2}, {10, 10, 11, 10, 12, 10, 13, 15});
  y = run_both(call);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(values<U8>(y), (std::vector<U8>{2, 1}));
}

TEST(QGemm, FloatAndRequantizedOutputs) {
  OpCall call;
  call.op_type = "QGemm";
  call.domain = "com.microsoft";
  call.opset = 1;
  call.attributes["transB"] = attr_int(1);
  // a - 10 = [2, 4]; B^T = [[1, 2], [3, -1]]: acc = [14, 0] + bias [2, -1] = [16, -1]
  call.inputs = {u8({1, 2}, {12, 14}),      scalar_f32(0.5f), u8({}, {10}),
                 i8({2, 2}, {1, 3, 2, -1}), scalar_f32(1.0f), i8({}, {0}),
                 i32({2}, {2, -1})};
  Tensor y = run_both(call);
  EXPECT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_EQ(values<float>(y), (std::vector<float>{8.0f, -0.5f}));
  // alpha 2 doubles the multiplier (not the bias's share: it is in the accumulator).
  call.attributes["alpha"] = attr_float(2.0f);
  EXPECT_EQ(values<float>(run_both(call)), (std::vector<float>{16.0f, -1.0f}));
  call.attributes.erase("alpha");
  call.inputs.push_back(scalar_f32(2.0f));
  call.inputs.push_back(u8({}, {100}));
  // multiplier 0.25: 4 -> 104, -0.25 -> 0 -> 100
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{104, 100}));
}

TEST(MaxPool, Int8AndUint8) {
  OpCall call;
  call.op_type = "MaxPool";
  call.attributes["kernel_shape"] = attr_ints({2, 2});
  call.inputs = {u8({1, 1, 2, 2}, {1, 200, 3, 4})};
  EXPECT_EQ(values<U8>(run_both(call)), (std::vector<U8>{200}));
  // Padding never wins, even against -128.
  call.attributes["pads"] = attr_ints({1, 1, 1, 1});
  call.attributes["strides"] = attr_ints({2, 2});
  call.inputs = {i8({1, 1, 2, 2}, {-5, -3, -128, -7})};
  EXPECT_EQ(values<I8>(run_both(call)), (std::vector<I8>{-5, -3, -128, -7}));
  call.opset = 11;  // 8-bit MaxPool came with opset 12
  EXPECT_THROW(run_op(call), NodeError);
}

TEST(QuantizationOps, OnnxBackendNodeCases) {
  for (const char* name :
       {"test_quantizelinear", "test_quantizelinear_axis", "test_dequantizelinear",
        "test_dequantizelinear_axis", "test_dynamicquantizelinear",
        "test_dynamicquantizelinear_max_adjusted", "test_dynamicquantizelinear_min_adjusted",
        "test_convinteger_with_padding", "test_convinteger_without_padding",
        "test_basic_convinteger", "test_qlinearconv", "test_qlinearmatmul_2D",
        "test_qlinearmatmul_3D", "test_matmulinteger"}) {
    SCOPED_TRACE(name);
    test::expect_node_case(name, 0.0);
  }
}

}  // namespace
}  // namespace dnnfi
