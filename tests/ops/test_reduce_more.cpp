// Tests of the reduce.cpp family beyond ReduceMean/ReduceSum/ReduceMax (those are in
// test_softmax_reduce.cpp): ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
// ReduceLogSum, ReduceLogSumExp and ArgMin. Hand-computed goldens, empty reductions, NaN/Inf,
// integer dtypes, the opset-18 axes input, load- and run-time errors, thread-count independence
// and the ONNX backend node cases.
#include <gtest/gtest.h>

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

template <typename T>
std::vector<T> values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), dtype_of<T>());
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// x = [[1, -2, 3], [4, 5, -6]]
const Tensor& sample() {
  static const Tensor x = f32({2, 3}, {1, -2, 3, 4, 5, -6});
  return x;
}

// ---- Reduce* -----------------------------------------------------------------------------------

TEST(ReduceMore, RowsHandComputed) {
  const std::map<std::string, Attribute> rows = {{"axes", attr_ints({1})},
                                                 {"keepdims", attr_int(0)}};
  expect_floats(run1(make_call("ReduceMin", {sample()}, rows)), {2}, {-2, -6});
  expect_floats(run1(make_call("ReduceProd", {sample()}, rows)), {2}, {-6, -120});
  expect_floats(run1(make_call("ReduceL1", {sample()}, rows)), {2}, {6, 15});
  // sqrt(1 + 4 + 9), sqrt(16 + 25 + 36)
  expect_floats(run1(make_call("ReduceL2", {sample()}, rows)), {2}, {3.74165739f, 8.77496439f});
  expect_floats(run1(make_call("ReduceSumSquare", {sample()}, rows)), {2}, {14, 77});
  // log(e + e^-2 + e^3), log(e^4 + e^5 + e^-6)
  expect_floats(run1(make_call("ReduceLogSumExp", {sample()}, rows)), {2},
                {3.13284523f, 5.3132739f});
  // log(1 + 2 + 3), log(4 + 5 + 6)
  expect_floats(run1(make_call("ReduceLogSum", {f32({2, 3}, {1, 2, 3, 4, 5, 6})}, rows)), {2},
                {1.79175947f, 2.7080502f});
}

TEST(ReduceMore, ColumnsAllAxesAndNegativeAxes) {
  // Columns, kept dims.
  expect_floats(run1(make_call("ReduceMin", {sample()}, {{"axes", attr_ints({0})}})), {1, 3},
                {1, -2, -6});
  expect_floats(run1(make_call("ReduceL2", {sample()}, {{"axes", attr_ints({-2})}})), {1, 3},
                {4.12310563f, 5.38516481f, 6.70820393f});
  // No axes: everything.
  expect_floats(run1(make_call("ReduceProd", {sample()})), {1, 1}, {720});
  expect_floats(run1(make_call("ReduceLogSumExp", {sample()}, {{"keepdims", attr_int(0)}})), {},
                {5.42032676f});
  expect_floats(run1(make_call("ReduceL1", {sample()}, {{"axes", attr_ints({0, 1})}})), {1, 1},
                {21});
}

TEST(ReduceMore, LogSumExpIsStableAndKeepsInfNaN) {
  const std::map<std::string, Attribute> rows = {{"axes", attr_ints({1})},
                                                 {"keepdims", attr_int(0)}};
  // 1000 + log 2 and -1000 + log 2: no overflow or underflow to +-inf.
  expect_floats(
      run1(make_call("ReduceLogSumExp",
                     {f32({4, 2}, {1000, 1000, -1000, -1000, -kInf, -kInf, 1, kInf})}, rows)),
      {4}, {1000.693147f, -999.306853f, -kInf, kInf});
  expect_floats(run1(make_call("ReduceLogSumExp", {f32({2, 2}, {kNaN, 1, 1, kNaN})}, rows)), {2},
                {kNaN, kNaN});
  expect_floats(run1(make_call("ReduceMin", {f32({2, 3}, {3, kNaN, -1, -kInf, 2, 0})}, rows)), {2},
                {kNaN, -kInf});
  expect_floats(run1(make_call("ReduceLogSum", {f32({1, 2}, {0, 0})}, rows)), {1}, {-kInf});
}

