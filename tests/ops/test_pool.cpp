// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: hand-computed goldens, the ONNX backend
// node cases, the optimised kernels against the reference on random inputs, determinism under
// concurrency, load-time errors.
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

using test::attr_int;
using test::attr_ints;
using test::attr_string;
using test::OpCall;
using test::random_tensor;
using test::run_op;

std::vector<float> values(const Tensor& t) {
  return {t.data<float>(), t.data<float>() + t.numel()};
}

Tensor iota(Shape shape) {
  Tensor t(DType::kFloat32, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 1.0f + static_cast<float>(i);
  return t;
}

void expect_both(OpCall call, const Shape& shape, const std::vector<float>& expected) {
  for (bool reference : {true, false}) {
    call.reference = reference;
    test::OpResult r = run_op(call);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    EXPECT_EQ(r.outputs[0].shape(), shape) << "reference=" << reference;
    EXPECT_EQ(values(r.outputs[0]), expected) << "reference=" << reference;
  }
}

OpCall pool(const std::string& op, Tensor x, std::map<std::string, Attribute> attrs) {
  OpCall call;
  call.op_type = op;
  call.inputs = {std::move(x)};
  call.attributes = std::move(attrs);
  return call;
}

TEST(MaxPool, HandComputed) {
  expect_both(pool("MaxPool", iota({1, 1, 4, 4}),
                   {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}),
              {1, 1, 2, 2}, {6, 8, 14, 16});
  // Padding never wins: windows hanging over the edge take the max of their inside part.
  expect_both(pool("MaxPool", iota({1, 1, 3, 3}),
                   {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}}),
              {1, 1, 4, 4}, {1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 7, 8, 9, 9});
  // ceil_mode adds the partial last window: 4 samples, kernel 3, stride 2 -> 2 outputs.
  expect_both(pool("MaxPool", iota({1, 1, 4}),
                   {{"kernel_shape", attr_ints({3})},
                    {"strides", attr_ints({2})},
                    {"ceil_mode", attr_int(1)}}),
              {1, 1, 2}, {3, 4});
  // ...but not one that would start in the right padding: 5 samples, kernel 2, stride 2, pad 2
  // on the right: floor gives 3, ceil would give 4 windows, the last starting at 6 >= 5.
  expect_both(pool("MaxPool", iota({1, 1, 5}),
                   {{"kernel_shape", attr_ints({2})},
                    {"strides", attr_ints({2})},
                    {"pads", attr_ints({0, 2})},
                    {"ceil_mode", attr_int(1)}}),
              {1, 1, 3}, {2, 4, 5});
  // Dilation 2: taps 0 and 2 of each window.
  expect_both(pool("MaxPool", make_tensor<float>({1, 1, 5}, {5, 1, 2, 9, 3}),
                   {{"kernel_shape", attr_ints({2})}, {"dilations", attr_ints({2})}}),
              {1, 1, 3}, {5, 9, 3});
}

TEST(MaxPool, IndicesBothStorageOrders) {
  OpCall call = pool("MaxPool", iota({1, 2, 3, 3}),
                     {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({1, 1})}});
  call.num_outputs = 2;
  for (bool reference : {true, false}) {
    call.reference = reference;
    call.attributes["storage_order"] = attr_int(0);
    test::OpResult r = run_op(call);
    ASSERT_TRUE(r.status.is_ok());
    EXPECT_EQ(values(r.outputs[0]), (std::vector<float>{5, 6, 8, 9, 14, 15, 17, 18}));
    EXPECT_EQ(r.outputs[1].to_int64_vector(),
              (std::vector<std::int64_t>{4, 5, 7, 8, 13, 14, 16, 17}));
    // Column-major: (h, w) -> h + w * H, plus the plane offset.
    call.attributes["storage_order"] = attr_int(1);
    r = run_op(call);
    ASSERT_TRUE(r.status.is_ok());
    EXPECT_EQ(r.outputs[1].to_int64_vector(),
              (std::vector<std::int64_t>{4, 7, 5, 8, 13, 16, 14, 17}));
  }
}

