// Tests of mvn.cpp (MeanVarianceNormalization), det.cpp (Det) and window.cpp (HannWindow,
// HammingWindow, BlackmanWindow): hand-computed goldens, load- and run-time errors and the ONNX
// backend node cases.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/onnx_node_case.h"
#include "ops/op_test_util.h"

namespace dnnfi::test {
namespace {

Tensor size_i64(std::int64_t v) { return make_tensor<std::int64_t>({}, {v}); }

// A window op: its only input (size) is a constant.
OpCall window_call(const std::string& op, Tensor size,
                   std::map<std::string, Attribute> attrs = {}) {
  OpCall c = make_call(op, {std::move(size)}, std::move(attrs), 17);
  c.constant = {true};
  return c;
}

// ---- MeanVarianceNormalization -----------------------------------------------------------------

TEST(MeanVarianceNormalization, DefaultAxes) {
  // One channel holding 1..8: mean 4.5, variance 5.25, std 2.29128785.
  const Tensor x = f32({2, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  expect_floats(run1(make_call("MeanVarianceNormalization", {x})), {2, 1, 2, 2},
                {-1.52752523f, -1.09108945f, -0.65465367f, -0.21821789f, 0.21821789f, 0.65465367f,
                 1.09108945f, 1.52752523f});
}

TEST(MeanVarianceNormalization, OtherAxesAndConstantRows) {
  // Row 0: mean 2, std 1. Row 1 is constant: 0 / (0 + 1e-9) = 0.
  const Tensor x = f32({2, 2}, {1, 3, 2, 2});
  expect_floats(run1(make_call("MeanVarianceNormalization", {x}, {{"axes", attr_ints({1})}})),
                {2, 2}, {-1, 1, 0, 0});
  // Columns: [1, 2] and [3, 2], each with mean +-0.5 deviations.
  expect_floats(run1(make_call("MeanVarianceNormalization", {x}, {{"axes", attr_ints({-2})}}, 9)),
                {2, 2}, {-1, 1, 1, -1});
  EXPECT_THROW(run_op(make_call("MeanVarianceNormalization", {x}, {{"axes", attr_ints({2})}})),
               NodeError);
  EXPECT_THROW(run_op(make_call("MeanVarianceNormalization", {x}, {{"axes", attr_ints({0, -2})}})),
               NodeError);
}

// ---- Det ---------------------------------------------------------------------------------------

TEST(Det, HandComputed) {
  expect_floats(run1(make_call("Det", {f32({2, 2}, {1, 2, 3, 4})}, {}, 11)), {}, {-2});
  expect_floats(
      run1(make_call("Det", {f32({3, 2, 2}, {1, 2, 3, 4, 1, 2, 2, 1, 1, 3, 3, 1})}, {}, 11)), {3},
      {-2, -3, -8});
  // Singular; a row swap (zero leading pivot); 3x3 by cofactors: 2*(6-2) - 0 + 1*(1-3) = 6.
  expect_floats(run1(make_call("Det", {f32({2, 2}, {1, 2, 2, 4})}, {}, 11)), {}, {0});
  expect_floats(run1(make_call("Det", {f32({2, 2}, {0, 1, 1, 0})}, {}, 11)), {}, {-1});
  expect_floats(run1(make_call("Det", {f32({3, 3}, {2, 0, 1, 1, 3, 2, 1, 1, 2})}, {}, 11)), {}, {6},
                1e-5);
  const Tensor d = run1(make_call("Det", {make_tensor<double>({1, 1}, {-2.5})}, {}, 11));
  EXPECT_EQ(d.data<double>()[0], -2.5);
  EXPECT_THROW(run_op(make_call("Det", {f32({2, 3}, {1, 2, 3, 4, 5, 6})}, {}, 11)), NodeError);
  EXPECT_THROW(run_op(make_call("Det", {f32({3}, {1, 2, 3})}, {}, 11)), NodeError);
}

// ---- Windows -----------------------------------------------------------------------------------

TEST(Window, PeriodicAndSymmetric) {
  expect_floats(run1(window_call("HannWindow", size_i64(4))), {4}, {0, 0.5f, 1, 0.5f});
  expect_floats(run1(window_call("HannWindow", size_i64(5), {{"periodic", attr_int(0)}})), {5},
                {0, 0.5f, 1, 0.5f, 0});
  // 25/46 - 21/46 cos(2 pi n / 4)
  expect_floats(run1(window_call("HammingWindow", make_tensor<std::int32_t>({}, {4}))), {4},
                {4.0f / 46, 25.0f / 46, 1, 25.0f / 46});
  // 0.42 - 0.5 cos(2 pi n / 4) + 0.08 cos(4 pi n / 4)
  expect_floats(run1(window_call("BlackmanWindow", size_i64(4))), {4}, {0, 0.34f, 1, 0.34f});
  const Tensor d =
      run1(window_call("BlackmanWindow", size_i64(3), {{"output_datatype", attr_int(11)}}));
  ASSERT_EQ(d.dtype(), DType::kFloat64);
  EXPECT_NEAR(d.data<double>()[1], 0.42 + 0.25 + 0.08 * -0.5, 1e-12);
  EXPECT_EQ(run1(window_call("HannWindow", size_i64(0))).shape(), (Shape{0}));
}

TEST(Window, Errors) {
  EXPECT_THROW(run_op(window_call("HannWindow", size_i64(-1))), NodeError);
  EXPECT_THROW(run_op(window_call("HannWindow", size_i64(4), {{"output_datatype", attr_int(7)}})),
               UnsupportedError);
  OpCall dynamic = window_call("HammingWindow", size_i64(4));
  dynamic.constant = {false};
  EXPECT_THROW(run_op(dynamic), NodeError);
  const OpCall call = window_call("HannWindow", size_i64(4));
  PreparedOp op(call);
  EXPECT_TRUE(op.run(call.inputs).status.is_ok());
  EXPECT_FALSE(op.run({size_i64(5)}).status.is_ok());
}

TEST(MvnDetWindow, OnnxNodeCases) {
  for (const char* name : {"test_mvn", "test_det_2d", "test_det_nd"}) {
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
  for (const char* name :
       {"test_hannwindow", "test_hannwindow_symmetric", "test_hammingwindow",
        "test_hammingwindow_symmetric", "test_blackmanwindow", "test_blackmanwindow_symmetric"}) {
    SCOPED_TRACE(name);
    std::optional<NodeCase> c = load_node_case(name);
    ASSERT_TRUE(c) << name;
    c->call.constant = {true};  // the size input sets the output shape
    OpResult r = run_op(c->call);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    ASSERT_EQ(r.outputs.size(), 1u);
    // The generator uses pi = 3.1415: the ONNX runner's tolerances (rtol 1e-3, atol 1e-7) absorb
    // it.
    EXPECT_EQ(compare_close(r.outputs[0], c->expected[0], 1e-3, 1e-7), "");
  }
}

}  // namespace
}  // namespace dnnfi::test
