// Ops at opsets 1..6, whose versions differ from the later ones in attributes: the binary ops'
// legacy `broadcast` / `axis` (B broadcast to A, suffix matching or from `axis`), `consumed_inputs`
// (ignorable, version 1 only), BatchNormalization's and Dropout's `is_test`, Gemm's `broadcast`,
// PRelu's shared or per-channel slope, and variadic ops without broadcasting. Expected values are
// computed by hand from the ONNX operator spec (Changelog.md) text; the PyTorch-exported
// conformance models of these versions (pytorch-operator/test_operator_add_*broadcast...) run
// in test_conformance.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/onnx_builder.h"
#include "core/error.h"
#include "exec/session.h"
#include "onnx/loader.h"
#include "ops/elementwise_test_util.h"

namespace dnnfi::test {
namespace {

using namespace elementwise;

Tensor iota(Shape shape, float start = 0.0f) {
  Tensor t(DType::kFloat32, shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + static_cast<float>(i);
  return t;
}

std::map<std::string, Attribute> bcast(std::optional<std::int64_t> axis = std::nullopt) {
  std::map<std::string, Attribute> a = {{"broadcast", attr_int(1)}};
  if (axis) a["axis"] = attr_int(*axis);
  return a;
}

TEST(LegacyBroadcast, SuffixMatching) {
  // A [2,3] + B [3] (opset 6, broadcast = 1): B is added to each row.
  const Tensor y = run1("Add", {iota({2, 3}), f32({10, 20, 30})}, bcast(), 6);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{10, 21, 32, 13, 24, 35}));
  // A one-element B of lower rank is a scalar.
  EXPECT_EQ(values<float>(run1("Sub", {iota({2, 2}), shaped<float>({1, 1}, {1})}, bcast(), 6)),
            (std::vector<float>{-1, 0, 1, 2}));
}

TEST(LegacyBroadcast, Axis) {
  // A [2,3,2] * B [3] with axis 1: B[j] multiplies A[i, j, k].
  const Tensor y = run1("Mul", {iota({2, 3, 2}), f32({1, 10, 100})}, bcast(1), 6);
  EXPECT_EQ(values<float>(y),
            (std::vector<float>{0, 1, 20, 30, 400, 500, 6, 7, 80, 90, 1000, 1100}));
  // B [2] with axis 0 on A [2,3]: B[i] divides row i.
  EXPECT_EQ(values<float>(run1("Div", {iota({2, 3}), f32({1, 2})}, bcast(0), 6)),
            (std::vector<float>{0, 1, 2, 1.5f, 2, 2.5f}));
  // The PyTorch exporter's size-1 expansion: B [2,1] at axis 0, B [1,3] at axis 0.
  EXPECT_EQ(
      values<float>(run1("Add", {iota({2, 3}), shaped<float>({2, 1}, {100, 200})}, bcast(0), 6)),
      (std::vector<float>{100, 101, 102, 203, 204, 205}));
  EXPECT_EQ(
      values<float>(run1("Add", {iota({2, 3}), shaped<float>({1, 3}, {1, 2, 3})}, bcast(0), 6)),
      (std::vector<float>{1, 3, 5, 4, 6, 8}));
  // Pow-1: exponent [2] at axis 0 of [2,2].
  EXPECT_EQ(values<float>(run1("Pow", {iota({2, 2}, 1), f32({2, 3})}, bcast(0), 1)),
            (std::vector<float>{1, 4, 27, 64}));
}

TEST(LegacyBroadcast, Errors) {
  // No broadcast attribute: shapes must be equal (no implicit numpy broadcasting before opset 7).
  expect_node_error(make_call("Add", {iota({2, 3}), f32({1, 2, 3})}, {}, 6));
  // B does not fit at the axis / in A / does not match.
  expect_node_error(make_call("Add", {iota({2, 3}), f32({1, 2, 3})}, bcast(0), 6));
  expect_node_error(make_call("Add", {iota({2, 3}), f32({1, 2})}, bcast(), 6));
  expect_node_error(make_call("Add", {iota({2, 3}), iota({2, 3, 1})}, bcast(), 6));
  expect_node_error(make_call("Add", {iota({2, 3}), f32({1, 2})}, bcast(-1), 6));
  // B's dims are not broadcast the other way round (only A's shape is the output).
  expect_node_error(make_call("Add", {iota({2, 1}), iota({2, 3})}, bcast(), 6));
  // consumed_inputs belongs to version 1 only; broadcast/axis do not exist from version 7.
  expect_node_error(
      make_call("Add", {f32({1}), f32({2})}, {{"consumed_inputs", attr_ints({0})}}, 6));
  expect_node_error(make_call("Add", {f32({1}), f32({2})}, bcast(), 7));
  expect_node_error(
      make_call("Pow", {f32({1}), f32({2})}, {{"consumed_inputs", attr_ints({0})}}, 1));
  EXPECT_EQ(
      values<float>(run1("Add", {f32({1}), f32({2})}, {{"consumed_inputs", attr_ints({0})}}, 1)),
      (std::vector<float>{3}));
}

TEST(LegacyBroadcast, CompareAndLogical) {
  // Greater-1 / Equal-1 / And-1 take the same legacy form.
  const Tensor g = run1("Greater", {iota({2, 2}), f32({0.5f, 2.5f})}, bcast(0), 1);
  EXPECT_EQ(values<std::uint8_t>(g), (std::vector<std::uint8_t>{0, 1, 0, 1}));
  const Tensor e = run1(
      "Equal", {shaped<std::int32_t>({2, 2}, {1, 2, 3, 4}), vec<std::int32_t>({1, 4})}, bcast(), 1);
  EXPECT_EQ(values<std::uint8_t>(e), (std::vector<std::uint8_t>{1, 0, 0, 1}));
  const Tensor a = run1(
      "And", {raw<std::uint8_t>(DType::kBool, {2, 2}, {1, 1, 0, 1}), bools({1, 0})}, bcast(0), 1);
  EXPECT_EQ(values<std::uint8_t>(a), (std::vector<std::uint8_t>{1, 1, 0, 0}));
  expect_node_error(make_call("Less", {iota({2, 2}), f32({1, 2})}, {}, 1));
}

TEST(LegacyPRelu, SharedOrPerChannelSlope) {
  const Tensor x = shaped<float>({1, 2, 2}, {-1, 2, -3, 4});
  // Per channel (slope [C], C = axis 1): channel 0 slope 0.5, channel 1 slope 2.
  EXPECT_EQ(values<float>(run1("PRelu", {x, f32({0.5f, 2})}, {}, 6)),
            (std::vector<float>{-0.5f, 2, -6, 4}));
  EXPECT_EQ(values<float>(run1("PRelu", {x, f32({0.25f})}, {}, 6)),
            (std::vector<float>{-0.25f, 2, -0.75f, 4}));
  EXPECT_EQ(
      values<float>(run1("PRelu", {x, f32({0.25f})}, {{"consumed_inputs", attr_ints({0})}}, 1)),
      (std::vector<float>{-0.25f, 2, -0.75f, 4}));
  // From opset 7 a [2] slope broadcasts numpy-style against the last axis instead.
  EXPECT_EQ(values<float>(run1("PRelu", {x, f32({0.5f, 2})}, {}, 7)),
            (std::vector<float>{-0.5f, 2, -1.5f, 4}));
  expect_unsupported(make_call("PRelu", {x, f32({1, 2, 3})}, {}, 6));
  expect_unsupported(make_call("PRelu", {x, shaped<float>({2, 1}, {1, 2})}, {}, 6));
}

TEST(LegacyBatchNormalization, IsTest) {
  // y = (x - mean) / sqrt(var + eps) * scale + b, channel c: mean 1, var 4 (eps 0), scale 2, b 1.
  const Tensor x = shaped<float>({1, 2, 2}, {1, 3, 5, 7});
  std::vector<std::optional<Tensor>> in = {x, f32({2, 1}), f32({1, 0}), f32({1, 5}), f32({4, 1})};
  const std::map<std::string, Attribute> test = {{"is_test", attr_int(1)},
                                                 {"epsilon", attr_float(0.0f)}};
  // channel 0: (1-1)/2*2+1 = 1, (3-1)/2*2+1 = 3; channel 1: (5-5)/1*1+0 = 0, 2.
  expect_values<float>(run1("BatchNormalization", in, test, 6), {1, 3, 0, 2}, 1e-6);
  std::map<std::string, Attribute> v1 = test;
  v1["consumed_inputs"] = attr_ints({0, 0, 0, 1, 1});
  v1["spatial"] = attr_int(1);
  expect_values<float>(run1("BatchNormalization", in, v1, 1), {1, 3, 0, 2}, 1e-6);
  expect_unsupported(make_call("BatchNormalization", in, {}, 6));  // is_test defaults to 0
  expect_unsupported(make_call("BatchNormalization", in, {{"is_test", attr_int(0)}}, 6));
  expect_node_error(make_call("BatchNormalization", in, v1, 6));    // consumed_inputs
  expect_node_error(make_call("BatchNormalization", in, test, 7));  // no is_test from 7
}

TEST(LegacyDropout, IsTest) {
  const Tensor x = f32({1, -2, 3});
  EXPECT_EQ(values<float>(run1("Dropout", {x}, {{"is_test", attr_int(1)}}, 6)),
            (std::vector<float>{1, -2, 3}));
  expect_unsupported(make_call("Dropout", {x}, {}, 6));
  expect_node_error(make_call("Dropout", {x}, {{"is_test", attr_int(1)}}, 7));
}

TEST(LegacyGemm, BroadcastAttribute) {
  // A [2,2] x B [2,2] + C: A = [[1,2],[3,4]], B = I -> A + C.
  const Tensor a = shaped<float>({2, 2}, {1, 2, 3, 4});
  const Tensor b = shaped<float>({2, 2}, {1, 0, 0, 1});
  EXPECT_EQ(values<float>(run1("Gemm", {a, b, f32({10, 20})}, {{"broadcast", attr_int(1)}}, 6)),
            (std::vector<float>{11, 22, 13, 24}));
  EXPECT_EQ(values<float>(run1("Gemm", {a, b, shaped<float>({2, 2}, {1, 1, 1, 1})}, {}, 6)),
            (std::vector<float>{2, 3, 4, 5}));
  // Without broadcast = 1, C must already be [M, N].
  expect_node_error(make_call("Gemm", {a, b, f32({10, 20})}, {}, 6));
  expect_node_error(make_call("Gemm", {a, b, f32({10, 20})}, {{"broadcast", attr_int(1)}}, 7));
}

TEST(LegacyVariadic, SameShapesOnly) {
  EXPECT_EQ(values<float>(run1("Sum", {f32({1, 2}), f32({3, 4}), f32({5, 6})}, {}, 6)),
            (std::vector<float>{9, 12}));
  EXPECT_EQ(values<float>(run1("Max", {f32({1, 5}), f32({3, 4})},
                               {{"consumed_inputs", attr_ints({0, 0})}}, 1)),
            (std::vector<float>{3, 5}));
  expect_node_error(make_call("Min", {f32({1, 2}), f32({3})}, {}, 6));
  expect_node_error(
      make_call("Mean", {f32({1, 2}), f32({3, 4})}, {{"consumed_inputs", attr_ints({0, 0})}}, 6));
  // Opset 8 broadcasts.
  EXPECT_EQ(values<float>(run1("Min", {f32({1, 2}), f32({1.5f})}, {}, 8)),
            (std::vector<float>{1, 1.5f}));
}

TEST(LegacyVersion1, ConsumedInputsIsIgnored) {
  const std::map<std::string, Attribute> ci = {{"consumed_inputs", attr_ints({0})}};
  const Tensor x = f32({-2, 0.5f});
  EXPECT_EQ(values<float>(run1("Relu", {x}, ci, 1)), (std::vector<float>{0, 0.5f}));
  EXPECT_EQ(values<float>(run1("Abs", {x}, ci, 1)), (std::vector<float>{2, 0.5f}));
  EXPECT_EQ(values<float>(run1("Neg", {x}, ci, 5)), (std::vector<float>{2, -0.5f}));
  EXPECT_EQ(values<float>(run1("Reciprocal", {x}, ci, 1)), (std::vector<float>{-0.5f, 2}));
  expect_values<float>(run1("LeakyRelu", {x}, ci, 1), {-0.02f, 0.5f}, 1e-6);
  expect_values<float>(run1("Sqrt", {f32({4, 0.25f})}, ci, 1), {2, 0.5f}, 0.0);
  for (const char* op : {"Relu", "Abs", "Neg", "Sigmoid", "Tanh", "Sqrt", "Exp", "Log",
                         "Reciprocal", "Elu", "LeakyRelu", "HardSigmoid", "Selu"}) {
    SCOPED_TRACE(op);
    EXPECT_NO_THROW(run_op(make_call(op, {x}, ci, 1)));
    expect_node_error(make_call(op, {x}, ci, 6));  // removed in version 6
  }
}

TEST(LegacyVersion1, SeluDefaults) {
  // Selu-1's defaults were alpha 1.6732, gamma 1.0507; version 6 has 1.67326319..., 1.05070102...
  // (gamma differs by 1e-6 relative, alpha by 4e-5).
  expect_values<float>(run1("Selu", {f32({1000})}, {}, 1), {1.0507f * 1000.0f}, 1e-7);
  expect_values<float>(run1("Selu", {f32({-1})}, {}, 1),
                       {1.0507f * (1.6732f * float(std::expm1(-1.0)))}, 1e-6);
  expect_values<float>(run1("Selu", {f32({1000})}, {}, 6), {1050.70102214813232421875f}, 1e-7);
}

TEST(LegacyVersion1, ReshapeShapeAttribute) {
  // 0 copies the input dim, -1 is inferred: [2,3,2] -> [2,6].
  const Tensor y = run1("Reshape", {iota({2, 3, 2})}, {{"shape", attr_ints({0, -1})}}, 1);
  EXPECT_EQ(y.shape(), (Shape{2, 6}));
  EXPECT_EQ(values<float>(y), values<float>(iota({2, 3, 2})));
  expect_node_error(make_call("Reshape", {iota({2, 3})}, {{"shape", attr_ints({4, 2})}}, 1));
  expect_node_error(make_call("Reshape", {iota({2, 3})}, {}, 1));  // shape is required
  // From version 5 the shape is an input and the attribute is an error.
  expect_node_error(make_call("Reshape", {iota({2, 3}), vec<std::int64_t>({3, 2})},
                              {{"shape", attr_ints({3, 2})}}, 5));
}

TEST(LegacyVersion1, ConcatDefaultAxis) {
  const Tensor y =
      run1("Concat", {shaped<float>({1, 2}, {1, 2}), shaped<float>({1, 1}, {3})}, {}, 1);
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 2, 3}));
  expect_node_error(
      make_call("Concat", {shaped<float>({1, 2}, {1, 2}), shaped<float>({1, 1}, {3})}, {}, 4));
}

