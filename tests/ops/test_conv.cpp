// Conv and ConvTranspose: hand-computed goldens, the ONNX backend node cases, the oneDNN kernels
// against the reference on random inputs over many geometries, determinism under concurrency,
// and load-time errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/kernel_harness.h"
#include "ops/onnx_node_case.h"

namespace dnnfi {
namespace {

using test::attr_float;
using test::attr_int;
using test::attr_ints;
using test::attr_string;
using test::OpCall;
using test::random_tensor;
using test::run_op;

std::vector<float> values(const Tensor& t) {
  return {t.data<float>(), t.data<float>() + t.numel()};
}

Tensor iota(Shape shape, float start = 1.0f) {
  Tensor t(DType::kFloat32, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + static_cast<float>(i);
  return t;
}

// Runs the call with both kernels and checks both against `expected`.
void expect_both(OpCall call, const Shape& shape, const std::vector<float>& expected) {
  for (bool reference : {true, false}) {
    call.reference = reference;
    test::OpResult r = run_op(call);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    EXPECT_EQ(r.outputs[0].shape(), shape) << "reference=" << reference;
    EXPECT_EQ(values(r.outputs[0]), expected) << "reference=" << reference;
  }
}

TEST(Conv, HandComputed2x2On3x3WithBias) {
  // x = 1..9 (3x3), w = [[1,2],[3,4]]: y[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, etc.; bias 1.
  OpCall call;
  call.op_type = "Conv";
  call.inputs = {iota({1, 1, 3, 3}), make_tensor<float>({1, 1, 2, 2}, {1, 2, 3, 4}),
                 make_tensor<float>({1}, {1})};
  expect_both(call, {1, 1, 2, 2}, {38, 48, 68, 78});
}

TEST(Conv, HandComputedStridePadDilation) {
  // x[r][c] = 4r + c + 1 (4x4), 2x2 ones kernel, dilation 2, pad 1, stride 2: the taps of output
  // (i, j) are rows 2i-1, 2i+1 and columns 2j-1, 2j+1, those inside the input summed.
  OpCall call;
  call.op_type = "Conv";
  call.inputs = {iota({1, 1, 4, 4}), make_tensor<float>({1, 1, 2, 2}, {1, 1, 1, 1})};
  call.attributes = {{"dilations", attr_ints({2, 2})},
                     {"pads", attr_ints({1, 1, 1, 1})},
                     {"strides", attr_ints({2, 2})}};
  expect_both(call, {1, 1, 2, 2}, {6, 14, 20, 44});
}

TEST(Conv, HandComputedDepthwiseAndGrouped) {
  OpCall dw;
  dw.op_type = "Conv";
  dw.inputs = {iota({1, 2, 2, 2}), make_tensor<float>({2, 1, 1, 1}, {2, -1})};
  dw.attributes = {{"group", attr_int(2)}};
  expect_both(dw, {1, 2, 2, 2}, {2, 4, 6, 8, -5, -6, -7, -8});

  // 4 input channels in 2 groups of 2, one output per group: y0 = x0 + x1, y1 = x2 - x3.
  OpCall grouped;
  grouped.op_type = "Conv";
  grouped.inputs = {iota({1, 4, 1, 2}), make_tensor<float>({2, 2, 1, 1}, {1, 1, 1, -1})};
  grouped.attributes = {{"group", attr_int(2)}};
  expect_both(grouped, {1, 2, 1, 2}, {1 + 3, 2 + 4, 5 - 7, 6 - 8});
}

TEST(Conv, HandComputed1DAndAutoPad) {
  // 1-D, kernel [1, 1, 1], SAME_UPPER over 4 samples: y[i] = x[i-1] + x[i] + x[i+1].
  OpCall call;
  call.op_type = "Conv";
  call.inputs = {iota({1, 1, 4}), make_tensor<float>({1, 1, 3}, {1, 1, 1})};
  call.attributes = {{"auto_pad", attr_string("SAME_UPPER")}};
  expect_both(call, {1, 1, 4}, {3, 6, 9, 7});
  // Kernel 2, SAME_LOWER pads the start: y[i] = x[i-1] + x[i]; SAME_UPPER pads the end.
  call.inputs[1] = make_tensor<float>({1, 1, 2}, {1, 1});
  call.attributes = {{"auto_pad", attr_string("SAME_LOWER")}};
  expect_both(call, {1, 1, 4}, {1, 3, 5, 7});
  call.attributes = {{"auto_pad", attr_string("SAME_UPPER")}};
  expect_both(call, {1, 1, 4}, {3, 5, 7, 4});
  call.attributes = {{"auto_pad", attr_string("VALID")}, {"strides", attr_ints({2})}};
  expect_both(call, {1, 1, 2}, {3, 7});
}

TEST(Conv, OnnxNodeCases) {
  for (const char* name :
       {"test_basic_conv_with_padding", "test_basic_conv_without_padding",
        "test_conv_with_autopad_same", "test_conv_with_strides_and_asymmetric_padding",
        "test_conv_with_strides_no_padding", "test_conv_with_strides_padding"}) {
    SCOPED_TRACE(name);
    test::expect_node_case(name);
  }
}

struct ConvCase {
  Shape x, w;
  std::map<std::string, Attribute> attrs;
  bool bias = true;
  bool const_weights = true;
};

std::int64_t reduction_size(const Shape& w) {
  std::int64_t k = 1;
  for (std::size_t i = 1; i < w.size(); ++i) k *= w[i];
  return k;
}

void compare_reference_optimised(const std::string& op, const ConvCase& c, std::uint32_t seed) {
  OpCall call;
  call.op_type = op;
  call.inputs = {random_tensor(c.x, seed), random_tensor(c.w, seed + 1)};
  if (c.bias) {
    const std::int64_t group = c.attrs.count("group") ? c.attrs.at("group").i : 1;
    const std::int64_t m = op == "Conv" ? c.w[0] : c.w[1] * group;
    call.inputs.push_back(random_tensor({m}, seed + 2));
  }
  call.attributes = c.attrs;
  call.constant = {false, c.const_weights, c.const_weights};
  call.reference = true;
  test::OpResult ref = run_op(call);
  ASSERT_TRUE(ref.status.is_ok()) << ref.status.message();
  call.reference = false;
  test::OpResult opt = run_op(call);
  ASSERT_TRUE(opt.status.is_ok()) << opt.status.message();
  const double atol = 2e-5 * std::sqrt(static_cast<double>(reduction_size(c.w)));
  EXPECT_EQ(test::compare_close(opt.outputs[0], ref.outputs[0], 1e-4, atol), "")
      << "x " << shape_to_string(c.x) << " w " << shape_to_string(c.w);
}

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> v;
  auto a = [](std::initializer_list<std::pair<const std::string, Attribute>> l) {
    return std::map<std::string, Attribute>(l);
  };
  // ResNet-like layers (plain NCHW 1x1 path, blocked 3x3, strided 1x1, 7x7/2 stem).
  v.push_back({{1, 64, 56, 56}, {64, 64, 1, 1}, {}});
  v.push_back({{1, 64, 56, 56}, {64, 64, 3, 3}, a({{"pads", attr_ints({1, 1, 1, 1})}})});
  v.push_back({{1, 256, 14, 14}, {256, 256, 3, 3}, a({{"pads", attr_ints({1, 1, 1, 1})}})});
  v.push_back({{1, 32, 28, 28}, {48, 32, 3, 3}, a({{"pads", attr_ints({1, 1, 1, 1})}})});
  v.push_back({{1, 64, 14, 14}, {128, 64, 1, 1}, a({{"strides", attr_ints({2, 2})}})});
  v.push_back({{1, 3, 32, 32},
               {16, 3, 7, 7},
               a({{"strides", attr_ints({2, 2})}, {"pads", attr_ints({3, 3, 3, 3})}})});
  // Channels not a multiple of 16, batch 2, no bias, asymmetric pads.
  v.push_back({{2, 20, 9, 11}, {24, 20, 3, 3}, a({{"pads", attr_ints({0, 1, 2, 1})}}), false});
  // Dilations, strides 2/3, rectangular kernels.
  v.push_back({{1, 16, 17, 19},
               {8, 16, 3, 2},
               a({{"dilations", attr_ints({2, 3})},
                  {"strides", attr_ints({2, 3})},
                  {"pads", attr_ints({2, 1, 1, 2})}})});
  v.push_back({{1, 24, 15, 15}, {24, 24, 1, 7}, a({{"pads", attr_ints({0, 3, 0, 3})}})});
  // Depthwise 3x3 stride 1 and 2, grouped.
  v.push_back({{1, 32, 20, 20},
               {32, 1, 3, 3},
               a({{"group", attr_int(32)}, {"pads", attr_ints({1, 1, 1, 1})}})});
  v.push_back({{1, 40, 21, 21},
               {40, 1, 3, 3},
               a({{"group", attr_int(40)},
                  {"pads", attr_ints({1, 1, 1, 1})},
                  {"strides", attr_ints({2, 2})}})});
  v.push_back({{1, 24, 10, 10},
               {48, 1, 5, 5},
               a({{"group", attr_int(24)}, {"auto_pad", attr_string("SAME_UPPER")}})});
  v.push_back({{2, 12, 8, 8},
               {18, 4, 3, 3},
               a({{"group", attr_int(3)}, {"pads", attr_ints({1, 1, 1, 1})}})});
  // Depthwise geometries of the direct NCHW kernel: dilation, asymmetric pads, partial and multiple
  // 16-wide chunks, 5x5, mixed strides, channel multiplier, a single input channel, no padding.
  v.push_back({{2, 16, 9, 37},
               {16, 1, 3, 3},
               a({{"group", attr_int(16)},
                  {"dilations", attr_ints({2, 2})},
                  {"pads", attr_ints({2, 1, 0, 3})}})});
  v.push_back({{1, 8, 33, 33},
               {8, 1, 5, 5},
               a({{"group", attr_int(8)},
                  {"strides", attr_ints({2, 2})},
                  {"pads", attr_ints({2, 2, 2, 2})}})});
  v.push_back({{1, 8, 17, 70},
               {16, 1, 5, 5},
               a({{"group", attr_int(8)}, {"pads", attr_ints({2, 2, 2, 2})}}),
               false});
  v.push_back({{1, 12, 15, 31},
               {12, 1, 3, 3},
               a({{"group", attr_int(12)},
                  {"strides", attr_ints({3, 2})},
                  {"pads", attr_ints({1, 0, 1, 1})}})});
  v.push_back({{1, 1, 12, 12}, {4, 1, 3, 3}, {}});
  ConvCase dyn_dw{{1, 24, 14, 14},
                  {24, 1, 3, 3},
                  a({{"group", attr_int(24)}, {"pads", attr_ints({1, 1, 1, 1})}})};
  dyn_dw.const_weights = false;
  v.push_back(dyn_dw);
  // auto_pad on both sides with strides.
  v.push_back({{1, 8, 13, 14},
               {8, 8, 4, 3},
               a({{"auto_pad", attr_string("SAME_LOWER")}, {"strides", attr_ints({2, 2})}})});
  v.push_back({{1, 8, 13, 14},
               {8, 8, 3, 3},
               a({{"auto_pad", attr_string("VALID")}, {"strides", attr_ints({3, 2})}})});
  // 1-D and 3-D.
  v.push_back(
      {{2, 10, 50}, {12, 10, 5}, a({{"pads", attr_ints({2, 1})}, {"strides", attr_ints({2})}})});
  v.push_back({{1, 6, 7, 8, 9}, {8, 6, 3, 3, 3}, a({{"pads", attr_ints({1, 1, 1, 1, 1, 1})}})});
  v.push_back({{1, 8, 5, 6, 7},
               {8, 2, 2, 3, 1},
               a({{"group", attr_int(4)},
                  {"strides", attr_ints({1, 2, 1})},
                  {"dilations", attr_ints({2, 1, 1})}})});
  // Weights computed at run time.
  ConvCase dyn{{1, 16, 12, 12}, {32, 16, 3, 3}, a({{"pads", attr_ints({1, 1, 1, 1})}})};
  dyn.const_weights = false;
  v.push_back(dyn);
  ConvCase dyn_plain{{1, 32, 28, 28}, {16, 32, 1, 1}, {}};
  dyn_plain.const_weights = false;
  v.push_back(dyn_plain);
  return v;
}

TEST(Conv, OptimisedMatchesReference) {
  std::uint32_t seed = 1;
  for (const ConvCase& c : conv_cases()) compare_reference_optimised("Conv", c, seed += 10);
}

// FusedConv, what inference sessions make of Conv -> [Add] -> [Relu|Clip] (exec/fusion.h). Its
// optimised kernel must equal bit for bit the optimised Conv followed by the separate Add and
// activation kernels (a fused session claims the unfused session's exact outputs), and its
// reference kernel the reference Conv followed by them, on each of the Conv kernel's paths:
// gemm-based 1x1 (post-ops applied after the primitive), blocked 3x3 and strided 1x1 (oneDNN
// post-ops, summand reordered into the blocked output), few channels (the older jit kernel, whose
// sum post-op rounds differently, so the kernel adds the summand itself), the NCHW-source stem,
// direct depthwise.
TEST(FusedConv, EqualsConvThenAddThenActivation) {
  auto a = [](std::initializer_list<std::pair<const std::string, Attribute>> l) {
    return std::map<std::string, Attribute>(l);
  };
  struct Case {
    ConvCase conv;
    bool sum;
    std::string activation;
  };
  const auto pad1 = a({{"pads", attr_ints({1, 1, 1, 1})}});
  const auto dw = a({{"group", attr_int(32)}, {"pads", attr_ints({1, 1, 1, 1})}});
  const std::vector<Case> cases = {
      {{{1, 64, 56, 56}, {64, 64, 1, 1}, {}}, true, "Relu"},
      {{{1, 64, 56, 56}, {64, 64, 1, 1}, {}}, false, "Clip"},
      {{{1, 64, 28, 28}, {64, 64, 3, 3}, pad1}, true, "Relu"},
      {{{1, 64, 28, 28}, {64, 64, 3, 3}, pad1}, true, ""},
      {{{1, 32, 14, 14}, {48, 32, 3, 3}, pad1}, false, "Clip"},
      {{{1, 64, 14, 14}, {128, 64, 1, 1}, a({{"strides", attr_ints({2, 2})}})}, true, "Relu"},
      {{{1, 4, 8, 8}, {16, 4, 1, 1}, {}}, true, "Relu"},  // few channels: jit:avx512_core
      {{{1, 3, 32, 32},
        {16, 3, 7, 7},
        a({{"strides", attr_ints({2, 2})}, {"pads", attr_ints({3, 3, 3, 3})}})},
       false,
       "Relu"},
      {{{1, 32, 20, 20}, {32, 1, 3, 3}, dw}, false, "Clip"},
      {{{1, 32, 20, 20}, {32, 1, 3, 3}, dw}, true, "Relu"},
      {{{2, 20, 9, 11}, {24, 20, 3, 3}, a({{"pads", attr_ints({0, 1, 2, 1})}}), false},
       true,
       "Clip"},
  };
  std::uint32_t seed = 500;
  for (const Case& c : cases) {
    SCOPED_TRACE(shape_to_string(c.conv.x) + " w " + shape_to_string(c.conv.w) + " sum " +
                 std::to_string(c.sum) + " " + c.activation);
    seed += 10;
    const Tensor x = random_tensor(c.conv.x, seed), w = random_tensor(c.conv.w, seed + 1);
    const Tensor b = random_tensor({c.conv.w[0]}, seed + 2);
    for (bool reference : {false, true}) {
      OpCall conv;
      conv.op_type = "Conv";
      conv.inputs = {x, w};
      if (c.conv.bias) conv.inputs.push_back(b);
      conv.attributes = c.conv.attrs;
      conv.reference = reference;
      test::OpResult expected = run_op(conv);
      ASSERT_TRUE(expected.status.is_ok()) << expected.status.message();
      const Tensor summand = random_tensor(expected.outputs[0].shape(), seed + 3, -2.0f, 2.0f);
      if (c.sum) {
        OpCall add;
        add.op_type = "Add";
        add.inputs = {expected.outputs[0], summand};
        add.constant = {false, false};
        add.reference = reference;
        expected = run_op(add);
        ASSERT_TRUE(expected.status.is_ok()) << expected.status.message();
      }
      if (!c.activation.empty()) {
        OpCall act;
        act.op_type = c.activation;
        act.inputs = {expected.outputs[0]};
        if (c.activation == "Clip") {
          act.inputs.push_back(make_tensor<float>({}, {-0.25f}));
          act.inputs.push_back(make_tensor<float>({}, {0.5f}));
        }
        act.reference = reference;
        expected = run_op(act);
        ASSERT_TRUE(expected.status.is_ok()) << expected.status.message();
      }

      OpCall fused;
      fused.op_type = "FusedConv";
      fused.domain = "dnnfi";
      fused.opset = 1;
      fused.inputs = {x, w};
      fused.inputs.push_back(c.conv.bias ? std::optional<Tensor>(b) : std::nullopt);
      if (c.sum) fused.inputs.push_back(summand);
      fused.constant = {false, true, true, false};
      fused.attributes = c.conv.attrs;
      if (!c.activation.empty()) fused.attributes["activation"] = attr_string(c.activation);
      if (c.activation == "Clip") {
        fused.attributes["activation_min"] = attr_float(-0.25f);
        fused.attributes["activation_max"] = attr_float(0.5f);
      }
      fused.reference = reference;
      const test::OpResult got = run_op(fused);
      ASSERT_TRUE(got.status.is_ok()) << got.status.message();
      EXPECT_TRUE(got.outputs[0].bit_equal(expected.outputs[0]))
          << (reference ? "reference" : "optimised") << ": "
          << test::compare_close(got.outputs[0], expected.outputs[0], 0.0, 0.0);
    }
  }
}

// FusedConv on channels-last data (what inference sessions pass between convolutions): each
// combination of source, destination and summand layouts, on oneDNN's brgemm kernels and on the
// few-channel jit kernel (post-ops applied by dnnfi on the primitive's layout), against the
// reference Conv then Add then Relu on NCHW data. The tensor shapes stay NCHW: only the bytes'
// order changes.
TEST(FusedConv, ChannelsLastMatchesReference) {
  struct Case {
    Shape x, w;
    bool src, dst, sum;
  };
  const std::vector<Case> cases = {
      {{1, 64, 14, 14}, {64, 64, 3, 3}, true, true, true},
      {{1, 64, 14, 14}, {64, 64, 3, 3}, false, true, false},
      {{1, 64, 14, 14}, {64, 64, 3, 3}, true, false, true},
      {{1, 32, 28, 28}, {128, 32, 1, 1}, true, true, false},
      {{1, 4, 8, 8}, {16, 4, 1, 1}, true, true, true},
      {{1, 20, 9, 9}, {24, 20, 3, 3}, true, false, true},
  };
  std::uint32_t seed = 900;
  for (const Case& c : cases) {
    SCOPED_TRACE(shape_to_string(c.x) + " w " + shape_to_string(c.w) + " src/dst/sum nhwc " +
                 std::to_string(c.src) + std::to_string(c.dst) + std::to_string(c.sum));
    seed += 10;
    const bool k3 = c.w[2] == 3;
    std::map<std::string, Attribute> attrs;
    if (k3) attrs["pads"] = attr_ints({1, 1, 1, 1});
    const Tensor x = random_tensor(c.x, seed), w = random_tensor(c.w, seed + 1);
    const Tensor b = random_tensor({c.w[0]}, seed + 2);
    const Shape ys{c.x[0], c.w[0], c.x[2], c.x[3]};
    const Tensor summand = random_tensor(ys, seed + 3, -2.0f, 2.0f);

    OpCall ref;
    ref.op_type = "FusedConv";
    ref.domain = "dnnfi";
    ref.opset = 1;
    ref.inputs = {x, w, b, summand};
    ref.constant = {false, true, true, false};
    ref.attributes = attrs;
    ref.attributes["activation"] = attr_string("Relu");
    ref.reference = true;
    const test::OpResult expected = run_op(ref);
    ASSERT_TRUE(expected.status.is_ok()) << expected.status.message();

    OpCall opt = ref;
    opt.reference = false;
    opt.inputs[0] = c.src ? test::to_nhwc(x) : x;
    opt.inputs[3] = c.sum ? test::to_nhwc(summand) : summand;
    if (c.src) opt.attributes["src_layout"] = attr_string("NHWC");
    if (c.dst) opt.attributes["dst_layout"] = attr_string("NHWC");
    if (c.sum) opt.attributes["sum_layout"] = attr_string("NHWC");
    const test::OpResult got = run_op(opt);
    ASSERT_TRUE(got.status.is_ok()) << got.status.message();
    const Tensor y = c.dst ? test::from_nhwc(got.outputs[0]) : got.outputs[0];
    const double atol = 2e-5 * std::sqrt(static_cast<double>(reduction_size(c.w)));
    EXPECT_EQ(test::compare_close(y, expected.outputs[0], 1e-4, atol), "");
  }
}

TEST(FusedConv, LoadTimeErrors) {
  OpCall c;
  c.op_type = "FusedConv";
  c.domain = "dnnfi";
  c.opset = 1;
  c.inputs = {random_tensor({1, 4, 8, 8}, 1), random_tensor({8, 4, 3, 3}, 2), std::nullopt,
              random_tensor({1, 8, 7, 7}, 3)};
  c.constant = {false, true, true, false};
  EXPECT_THROW(run_op(c), NodeError);  // summand shape differs from the output's 1x8x6x6
  c.inputs[3] = random_tensor({1, 8, 6, 6}, 3);
  c.attributes["activation"] = attr_string("Sigmoid");
  EXPECT_THROW(run_op(c), UnsupportedError);
  c.attributes.erase("activation");
  c.attributes["src_layout"] = attr_string("CHWN");
  EXPECT_THROW(run_op(c), NodeError);
  c.attributes["src_layout"] = attr_string("NHWC");  // channels-last needs oneDNN
  c.reference = true;
  EXPECT_THROW(run_op(c), UnsupportedError);
}

TEST(Conv, DeterministicAndThreadSafe) {
  for (bool reference : {false, true}) {
    OpCall call;
    call.op_type = "Conv";
    call.inputs = {random_tensor({1, 32, 30, 30}, 5), random_tensor({32, 32, 3, 3}, 6),
                   random_tensor({32}, 7)};
    call.attributes = {{"pads", attr_ints({1, 1, 1, 1})}};
    call.reference = reference;
    test::expect_deterministic_concurrent(call);
    call.inputs[1] = random_tensor({64, 32, 1, 1}, 8);
    call.inputs[2] = random_tensor({64}, 9);
    call.attributes = {};
    test::expect_deterministic_concurrent(call);
    // Depthwise (direct NCHW kernel) and a blocked 3x3.
    call.inputs = {random_tensor({1, 32, 28, 28}, 10), random_tensor({32, 1, 3, 3}, 11),
                   random_tensor({32}, 12)};
    call.attributes = {{"group", attr_int(32)}, {"pads", attr_ints({1, 1, 1, 1})}};
    test::expect_deterministic_concurrent(call);
    call.inputs = {random_tensor({1, 16, 28, 28}, 13), random_tensor({16, 16, 3, 3}, 14),
                   random_tensor({16}, 15)};
    call.attributes = {{"pads", attr_ints({1, 1, 1, 1})}};
    test::expect_deterministic_concurrent(call);
  }
}

// Constant weights are packed once per process and shared by every kernel made from the same
// tensor (band variants). Kernels of other weights, alive at the same time or made after the
// earlier ones are gone (new weights often at a freed one's address), must each get their own
// packing: each constant-weight kernel gives, bit for bit, what the same primitive gives with its
// weights as a run-time input (reordered per run).
TEST(Conv, PackedWeightsFollowTheirTensor) {
  const Tensor x = random_tensor({1, 32, 14, 14}, 20);
  std::vector<std::unique_ptr<test::PreparedOp>> alive;
  for (std::uint32_t seed = 0; seed < 8; ++seed) {
    if (seed == 4) alive.clear();
    OpCall call;
    call.op_type = "Conv";
    call.inputs = {x, random_tensor({64, 32, 3, 3}, 30 + seed), random_tensor({64}, 40 + seed)};
    call.attributes = {{"pads", attr_ints({1, 1, 1, 1})}};
    OpCall runtime = call;
    runtime.constant = {false, false, true};
    const test::OpResult expected = run_op(runtime);
    ASSERT_TRUE(expected.status.is_ok()) << expected.status.message();
    for (int copy = 0; copy < 2; ++copy) {
      alive.push_back(std::make_unique<test::PreparedOp>(call));
      const test::OpResult r = alive.back()->run(call.inputs);
      ASSERT_TRUE(r.status.is_ok()) << r.status.message();
      EXPECT_TRUE(r.outputs[0].bit_equal(expected.outputs[0])) << "weights seed " << seed;
    }
  }
}

// A faulty activation may change only the outputs whose receptive field contains it, bitwise, and
// an Inf stays an Inf: the optimised kernels must not mix inputs across windows (as Winograd
// transforms do), so fault propagation matches a direct convolution in PyTorch or ONNX Runtime.
TEST(Conv, FaultStaysInReceptiveField) {
  struct Case {
    Shape w;
    std::int64_t group;
  };
  for (const Case& c : {Case{{32, 32, 3, 3}, 1}, Case{{32, 1, 3, 3}, 32}, Case{{16, 32, 1, 1}, 1},
                        Case{{64, 32, 3, 3}, 1}}) {
    for (float bad : {1e30f, std::numeric_limits<float>::infinity()}) {
      OpCall call;
      call.op_type = "Conv";
      const std::int64_t pad = c.w[2] / 2;
      call.inputs = {random_tensor({1, 32, 30, 30}, 1), random_tensor(c.w, 2),
                     random_tensor({c.w[0]}, 3)};
      call.attributes = {{"group", attr_int(c.group)}, {"pads", attr_ints({pad, pad, pad, pad})}};
      const Tensor clean = run_op(call).outputs[0];
      const std::int64_t ch = 5, row = 12, col = 17;
      call.inputs[0]->data<float>()[(ch * 30 + row) * 30 + col] = bad;
      const Tensor faulty = run_op(call).outputs[0];
      std::int64_t changed_outside = 0;
      for (std::int64_t m = 0; m < c.w[0]; ++m) {
        const bool reads_ch = c.group == 1 || m == ch;
        for (std::int64_t i = 0; i < 30; ++i) {
          for (std::int64_t j = 0; j < 30; ++j) {
            const bool inside = reads_ch && std::abs(i - row) <= pad && std::abs(j - col) <= pad;
            const std::int64_t k = (m * 30 + i) * 30 + j;
            if (!inside && std::memcmp(&clean.data<float>()[k], &faulty.data<float>()[k], 4) != 0) {
              ++changed_outside;
            }
          }
        }
      }
      EXPECT_EQ(changed_outside, 0) << "w " << shape_to_string(c.w) << " value " << bad;
      // One Inf input meets one (non-zero) weight per output: +-Inf, never NaN.
      for (std::int64_t k = 0; k < faulty.numel(); ++k) {
        ASSERT_FALSE(std::isnan(faulty.data<float>()[k])) << "w " << shape_to_string(c.w);
      }
    }
  }
}

void expect_load_error(const OpCall& call, const std::string& fragment) {
  try {
    (void)run_op(call);
    ADD_FAILURE() << "expected a load-time error containing '" << fragment << "'";
  } catch (const NodeError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Conv, LoadTimeErrors) {
  OpCall base;
  base.op_type = "Conv";
  base.inputs = {random_tensor({1, 4, 8, 8}, 1), random_tensor({8, 4, 3, 3}, 2)};

  OpCall c = base;
  c.inputs[1] = random_tensor({8, 3, 3, 3}, 2);
  expect_load_error(c, "do not match input channels");
  c = base;
  c.attributes = {{"group", attr_int(3)}};
  expect_load_error(c, "group");
  c = base;
  c.attributes = {{"auto_pad", attr_string("SAME")}};
  expect_load_error(c, "auto_pad");
  c = base;
  c.attributes = {{"strides", attr_ints({1, 1, 1})}};
  expect_load_error(c, "strides");
  c = base;
  c.attributes = {{"dilations", attr_ints({0, 1})}};
  expect_load_error(c, "dilations");
  c = base;
  c.attributes = {{"kernel_shape", attr_ints({5, 5})}};
  expect_load_error(c, "kernel_shape");
  c = base;
  c.attributes = {{"pads", attr_ints({1, 1})}};
  expect_load_error(c, "pads");
  c = base;
  c.attributes = {{"unknown_attr", attr_int(1)}};
  expect_load_error(c, "unknown_attr");
  c = base;
  c.inputs.push_back(random_tensor({4}, 3));
  expect_load_error(c, "bias");
  c = base;
  c.inputs[1] = random_tensor({8, 4, 9, 9}, 2);
  expect_load_error(c, "larger than the padded input");
  c = base;
  c.inputs[1] = random_tensor({8, 4, 3}, 2);
  expect_load_error(c, "rank");
}

TEST(ConvTranspose, HandComputed) {
  // x = [[1,2],[3,4]], 2x2 ones kernel: every input spreads over a 2x2 patch of the output.
  OpCall call;
  call.op_type = "ConvTranspose";
  call.inputs = {iota({1, 1, 2, 2}), make_tensor<float>({1, 1, 2, 2}, {1, 1, 1, 1})};
  expect_both(call, {1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4});
  call.attributes = {{"strides", attr_ints({2, 2})}};
  expect_both(call, {1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // Pads crop the output: only the centre of the stride-1 result is left.
  call.attributes = {{"pads", attr_ints({1, 1, 1, 1})}};
  expect_both(call, {1, 1, 1, 1}, {10});
  // output_padding adds a row/column at the end (zeros plus bias here).
  call.inputs.push_back(make_tensor<float>({1}, {0.5f}));
  call.attributes = {{"strides", attr_ints({2, 2})}, {"output_padding", attr_ints({1, 0})}};
  expect_both(call, {1, 1, 5, 4}, {1.5f, 1.5f, 2.5f, 2.5f, 1.5f, 1.5f, 2.5f, 2.5f, 3.5f, 3.5f,
                                   4.5f, 4.5f, 3.5f, 3.5f, 4.5f, 4.5f, 0.5f, 0.5f, 0.5f, 0.5f});
  // Grouped: 2 inputs, 2 groups, weights [2, 1, 1, 1] = [2, -1].
  OpCall grouped;
  grouped.op_type = "ConvTranspose";
  grouped.inputs = {iota({1, 2, 1, 2}), make_tensor<float>({2, 1, 1, 1}, {2, -1})};
  grouped.attributes = {{"group", attr_int(2)}};
  expect_both(grouped, {1, 2, 1, 2}, {2, 4, -3, -4});
}

TEST(ConvTranspose, OnnxNodeCases) {
  for (const char* name :
       {"test_convtranspose", "test_convtranspose_1d", "test_convtranspose_3d",
        "test_convtranspose_autopad_same", "test_convtranspose_dilations",
        "test_convtranspose_kernel_shape", "test_convtranspose_output_shape",
        "test_convtranspose_pad", "test_convtranspose_pads", "test_convtranspose_with_kernel"}) {
    SCOPED_TRACE(name);
    test::expect_node_case(name);
  }
}

TEST(ConvTranspose, OptimisedMatchesReference) {
  auto a = [](std::initializer_list<std::pair<const std::string, Attribute>> l) {
    return std::map<std::string, Attribute>(l);
  };
  std::vector<ConvCase> cases = {
      {{1, 16, 7, 7},
       {16, 8, 4, 4},
       a({{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}})},
      {{2, 6, 5, 6},
       {6, 4, 3, 3},
       a({{"strides", attr_ints({2, 3})},
          {"output_padding", attr_ints({1, 2})},
          {"dilations", attr_ints({1, 1})}})},
      {{1, 8, 5, 5},
       {8, 3, 3, 3},
       a({{"group", attr_int(2)},
          {"dilations", attr_ints({2, 2})},
          {"pads", attr_ints({1, 0, 2, 1})}}),
       false},
      {{1, 4, 6, 6},
       {4, 2, 3, 3},
       a({{"strides", attr_ints({2, 2})}, {"output_shape", attr_ints({12, 13})}})},
      {{1, 4, 6, 6},
       {4, 2, 3, 3},
       a({{"strides", attr_ints({2, 2})}, {"auto_pad", attr_string("SAME_LOWER")}})},
      {{1, 5, 9}, {5, 7, 4}, a({{"strides", attr_ints({3})}})},
      {{1, 3, 4, 5, 3}, {3, 2, 2, 3, 2}, a({{"strides", attr_ints({2, 1, 2})}})},
      // output_shape larger than the natural size: a negative pad, reference fallback.
      {{1, 2, 3, 3}, {2, 2, 2, 2}, a({{"output_shape", attr_ints({6, 5})}})},
  };
  ConvCase dyn{{1, 8, 6, 6}, {8, 4, 3, 3}, a({{"strides", attr_ints({2, 2})}})};
  dyn.const_weights = false;
  cases.push_back(dyn);
  std::uint32_t seed = 500;
  for (const ConvCase& c : cases) compare_reference_optimised("ConvTranspose", c, seed += 10);
}

TEST(ConvTranspose, LoadTimeErrors) {
  OpCall base;
  base.op_type = "ConvTranspose";
  base.inputs = {random_tensor({1, 4, 5, 5}, 1), random_tensor({4, 2, 3, 3}, 2)};
  OpCall c = base;
  c.inputs[1] = random_tensor({3, 2, 3, 3}, 2);
  expect_load_error(c, "do not match input channels");
  c = base;
  c.attributes = {{"output_padding", attr_ints({1, 1})}};
  expect_load_error(c, "output_padding");
  c = base;
  c.attributes = {{"output_shape", attr_ints({10})}};
  expect_load_error(c, "output_shape");
  c = base;
  c.inputs.push_back(random_tensor({4}, 3));
  expect_load_error(c, "bias");
}

}  // namespace
}  // namespace dnnfi
