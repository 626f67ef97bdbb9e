// Tests of softmax.cpp (Softmax, LogSoftmax) and reduce.cpp (ReduceMean, ReduceSum, ReduceMax,
// ArgMax): hand-computed goldens, opset-dependent semantics, optimised vs reference kernels,
// brute-force reductions over every axis subset, thread-count independence, load- and run-time
// errors and the ONNX backend node cases.
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
#include "ops/registry.h"

namespace dnnfi::test {
namespace {

std::vector<std::int64_t> ints(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kInt64);
  return std::vector<std::int64_t>(t.data<std::int64_t>(), t.data<std::int64_t>() + t.numel());
}

// ---- Softmax / LogSoftmax ----------------------------------------------------------------------

TEST(Softmax, OneTwoThree) {
  for (bool reference : {false, true}) {
    OpCall call = make_call("Softmax", {f32({3}, {1, 2, 3})});
    call.reference = reference;
    expect_floats(run1(call), {3}, {0.09003057f, 0.24472847f, 0.66524096f});
    call.op_type = "LogSoftmax";
    expect_floats(run1(call), {3}, {-2.40760596f, -1.40760596f, -0.40760596f});
    // Large values are shifted by the maximum first.
    call.inputs = {f32({3}, {1001, 1002, 1003})};
    expect_floats(run1(call), {3}, {-2.40760596f, -1.40760596f, -0.40760596f});
    call.op_type = "Softmax";
    expect_floats(run1(call), {3}, {0.09003057f, 0.24472847f, 0.66524096f});
  }
}

TEST(Softmax, OpsetElevenCoercesTo2DOpsetThirteenUsesOneAxis) {
  const Tensor x = f32({1, 2, 2}, {0, 1, 2, 3});
  // Opset 11, default axis 1: one row of all four values.
  const double s = std::exp(0.0) + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  std::vector<float> all;
  for (int v = 0; v < 4; ++v) all.push_back(static_cast<float>(std::exp(double(v)) / s));
  const float a = 1.0f / (1.0f + std::exp(1.0f));  // softmax([0,1])[0]
  const float b = 1.0f / (1.0f + std::exp(2.0f));  // softmax([0,2])[0]
  for (bool reference : {false, true}) {
    OpCall o11 = make_call("Softmax", {x}, {}, 11);
    o11.reference = reference;
    expect_floats(run1(o11), {1, 2, 2}, all);
    // Opset 13, default axis -1: pairs along the last axis.
    OpCall o13 = make_call("Softmax", {x}, {}, 13);
    o13.reference = reference;
    expect_floats(run1(o13), {1, 2, 2}, {a, 1 - a, a, 1 - a});
    // Opset 13 axis 1: pairs (0,2) and (1,3), strided.
    o13.attributes["axis"] = attr_int(1);
    expect_floats(run1(o13), {1, 2, 2}, {b, b, 1 - b, 1 - b});
    // Opset 11 axis 2 == opset 13 axis 2 here (the last axis).
    o11.attributes["axis"] = attr_int(2);
    expect_floats(run1(o11), {1, 2, 2}, {a, 1 - a, a, 1 - a});
  }
}

TEST(Softmax, InfinityAndNaN) {
  for (bool reference : {false, true}) {
    OpCall call = make_call("Softmax", {f32({2, 2}, {-kInf, 0, kNaN, 1})});
    call.reference = reference;
    expect_floats(run1(call), {2, 2}, {0, 1, kNaN, kNaN});
    call.op_type = "LogSoftmax";
    expect_floats(run1(call), {2, 2}, {-kInf, 0, kNaN, kNaN});
  }
}

TEST(Softmax, OptimisedMatchesReferenceAndIsDeterministic) {
  struct Case {
    Shape shape;
    std::int64_t axis;
    std::int64_t opset;
  };
  const std::vector<Case> cases = {
      {{8, 1000}, -1, 13}, {{4, 3, 37}, 1, 13},  {{2, 150, 70}, 1, 13},    {{3, 5, 7}, 1, 11},
      {{64, 9}, 0, 13},    {{2, 3, 4, 5}, 2, 1}, {{1, 12, 64, 64}, -1, 13}};
  for (const Case& c : cases) {
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      SCOPED_TRACE(std::string(op) + " " + shape_to_string(c.shape));
      OpCall call = make_call(op, {random_tensor(c.shape, 11, -20.0f, 20.0f)},
                              {{"axis", attr_int(c.axis)}}, c.opset);
      const Tensor fast = run1(call);
      call.reference = true;
      EXPECT_EQ(compare_close(fast, run1(call), 2e-6, 1e-30), "");
      call.reference = false;
      expect_deterministic_concurrent(call);
    }
  }
  OpCall f64 = make_call("Softmax", {make_tensor<double>({2, 2}, {0, 1, 0, 2})});
  const Tensor y = run1(f64);
  ASSERT_EQ(y.dtype(), DType::kFloat64);
  EXPECT_NEAR(y.data<double>()[0], 1.0 / (1.0 + std::exp(1.0)), 1e-15);
}