TEST(AveragePool, HandComputedCountIncludePad) {
  std::map<std::string, Attribute> attrs = {{"kernel_shape", attr_ints({2, 2})},
                                            {"pads", attr_ints({1, 1, 1, 1})}};
  expect_both(pool("AveragePool", iota({1, 1, 3, 3}), attrs), {1, 1, 4, 4},
              {1, 1.5f, 2.5f, 3, 2.5f, 3, 4, 4.5f, 5.5f, 6, 7, 7.5f, 7, 7.5f, 8.5f, 9});
  attrs["count_include_pad"] = attr_int(1);
  expect_both(pool("AveragePool", iota({1, 1, 3, 3}), attrs), {1, 1, 4, 4},
              {0.25f, 0.75f, 1.25f, 0.75f, 1.25f, 3, 4, 2.25f, 2.75f, 6, 7, 3.75f, 1.75f, 3.75f,
               4.25f, 2.25f});
  // ceil_mode with count_include_pad: the last window runs past the explicit pad; only the part
  // inside the padded extent counts (x = 1..4, kernel 3, stride 2, pads 1/1 -> 3 windows).
  std::map<std::string, Attribute> ceil = {{"kernel_shape", attr_ints({3})},
                                           {"strides", attr_ints({2})},
                                           {"pads", attr_ints({1, 1})},
                                           {"ceil_mode", attr_int(1)},
                                           {"count_include_pad", attr_int(1)}};
  expect_both(pool("AveragePool", iota({1, 1, 4}), ceil), {1, 1, 3}, {1, 3, 2});
  ceil["count_include_pad"] = attr_int(0);
  expect_both(pool("AveragePool", iota({1, 1, 4}), ceil), {1, 1, 3}, {1.5f, 3, 4});
}

TEST(GlobalPool, HandComputed) {
  OpCall call;
  call.op_type = "GlobalAveragePool";
  call.inputs = {iota({1, 2, 2, 2})};
  expect_both(call, {1, 2, 1, 1}, {2.5f, 6.5f});
  call.op_type = "GlobalMaxPool";
  expect_both(call, {1, 2, 1, 1}, {4, 8});
  call.inputs = {iota({2, 1, 3})};
  expect_both(call, {2, 1, 1}, {3, 6});
  // NaN is data: it propagates through max (windowed and global).
  Tensor xw = iota({1, 1, 3, 20});
  xw.data<float>()[25] = std::numeric_limits<float>::quiet_NaN();  // row 1, column 5
  OpCall mp = pool("MaxPool", xw, {{"kernel_shape", attr_ints({2, 2})}});
  for (bool reference : {true, false}) {
    mp.reference = reference;
    const Tensor y = run_op(mp).outputs[0];  // [1, 1, 2, 19]
    for (std::int64_t i = 0; i < y.numel(); ++i) {
      const std::int64_t r = i / 19, c = i % 19;
      EXPECT_EQ(std::isnan(y.data<float>()[i]), (c == 4 || c == 5)) << r << "," << c;
    }
  }
  Tensor x = iota({1, 1, 40});
  x.data<float>()[17] = std::numeric_limits<float>::quiet_NaN();
  call.inputs = {x};
  for (bool reference : {true, false}) {
    call.reference = reference;
    EXPECT_TRUE(std::isnan(run_op(call).outputs[0].data<float>()[0]));
  }
}

TEST(Pool, OnnxNodeCases) {
  for (const char* name : {"test_averagepool_1d_default",
                           "test_averagepool_2d_ceil",
                           "test_averagepool_2d_default",
                           "test_averagepool_2d_pads",
                           "test_averagepool_2d_pads_count_include_pad",
                           "test_averagepool_2d_precomputed_pads",
                           "test_averagepool_2d_precomputed_pads_count_include_pad",
                           "test_averagepool_2d_precomputed_same_upper",
                           "test_averagepool_2d_precomputed_strides",
                           "test_averagepool_2d_same_lower",
                           "test_averagepool_2d_same_upper",
                           "test_averagepool_2d_strides",
                           "test_averagepool_3d_default",
                           "test_maxpool_1d_default",
                           "test_maxpool_2d_ceil",
                           "test_maxpool_2d_default",
                           "test_maxpool_2d_dilations",
                           "test_maxpool_2d_pads",
                           "test_maxpool_2d_precomputed_pads",
                           "test_maxpool_2d_precomputed_same_upper",
                           "test_maxpool_2d_precomputed_strides",
                           "test_maxpool_2d_same_lower",
                           "test_maxpool_2d_same_upper",
                           "test_maxpool_2d_strides",
                           "test_maxpool_3d_default",
                           "test_maxpool_with_argmax_2d_precomputed_pads",
                           "test_maxpool_with_argmax_2d_precomputed_strides",
                           "test_globalaveragepool",
                           "test_globalaveragepool_precomputed",
                           "test_globalmaxpool",
                           "test_globalmaxpool_precomputed"}) {
    SCOPED_TRACE(name);
    test::expect_node_case(name);
  }
}

