// Tests of batch_norm.cpp, norm.cpp (LayerNormalization, InstanceNormalization) and lrn.cpp:
// hand-computed goldens, optimised vs reference kernels, thread-count independence, load-time
// errors and the ONNX backend node cases of every op of the group.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/kernel_harness.h"
#include "ops/onnx_node_case.h"
#include "ops/op_test_util.h"

namespace dnnfi::test {
namespace {

Tensor vec(std::vector<float> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return make_tensor<float>({n}, v);
}

std::vector<Tensor> run_all(const OpCall& call) {
  OpResult r = run_op(call);
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  return r.outputs;
}

// ---- BatchNormalization ------------------------------------------------------------------------

// Two channels: ch0 (x - 1) / 2 * 1 + 0, ch1 (x - 3) / 1 * 2 + 1 (epsilon 0).
OpCall bn_two_channels(std::int64_t opset) {
  return make_call(
      "BatchNormalization",
      {f32({1, 2, 1, 2}, {1, 2, 3, 4}), vec({1, 2}), vec({0, 1}), vec({1, 3}), vec({4, 1})},
      {{"epsilon", attr_float(0.0f)}}, opset);
}

TEST(BatchNorm, TwoChannelsByHand) {
  for (std::int64_t opset : {7, 9, 14, 15}) {
    for (bool reference : {false, true}) {
      for (bool constant_params : {true, false}) {
        SCOPED_TRACE(opset);
        OpCall call = bn_two_channels(opset);
        call.reference = reference;
        if (!constant_params) call.constant = {false, false, false, false, false};
        expect_floats(run_all(call)[0], {1, 2, 1, 2}, {0.0f, 0.5f, 1.0f, 3.0f});
      }
    }
  }
}

TEST(BatchNorm, EpsilonAndRank2AndFloat64) {
  // var 3 + epsilon 1 = 4: (5 - 1) / 2 * 3 + 1 = 7.
  OpCall call =
      make_call("BatchNormalization", {f32({1, 1}, {5}), vec({3}), vec({1}), vec({1}), vec({3})},
                {{"epsilon", attr_float(1.0f)}});
  expect_floats(run_all(call)[0], {1, 1}, {7.0f});
  auto d = [](std::vector<double> v) {
    return make_tensor<double>({static_cast<std::int64_t>(v.size())}, v);
  };
  call.inputs = {make_tensor<double>({1, 1, 2}, {5, 9}), d({3}), d({1}), d({1}), d({3})};
  const Tensor y = run_all(call)[0];
  ASSERT_EQ(y.dtype(), DType::kFloat64);
  EXPECT_DOUBLE_EQ(y.data<double>()[0], 7.0);
  EXPECT_DOUBLE_EQ(y.data<double>()[1], 13.0);
}

TEST(BatchNorm, LoadTimeErrors) {
  OpCall training = bn_two_channels(14);
  training.attributes["training_mode"] = attr_int(1);
  EXPECT_THROW(run_op(training), NodeError);
  OpCall spatial = bn_two_channels(7);
  spatial.attributes["spatial"] = attr_int(0);
  EXPECT_THROW(run_op(spatial), NodeError);
  OpCall spatial9 = bn_two_channels(9);  // spatial was removed in opset 9
  spatial9.attributes["spatial"] = attr_int(1);
  EXPECT_THROW(run_op(spatial9), NodeError);
  OpCall stats = bn_two_channels(14);  // running statistics are training outputs
  stats.num_outputs = 3;
  EXPECT_THROW(run_op(stats), NodeError);
  OpCall shape = bn_two_channels(15);
  shape.inputs[1] = vec({1, 2, 3});
  EXPECT_THROW(run_op(shape), NodeError);
  OpCall mixed = bn_two_channels(15);
  mixed.inputs[3] = make_tensor<double>({2}, {1, 3});
  EXPECT_THROW(run_op(mixed), NodeError);
  OpCall ints = bn_two_channels(15);
  ints.inputs[0] = make_tensor<std::int32_t>({1, 2, 1, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op(ints), NodeError);
  OpCall unknown = bn_two_channels(15);
  unknown.attributes["foo"] = attr_int(1);
  EXPECT_THROW(run_op(unknown), NodeError);
}

TEST(BatchNorm, OptimisedMatchesReferenceAndIsDeterministic) {
  const Tensor x = random_tensor({2, 16, 33, 35}, 1, -3.0f, 3.0f);
  const Tensor scale = random_tensor({16}, 2);
  const Tensor bias = random_tensor({16}, 3);
  const Tensor mean = random_tensor({16}, 4);
  const Tensor var = random_tensor({16}, 5, 0.1f, 2.0f);
  OpCall call = make_call("BatchNormalization", {x, scale, bias, mean, var}, {}, 15);
  const Tensor fast = run_all(call)[0];
  call.constant = {false, false, false, false, false};
  const Tensor dynamic = run_all(call)[0];
  EXPECT_TRUE(fast.bit_equal(dynamic));
  call.reference = true;
  EXPECT_EQ(compare_close(fast, run_all(call)[0], 1e-5, 1e-6), "");
  call.reference = false;
  call.constant = {};
  expect_deterministic_concurrent(call);
}

// BatchNormalizationRelu, what inference sessions make of BatchNormalization -> Relu
// (exec/fusion.h): bit for bit the two separate kernels, on every path (constant parameters
// folded at prepare, parameters folded per run, reference), float32 and float64.
TEST(BatchNorm, FusedReluEqualsBatchNormThenRelu) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    auto cast = [&](const Tensor& t) {
      if (dtype == DType::kFloat32) return t;
      Tensor d(DType::kFloat64, t.shape());
      for (std::int64_t i = 0; i < t.numel(); ++i) d.data<double>()[i] = t.data<float>()[i];
      return d;
    };
    const Tensor x = cast(random_tensor({2, 16, 9, 11}, 11, -3.0f, 3.0f));
    const Tensor var = cast(random_tensor({16}, 15, 0.1f, 2.0f));
    for (int path = 0; path < 3; ++path) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " path " + std::to_string(path));
      OpCall bn = make_call("BatchNormalization",
                            {x, cast(random_tensor({16}, 12)), cast(random_tensor({16}, 13)),
                             cast(random_tensor({16}, 14)), var},
                            {{"epsilon", attr_float(1e-3f)}}, 15);
      if (path == 1) bn.constant = {false, false, false, false, false};
      bn.reference = path == 2;
      OpCall relu = make_call("Relu", {run_all(bn)[0]});
      relu.reference = bn.reference;
      const Tensor expected = run_all(relu)[0];
      OpCall fused = bn;
      fused.op_type = "BatchNormalizationRelu";
      fused.domain = "dnnfi";
      const Tensor got = run_all(fused)[0];
      EXPECT_TRUE(got.bit_equal(expected));
      std::int64_t zeros = 0;
      for (std::int64_t i = 0; i < got.numel(); ++i) zeros += got.get_as_double(i) == 0.0;
      EXPECT_GT(zeros, got.numel() / 10);  // the Relu did clamp
    }
  }
}