// Every row width up to 70 (whole 8-lane vectors plus masked tails in the AVX2 kernel; ViT's
// attention rows are 65 wide), against the reference kernel (std::exp in double).
TEST(Softmax, ShortRowsOfEveryWidthMatchReference) {
  for (std::int64_t n = 1; n <= 70; ++n) {
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      SCOPED_TRACE(std::string(op) + " width " + std::to_string(n));
      OpCall call = make_call(
          op, {random_tensor({3, n}, static_cast<std::uint32_t>(100 + n), -20.0f, 20.0f)});
      const Tensor fast = run1(call);
      call.reference = true;
      EXPECT_EQ(compare_close(fast, run1(call), 2e-6, 1e-30), "");
    }
  }
}

// -inf and NaN in the last lanes of a row (the masked tail): -inf gives exactly 0 (LogSoftmax
// -inf) and leaves the others a softmax of their own; a NaN anywhere makes the row NaN.
TEST(Softmax, InfinityAndNaNInTailLanes) {
  std::vector<float> row(11, 0.0f);
  row[10] = -kInf;
  row[3] = std::log(2.0f);  // softmax of the ten finite values: 2/11 there, 1/11 elsewhere
  std::vector<float> nan_row(11, 1.0f);
  nan_row[9] = kNaN;
  std::vector<float> x = row;
  x.insert(x.end(), nan_row.begin(), nan_row.end());
  std::vector<float> soft(11, 1.0f / 11.0f), log_soft(11, std::log(1.0f / 11.0f));
  soft[3] = 2.0f / 11.0f;
  log_soft[3] = std::log(2.0f / 11.0f);
  soft[10] = 0.0f;
  log_soft[10] = -kInf;
  for (bool reference : {false, true}) {
    OpCall call = make_call("Softmax", {f32({2, 11}, x)});
    call.reference = reference;
    std::vector<float> expected = soft;
    expected.insert(expected.end(), 11, kNaN);
    expect_floats(run1(call), {2, 11}, expected);
    call.op_type = "LogSoftmax";
    expected = log_soft;
    expected.insert(expected.end(), 11, kNaN);
    expect_floats(run1(call), {2, 11}, expected);
  }
}

TEST(Softmax, LoadTimeErrors) {
  EXPECT_THROW(run_op(make_call("Softmax", {f32({2, 2}, {1, 2, 3, 4})}, {{"axis", attr_int(2)}})),
               NodeError);
  EXPECT_THROW(run_op(make_call("Softmax", {f32({2, 2}, {1, 2, 3, 4})}, {{"axis", attr_int(-3)}})),
               NodeError);
  EXPECT_THROW(run_op(make_call("LogSoftmax", {make_tensor<std::int32_t>({2}, {1, 2})})),
               NodeError);
  EXPECT_THROW(run_op(make_call("Softmax", {f32({2}, {1, 2})}, {{"beta", attr_float(1)}})),
               NodeError);
}

TEST(Softmax, OnnxNodeCases) {
  for (const char* op : {"softmax", "logsoftmax"}) {
    for (const char* suffix : {"axis_0", "axis_1", "axis_2", "default_axis", "example_1", "example",
                               "large_number", "negative_axis"}) {
      const std::string name = std::string("test_") + op + "_" + suffix;
      if (!load_node_case(name)) continue;
      SCOPED_TRACE(name);
      expect_node_case(name);
    }
  }
}