TEST(Pool, OptimisedMatchesReference) {
  using Attrs = std::map<std::string, Attribute>;
  struct Case {
    std::string op;
    Shape x;
    Attrs attrs;
  };
  const std::vector<Case> cases = {
      // ResNet stem, GoogLeNet/Inception pools, DenseNet transition.
      {"MaxPool",
       {1, 64, 112, 112},
       {{"kernel_shape", attr_ints({3, 3})},
        {"strides", attr_ints({2, 2})},
        {"pads", attr_ints({1, 1, 1, 1})}}},
      {"MaxPool",
       {1, 48, 28, 28},
       {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}}},
      {"MaxPool",
       {1, 20, 57, 57},
       {{"kernel_shape", attr_ints({3, 3})},
        {"strides", attr_ints({2, 2})},
        {"ceil_mode", attr_int(1)}}},
      {"AveragePool",
       {1, 24, 35, 35},
       {{"kernel_shape", attr_ints({3, 3})},
        {"pads", attr_ints({1, 1, 1, 1})},
        {"count_include_pad", attr_int(1)}}},
      {"AveragePool",
       {1, 24, 35, 35},
       {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}}},
      {"AveragePool",
       {1, 32, 56, 56},
       {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}},
      // Odd geometries: ceil with pads, SAME, dilations, asymmetric pads, 1-D, 3-D, batch 2.
      {"AveragePool",
       {2, 5, 11, 10},
       {{"kernel_shape", attr_ints({3, 2})},
        {"strides", attr_ints({2, 3})},
        {"pads", attr_ints({1, 0, 2, 1})},
        {"ceil_mode", attr_int(1)}}},
      {"AveragePool",
       {2, 5, 11, 10},
       {{"kernel_shape", attr_ints({3, 2})},
        {"strides", attr_ints({2, 3})},
        {"pads", attr_ints({1, 0, 0, 1})},
        {"ceil_mode", attr_int(1)},
        {"count_include_pad", attr_int(1)}}},
      {"MaxPool",
       {1, 7, 13, 12},
       {{"kernel_shape", attr_ints({3, 3})},
        {"strides", attr_ints({2, 2})},
        {"auto_pad", attr_string("SAME_LOWER")}}},
      {"AveragePool",
       {1, 7, 13, 12},
       {{"kernel_shape", attr_ints({4, 3})},
        {"strides", attr_ints({3, 2})},
        {"auto_pad", attr_string("SAME_UPPER")},
        {"count_include_pad", attr_int(1)}}},
      {"MaxPool",
       {1, 6, 15, 15},
       {{"kernel_shape", attr_ints({3, 2})},
        {"dilations", attr_ints({2, 3})},
        {"pads", attr_ints({2, 1, 1, 2})}}},
      {"AveragePool",
       {1, 6, 15, 15},
       {{"kernel_shape", attr_ints({2, 2})},
        {"dilations", attr_ints({2, 2})},
        {"strides", attr_ints({2, 1})}}},
      {"MaxPool",
       {3, 4, 31},
       {{"kernel_shape", attr_ints({4})},
        {"strides", attr_ints({3})},
        {"pads", attr_ints({2, 2})},
        {"ceil_mode", attr_int(1)}}},
      {"AveragePool",
       {1, 3, 6, 7, 8},
       {{"kernel_shape", attr_ints({2, 3, 2})},
        {"strides", attr_ints({2, 2, 2})},
        {"pads", attr_ints({1, 1, 0, 0, 1, 1})}}},
      {"MaxPool", {1, 3, 6, 7, 8}, {{"kernel_shape", attr_ints({3, 3, 3})}}},
      // Wide rows (several 16-lane chunks), stride 3 (oneDNN), 1-D stride 2 with dilation.
      {"MaxPool",
       {1, 3, 9, 50},
       {{"kernel_shape", attr_ints({3, 5})},
        {"strides", attr_ints({1, 2})},
        {"pads", attr_ints({1, 2, 1, 2})}}},
      {"AveragePool",
       {1, 3, 9, 50},
       {{"kernel_shape", attr_ints({2, 4})},
        {"strides", attr_ints({2, 3})},
        {"pads", attr_ints({1, 1, 0, 2})},
        {"count_include_pad", attr_int(1)}}},
      {"AveragePool",
       {2, 3, 40},
       {{"kernel_shape", attr_ints({3})},
        {"strides", attr_ints({2})},
        {"dilations", attr_ints({2})},
        {"pads", attr_ints({2, 1})}}},
      // A window entirely in padding: reference semantics in both kernels.
      {"MaxPool",
       {1, 2, 3, 3},
       {{"kernel_shape", attr_ints({2, 2})},
        {"pads", attr_ints({2, 2, 2, 2})},
        {"strides", attr_ints({2, 2})}}},
      {"GlobalAveragePool", {1, 1024, 7, 7}, {}},
      {"GlobalAveragePool", {2, 3, 5, 3}, {}},
      {"GlobalMaxPool", {1, 512, 7, 7}, {}},
      {"GlobalMaxPool", {2, 5, 4, 3, 2}, {}},
  };
  std::uint32_t seed = 700;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op + " " + shape_to_string(c.x));
    OpCall call = pool(c.op, random_tensor(c.x, seed++), c.attrs);
    call.reference = true;
    test::OpResult ref = run_op(call);
    ASSERT_TRUE(ref.status.is_ok());
    call.reference = false;
    test::OpResult opt = run_op(call);
    ASSERT_TRUE(opt.status.is_ok());
    EXPECT_EQ(test::compare_close(opt.outputs[0], ref.outputs[0], 1e-5, 1e-6), "");
  }
}