// The channels-last form inference sessions make (dnnfi domain, layout = NHWC): the same value
// per element as the NCHW kernel, bit for bit (one multiply-add per element either way), with
// and without the fused Relu; it needs constant parameters.
TEST(BatchNorm, ChannelsLastEqualsNchwBitForBit) {
  const Tensor x = random_tensor({2, 24, 7, 9}, 21, -3.0f, 3.0f);
  for (const char* op : {"BatchNormalization", "BatchNormalizationRelu"}) {
    SCOPED_TRACE(op);
    OpCall call = make_call(op,
                            {x, random_tensor({24}, 22), random_tensor({24}, 23),
                             random_tensor({24}, 24), random_tensor({24}, 25, 0.1f, 2.0f)},
                            {{"epsilon", attr_float(1e-3f)}}, 15);
    call.domain = "dnnfi";
    const test::OpResult nchw = run_op(call);
    ASSERT_TRUE(nchw.status.is_ok());
    call.inputs[0] = test::to_nhwc(x);
    call.attributes["layout"] = attr_string("NHWC");
    const test::OpResult nhwc = run_op(call);
    ASSERT_TRUE(nhwc.status.is_ok()) << nhwc.status.message();
    EXPECT_TRUE(test::from_nhwc(nhwc.outputs[0]).bit_equal(nchw.outputs[0]));
    call.constant = {false, false, false, false, false};
    EXPECT_THROW(run_op(call), UnsupportedError);
  }
}

