// DFT, STFT and MelWeightMatrix (src/ops/spectral.cpp): numpy.fft oracles committed by
// scripts/make_spectral_oracles.py under tests/ops/data/spectral_oracles/, hand-computed
// transforms, and the load-time / run-time errors. MelWeightMatrix's values are checked by its
// ONNX conformance case (test_melweightmatrix); here only its run-time checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "core/npy.h"
#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

void expect_oracle(const std::string& name, const std::string& op,
                   std::map<std::string, Attribute> attrs) {
  SCOPED_TRACE(name);
  const std::filesystem::path dir =
      std::filesystem::path(DNNFI_SOURCE_DIR) / "tests/ops/data/spectral_oracles" / name;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  OpCall call;
  call.op_type = op;
  call.attributes = std::move(attrs);
  call.opset = 17;
  for (int i = 0; std::filesystem::exists(dir / ("in_" + std::to_string(i) + ".npy")); ++i) {
    call.inputs.push_back(load_npy(dir / ("in_" + std::to_string(i) + ".npy")));
  }
  const Tensor expected = load_npy(dir / "out_0.npy");
  OpResult r = run_op(call);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(compare_close(r.outputs[0], expected, 1e-5, 1e-5), "");
}

TEST(DftOracle, AgainstNumpyFft) {
  expect_oracle("dft_real_onesided_padded", "DFT",
                {{"axis", attr_int(1)}, {"onesided", attr_int(1)}});
  expect_oracle("dft_complex_truncated", "DFT", {{"axis", attr_int(-2)}});
  expect_oracle("dft_complex_inverse", "DFT", {{"axis", attr_int(1)}, {"inverse", attr_int(1)}});
}

TEST(StftOracle, AgainstNumpyFft) { expect_oracle("stft_real_window", "STFT", {}); }

// DFT of an impulse is all ones; of a constant, n at bin 0 and zeros elsewhere.
TEST(Dft, HandComputed) {
  OpCall c{"DFT", {f32({2, 4, 1}, {1, 0, 0, 0, 1, 1, 1, 1})}};
  c.opset = 17;
  OpResult r = run_op(c);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  ASSERT_EQ(r.outputs[0].shape(), (Shape{2, 4, 2}));
  const std::vector<float> want = {1, 0, 1, 0, 1, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(r.outputs[0].data<float>()[i], want[i], 1e-6) << i;
  }
}

TEST(Dft, Errors) {
  OpCall c{"DFT", {f32({1, 4, 1}, {1, 2, 3, 4})}};
  c.opset = 17;
  c.attributes = {{"inverse", attr_int(1)}, {"onesided", attr_int(1)}};
  EXPECT_THROW(run_op(c), UnsupportedError);
  c.attributes = {{"axis", attr_int(2)}};  // the complex dim is not a signal axis
  EXPECT_THROW(run_op(c), NodeError);
  // dft_length is read at prepare; a different value at run time is an error, not a new shape.
  c.attributes = {};
  c.inputs.push_back(i64({}, {4}));
  PreparedOp op(c);
  EXPECT_TRUE(op.run(c.inputs).status.is_ok());
  OpResult bad = op.run({c.inputs[0], i64({}, {1 << 20})});
  EXPECT_FALSE(bad.status.is_ok());
}

TEST(Stft, Errors) {
  OpCall c{"STFT", {f32({1, 4, 1}, {1, 2, 3, 4}), i64({}, {1}), std::nullopt, i64({}, {8})}};
  c.opset = 17;
  EXPECT_THROW(run_op(c), NodeError);  // frame longer than the signal
  c.inputs[3] = i64({}, {2});
  PreparedOp op(c);
  EXPECT_TRUE(op.run(c.inputs).status.is_ok());
  std::vector<std::optional<Tensor>> corrupted = c.inputs;
  corrupted[1] = i64({}, {-3});
  EXPECT_FALSE(op.run(corrupted).status.is_ok());
}

TEST(MelWeightMatrix, RunTimeChecks) {
  OpCall c{"MelWeightMatrix",
           {i64({}, {4}), i64({}, {16}), i64({}, {8000}), f32({}, {0}), f32({}, {4000})}};
  c.opset = 17;
  c.constant = {true, true, true, true, true};
  PreparedOp op(c);
  ASSERT_EQ(op.outputs()[0].shape, (Shape{9, 4}));
  EXPECT_TRUE(op.run(c.inputs).status.is_ok());
  std::vector<std::optional<Tensor>> corrupted = c.inputs;
  corrupted[2] = i64({}, {0});  // sample_rate is a divisor
  EXPECT_FALSE(op.run(corrupted).status.is_ok());
  corrupted = c.inputs;
  corrupted[4] = f32({}, {1e9f});  // band edge beyond the last bin
  EXPECT_FALSE(op.run(corrupted).status.is_ok());
  corrupted = c.inputs;
  corrupted[0] = i64({}, {5});  // would change the output shape
  EXPECT_FALSE(op.run(corrupted).status.is_ok());
}

}  // namespace
}  // namespace dnnfi::test