// dnnfi.MaxPool / dnnfi.AveragePool with layout NHWC (inference sessions pass channels-last data
// between convolutions and pools): on channels-last bytes they compute what the reference does on
// NCHW, for GoogLeNet's ceil-mode and padded pools, DenseNet's average pool, Inception's
// count_include_pad pool. A geometry oneDNN would compute differently is refused.
TEST(Pool, ChannelsLastMatchesReference) {
  using Attrs = std::map<std::string, Attribute>;
  const std::vector<std::pair<std::string, Attrs>> cases = {
      {"MaxPool",
       {{"kernel_shape", attr_ints({3, 3})},
        {"strides", attr_ints({2, 2})},
        {"ceil_mode", attr_int(1)}}},
      {"MaxPool", {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}}},
      {"AveragePool", {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}},
      {"AveragePool",
       {{"kernel_shape", attr_ints({3, 3})},
        {"pads", attr_ints({1, 1, 1, 1})},
        {"count_include_pad", attr_int(1)}}},
  };
  std::uint32_t seed = 800;
  for (const auto& [op, attrs] : cases) {
    SCOPED_TRACE(op);
    const Tensor x = random_tensor({2, 40, 15, 15}, seed++);
    OpCall call = pool(op, x, attrs);
    call.reference = true;
    const test::OpResult ref = run_op(call);
    ASSERT_TRUE(ref.status.is_ok());
    call.reference = false;
    call.domain = "dnnfi";
    call.opset = 13;
    call.inputs[0] = test::to_nhwc(x);
    call.attributes["layout"] = attr_string("NHWC");
    const test::OpResult got = run_op(call);
    ASSERT_TRUE(got.status.is_ok()) << got.status.message();
    EXPECT_EQ(test::compare_close(test::from_nhwc(got.outputs[0]), ref.outputs[0], 1e-5, 1e-6), "");
  }
  // A window lying entirely in padding: oneDNN's answer differs from the reference's.
  OpCall padded = pool("MaxPool", random_tensor({1, 2, 3, 3}, 1),
                       {{"kernel_shape", attr_ints({2, 2})},
                        {"pads", attr_ints({2, 2, 2, 2})},
                        {"strides", attr_ints({2, 2})},
                        {"layout", attr_string("NHWC")}});
  padded.domain = "dnnfi";
  EXPECT_THROW(run_op(padded), UnsupportedError);
  // Outside the dnnfi domain the layout attribute is not ONNX's.
  padded.domain = "";
  EXPECT_THROW(run_op(padded), UnsupportedError);
}

// GlobalAveragePool of NHWC X (channels-last sessions): [N, C, 1, 1] has the same bytes in both
// layouts; the sums run in another order, so close to the reference, not bit-equal.
TEST(Pool, GlobalAveragePoolChannelsLast) {
  const Tensor x = random_tensor({2, 40, 7, 7}, 900);
  OpCall call = pool("GlobalAveragePool", x, {});
  call.reference = true;
  const test::OpResult ref = run_op(call);
  ASSERT_TRUE(ref.status.is_ok());
  call.reference = false;
  call.domain = "dnnfi";
  call.inputs[0] = test::to_nhwc(x);
  call.attributes["layout"] = attr_string("NHWC");
  const test::OpResult got = run_op(call);
  ASSERT_TRUE(got.status.is_ok()) << got.status.message();
  EXPECT_EQ(got.outputs[0].shape(), (Shape{2, 40, 1, 1}));
  EXPECT_EQ(test::compare_close(got.outputs[0], ref.outputs[0], 1e-6, 1e-7), "");
  // Outside the dnnfi domain the layout attribute is not ONNX's.
  call.domain = "";
  EXPECT_THROW(run_op(call), UnsupportedError);
}