TEST(BatchNorm, OnnxNodeCases) {
  for (const char* name : {"test_batchnorm_epsilon", "test_batchnorm_example"}) {
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
  for (const char* name :
       {"test_batchnorm_epsilon_training_mode", "test_batchnorm_example_training_mode"}) {
    auto c = load_node_case(name);
    if (!c) continue;
    EXPECT_THROW(run_op(c->call), NodeError) << name;
  }
}

// ---- LRN ---------------------------------------------------------------------------------------

TEST(Lrn, Size3OnThreeChannelsByHand) {
  // alpha / size = 1, beta = 1, bias = 1: y = x / (1 + square_sum), window c-1 .. c+1.
  // square sums: ch0 1+4 = 5, ch1 1+4+9 = 14, ch2 4+9 = 13.
  const Tensor x = f32({1, 3, 1, 1}, {1, 2, 3});
  OpCall call = make_call("LRN", {x},
                          {{"size", attr_int(3)},
                           {"alpha", attr_float(3.0f)},
                           {"beta", attr_float(1.0f)},
                           {"bias", attr_float(1.0f)}});
  expect_floats(run_all(call)[0], {1, 3, 1, 1}, {1.0f / 6, 2.0f / 15, 3.0f / 14});
}

TEST(Lrn, EvenSizeWindowLeansForward) {
  // size 2: window c - floor(1/2) .. c + ceil(1/2) = c .. c+1. Square sums 5, 13, 9.
  const Tensor x = f32({1, 3, 1, 1}, {1, 2, 3});
  OpCall call = make_call("LRN", {x},
                          {{"size", attr_int(2)},
                           {"alpha", attr_float(2.0f)},
                           {"beta", attr_float(1.0f)},
                           {"bias", attr_float(1.0f)}});
  expect_floats(run_all(call)[0], {1, 3, 1, 1}, {1.0f / 6, 2.0f / 14, 3.0f / 10});
  // Default alpha 1e-4, beta 0.75, bias 1 on one value 2 with size 1: 2 / (1 + 4e-4)^0.75.
  OpCall def = make_call("LRN", {f32({1, 1, 1}, {2})}, {{"size", attr_int(1)}});
  expect_floats(run_all(def)[0], {1, 1, 1}, {static_cast<float>(2.0 / std::pow(1.0004, 0.75))});
}

TEST(Lrn, LoadTimeErrorsAndDeterminism) {
  EXPECT_THROW(run_op(make_call("LRN", {f32({1, 3, 1, 1}, {1, 2, 3})})), NodeError);  // no size
  EXPECT_THROW(run_op(make_call("LRN", {f32({1, 3, 1, 1}, {1, 2, 3})}, {{"size", attr_int(0)}})),
               NodeError);
  EXPECT_THROW(run_op(make_call("LRN", {vec({1, 2, 3})}, {{"size", attr_int(3)}})), NodeError);
  expect_deterministic_concurrent(
      make_call("LRN", {random_tensor({2, 8, 40, 40}, 9)}, {{"size", attr_int(5)}}));
}

TEST(Lrn, OnnxNodeCases) {
  for (const char* name : {"test_lrn", "test_lrn_default"}) {
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
}

// ---- LayerNormalization ------------------------------------------------------------------------

TEST(LayerNorm, LastAxisByHandWithStatistics) {
  // Rows [1,2,3] (mean 2, var 2/3) and [4,4,4] (mean 4, var 0); scale [1,1,2], B [0,0,1].
  const float eps = 1e-5f;
  OpCall call =
      make_call("LayerNormalization",
                {f32({2, 3}, {1, 2, 3, 4, 4, 4}), vec({1, 1, 2}), vec({0, 0, 1})}, {}, 17);
  call.num_outputs = 3;
  const std::vector<Tensor> out = run_all(call);
  ASSERT_EQ(out.size(), 3u);
  const double inv0 = 1.0 / std::sqrt(2.0 / 3.0 + eps);
  const double inv1 = 1.0 / std::sqrt(0.0 + eps);
  expect_floats(out[0], {2, 3},
                {static_cast<float>(-inv0), 0.0f, static_cast<float>(2 * inv0 + 1), 0, 0, 1});
  expect_floats(out[1], {2, 1}, {2.0f, 4.0f});
  expect_floats(out[2], {2, 1}, {static_cast<float>(inv0), static_cast<float>(inv1)});
}

TEST(LayerNorm, AxisZeroScalarScaleNoBias) {
  // All four values normalised together: mean 2.5, var 1.25.
  OpCall call = make_call("LayerNormalization", {f32({2, 2}, {1, 2, 3, 4}), vec({2})},
                          {{"axis", attr_int(0)}, {"epsilon", attr_float(0.0f)}}, 17);
  const double inv = 1.0 / std::sqrt(1.25);
  std::vector<float> expected;
  for (double v : {1.0, 2.0, 3.0, 4.0}) expected.push_back(static_cast<float>(2 * (v - 2.5) * inv));
  expect_floats(run_all(call)[0], {2, 2}, expected);
}

TEST(LayerNorm, LoadTimeErrors) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op(make_call("LayerNormalization", {x, vec({1, 1, 1})},
                                {{"stash_type", attr_int(0)}}, 17)),
               NodeError);
  EXPECT_THROW(run_op(make_call("LayerNormalization", {x, vec({1, 1})}, {}, 17)), NodeError);
  EXPECT_THROW(
      run_op(make_call("LayerNormalization", {x, vec({1, 1, 1})}, {{"axis", attr_int(2)}}, 17)),
      NodeError);
  OpCall f64 =
      make_call("LayerNormalization",
                {make_tensor<double>({3}, {1, 2, 3}), make_tensor<double>({3}, {1, 1, 1})}, {}, 17);
  EXPECT_THROW(run_op(f64), NodeError);
}