// ---- ReduceMean / ReduceSum / ReduceMax --------------------------------------------------------

TEST(Reduce, MeanKeepdims) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  OpCall call = make_call("ReduceMean", {x}, {{"axes", attr_ints({1})}});
  expect_floats(run1(call), {2, 1}, {2, 5});
  call.attributes["keepdims"] = attr_int(0);
  expect_floats(run1(call), {2}, {2, 5});
  call.attributes["axes"] = attr_ints({0});
  expect_floats(run1(call), {3}, {2.5f, 3.5f, 4.5f});
  call.attributes["axes"] = attr_ints({-2, -1});
  expect_floats(run1(call), {}, {3.5f});
  // No axes: everything, keepdims default 1.
  expect_floats(run1(make_call("ReduceMean", {x})), {1, 1}, {3.5f});
}

TEST(Reduce, SumAxesInputAndNoop) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  // Opset 13: axes is an input.
  expect_floats(run1(make_call("ReduceSum", {x, i64({-1})}, {{"keepdims", attr_int(0)}})), {2},
                {6, 15});
  expect_floats(run1(make_call("ReduceSum", {x, std::nullopt})), {1, 1}, {21});
  expect_floats(run1(make_call("ReduceSum", {x, i64({})})), {1, 1}, {21});
  const Tensor same =
      run1(make_call("ReduceSum", {x, i64({})}, {{"noop_with_empty_axes", attr_int(1)}}));
  EXPECT_TRUE(same.bit_equal(x));
  expect_floats(
      run1(make_call("ReduceSum", {x, i64({0})}, {{"noop_with_empty_axes", attr_int(1)}})), {1, 3},
      {5, 7, 9});
  // Opset 11: axes attribute.
  expect_floats(run1(make_call("ReduceSum", {x}, {{"axes", attr_ints({0})}}, 11)), {1, 3},
                {5, 7, 9});
  // Integers wrap instead of overflowing.
  const Tensor big = make_tensor<std::int64_t>({2}, {std::numeric_limits<std::int64_t>::max(), 1});
  const Tensor wrapped = run1(make_call("ReduceSum", {big, i64({0})}));
  EXPECT_EQ(wrapped.data<std::int64_t>()[0], std::numeric_limits<std::int64_t>::min());
  const Tensor i32 =
      run1(make_call("ReduceSum", {make_tensor<std::int32_t>({3}, {-5, 2, 7}), i64({0})}));
  EXPECT_EQ(i32.data<std::int32_t>()[0], 4);
}

TEST(Reduce, MaxPropagatesNaNAndHandlesEmpty) {
  OpCall call = make_call("ReduceMax", {f32({2, 3}, {1, kNaN, 3, -kInf, -7, -2})},
                          {{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}});
  expect_floats(run1(call), {2}, {kNaN, -2});
  call.inputs = {f32({2, 3}, {kNaN, 1, 3, 4, 5, kNaN})};
  expect_floats(run1(call), {2}, {kNaN, kNaN});
  // Reducing an empty axis: sum 0, max -inf, mean NaN.
  const Tensor empty(DType::kFloat32, {2, 0});
  expect_floats(run1(make_call("ReduceSum", {empty, i64({1})}, {{"keepdims", attr_int(0)}})), {2},
                {0, 0});
  expect_floats(run1(make_call("ReduceMax", {empty}, {{"axes", attr_ints({1})}})), {2, 1},
                {-kInf, -kInf});
  expect_floats(run1(make_call("ReduceMean", {empty}, {{"axes", attr_ints({1})}})), {2, 1},
                {kNaN, kNaN});
  const Tensor i8 = run1(make_call("ReduceMax", {make_tensor<std::int8_t>({3}, {-5, 2, -7})},
                                   {{"keepdims", attr_int(0)}}));
  EXPECT_EQ(i8.data<std::int8_t>()[0], 2);
}

