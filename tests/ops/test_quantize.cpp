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

namespace dnnfi {
namespace {

using test::attr_float;
using test::attr_int;
using test::attr_ints;
using test::OpCall;
using test::run_op;

using U8 = std::uint8_t;
using I8 = std::int8_t;

template <typename T>
std::vector<T> values(const Tensor& t) {
  return {t.data<T>(), t.data<T>() + t.numel()};
}

Tensor f32(Shape s, std::vector<float> v) { return make_tensor<float>(std::move(s), v); }
Tensor u8(Shape s, std::vector<U8> v) { return make_tensor<U8>(std::move(s), v); }
Tensor i8(Shape s, std::vector<I8> v) { return make_tensor<I8>(std::move(s), v); }
Tensor i32(Shape s, std::vector<std::int32_t> v) {
  return make_tensor<std::int32_t>(std::move(s), v);
}
Tensor scalar_f32(float v) { return f32({}, {v}); }

// Runs with the reference and the optimised kernels (the same kernel for these ops: the check
// keeps holding if an optimised one is added) and returns output `i` of the last run after
// checking both agree bit for bit.
Tensor run_both(OpCall call, std::size_t i = 0) {
  call.reference = true;
  test::OpResult ref = run_op(call);
  EXPECT_TRUE(ref.status.is_ok()) << ref.status.message();
  call.reference = false;
  test::OpResult opt = run_op(call);
  EXPECT_TRUE(opt.status.is_ok()) << opt.status.message();
  EXPECT_TRUE(opt.outputs.at(i).bit_equal(ref.outputs.at(i)));
  return opt.outputs.at(i);
}

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

template <typename T>
Tensor random_int(Shape shape, std::mt19937& gen) {
  Tensor t(dtype_of<T>(), std::move(shape));
  std::uniform_int_distribution<int> d(std::numeric_limits<T>::lowest(),
                                       std::numeric_limits<T>::max());
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(d(gen));
  return t;
}

// The im2col kernel against the direct reference loops, bit for bit (run_both), on random data
// over 1-D, 2-D and 3-D geometries with groups, strides, dilations, pads, per-channel weight
// zero points and both signednesses.
TEST(QLinearConv, OptimisedMatchesReferenceOnRandomInputs) {
  std::mt19937 gen(7);
  struct Geometry {
    Shape x, w;
    std::int64_t group;
    std::vector<std::int64_t> strides, pads, dilations;
  };
  const Geometry geometries[] = {
      {{2, 6, 9, 7}, {8, 3, 3, 2}, 2, {2, 1}, {1, 0, 1, 1}, {1, 2}},
      {{1, 4, 11}, {6, 4, 3}, 1, {1}, {2, 1}, {2}},
      {{1, 3, 4, 5, 6}, {3, 1, 2, 3, 2}, 3, {1, 2, 1}, {0, 1, 1, 1, 0, 0}, {1, 1, 2}},
      {{1, 16, 5, 5}, {16, 1, 3, 3}, 16, {1, 1}, {1, 1, 1, 1}, {1, 1}},  // depthwise
      // Register blocks of the SIMD GEMM: 13 channels (3 blocks of 4 + 1), odd K = 153, 99
      // pixels (one block of 64 + a tail of 3 vectors of 16), unpadded stride-1 rows.
      {{1, 17, 13, 11}, {13, 17, 3, 3}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{2, 32, 8, 8}, {24, 32, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},  // 1x1, 64 pixels
  };
  for (const Geometry& geo : geometries) {
    for (bool signed_x : {false, true}) {
      SCOPED_TRACE(shape_to_string(geo.x) + (signed_x ? " int8 x" : " uint8 x"));
      const std::int64_t m = geo.w[0];
      OpCall call;
      call.op_type = "QLinearConv";
      call.opset = 10;
      call.attributes = {{"group", attr_int(geo.group)},
                         {"strides", attr_ints(geo.strides)},
                         {"pads", attr_ints(geo.pads)},
                         {"dilations", attr_ints(geo.dilations)}};
      Tensor x = signed_x ? random_int<I8>(geo.x, gen) : random_int<U8>(geo.x, gen);
      Tensor xzp = signed_x ? random_int<I8>({}, gen) : random_int<U8>({}, gen);
      Tensor w = signed_x ? random_int<U8>(geo.w, gen) : random_int<I8>(geo.w, gen);
      Tensor wzp = signed_x ? random_int<U8>({m}, gen) : random_int<I8>({m}, gen);
      Tensor w_scale = test::random_tensor({m}, 3, 0.001f, 0.01f);
      Tensor bias = random_int<std::int32_t>({m}, gen);
      for (std::int64_t i = 0; i < m; ++i) bias.data<std::int32_t>()[i] >>= 20;
      call.inputs = {x,   scalar_f32(0.02f), xzp,           w,   w_scale,
                     wzp, scalar_f32(0.05f), u8({}, {100}), bias};
      const Tensor y = run_both(call);
      // Not a degenerate case: the outputs spread over the range.
      const std::vector<U8> v = values<U8>(y);
      EXPECT_GT(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()), 50);
      OpCall integer;
      integer.op_type = "ConvInteger";
      integer.opset = 10;
      integer.attributes = call.attributes;
      integer.inputs = {x, w, xzp, wzp};
      run_both(integer);
      if (!signed_x) {
        // Weight zero points all 0: the uint8 x int8 VNNI kernel (raw bytes, padding holding
        // x_zero_point, x_zero_point * sum(w) subtracted afterwards).
        call.inputs[5] = i8({m}, std::vector<I8>(static_cast<std::size_t>(m), 0));
        run_both(call);
        integer.inputs[3] = call.inputs[5];
        run_both(integer);
      }
    }
  }
}

// A padded 3x3 QLinearConv with uint8 x (zero point xzp), int8 weights with zero points 0 and a
// uint8 output: the usual ORT-quantized convolution.
OpCall u8s8_conv(std::mt19937& gen, Shape x, std::int64_t out_channels, int xzp) {
  OpCall call;
  call.op_type = "QLinearConv";
  call.opset = 10;
  call.attributes = {{"pads", attr_ints({1, 1, 1, 1})}};
  const std::int64_t m = out_channels;
  const std::int64_t c = x[1];
  call.inputs = {random_int<U8>(std::move(x), gen),
                 scalar_f32(0.02f),
                 u8({}, {static_cast<U8>(xzp)}),
                 random_int<I8>({m, c, 3, 3}, gen),
                 f32({m}, std::vector<float>(static_cast<std::size_t>(m), 0.004f)),
                 i8({m}, std::vector<I8>(static_cast<std::size_t>(m), 0)),
                 scalar_f32(0.05f),
                 u8({}, {100})};
  return call;
}

// True when oneDNN's integer convolution multiplies exactly on this CPU (VNNI or AMX), so the
// oneDNN path must be taken for int8 weights with zero points 0.
bool cpu_has_exact_int8_dot() { return __builtin_cpu_supports("avx512vnni"); }

// The oneDNN path (int8 weights, zero points 0; VNNI/AMX only) against the reference loops, bit
// for bit: uint8 and int8 x, the worst magnitudes (x all 255 or -128 against w all -128, where a
// saturating int16 pair sum would be wrong), K = 2304 (256 channels x 3x3), asymmetric pads,
// strides, dilations, groups, depthwise, 1-D and 3-D. Where the CPU has VNNI the oneDNN
// implementation must be the one prepared.
TEST(QLinearConv, OneDnnIntegerPathMatchesReference) {
  std::mt19937 gen(31);
  struct Geometry {
    Shape x, w;
    std::int64_t group;
    std::vector<std::int64_t> strides, pads, dilations;
    bool model_like;  // a shape of real CNNs, which oneDNN must run on a VNNI/AMX machine
  };
  const Geometry geometries[] = {
      {{1, 256, 6, 6}, {32, 256, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, true},
      {{2, 8, 9, 7}, {12, 4, 3, 2}, 2, {2, 1}, {0, 1, 2, 0}, {1, 2}, false},
      {{1, 16, 10, 10}, {16, 1, 3, 3}, 16, {2, 2}, {1, 1, 1, 1}, {1, 1}, true},  // depthwise
      {{1, 3, 23, 23}, {16, 3, 7, 7}, 1, {2, 2}, {3, 3, 3, 3}, {1, 1}, true},    // a stem
      {{1, 4, 11}, {6, 4, 3}, 1, {1}, {2, 1}, {2}, false},
      {{1, 4, 4, 5, 6}, {8, 4, 2, 3, 2}, 1, {1, 2, 1}, {0, 1, 1, 1, 0, 0}, {1, 1, 2}, false},
  };
  for (const Geometry& geo : geometries) {
    for (int fill : {0, 1, 2}) {  // random; x at its maximum; x at its minimum (int8 only)
      for (bool signed_x : {false, true}) {
        if (fill == 2 && !signed_x) continue;
        SCOPED_TRACE(shape_to_string(geo.x) + (signed_x ? " int8 x" : " uint8 x") + " fill " +
                     std::to_string(fill));
        const std::int64_t m = geo.w[0];
        Tensor x = signed_x ? random_int<I8>(geo.x, gen) : random_int<U8>(geo.x, gen);
        Tensor w = random_int<I8>(geo.w, gen);
        if (fill > 0) {
          for (std::int64_t i = 0; i < x.numel(); ++i) {
            if (signed_x) {
              x.data<I8>()[i] = fill == 1 ? I8{127} : I8{-128};
            } else {
              x.data<U8>()[i] = U8{255};
            }
          }
          for (std::int64_t i = 0; i < w.numel(); ++i) w.data<I8>()[i] = I8{-128};
        }
        Tensor xzp = signed_x ? random_int<I8>({}, gen) : random_int<U8>({}, gen);
        OpCall call;
        call.op_type = "QLinearConv";
        call.opset = 10;
        call.attributes = {{"group", attr_int(geo.group)},
                           {"strides", attr_ints(geo.strides)},
                           {"pads", attr_ints(geo.pads)},
                           {"dilations", attr_ints(geo.dilations)}};
        Tensor bias = random_int<std::int32_t>({m}, gen);
        for (std::int64_t i = 0; i < m; ++i) bias.data<std::int32_t>()[i] >>= 12;
        call.inputs = {x,
                       scalar_f32(0.02f),
                       xzp,
                       w,
                       test::random_tensor({m}, 5, 0.0001f, 0.001f),
                       i8({m}, std::vector<I8>(static_cast<std::size_t>(m), 0)),
                       scalar_f32(0.5f),
                       u8({}, {100}),
                       bias};
        const test::PreparedOp op(call);
        if (cpu_has_exact_int8_dot() && geo.model_like) {
          EXPECT_NE(qconv_implementation(op.kernel()), "");
        }
        run_both(call);
        OpCall integer;
        integer.op_type = "ConvInteger";
        integer.opset = 10;
        integer.attributes = call.attributes;
        integer.inputs = {x, w, xzp, call.inputs[5]};
        const Tensor acc = run_both(integer);
        if (fill == 1 && !signed_x) {
          // Hand-computed at an interior output: every tap reads 255 - zp against -128.
          const std::int64_t taps = geo.w.back() * geo.w[geo.w.size() - 2] * geo.w[1];
          if (geo.x.size() == 4 && geo.pads == std::vector<std::int64_t>{1, 1, 1, 1} &&
              geo.group == 1) {
            const std::int64_t ow = acc.shape()[3];
            const std::int32_t expect =
                static_cast<std::int32_t>((255 - xzp.data<U8>()[0]) * -128 * taps);
            EXPECT_EQ(acc.data<std::int32_t>()[ow + 1], expect);
          }
        }
      }
    }
  }
}

// Constant weights are packed once at prepare; a run handed other weights (a weight fault gives
// the kernel a corrupted copy) must compute with those: against a kernel prepared with them.
TEST(QLinearConv, CorruptedWeightsAreNotTheCachedPacking) {
  std::mt19937 gen(37);
  const OpCall call = u8s8_conv(gen, {1, 32, 8, 8}, 16, 3);
  const test::PreparedOp op(call);
  std::vector<std::optional<Tensor>> faulty = call.inputs;
  Tensor w = call.inputs[3]->clone();
  w.data<I8>()[5 * 32 * 9 + 40] ^= I8{0x40};
  faulty[3] = w;
  const test::OpResult got = op.run(faulty);
  ASSERT_TRUE(got.status.is_ok());
  OpCall expect = call;
  expect.inputs = faulty;
  expect.reference = true;
  const test::OpResult want = run_op(expect);
  EXPECT_TRUE(got.outputs[0].bit_equal(want.outputs[0]));
  // And the fault changed something (the test would pass vacuously otherwise).
  EXPECT_FALSE(got.outputs[0].bit_equal(op.run(call.inputs).outputs[0]));
}

// 8-bit MaxPool: the separable kernel against the window loops on random data, over kernels,
// strides, dilations, pads, ceil_mode, 1-D to 3-D.
TEST(MaxPool, Int8SeparableKernelMatchesReference) {
  std::mt19937 gen(41);
  struct Case {
    Shape x;
    std::vector<std::int64_t> kernel, strides, pads, dilations;
    std::int64_t ceil;
  };
  const Case cases[] = {
      {{1, 3, 12, 12}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
      {{2, 2, 9, 11}, {2, 3}, {1, 2}, {0, 1, 1, 0}, {2, 1}, 1},
      {{1, 2, 13}, {4}, {3}, {2, 1}, {1}, 1},
      {{1, 1, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 0, 1, 0, 1, 1}, {1, 2, 1}, 0},
  };
  for (const Case& c : cases) {
    for (bool signed_x : {false, true}) {
      SCOPED_TRACE(shape_to_string(c.x) + (signed_x ? " int8" : " uint8"));
      OpCall call;
      call.op_type = "MaxPool";
      call.attributes = {{"kernel_shape", attr_ints(c.kernel)},
                         {"strides", attr_ints(c.strides)},
                         {"pads", attr_ints(c.pads)},
                         {"dilations", attr_ints(c.dilations)},
                         {"ceil_mode", attr_int(c.ceil)}};
      call.inputs = {signed_x ? random_int<I8>(c.x, gen) : random_int<U8>(c.x, gen)};
      run_both(call);
    }
  }
}

// The optimised kernel keeps its im2col columns and accumulators in per-thread scratch: one
// prepared kernel run from several threads at once gives the same bits every time.
TEST(QLinearConv, DeterministicUnderConcurrency) {
  std::mt19937 gen(11);
  test::expect_deterministic_concurrent(u8s8_conv(gen, {2, 8, 12, 12}, 16, 128));
}

// Corrupted parameters through the vectorised requantization (int8_gemm::requantize) against the
// reference's scalar one, bit for bit: NaN, +-Inf, 0, negative and huge per-channel scales, biases
// near the int32 limits (the sum wraps), int8 and uint8 outputs, 35 pixels (a masked tail).
TEST(QLinearConv, OptimisedMatchesReferenceOnCorruptedParameters) {
  std::mt19937 gen(23);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> scales = {std::nanf(""), inf,    -inf,  0.0f,   -0.003f, 1e30f,
                                     1e-30f,        0.004f, 0.01f, -1e30f, 0.002f,  0.5f};
  const std::int64_t m = static_cast<std::int64_t>(scales.size());
  std::vector<std::int32_t> bias(static_cast<std::size_t>(m), 0);
  bias[1] = std::numeric_limits<std::int32_t>::max();
  bias[2] = std::numeric_limits<std::int32_t>::min();
  bias[7] = std::numeric_limits<std::int32_t>::max() - 100;
  bias[8] = std::numeric_limits<std::int32_t>::min() + 100;
  for (bool int8_y : {false, true}) {
    SCOPED_TRACE(int8_y ? "int8 y" : "uint8 y");
    OpCall call;
    call.op_type = "QLinearConv";
    call.opset = 10;
    call.inputs = {random_int<U8>({1, 5, 7, 9}, gen),
                   scalar_f32(0.02f),
                   u8({}, {120}),
                   random_int<I8>({m, 5, 3, 3}, gen),
                   f32({m}, scales),
                   i8({m}, std::vector<I8>(static_cast<std::size_t>(m), 0)),
                   scalar_f32(0.05f),
                   int8_y ? i8({}, {-7}) : u8({}, {100}),
                   make_tensor<std::int32_t>({m}, bias)};
    const Tensor y = run_both(call);
    // Channel 0 (NaN scale) and 3 (scale 0) give the zero point everywhere (docs/quantized.md).
    const std::int64_t plane = 35;
    for (std::int64_t i = 0; i < plane; ++i) {
      const std::int32_t y0 = int8_y ? std::int32_t{y.data<I8>()[i]} : y.data<U8>()[i];
      const std::int32_t y3 =
          int8_y ? std::int32_t{y.data<I8>()[3 * plane + i]} : y.data<U8>()[3 * plane + i];
      EXPECT_EQ(y0, int8_y ? -7 : 100);
      EXPECT_EQ(y3, int8_y ? -7 : 100);
    }
  }
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

// The contiguous int32 form (transB, as exporters write Linear layers) against the reference's
// int64 loops, bit for bit: K = 1280 (MobileNetV2's classifier), per-column zero points, random
// and worst-case magnitudes (a = 255 against b - b_zp = -255), both signednesses of B.
TEST(QGemm, ContiguousFormMatchesReference) {
  std::mt19937 gen(43);
  for (int fill : {0, 1}) {
    for (bool signed_b : {false, true}) {
      SCOPED_TRACE(std::string(signed_b ? "int8 B" : "uint8 B") + " fill " + std::to_string(fill));
      const std::int64_t m = 3, k = 1280, n = 37;
      OpCall call;
      call.op_type = "QGemm";
      call.domain = "com.microsoft";
      call.opset = 1;
      call.attributes["transB"] = attr_int(1);
      Tensor a = random_int<U8>({m, k}, gen);
      Tensor b = signed_b ? random_int<I8>({n, k}, gen) : random_int<U8>({n, k}, gen);
      Tensor bzp = signed_b ? random_int<I8>({n}, gen) : random_int<U8>({n}, gen);
      if (fill == 1) {
        for (std::int64_t i = 0; i < a.numel(); ++i) a.data<U8>()[i] = 255;
        for (std::int64_t i = 0; i < b.numel(); ++i) {
          if (signed_b) {
            b.data<I8>()[i] = -128;
          } else {
            b.data<U8>()[i] = 0;
          }
        }
        for (std::int64_t j = 0; j < n; ++j) {
          if (signed_b) {
            bzp.data<I8>()[j] = 127;
          } else {
            bzp.data<U8>()[j] = 255;
          }
        }
      }
      call.inputs = {a,
                     scalar_f32(0.01f),
                     u8({}, {0}),
                     b,
                     test::random_tensor({n}, 7, 0.001f, 0.01f),
                     bzp,
                     random_int<std::int32_t>({n}, gen)};
      const Tensor y = run_both(call);
      if (fill == 1) {
        // acc = K * 255 * -255 (+ bias): hand-computed, not the kernel's own value.
        const float got = values<float>(y)[0];
        const double acc = double(k) * 255.0 * (signed_b ? -255.0 : -255.0) +
                           double(call.inputs[6]->data<std::int32_t>()[0]);
        const double expect = acc * 0.01f * call.inputs[4]->data<float>()[0];
        EXPECT_NEAR(got, expect, std::abs(expect) * 1e-6);
      }
      call.inputs.push_back(scalar_f32(0.5f));
      call.inputs.push_back(u8({}, {7}));
      run_both(call);
    }
  }
}

// dnnfi.Requantize (inference sessions' DequantizeLinear -> QuantizeLinear) against the two ops
// run one after the other, bit for bit, on every 8-bit value, both signednesses in and out,
// scales that round to ties, saturate both ways, and a zero point at each end.
TEST(Requantize, EqualsDequantizeThenQuantizeOnEveryValue) {
  struct Params {
    float sx;
    int zx;
    float sy;
    int zy;
  };
  for (const Params& p :
       {Params{0.5f, 3, 1.0f, 7}, Params{0.0235f, 128, 0.047f, 0}, Params{0.01f, 255, 0.013f, 255},
        Params{0.01f, 0, 0.013f, 0}, Params{2.0f, 100, 0.25f, 128}}) {
    for (bool signed_x : {false, true}) {
      for (bool signed_y : {false, true}) {
        SCOPED_TRACE(std::to_string(p.sx) + " " + std::to_string(signed_x) +
                     std::to_string(signed_y));
        Tensor x = signed_x ? Tensor(DType::kInt8, {256}) : Tensor(DType::kUInt8, {256});
        for (int b = 0; b < 256; ++b) static_cast<std::uint8_t*>(x.raw())[b] = std::uint8_t(b);
        const Tensor zx = signed_x ? i8({}, {I8(p.zx - 128)}) : u8({}, {U8(p.zx)});
        const Tensor zy = signed_y ? i8({}, {I8(p.zy - 128)}) : u8({}, {U8(p.zy)});
        OpCall dq;
        dq.op_type = "DequantizeLinear";
        dq.inputs = {x, scalar_f32(p.sx), zx};
        const test::OpResult f = run_op(dq);
        ASSERT_TRUE(f.status.is_ok());
        OpCall q;
        q.op_type = "QuantizeLinear";
        q.inputs = {f.outputs[0], scalar_f32(p.sy), zy};
        const Tensor expected = run_both(q);
        OpCall rq;
        rq.op_type = "Requantize";
        rq.domain = "dnnfi";
        rq.opset = 1;
        rq.inputs = {x, scalar_f32(p.sx), zx, scalar_f32(p.sy), zy};
        const Tensor got = run_both(rq);
        EXPECT_TRUE(got.bit_equal(expected));
        // A length with a partial vector at the end (the byte-permute path's masked tail).
        std::mt19937 gen(5);
        rq.inputs[0] = signed_x ? random_int<I8>({301}, gen) : random_int<U8>({301}, gen);
        run_both(rq);
        // Not degenerate: the table spans many output values.
        std::set<int> distinct;
        for (std::int64_t i = 0; i < got.numel(); ++i) distinct.insert(int(got.get_as_double(i)));
        EXPECT_GT(distinct.size(), 20u);
      }
    }
  }
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
