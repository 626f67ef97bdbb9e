// Tests of hardmax.cpp, cumsum.cpp and topk.cpp: hand-computed goldens (ties, NaN, strided axes,
// opset-dependent semantics), constant-input checks at load and run time, thread-count
// independence and the ONNX backend node cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/kernel_harness.h"
#include "ops/onnx_node_case.h"

namespace dnnfi::test {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor f32(Shape shape, std::vector<float> v) { return make_tensor<float>(std::move(shape), v); }
Tensor i64(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return make_tensor<std::int64_t>({n}, v);
}
Tensor scalar_i64(std::int64_t v) { return make_tensor<std::int64_t>({}, {v}); }

OpCall make_call(const std::string& op, std::vector<std::optional<Tensor>> inputs,
                 std::map<std::string, Attribute> attrs = {}, std::int64_t opset = 13) {
  OpCall c;
  c.op_type = op;
  c.inputs = std::move(inputs);
  c.attributes = std::move(attrs);
  c.opset = opset;
  return c;
}

std::vector<Tensor> run(const OpCall& call) {
  OpResult r = run_op(call);
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  return r.outputs;
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), dtype_of<T>());
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// Float comparison where NaN equals NaN.
void expect_floats(const Tensor& t, Shape shape, std::vector<float> expected) {
  ASSERT_EQ(t.shape(), shape);
  const std::vector<float> v = values<float>(t);
  ASSERT_EQ(v.size(), expected.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(v[i])) << "element " << i;
    } else {
      EXPECT_EQ(v[i], expected[i]) << "element " << i;
    }
  }
}

// ---- Hardmax -----------------------------------------------------------------------------------

TEST(Hardmax, LastAxisTiesAndNaN) {
  const Tensor x = f32({4, 4}, {3, 0, 1, 2, 2, 5, 1, 0, 0, 1, 3, 2, 0, 1, 2, 3});
  expect_floats(run(make_call("Hardmax", {x}))[0], {4, 4},
                {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1});
  // The first maximum wins; NaN counts as the largest.
  expect_floats(run(make_call("Hardmax", {f32({2, 4}, {3, 3, 3, 1, 1, kNaN, 5, kNaN})}))[0], {2, 4},
                {1, 0, 0, 0, 0, 1, 0, 0});
}

TEST(Hardmax, AxisBeforeAndFromOpset13) {
  const Tensor x = f32({2, 2, 2}, {1, 4, 3, 2, 5, 0, 0, 6});
  // Opset 13: slices along axis 1.
  expect_floats(run(make_call("Hardmax", {x}, {{"axis", attr_int(1)}}))[0], {2, 2, 2},
                {0, 1, 1, 0, 1, 0, 0, 1});
  // Before opset 13: rows of the [2, 4] matrix from axis 1 (the default).
  expect_floats(run(make_call("Hardmax", {x}, {}, 11))[0], {2, 2, 2}, {0, 1, 0, 0, 0, 0, 0, 1});
  expect_floats(run(make_call("Hardmax", {x}, {{"axis", attr_int(0)}}, 11))[0], {2, 2, 2},
                {0, 0, 0, 0, 0, 0, 0, 1});
  EXPECT_THROW(run_op(make_call("Hardmax", {x}, {{"axis", attr_int(3)}})), NodeError);
  EXPECT_THROW(run_op(make_call("Hardmax", {make_tensor<std::int32_t>({2}, {1, 2})})),
               UnsupportedError);
  expect_deterministic_concurrent(
      make_call("Hardmax", {random_tensor({64, 100, 30}, 3)}, {{"axis", attr_int(1)}}));
}

// ---- CumSum ------------------------------------------------------------------------------------

TEST(CumSum, ExclusiveAndReverse) {
  const Tensor x = f32({5}, {1, 2, 3, 4, 5});
  OpCall call = make_call("CumSum", {x, scalar_i64(0)}, {}, 14);
  expect_floats(run(call)[0], {5}, {1, 3, 6, 10, 15});
  call.attributes = {{"exclusive", attr_int(1)}};
  expect_floats(run(call)[0], {5}, {0, 1, 3, 6, 10});
  call.attributes = {{"reverse", attr_int(1)}};
  expect_floats(run(call)[0], {5}, {15, 14, 12, 9, 5});
  call.attributes = {{"reverse", attr_int(1)}, {"exclusive", attr_int(1)}};
  expect_floats(run(call)[0], {5}, {14, 12, 9, 5, 0});
}

TEST(CumSum, AxesAndDtypes) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_floats(run(make_call("CumSum", {x, scalar_i64(0)}, {}, 14))[0], {2, 3},
                {1, 2, 3, 5, 7, 9});
  expect_floats(run(make_call("CumSum", {x, make_tensor<std::int32_t>({1}, {1})}, {}, 14))[0],
                {2, 3}, {1, 3, 6, 4, 9, 15});
  expect_floats(run(make_call("CumSum", {x, scalar_i64(-1)}, {}, 11))[0], {2, 3},
                {1, 3, 6, 4, 9, 15});
  const Tensor xi = make_tensor<std::int64_t>({2, 2}, {7, -3, 1, 10});
  EXPECT_EQ(values<std::int64_t>(
                run(make_call("CumSum", {xi, scalar_i64(0)}, {{"reverse", attr_int(1)}}, 14))[0]),
            (std::vector<std::int64_t>{8, 7, 1, 10}));
}