// Brute force in the same order the kernel promises: ascending flat index per output element.
Tensor brute_reduce(const Tensor& x, const std::vector<bool>& reduced, const std::string& op) {
  const Shape& s = x.shape();
  Shape out_shape;
  for (std::size_t d = 0; d < s.size(); ++d) out_shape.push_back(reduced[d] ? 1 : s[d]);
  const std::int64_t on = shape_numel(out_shape);
  std::vector<double> acc(static_cast<std::size_t>(on), op == "ReduceMax" ? -INFINITY : 0.0);
  std::vector<std::int64_t> count(static_cast<std::size_t>(on), 0);
  const std::vector<std::int64_t> ostr = shape_strides(out_shape);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    std::int64_t rem = i;
    std::int64_t o = 0;
    for (std::size_t d = s.size(); d-- > 0;) {
      const std::int64_t c = rem % s[d];
      rem /= s[d];
      if (!reduced[d]) o += c * ostr[d];
    }
    const double v = x.data<float>()[i];
    double& a = acc[static_cast<std::size_t>(o)];
    a = op == "ReduceMax" ? std::max(a, v) : a + v;
    ++count[static_cast<std::size_t>(o)];
  }
  Tensor out(DType::kFloat32, out_shape);
  for (std::int64_t o = 0; o < on; ++o) {
    double v = acc[static_cast<std::size_t>(o)];
    if (op == "ReduceMean") v /= static_cast<double>(count[static_cast<std::size_t>(o)]);
    out.data<float>()[o] = static_cast<float>(v);
  }
  return out;
}

TEST(Reduce, EveryAxisSubsetMatchesBruteForce) {
  const Tensor x = random_tensor({3, 1, 4, 5, 300}, 21, -10.0f, 10.0f);
  const int rank = 5;
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax"}) {
    for (int mask = 1; mask < (1 << rank); ++mask) {
      std::vector<std::int64_t> axes;
      std::vector<bool> reduced(rank);
      for (int d = 0; d < rank; ++d) {
        reduced[static_cast<std::size_t>(d)] = (mask >> d) & 1;
        if ((mask >> d) & 1) axes.push_back(d);
      }
      SCOPED_TRACE(std::string(op) + " mask " + std::to_string(mask));
      OpCall call = make_call(op, {x}, {{"axes", attr_ints(axes)}}, 11);
      const Tensor got = run1(call);
      const Tensor want = brute_reduce(x, reduced, op);
      EXPECT_TRUE(got.bit_equal(want)) << compare_close(got, want, 0, 0);
      if (mask == 5 || mask == 26) expect_deterministic_concurrent(call);
    }
  }
}

// Prepares with one value of input 1 and runs with another (a fault in a constant input).
Status run_with_changed_input(OpCall call, const Tensor& at_run) {
  Node node;
  node.name = "changed";
  node.op_type = call.op_type;
  node.attributes = call.attributes;
  std::vector<TensorInfo> infos;
  std::vector<const Tensor*> constants;
  std::vector<const Tensor*> run_inputs;
  for (std::size_t i = 0; i < call.inputs.size(); ++i) {
    infos.push_back(call.inputs[i]->info());
    constants.push_back(i > 0 ? &*call.inputs[i] : nullptr);
    run_inputs.push_back(i == 1 ? &at_run : &*call.inputs[i]);
    node.inputs.push_back(static_cast<int>(i));
  }
  node.outputs = {100};
  PrepareContext ctx(node, call.opset, "test", infos, constants, false);
  Prepared p = find_op("", call.op_type, call.opset)->prepare(ctx);
  Tensor out(p.outputs[0].dtype, p.outputs[0].shape);
  Tensor* outs[] = {&out};
  return p.kernel->run(run_inputs, outs);
}

TEST(Reduce, ChangedAxesInputIsARunTimeError) {
  OpCall call = make_call("ReduceSum", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({1})});
  EXPECT_TRUE(run_with_changed_input(call, i64({1})).is_ok());
  const Status s = run_with_changed_input(call, i64({0}));
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("changed"), std::string::npos) << s.message();
}