TEST(ReduceMore, EmptyReductionGivesIdentity) {
  const Tensor empty(DType::kFloat32, {2, 0});
  const std::map<std::string, Attribute> rows = {{"axes", attr_ints({1})},
                                                 {"keepdims", attr_int(0)}};
  expect_floats(run1(make_call("ReduceMin", {empty}, rows)), {2}, {kInf, kInf});
  expect_floats(run1(make_call("ReduceProd", {empty}, rows)), {2}, {1, 1});
  expect_floats(run1(make_call("ReduceL1", {empty}, rows)), {2}, {0, 0});
  expect_floats(run1(make_call("ReduceL2", {empty}, rows)), {2}, {0, 0});
  expect_floats(run1(make_call("ReduceSumSquare", {empty}, rows)), {2}, {0, 0});
  expect_floats(run1(make_call("ReduceLogSum", {empty}, rows)), {2}, {-kInf, -kInf});
  expect_floats(run1(make_call("ReduceLogSumExp", {empty}, rows)), {2}, {-kInf, -kInf});
}

TEST(ReduceMore, IntegerDtypes) {
  const std::map<std::string, Attribute> all = {{"keepdims", attr_int(0)}};
  EXPECT_EQ(values<std::int32_t>(run1(
                make_call("ReduceProd", {make_tensor<std::int32_t>({2, 2}, {2, 3, 4, -5})}, all))),
            std::vector<std::int32_t>{-120});
  EXPECT_EQ(values<std::int64_t>(
                run1(make_call("ReduceL1", {make_tensor<std::int64_t>({3}, {-3, 4, -10})}, all))),
            std::vector<std::int64_t>{17});
  EXPECT_EQ(values<std::int64_t>(run1(
                make_call("ReduceSumSquare", {make_tensor<std::int64_t>({3}, {-3, 4, -10})}, all))),
            std::vector<std::int64_t>{125});
  EXPECT_EQ(values<std::int8_t>(run1(
                make_call("ReduceMin", {make_tensor<std::int8_t>({4}, {5, -128, 7, 0})}, all))),
            std::vector<std::int8_t>{-128});
  EXPECT_EQ(values<std::uint8_t>(
                run1(make_call("ReduceMin", {make_tensor<std::uint8_t>({3}, {200, 9, 255})}, all))),
            std::vector<std::uint8_t>{9});
  // The empty minimum of an integer type is its largest value.
  EXPECT_EQ(values<std::int32_t>(run1(make_call("ReduceMin", {Tensor(DType::kInt32, {0})}, all))),
            std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::max()});
}

TEST(ReduceMore, AxesInputFromOpset18) {
  OpCall call = make_call("ReduceMin", {sample(), i64({1})}, {{"keepdims", attr_int(0)}}, 18);
  expect_floats(run1(call), {2}, {-2, -6});
  call.op_type = "ReduceSumSquare";
  expect_floats(run1(call), {2}, {14, 77});
  // Omitted axes: everything, or nothing with noop_with_empty_axes=1.
  OpCall noop = make_call("ReduceL1", {sample()}, {{"noop_with_empty_axes", attr_int(1)}}, 18);
  expect_floats(run1(noop), {2, 3}, {1, -2, 3, 4, 5, -6});
  noop.attributes.clear();
  expect_floats(run1(noop), {1, 1}, {21});
  // An empty axes tensor is the same as no axes.
  OpCall empty_axes = make_call("ReduceProd", {sample(), Tensor(DType::kInt64, {0})},
                                {{"noop_with_empty_axes", attr_int(1)}}, 18);
  expect_floats(run1(empty_axes), {2, 3}, {1, -2, 3, 4, 5, -6});
}