TEST(Pool, DeterministicAndThreadSafe) {
  for (bool reference : {false, true}) {
    OpCall call = pool("MaxPool", random_tensor({1, 32, 40, 40}, 1),
                       {{"kernel_shape", attr_ints({3, 3})},
                        {"strides", attr_ints({2, 2})},
                        {"pads", attr_ints({1, 1, 1, 1})}});
    call.reference = reference;
    test::expect_deterministic_concurrent(call);
    call = pool("AveragePool", random_tensor({1, 32, 40, 40}, 2),
                {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}});
    call.reference = reference;
    test::expect_deterministic_concurrent(call);
    call = pool("GlobalAveragePool", random_tensor({1, 256, 14, 14}, 3), {});
    call.reference = reference;
    test::expect_deterministic_concurrent(call);
  }
}

// A faulty input changes only the outputs whose window contains it (bitwise), as in a direct
// implementation, and a NaN or Inf there reaches every such output.
TEST(Pool, FaultStaysInWindow) {
  for (const char* op : {"MaxPool", "AveragePool"}) {
    for (std::int64_t stride : {1, 2}) {
      for (float bad : {1e30f, std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::quiet_NaN()}) {
        OpCall call = pool(op, random_tensor({1, 8, 20, 37}, 4),
                           {{"kernel_shape", attr_ints({3, 3})},
                            {"strides", attr_ints({stride, stride})},
                            {"pads", attr_ints({1, 1, 1, 1})}});
        const Tensor clean = run_op(call).outputs[0];
        const std::int64_t ch = 3, row = 9, col = 20;
        call.inputs[0]->data<float>()[(ch * 20 + row) * 37 + col] = bad;
        const Tensor faulty = run_op(call).outputs[0];
        const std::int64_t oh = faulty.dim(2), ow = faulty.dim(3);
        for (std::int64_t c = 0; c < 8; ++c) {
          for (std::int64_t i = 0; i < oh; ++i) {
            for (std::int64_t j = 0; j < ow; ++j) {
              const bool inside = c == ch && std::abs(i * stride - 1 + 1 - row) <= 1 &&
                                  std::abs(j * stride - 1 + 1 - col) <= 1;
              const std::int64_t k = (c * oh + i) * ow + j;
              const float a = clean.data<float>()[k], b = faulty.data<float>()[k];
              if (!inside) {
                EXPECT_EQ(std::memcmp(&a, &b, 4), 0) << op << " " << c << "," << i << "," << j;
              } else if (std::isnan(bad)) {
                EXPECT_TRUE(std::isnan(b)) << op;
              } else if (std::isinf(bad)) {
                EXPECT_TRUE(std::isinf(b)) << op;
              }
            }
          }
        }
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

TEST(Pool, LoadTimeErrors) {
  const Tensor x = random_tensor({1, 2, 6, 6}, 1);
  expect_load_error(pool("MaxPool", x, {}), "kernel_shape");
  expect_load_error(
      pool("MaxPool", x, {{"kernel_shape", attr_ints({2, 2})}, {"storage_order", attr_int(2)}}),
      "storage_order");
  expect_load_error(
      pool("AveragePool", x, {{"kernel_shape", attr_ints({2, 2})}, {"ceil_mode", attr_int(3)}}),
      "ceil_mode");
  expect_load_error(
      pool("AveragePool", x, {{"kernel_shape", attr_ints({2, 2})}, {"storage_order", attr_int(0)}}),
      "storage_order");
  expect_load_error(pool("MaxPool", x, {{"kernel_shape", attr_ints({2, 2, 2})}}), "kernel");
  expect_load_error(
      pool("MaxPool", x, {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1})}}),
      "pads");
  expect_load_error(pool("MaxPool", x, {{"kernel_shape", attr_ints({8, 8})}}),
                    "larger than the padded input");
  // int8 / uint8 MaxPool is implemented (quant_pool.cpp, tests/ops/test_quantize.cpp); int32 is
  // not an ONNX MaxPool dtype.
  expect_load_error(pool("MaxPool", make_tensor<std::int32_t>({1, 1, 4, 4}, {}),
                         {{"kernel_shape", attr_ints({2, 2})}}),
                    "dtype");
  OpCall two = pool("AveragePool", x, {{"kernel_shape", attr_ints({2, 2})}});
  two.num_outputs = 2;
  expect_load_error(two, "outputs");
  OpCall global = pool("GlobalMaxPool", random_tensor({2, 3}, 1), {});
  expect_load_error(global, "rank");
}

}  // namespace
}  // namespace dnnfi