TEST(LegacyVersion1, InstanceNormalizationConsumedInputs) {
  // Channel 0 of [1,1,2]: mean 2, variance 1, epsilon 0: (x - 2) * 2 + 1.
  const Tensor y =
      run1("InstanceNormalization", {shaped<float>({1, 1, 2}, {1, 3}), f32({2}), f32({1})},
           {{"consumed_inputs", attr_ints({0})}, {"epsilon", attr_float(0.0f)}}, 1);
  expect_values<float>(y, {-1, 3}, 1e-6);
  expect_node_error(make_call("InstanceNormalization",
                              {shaped<float>({1, 1, 2}, {1, 3}), f32({2}), f32({1})},
                              {{"consumed_inputs", attr_ints({0})}}, 6));
}

TEST(LegacyLoader, OldOpsetModelsLoadWhenEveryOpHasARow) {
  const std::string dir = temp_dir("legacy_opsets");
  {
    // Opset 6: Add with axis broadcasting, then Relu (row since 6).
    OnnxBuilder b(6, 3);
    b.input("x", {2, 3}).initializer("b", {3}, {1, -10, 1}).output("y");
    onnx::NodeProto& add = b.node("Add", {"x", "b"}, {"s"});
    OnnxBuilder::set_int(add, "broadcast", 1);
    OnnxBuilder::set_int(add, "axis", 1);
    b.node("Relu", {"s"}, {"y"});
    auto session = Session::create(load_onnx(b.save(dir + "/add6.onnx")));
    const std::vector<Tensor> in = {iota({2, 3})};
    std::vector<Tensor> out;
    ASSERT_TRUE(session->run_once(in, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 0, 3, 4, 0, 6}));
  }
  {
    // Opset 4: Reshape-1 takes its shape as an attribute.
    OnnxBuilder b(4, 3);
    b.input("x", {2, 3}).output("y");
    onnx::NodeProto& r = b.node("Reshape", {"x"}, {"y"});
    OnnxBuilder::set_ints(r, "shape", {3, -1});
    auto session = Session::create(load_onnx(b.save(dir + "/reshape4.onnx")));
    const std::vector<Tensor> in = {iota({2, 3})};
    std::vector<Tensor> out;
    ASSERT_TRUE(session->run_once(in, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].shape(), (Shape{3, 2}));
    EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  }
  {
    // Opset 6: Upsample has no row before version 7 (version 1 was an experimental op with other
    // attributes), so loading fails with an error naming the op instead of misreading the node.
    OnnxBuilder b(6, 3);
    b.input("x", {1, 1, 2, 2}).output("y");
    b.node("Upsample", {"x"}, {"y"});
    EXPECT_THROW(Session::create(load_onnx(b.save(dir + "/upsample6.onnx"))), UnsupportedError);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnnfi::test
