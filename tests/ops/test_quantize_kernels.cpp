// Quantization kernels against the reference loops, bit for bit: the im2col / VNNI / oneDNN
// QLinearConv paths (random and worst-case geometries, corrupted parameters and weights, thread
// safety), the separable 8-bit MaxPool, the contiguous QGemm rows and the Requantize table.
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
#include "ops/kernel_harness.h"
#include "ops/ops.h"
#include "ops/quant_test_util.h"

namespace dnnfi {
namespace {

using test::attr_float;
using test::attr_int;
using test::attr_ints;
using namespace quant_test;  // NOLINT(google-build-using-namespace)

// The im2col kernel against the direct reference loops, bit for bit (run_both), on random data
// over 1-D, 2-D and 3-D geometries with groups, strides, dilations, pads, per-channel weight
// zero points and both signednesses.
// A QLinearConv geometry and the call with its attributes (inputs left to the test).
struct Geometry {
  Shape x, w;
  std::int64_t group;
  std::vector<std::int64_t> strides, pads, dilations;
  bool model_like = false;  // a shape of real CNNs, which oneDNN must run on a VNNI/AMX machine
};

OpCall qlinear_conv_call(const Geometry& geo) {
  OpCall call;
  call.op_type = "QLinearConv";
  call.opset = 10;
  call.attributes = {{"group", attr_int(geo.group)},
                     {"strides", attr_ints(geo.strides)},
                     {"pads", attr_ints(geo.pads)},
                     {"dilations", attr_ints(geo.dilations)}};
  return call;
}

TEST(QLinearConv, OptimisedMatchesReferenceOnRandomInputs) {
  std::mt19937 gen(7);
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
      OpCall call = qlinear_conv_call(geo);
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
        OpCall call = qlinear_conv_call(geo);
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

}  // namespace
}  // namespace dnnfi