TEST(LayerNorm, Deterministic) {
  expect_deterministic_concurrent(make_call(
      "LayerNormalization", {random_tensor({64, 768}, 4), random_tensor({768}, 5)}, {}, 17));
}

TEST(LayerNorm, OnnxNodeCases) {
  for (const char* name :
       {"test_layer_normalization_2d_axis0", "test_layer_normalization_2d_axis1",
        "test_layer_normalization_2d_axis_negative_1",
        "test_layer_normalization_2d_axis_negative_2", "test_layer_normalization_3d_axis0_epsilon",
        "test_layer_normalization_3d_axis1_epsilon", "test_layer_normalization_3d_axis2_epsilon",
        "test_layer_normalization_3d_axis_negative_1_epsilon",
        "test_layer_normalization_3d_axis_negative_2_epsilon",
        "test_layer_normalization_3d_axis_negative_3_epsilon", "test_layer_normalization_4d_axis0",
        "test_layer_normalization_4d_axis1", "test_layer_normalization_4d_axis2",
        "test_layer_normalization_4d_axis3", "test_layer_normalization_4d_axis_negative_1",
        "test_layer_normalization_4d_axis_negative_2",
        "test_layer_normalization_4d_axis_negative_3",
        "test_layer_normalization_4d_axis_negative_4", "test_layer_normalization_default_axis"}) {
    SCOPED_TRACE(name);
    expect_node_case(name, 1e-4);
  }
}

// ---- InstanceNormalization ---------------------------------------------------------------------

TEST(InstanceNorm, TwoChannelsByHand) {
  // ch0 [1,3]: mean 2, var 1 -> (x-2)/sqrt(1+1e-5); ch1 [2,2]: var 0 -> B = 5.
  OpCall call =
      make_call("InstanceNormalization", {f32({1, 2, 2}, {1, 3, 2, 2}), vec({1, 2}), vec({0, 5})});
  const auto d = static_cast<float>(1.0 / std::sqrt(1.0 + 1e-5));
  expect_floats(run_all(call)[0], {1, 2, 2}, {-d, d, 5.0f, 5.0f});
  // A large mean does not swamp a small deviation.
  OpCall big = make_call("InstanceNormalization",
                         {f32({1, 1, 2}, {10000.001f, 10000.003f}), vec({1}), vec({0})},
                         {{"epsilon", attr_float(0.0f)}});
  expect_floats(run_all(big)[0], {1, 1, 2}, {-1.0f, 1.0f}, 1e-3);
}

TEST(InstanceNorm, ErrorsAndDeterminism) {
  EXPECT_THROW(
      run_op(make_call("InstanceNormalization", {f32({1, 2}, {1, 2}), vec({1, 1}), vec({0, 0})})),
      NodeError);
  EXPECT_THROW(run_op(make_call("InstanceNormalization",
                                {f32({1, 2, 2}, {1, 2, 3, 4}), vec({1}), vec({0, 0})})),
               NodeError);
  expect_deterministic_concurrent(
      make_call("InstanceNormalization",
                {random_tensor({2, 8, 64, 64}, 6), random_tensor({8}, 7), random_tensor({8}, 8)}));
}

TEST(InstanceNorm, OnnxNodeCases) {
  for (const char* name : {"test_instancenorm_epsilon", "test_instancenorm_example"}) {
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
}

}  // namespace
}  // namespace dnnfi::test
