// Tests of loss.cpp (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss): hand-computed goldens for
// every reduction, weights, ignore_index and log_prob, target bounds checks at run time (the target
// tensor is data that faults corrupt), load-time errors and the ONNX backend node cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/onnx_node_case.h"
#include "ops/op_test_util.h"

namespace dnnfi::test {
namespace {

Tensor i64(Shape shape, std::vector<std::int64_t> v) {
  return make_tensor<std::int64_t>(std::move(shape), v);
}

OpCall loss_call(const std::string& op, std::vector<std::optional<Tensor>> inputs,
                 std::map<std::string, Attribute> attrs = {}) {
  OpCall c;
  c.op_type = op;
  c.inputs = std::move(inputs);
  c.attributes = std::move(attrs);
  c.opset = 13;
  // The target is data in a real model, not a constant.
  c.constant = std::vector<bool>(c.inputs.size(), false);
  if (c.inputs.size() > 2) c.constant[2] = true;
  return c;
}

std::vector<Tensor> run(const OpCall& call) {
  OpResult r = run_op(call);
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  return r.outputs;
}

std::map<std::string, Attribute> reduce(const char* r) { return {{"reduction", attr_string(r)}}; }

// log-probabilities of 2 samples over 3 classes; targets 2 and 0.
const Tensor kLogp = f32({2, 3}, {-1, -2, -3, -0.5f, -1.5f, -2.5f});
const Tensor kTarget = i64({2}, {2, 0});
const Tensor kWeight = f32({3}, {1, 2, 3});

// ---- NegativeLogLikelihoodLoss -----------------------------------------------------------------

TEST(NegativeLogLikelihoodLoss, Reductions) {
  expect_floats(run(loss_call("NegativeLogLikelihoodLoss", {kLogp, kTarget}, reduce("none")))[0],
                {2}, {3, 0.5f});
  expect_floats(run(loss_call("NegativeLogLikelihoodLoss", {kLogp, kTarget}, reduce("sum")))[0], {},
                {3.5f});
  // mean is the default.
  expect_floats(run(loss_call("NegativeLogLikelihoodLoss", {kLogp, kTarget}))[0], {}, {1.75f});
}

TEST(NegativeLogLikelihoodLoss, WeightsDivideTheMeanBySummedWeights) {
  const char* op = "NegativeLogLikelihoodLoss";
  // weight[2] = 3, weight[0] = 1
  expect_floats(run(loss_call(op, {kLogp, kTarget, kWeight}, reduce("none")))[0], {2}, {9, 0.5f});
  expect_floats(run(loss_call(op, {kLogp, kTarget, kWeight}, reduce("sum")))[0], {}, {9.5f});
  expect_floats(run(loss_call(op, {kLogp, kTarget, kWeight}))[0], {}, {9.5f / 4});
}

TEST(NegativeLogLikelihoodLoss, IgnoreIndex) {
  const char* op = "NegativeLogLikelihoodLoss";
  auto attrs = reduce("none");
  attrs["ignore_index"] = attr_int(0);
  expect_floats(run(loss_call(op, {kLogp, kTarget}, attrs))[0], {2}, {3, 0});
  attrs["reduction"] = attr_string("mean");
  // Only the first position counts: 3 / 1, and with weights 9 / 3.
  expect_floats(run(loss_call(op, {kLogp, kTarget}, attrs))[0], {}, {3});
  expect_floats(run(loss_call(op, {kLogp, kTarget, kWeight}, attrs))[0], {}, {3});
  // A negative ignore_index may appear in the target; it is never read as a class.
  attrs = reduce("none");
  attrs["ignore_index"] = attr_int(-1);
  expect_floats(run(loss_call(op, {kLogp, i64({2}, {-1, 1})}, attrs))[0], {2}, {0, 1.5f});
  // Every position ignored: the mean divides 0 by 0.
  attrs["reduction"] = attr_string("mean");
  expect_floats(run(loss_call(op, {kLogp, i64({2}, {-1, -1})}, attrs))[0], {}, {kNaN});
}

TEST(NegativeLogLikelihoodLoss, SpatialDimsAndInt32Target) {
  // N=1, C=2, d1=3; targets 0, 1, 0.
  const Tensor x = f32({1, 2, 3}, {-1, -2, -3, -4, -5, -6});
  const Tensor t = make_tensor<std::int32_t>({1, 3}, {0, 1, 0});
  expect_floats(run(loss_call("NegativeLogLikelihoodLoss", {x, t}, reduce("none")))[0], {1, 3},
                {1, 5, 3});
  expect_floats(run(loss_call("NegativeLogLikelihoodLoss", {x, t}))[0], {}, {3});
}

TEST(NegativeLogLikelihoodLoss, OutOfRangeTargetIsARunTimeError) {
  for (std::int64_t bad :
       {std::int64_t{3}, std::int64_t{-1}, std::numeric_limits<std::int64_t>::min()}) {
    OpResult r = run_op(loss_call("NegativeLogLikelihoodLoss", {kLogp, i64({2}, {0, bad})}));
    EXPECT_FALSE(r.status.is_ok()) << bad;
  }
  // ignore_index does not make other out-of-range classes acceptable.
  OpResult r = run_op(loss_call("NegativeLogLikelihoodLoss", {kLogp, i64({2}, {-1, 5})},
                                {{"ignore_index", attr_int(-1)}}));
  EXPECT_FALSE(r.status.is_ok());
}

TEST(NegativeLogLikelihoodLoss, LoadTimeErrors) {
  const char* op = "NegativeLogLikelihoodLoss";
  EXPECT_THROW(run_op(loss_call(op, {kLogp, kTarget}, reduce("avg"))), NodeError);
  EXPECT_THROW(run_op(loss_call(op, {kLogp, i64({3}, {0, 0, 0})})), NodeError);
  EXPECT_THROW(run_op(loss_call(op, {kLogp, kTarget, f32({2}, {1, 1})})), NodeError);
  EXPECT_THROW(run_op(loss_call(op, {f32({3}, {1, 2, 3}), i64({}, {0})})), NodeError);
  EXPECT_THROW(run_op(loss_call(op, {make_tensor<std::int32_t>({2, 3}, {}), kTarget})),
               UnsupportedError);
  EXPECT_THROW(run_op(loss_call(op, {kLogp, f32({2}, {0, 1})})), UnsupportedError);
}

// ---- SoftmaxCrossEntropyLoss -------------------------------------------------------------------

// scores [[1, 2, 3], [1, 1, 1]]: log_softmax rows are [-2.40760596, -1.40760596, -0.40760596] and
// [-log 3] * 3.
const Tensor kScores = f32({2, 3}, {1, 2, 3, 1, 1, 1});
const std::vector<float> kLogSoftmax = {-2.40760596f, -1.40760596f, -0.40760596f,
                                        -1.09861229f, -1.09861229f, -1.09861229f};

TEST(SoftmaxCrossEntropyLoss, ReductionsAndLogProb) {
  const char* op = "SoftmaxCrossEntropyLoss";
  OpCall call = loss_call(op, {kScores, kTarget}, reduce("none"));
  call.num_outputs = 2;
  std::vector<Tensor> out = run(call);
  ASSERT_EQ(out.size(), 2u);
  expect_floats(out[0], {2}, {0.40760596f, 1.09861229f});
  expect_floats(out[1], {2, 3}, kLogSoftmax);
  expect_floats(run(loss_call(op, {kScores, kTarget}, reduce("sum")))[0], {}, {1.50621825f});
  expect_floats(run(loss_call(op, {kScores, kTarget}))[0], {}, {0.75310913f});
  // Large scores are shifted by their maximum first.
  expect_floats(
      run(loss_call(op, {f32({2, 3}, {1001, 1002, 1003, -1e4f, -1e4f, -1e4f}), kTarget}))[0], {},
      {0.75310913f});
}

TEST(SoftmaxCrossEntropyLoss, WeightsAndIgnoreIndex) {
  const char* op = "SoftmaxCrossEntropyLoss";
  expect_floats(run(loss_call(op, {kScores, kTarget, kWeight}, reduce("none")))[0], {2},
                {1.22281788f, 1.09861229f});
  // (3 * 0.40760596 + 1 * 1.09861229) / (3 + 1)
  expect_floats(run(loss_call(op, {kScores, kTarget, kWeight}))[0], {}, {0.58035754f});
  OpCall call = loss_call(op, {kScores, i64({2}, {2, -100})}, {{"ignore_index", attr_int(-100)}});
  call.num_outputs = 2;
  std::vector<Tensor> out = run(call);
  expect_floats(out[0], {}, {0.40760596f});
  // log_prob does not depend on the targets.
  expect_floats(out[1], {2, 3}, kLogSoftmax);
}

TEST(SoftmaxCrossEntropyLoss, OutOfRangeTargetIsARunTimeError) {
  for (std::int64_t bad : {std::int64_t{3}, std::int64_t{-100}, std::int64_t{1} << 40}) {
    OpResult r = run_op(loss_call("SoftmaxCrossEntropyLoss", {kScores, i64({2}, {bad, 0})}));
    EXPECT_FALSE(r.status.is_ok()) << bad;
  }
}

TEST(SoftmaxCrossEntropyLoss, LoadTimeErrors) {
  const char* op = "SoftmaxCrossEntropyLoss";
  EXPECT_THROW(run_op(loss_call(op, {kScores, kTarget}, reduce("max"))), NodeError);
  EXPECT_THROW(run_op(loss_call(op, {kScores, i64({2, 1}, {0, 0})})), NodeError);
  EXPECT_THROW(run_op(loss_call(op, {kScores, kTarget}, {{"axis", attr_int(1)}})), NodeError);
}

TEST(Loss, OnnxNodeCases) {
  for (const char* name :
       {"nllloss_NC", "nllloss_NCd1", "nllloss_NCd1_ii", "nllloss_NCd1_mean_weight_negative_ii",
        "nllloss_NCd1_weight", "nllloss_NCd1_weight_ii", "nllloss_NCd1d2",
        "nllloss_NCd1d2_no_weight_reduction_mean_ii", "nllloss_NCd1d2_reduction_mean",
        "nllloss_NCd1d2_reduction_sum", "nllloss_NCd1d2_with_weight",
        "nllloss_NCd1d2_with_weight_reduction_mean", "nllloss_NCd1d2_with_weight_reduction_sum",
        "nllloss_NCd1d2_with_weight_reduction_sum_ii",
        "nllloss_NCd1d2d3_none_no_weight_negative_ii", "nllloss_NCd1d2d3_sum_weight_high_ii",
        "nllloss_NCd1d2d3d4d5_mean_weight", "nllloss_NCd1d2d3d4d5_none_no_weight"}) {
    SCOPED_TRACE(name);
    expect_node_case(std::string("test_") + name);
  }
  for (const char* base :
       {"sce_NCd1_mean_weight_negative_ii", "sce_NCd1d2d3_none_no_weight_negative_ii",
        "sce_NCd1d2d3_sum_weight_high_ii", "sce_NCd1d2d3d4d5_mean_weight",
        "sce_NCd1d2d3d4d5_none_no_weight", "sce_mean", "sce_mean_3d", "sce_mean_no_weight_ii",
        "sce_mean_no_weight_ii_3d", "sce_mean_no_weight_ii_4d", "sce_mean_weight",
        "sce_mean_weight_ii", "sce_mean_weight_ii_3d", "sce_mean_weight_ii_4d", "sce_none",
        "sce_none_weights", "sce_sum"}) {
    for (const char* log_prob : {"", "_log_prob"}) {
      const std::string name = std::string("test_") + base + log_prob;
      SCOPED_TRACE(name);
      expect_node_case(name);
    }
  }
}

}  // namespace
}  // namespace dnnfi::test