TEST(ReduceMore, LoadTimeErrors) {
  const Tensor xi = make_tensor<std::int32_t>({2}, {1, 2});
  // Integer L2 / LogSum / LogSumExp are valid ONNX but not implemented: unsupported, not wrong.
  for (const char* op : {"ReduceL2", "ReduceLogSum", "ReduceLogSumExp"}) {
    EXPECT_THROW(run_op(make_call(op, {xi})), UnsupportedError) << op;
  }
  EXPECT_THROW(run_op(make_call("ReduceMin", {sample()}, {{"axes", attr_ints({2})}})), NodeError);
  EXPECT_THROW(run_op(make_call("ReduceProd", {sample()}, {{"axes", attr_ints({0, -2})}})),
               NodeError);
  // Before opset 18 axes is an attribute: an axes input or noop_with_empty_axes is an error.
  EXPECT_THROW(run_op(make_call("ReduceL1", {sample(), i64({1})})), NodeError);
  EXPECT_THROW(run_op(make_call("ReduceL1", {sample()}, {{"noop_with_empty_axes", attr_int(1)}})),
               NodeError);
  // From opset 18 the axes attribute is gone, and the axes input must be constant.
  EXPECT_THROW(run_op(make_call("ReduceMin", {sample()}, {{"axes", attr_ints({1})}}, 18)),
               NodeError);
  OpCall dynamic = make_call("ReduceMin", {sample(), i64({1})}, {}, 18);
  dynamic.constant = {false, false};
  EXPECT_THROW(run_op(dynamic), NodeError);
}

TEST(ReduceMore, CorruptedAxesInputIsARunTimeError) {
  const OpCall call = make_call("ReduceLogSumExp", {sample(), i64({1})}, {}, 18);
  PreparedOp op(call);
  EXPECT_TRUE(op.run(call.inputs).status.is_ok());
  OpResult r = op.run({sample(), i64({0})});
  EXPECT_FALSE(r.status.is_ok());
  r = op.run({sample(), i64({1, 0})});
  EXPECT_FALSE(r.status.is_ok());
}

TEST(ReduceMore, ThreadCountIndependent) {
  for (const char* op : {"ReduceLogSumExp", "ReduceL2", "ReduceProd", "ReduceMin"}) {
    SCOPED_TRACE(op);
    expect_deterministic_concurrent(
        make_call(op, {random_tensor({32, 40, 30}, 7)}, {{"axes", attr_ints({1})}}));
    expect_deterministic_concurrent(
        make_call(op, {random_tensor({32, 40, 30}, 8)}, {{"axes", attr_ints({0, 2})}}));
  }
}