TEST(CumSum, AxisMustBeConstantAndUnchanged) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op(make_call("CumSum", {x, scalar_i64(2)}, {}, 14)), NodeError);
  EXPECT_THROW(run_op(make_call("CumSum", {x, i64({0, 1})}, {}, 14)), NodeError);
  OpCall dynamic = make_call("CumSum", {x, scalar_i64(0)}, {}, 14);
  dynamic.constant = {false, false};
  EXPECT_THROW(run_op(dynamic), NodeError);
  // A corrupted axis at run time is an error, not a sum along another dimension.
  const OpCall call = make_call("CumSum", {x, scalar_i64(1)}, {}, 14);
  PreparedOp op(call);
  EXPECT_TRUE(op.run(call.inputs).status.is_ok());
  EXPECT_FALSE(op.run({x, scalar_i64(0)}).status.is_ok());
  EXPECT_FALSE(op.run({x, scalar_i64(1LL << 40)}).status.is_ok());
  expect_deterministic_concurrent(
      make_call("CumSum", {random_tensor({64, 100, 30}, 4), scalar_i64(1)}, {}, 14));
}

// ---- TopK --------------------------------------------------------------------------------------

TEST(TopK, LargestSmallestAndTies) {
  const Tensor x = f32({5}, {3, 1, 3, 2, 1});
  std::vector<Tensor> out = run(make_call("TopK", {x, i64({3})}, {}, 11));
  ASSERT_EQ(out.size(), 2u);
  expect_floats(out[0], {3}, {3, 3, 2});
  EXPECT_EQ(values<std::int64_t>(out[1]), (std::vector<std::int64_t>{0, 2, 3}));
  out = run(make_call("TopK", {x, i64({3})}, {{"largest", attr_int(0)}}, 11));
  expect_floats(out[0], {3}, {1, 1, 2});
  EXPECT_EQ(values<std::int64_t>(out[1]), (std::vector<std::int64_t>{1, 4, 3}));
  // NaN is the largest value.
  const Tensor xn = f32({3}, {1, kNaN, 3});
  out = run(make_call("TopK", {xn, i64({2})}, {}, 11));
  expect_floats(out[0], {2}, {kNaN, 3});
  EXPECT_EQ(values<std::int64_t>(out[1]), (std::vector<std::int64_t>{1, 2}));
  out = run(make_call("TopK", {xn, i64({2})}, {{"largest", attr_int(0)}}, 11));
  expect_floats(out[0], {2}, {1, 3});
  EXPECT_EQ(values<std::int64_t>(out[1]), (std::vector<std::int64_t>{0, 2}));
}

TEST(TopK, StridedAxisOpsetsAndEmptyK) {
  const Tensor x = f32({3, 2}, {1, 5, 4, 2, 3, 6});
  std::vector<Tensor> out = run(make_call("TopK", {x, i64({2})}, {{"axis", attr_int(0)}}, 10));
  expect_floats(out[0], {2, 2}, {4, 6, 3, 5});
  EXPECT_EQ(values<std::int64_t>(out[1]), (std::vector<std::int64_t>{1, 2, 2, 0}));
  // Opset 1: k is an attribute; the default axis is the last.
  out = run(make_call("TopK", {x}, {{"k", attr_int(1)}}, 9));
  expect_floats(out[0], {3, 1}, {5, 4, 6});
  EXPECT_EQ(values<std::int64_t>(out[1]), (std::vector<std::int64_t>{1, 0, 1}));
  out = run(make_call("TopK", {x, i64({0})}, {}, 11));
  EXPECT_EQ(out[0].shape(), (Shape{3, 0}));
  const Tensor xi = make_tensor<std::int32_t>({4}, {-5, 9, 0, 9});
  out = run(make_call("TopK", {xi, i64({2})}, {}, 11));
  EXPECT_EQ(values<std::int32_t>(out[0]), (std::vector<std::int32_t>{9, 9}));
  EXPECT_EQ(values<std::int64_t>(out[1]), (std::vector<std::int64_t>{1, 3}));
}

TEST(TopK, KMustBeConstantInRangeAndUnchanged) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op(make_call("TopK", {x, i64({4})}, {}, 11)), NodeError);
  EXPECT_THROW(run_op(make_call("TopK", {x, i64({-1})}, {}, 11)), NodeError);
  EXPECT_THROW(run_op(make_call("TopK", {x, i64({1})}, {{"axis", attr_int(2)}}, 11)), NodeError);
  EXPECT_THROW(run_op(make_call("TopK", {x, i64({1})}, {{"largest", attr_int(0)}}, 10)), NodeError);
  OpCall dynamic = make_call("TopK", {x, i64({1})}, {}, 11);
  dynamic.constant = {false, false};
  EXPECT_THROW(run_op(dynamic), NodeError);
  const OpCall call = make_call("TopK", {x, i64({2})}, {}, 11);
  PreparedOp op(call);
  EXPECT_TRUE(op.run(call.inputs).status.is_ok());
  EXPECT_FALSE(op.run({x, i64({3})}).status.is_ok());
  OpCall big =
      make_call("TopK", {random_tensor({64, 100, 30}, 6), i64({7})}, {{"axis", attr_int(1)}}, 11);
  big.num_outputs = 2;
  expect_deterministic_concurrent(big);
}

TEST(SelectScan, OnnxNodeCases) {
  for (const char* name :
       {"test_hardmax_axis_0", "test_hardmax_axis_1", "test_hardmax_axis_2",
        "test_hardmax_default_axis", "test_hardmax_example", "test_hardmax_negative_axis",
        "test_hardmax_one_hot", "test_cumsum_1d", "test_cumsum_1d_exclusive",
        "test_cumsum_1d_reverse", "test_cumsum_1d_reverse_exclusive", "test_cumsum_2d_axis_0",
        "test_cumsum_2d_axis_1", "test_cumsum_2d_negative_axis", "test_top_k",
        "test_top_k_negative_axis", "test_top_k_smallest"}) {
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
}

}  // namespace
}  // namespace dnnfi::test