TEST(Reduce, LoadTimeErrors) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op(make_call("ReduceMean", {x}, {{"axes", attr_ints({2})}})), NodeError);
  EXPECT_THROW(run_op(make_call("ReduceMean", {x}, {{"axes", attr_ints({1, -1})}})), NodeError);
  EXPECT_THROW(run_op(make_call("ReduceMean", {x}, {{"noop_with_empty_axes", attr_int(1)}})),
               NodeError);  // opset 13 ReduceMean has no such attribute
  EXPECT_THROW(run_op(make_call("ReduceSum", {x}, {{"axes", attr_ints({1})}}, 13)), NodeError);
  EXPECT_THROW(run_op(make_call("ReduceMean", {make_tensor<std::int32_t>({2}, {1, 2})})),
               NodeError);
  OpCall dynamic = make_call("ReduceSum", {x, i64({1})});
  dynamic.constant = {false, false};
  EXPECT_THROW(run_op(dynamic), NodeError);
}

TEST(Reduce, OnnxNodeCases) {
  for (const char* op : {"mean", "sum", "max"}) {
    for (const char* suffix :
         {"default_axes_keepdims_example", "default_axes_keepdims_random",
          "default_axes_keepdim_example", "do_not_keepdims_example", "do_not_keepdims_random",
          "keepdims_example", "keepdims_random", "negative_axes_keepdims_example",
          "negative_axes_keepdims_random", "keep_dims_example", "keep_dims_random",
          "empty_axes_input_noop_example", "empty_axes_input_noop_random"}) {
      const std::string name = std::string("test_reduce_") + op + "_" + suffix;
      if (!load_node_case(name)) continue;
      SCOPED_TRACE(name);
      expect_node_case(name);
    }
  }
}

// ---- ArgMax ------------------------------------------------------------------------------------

TEST(ArgMax, FirstOrLastIndexAndNaN) {
  const Tensor x = f32({3, 4}, {1, 3, 3, 2, 5, 5, 0, 1, 0, kNaN, 9, kNaN});
  OpCall call = make_call("ArgMax", {x}, {{"axis", attr_int(1)}});
  Tensor y = run1(call);
  EXPECT_EQ(y.shape(), (Shape{3, 1}));
  EXPECT_EQ(ints(y), (std::vector<std::int64_t>{1, 0, 1}));
  call.attributes["select_last_index"] = attr_int(1);
  EXPECT_EQ(ints(run1(call)), (std::vector<std::int64_t>{2, 1, 3}));
  call.attributes["keepdims"] = attr_int(0);
  call.attributes["axis"] = attr_int(0);
  call.attributes["select_last_index"] = attr_int(0);
  y = run1(call);
  EXPECT_EQ(y.shape(), (Shape{4}));
  EXPECT_EQ(ints(y), (std::vector<std::int64_t>{1, 2, 2, 2}));
  // Default axis 0, integers.
  const Tensor xi = make_tensor<std::int32_t>({2, 2}, {4, -1, 4, 7});
  EXPECT_EQ(ints(run1(make_call("ArgMax", {xi}))), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(ints(run1(make_call("ArgMax", {xi}, {{"select_last_index", attr_int(1)}}))),
            (std::vector<std::int64_t>{1, 1}));
}

TEST(ArgMax, LoadTimeErrors) {
  const Tensor x = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op(make_call("ArgMax", {x}, {{"axis", attr_int(2)}})), NodeError);
  EXPECT_THROW(run_op(make_call("ArgMax", {x}, {{"select_last_index", attr_int(1)}}, 11)),
               NodeError);
  EXPECT_THROW(run_op(make_call("ArgMax", {Tensor(DType::kFloat32, {0, 2})})), NodeError);
  expect_deterministic_concurrent(
      make_call("ArgMax", {random_tensor({64, 100, 30}, 5)}, {{"axis", attr_int(1)}}));
}

TEST(ArgMax, OnnxNodeCases) {
  for (const char* suffix :
       {"default_axis_example", "default_axis_random", "keepdims_example", "keepdims_random",
        "negative_axis_keepdims_example", "negative_axis_keepdims_random", "no_keepdims_example",
        "no_keepdims_random"}) {
    for (const char* last : {"", "_select_last_index"}) {
      const std::string name = std::string("test_argmax_") + suffix + last;
      SCOPED_TRACE(name);
      expect_node_case(name);
    }
  }
}

}  // namespace
}  // namespace dnnfi::test