TEST(ReduceMore, OnnxNodeCases) {
  const std::vector<std::string> names = {"l1_default_axes_keepdims_example",
                                          "l1_default_axes_keepdims_random",
                                          "l1_do_not_keepdims_example",
                                          "l1_do_not_keepdims_random",
                                          "l1_keep_dims_example",
                                          "l1_keep_dims_random",
                                          "l1_negative_axes_keep_dims_example",
                                          "l1_negative_axes_keep_dims_random",
                                          "l2_default_axes_keepdims_example",
                                          "l2_default_axes_keepdims_random",
                                          "l2_do_not_keepdims_example",
                                          "l2_do_not_keepdims_random",
                                          "l2_keep_dims_example",
                                          "l2_keep_dims_random",
                                          "l2_negative_axes_keep_dims_example",
                                          "l2_negative_axes_keep_dims_random",
                                          "log_sum_asc_axes",
                                          "log_sum_default",
                                          "log_sum_desc_axes",
                                          "log_sum_negative_axes",
                                          "log_sum_exp_default_axes_keepdims_example",
                                          "log_sum_exp_default_axes_keepdims_random",
                                          "log_sum_exp_do_not_keepdims_example",
                                          "log_sum_exp_do_not_keepdims_random",
                                          "log_sum_exp_keepdims_example",
                                          "log_sum_exp_keepdims_random",
                                          "log_sum_exp_negative_axes_keepdims_example",
                                          "log_sum_exp_negative_axes_keepdims_random"};
  std::vector<std::string> all = names;
  for (const char* op : {"min", "prod", "sum_square"}) {
    for (const char* suffix :
         {"default_axes_keepdims_example", "default_axes_keepdims_random",
          "do_not_keepdims_example", "do_not_keepdims_random", "keepdims_example",
          "keepdims_random", "negative_axes_keepdims_example", "negative_axes_keepdims_random"}) {
      all.push_back(std::string(op) + "_" + suffix);
    }
  }
  for (const std::string& n : all) {
    const std::string name = "test_reduce_" + n;
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
  // Opset 6 is below the engine's supported opsets; run the node directly (same semantics).
  expect_node_case("test_reduce_log_sum");
}

// ---- ArgMin ------------------------------------------------------------------------------------

TEST(ArgMin, FirstOrLastIndexAndNaN) {
  const Tensor x = f32({3, 4}, {2, 1, 1, 3, 0, 5, 0, 9, 4, kNaN, -9, kNaN});
  OpCall call = make_call("ArgMin", {x}, {{"axis", attr_int(1)}});
  Tensor y = run1(call);
  EXPECT_EQ(y.shape(), (Shape{3, 1}));
  // Ties: the first; NaN counts as the minimum (numpy.argmin).
  EXPECT_EQ(values<std::int64_t>(y), (std::vector<std::int64_t>{1, 0, 1}));
  call.attributes["select_last_index"] = attr_int(1);
  EXPECT_EQ(values<std::int64_t>(run1(call)), (std::vector<std::int64_t>{2, 2, 3}));
  call.attributes = {{"axis", attr_int(0)}, {"keepdims", attr_int(0)}};
  y = run1(call);
  EXPECT_EQ(y.shape(), (Shape{4}));
  EXPECT_EQ(values<std::int64_t>(y), (std::vector<std::int64_t>{1, 2, 2, 2}));
  const Tensor xi = make_tensor<std::int64_t>({2, 2}, {4, 7, 4, -1});
  EXPECT_EQ(values<std::int64_t>(run1(make_call("ArgMin", {xi}))),
            (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(
      values<std::int64_t>(run1(make_call("ArgMin", {xi}, {{"select_last_index", attr_int(1)}}))),
      (std::vector<std::int64_t>{1, 1}));
}

TEST(ArgMin, LoadTimeErrors) {
  const Tensor x = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op(make_call("ArgMin", {x}, {{"axis", attr_int(-3)}})), NodeError);
  EXPECT_THROW(run_op(make_call("ArgMin", {x}, {{"select_last_index", attr_int(1)}}, 11)),
               NodeError);
  EXPECT_THROW(
      run_op(make_call("ArgMin", {Tensor(DType::kFloat32, {2, 0})}, {{"axis", attr_int(1)}})),
      NodeError);
  expect_deterministic_concurrent(
      make_call("ArgMin", {random_tensor({64, 100, 30}, 5)}, {{"axis", attr_int(1)}}));
}

TEST(ArgMin, OnnxNodeCases) {
  for (const char* suffix :
       {"default_axis_example", "default_axis_random", "keepdims_example", "keepdims_random",
        "negative_axis_keepdims_example", "negative_axis_keepdims_random", "no_keepdims_example",
        "no_keepdims_random"}) {
    for (const char* last : {"", "_select_last_index"}) {
      const std::string name = std::string("test_argmin_") + suffix + last;
      SCOPED_TRACE(name);
      expect_node_case(name);
    }
  }
}

}  // namespace
}  // namespace dnnfi::test
