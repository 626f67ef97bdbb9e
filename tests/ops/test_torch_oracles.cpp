// The reduction, loss, scan and selection ops against PyTorch on seeded random inputs: the inputs
// and PyTorch's outputs are committed under tests/ops/data/torch_oracles/ by
// scripts/make_reduce_loss_oracles.py; the ONNX node of each case (op, attributes) is written here.
// Both the reference and the default kernels are checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/npy.h"

namespace dnnfi::test {
namespace {

struct OracleCase {
  std::string dir;  // under tests/ops/data/torch_oracles
  std::string op;
  std::map<std::string, Attribute> attributes;
  std::int64_t opset = 13;
};

void expect_oracle(const OracleCase& c) {
  SCOPED_TRACE(c.dir);
  const std::filesystem::path dir =
      std::filesystem::path(DNNFI_SOURCE_DIR) / "tests/ops/data/torch_oracles" / c.dir;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  OpCall call;
  call.op_type = c.op;
  call.attributes = c.attributes;
  call.opset = c.opset;
  for (int i = 0; std::filesystem::exists(dir / ("in_" + std::to_string(i) + ".npy")); ++i) {
    call.inputs.push_back(load_npy(dir / ("in_" + std::to_string(i) + ".npy")));
  }
  std::vector<Tensor> expected;
  for (int j = 0; std::filesystem::exists(dir / ("out_" + std::to_string(j) + ".npy")); ++j) {
    expected.push_back(load_npy(dir / ("out_" + std::to_string(j) + ".npy")));
  }
  ASSERT_FALSE(call.inputs.empty());
  ASSERT_FALSE(expected.empty());
  call.num_outputs = expected.size();
  for (bool reference : {true, false}) {
    call.reference = reference;
    OpResult r = run_op(call);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    ASSERT_EQ(r.outputs.size(), expected.size());
    for (std::size_t j = 0; j < expected.size(); ++j) {
      EXPECT_EQ(compare_close(r.outputs[j], expected[j], 1e-5, 1e-5), "")
          << "output " << j << " reference=" << reference;
    }
  }
}

std::map<std::string, Attribute> axes_0_2() {
  return {{"axes", attr_ints({0, 2})}, {"keepdims", attr_int(0)}};
}

TEST(TorchOracle, Reductions) {
  expect_oracle({"reduce_log_sum_exp", "ReduceLogSumExp", axes_0_2()});
  expect_oracle({"reduce_l1", "ReduceL1", axes_0_2()});
  expect_oracle({"reduce_l2", "ReduceL2", axes_0_2()});
  expect_oracle({"reduce_sum_square", "ReduceSumSquare", axes_0_2()});
  expect_oracle({"reduce_min", "ReduceMin", axes_0_2()});
  expect_oracle({"reduce_prod", "ReduceProd", axes_0_2()});
  expect_oracle({"reduce_log_sum", "ReduceLogSum", axes_0_2()});
  expect_oracle({"argmin", "ArgMin", {{"axis", attr_int(1)}}});
}

TEST(TorchOracle, Losses) {
  for (const char* red : {"none", "sum", "mean"}) {
    const std::map<std::string, Attribute> attrs = {{"reduction", attr_string(red)},
                                                    {"ignore_index", attr_int(-1)}};
    expect_oracle({std::string("sce_") + red, "SoftmaxCrossEntropyLoss", attrs});
    expect_oracle({std::string("nll_") + red, "NegativeLogLikelihoodLoss", attrs});
  }
  expect_oracle({"sce_mean_no_weight", "SoftmaxCrossEntropyLoss", {}});
}

TEST(TorchOracle, SelectionAndScans) {
  expect_oracle({"topk_largest", "TopK", {{"axis", attr_int(1)}}, 11});
  expect_oracle({"topk_smallest", "TopK", {{"axis", attr_int(1)}, {"largest", attr_int(0)}}, 11});
  expect_oracle({"cumsum", "CumSum", {}, 14});
  expect_oracle({"cumsum_reverse", "CumSum", {{"reverse", attr_int(1)}}, 14});
  expect_oracle({"hardmax", "Hardmax", {{"axis", attr_int(1)}}});
  expect_oracle({"det", "Det", {}});
  expect_oracle({"mvn", "MeanVarianceNormalization", {}});
}

}  // namespace
}  // namespace dnnfi::test
