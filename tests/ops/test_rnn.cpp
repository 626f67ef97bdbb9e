// RNN, GRU, LSTM (src/ops/rnn.cpp) and Softsign (src/ops/softsign.cpp).
// - Hand-computed one- and two-step cases written from the spec's equations (GRU with and without
//   linear_before_reset, LSTM peepholes and input_forget, activations with alpha/beta, clip).
// - PyTorch oracles: torch.nn.RNN / GRU / LSTM on seeded inputs, converted to ONNX's gate order
//   and layout by scripts/make_rnn_oracles.py into tests/ops/data/rnn_oracles/.
// - sequence_lens is data: values outside [0, seq_length] are run-time errors; 0 keeps the state.
// - Load-time errors for what is not supported or not valid.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "core/npy.h"
#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

Attribute strings(std::vector<std::string> v) {
  Attribute a;
  a.kind = Attribute::Kind::kStrings;
  a.strings = std::move(v);
  return a;
}

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

OpCall rnn_call(const std::string& op, std::vector<std::optional<Tensor>> inputs,
                std::map<std::string, Attribute> attrs, std::size_t outputs,
                std::int64_t opset = 14) {
  OpCall c;
  c.op_type = op;
  c.inputs = std::move(inputs);
  c.attributes = std::move(attrs);
  c.num_outputs = outputs;
  c.opset = opset;
  return c;
}

void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(t.numel(), static_cast<std::int64_t>(want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(t.data<float>()[i], want[i], tol) << "element " << i;
  }
}

// x = [1, 2] (seq 2, batch 1, input 1), W = 0.5, R = 0.25, Wb + Rb = 0.3, default tanh.
TEST(Rnn, HandComputedTwoSteps) {
  const double h1 = std::tanh(0.5 * 1 + 0.3);
  const double h2 = std::tanh(0.5 * 2 + 0.25 * h1 + 0.3);
  for (std::int64_t opset : {7, 14}) {
    OpResult r = run_op(rnn_call("RNN",
                                 {f32({2, 1, 1}, {1, 2}), f32({1, 1, 1}, {0.5f}),
                                  f32({1, 1, 1}, {0.25f}), f32({1, 2}, {0.1f, 0.2f})},
                                 {{"hidden_size", attr_int(1)}}, 2, opset));
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 1, 1, 1}));
    expect_values(r.outputs[0], {h1, h2});
    expect_values(r.outputs[1], {h2});
  }
}

// Reverse direction reads x from the last step: h1 from x = 2, then x = 1; Y keeps time order.
TEST(Rnn, HandComputedReverse) {
  const double a = std::tanh(0.5 * 2);
  const double b = std::tanh(0.5 * 1 + 0.25 * a);
  OpResult r = run_op(
      rnn_call("RNN", {f32({2, 1, 1}, {1, 2}), f32({1, 1, 1}, {0.5f}), f32({1, 1, 1}, {0.25f})},
               {{"direction", attr_string("reverse")}}, 2));
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  expect_values(r.outputs[0], {b, a});
  expect_values(r.outputs[1], {b});
}

// HardSigmoid(alpha 0.5, beta 0.1) of the clipped pre-activation: 0.5*x clipped to [-0.6, 0.6].
TEST(Rnn, ActivationAlphaBetaAndClip) {
  OpResult r = run_op(
      rnn_call("RNN", {f32({2, 1, 1}, {1, 4}), f32({1, 1, 1}, {0.5f}), f32({1, 1, 1}, {0.0f})},
               {{"activations", strings({"HardSigmoid"})},
                {"activation_alpha", attr_floats({0.5f})},
                {"activation_beta", attr_floats({0.1f})},
                {"clip", attr_float(0.6f)}},
               1));
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  expect_values(r.outputs[0], {0.5 * 0.5 + 0.1, 0.5 * 0.6 + 0.1});
}

// One step, hidden 1: W = [z 0.1, r 0.2, h 0.3], R = [0.4, 0.5, 0.6], Rbh = 0.7, h0 = 0.5, x = 1.
TEST(Gru, HandComputedLinearBeforeReset) {
  const double z = sig(0.1 + 0.4 * 0.5);
  const double r = sig(0.2 + 0.5 * 0.5);
  const double h_lbr0 = std::tanh(0.3 + 0.6 * (r * 0.5) + 0.7);
  const double h_lbr1 = std::tanh(0.3 + r * (0.6 * 0.5 + 0.7));
  for (int lbr : {0, 1}) {
    OpResult res =
        run_op(rnn_call("GRU",
                        {f32({1, 1, 1}, {1}), f32({1, 3, 1}, {0.1f, 0.2f, 0.3f}),
                         f32({1, 3, 1}, {0.4f, 0.5f, 0.6f}), f32({1, 6}, {0, 0, 0, 0, 0, 0.7f}),
                         std::nullopt, f32({1, 1, 1}, {0.5f})},
                        {{"linear_before_reset", attr_int(lbr)}}, 2));
    ASSERT_TRUE(res.status.is_ok()) << res.status.message();
    const double ht = lbr ? h_lbr1 : h_lbr0;
    expect_values(res.outputs[1], {(1 - z) * ht + z * 0.5});
  }
}

// One step, hidden 1, peepholes P = [i 0.1, o 0.2, f 0.3]; x = 1, h0 = 0.5, c0 = 2.
// W = [i 0.1, o 0.2, f 0.3, c 0.4], R = [0.5, 0.6, 0.7, 0.8]; with input_forget f = 1 - i.
TEST(Lstm, HandComputedPeepholesAndInputForget) {
  for (int input_forget : {0, 1}) {
    const double i = sig(0.1 + 0.5 * 0.5 + 0.1 * 2);
    const double f = input_forget ? 1 - i : sig(0.3 + 0.7 * 0.5 + 0.3 * 2);
    const double ct = std::tanh(0.4 + 0.8 * 0.5);
    const double c = f * 2 + i * ct;
    const double o = sig(0.2 + 0.6 * 0.5 + 0.2 * c);
    const double h = o * std::tanh(c);
    OpResult r = run_op(
        rnn_call("LSTM",
                 {f32({1, 1, 1}, {1}), f32({1, 4, 1}, {0.1f, 0.2f, 0.3f, 0.4f}),
                  f32({1, 4, 1}, {0.5f, 0.6f, 0.7f, 0.8f}), std::nullopt, std::nullopt,
                  f32({1, 1, 1}, {0.5f}), f32({1, 1, 1}, {2.0f}), f32({1, 3}, {0.1f, 0.2f, 0.3f})},
                 {{"input_forget", attr_int(input_forget)}}, 3));
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    expect_values(r.outputs[0], {h});
    expect_values(r.outputs[1], {h});
    expect_values(r.outputs[2], {c});
  }
}

// sequence_lens: 0 keeps the initial state and zeroes Y; outside [0, seq] is a run-time error.
TEST(Rnn, SequenceLensAreCheckedData) {
  auto call = [](std::vector<std::int32_t> lens) {
    return rnn_call("RNN",
                    {f32({2, 2, 1}, {1, 1, 2, 2}), f32({1, 1, 1}, {0.5f}), f32({1, 1, 1}, {0.25f}),
                     std::nullopt, i32({2}, lens), f32({1, 2, 1}, {0.3f, 0.3f})},
                    {}, 2);
  };
  OpResult ok = run_op(call({0, 1}));
  ASSERT_TRUE(ok.status.is_ok()) << ok.status.message();
  const double h = std::tanh(0.5 + 0.25 * 0.3);
  expect_values(ok.outputs[0], {0, h, 0, 0});  // Y [seq 2, dirs 1, batch 2, hidden 1]
  expect_values(ok.outputs[1], {0.3, h});
  for (std::vector<std::int32_t> bad : {std::vector<std::int32_t>{3, 1}, {1, -1}, {1 << 30, 0}}) {
    OpResult r = run_op(call(bad));
    EXPECT_FALSE(r.status.is_ok());
    EXPECT_NE(r.status.message().find("sequence length"), std::string::npos) << r.status.message();
  }
}

TEST(Rnn, LoadTimeErrors) {
  const std::vector<std::optional<Tensor>> in = {f32({2, 1, 1}, {1, 2}), f32({1, 1, 1}, {0.5f}),
                                                 f32({1, 1, 1}, {0.25f})};
  const Attribute unknown = strings({"Gelu"});
  EXPECT_THROW(run_op(rnn_call("RNN", in, {{"activations", unknown}}, 1)), UnsupportedError);
  EXPECT_THROW(run_op(rnn_call("RNN", in, {{"layout", attr_int(1)}}, 1, 7)), NodeError);
  EXPECT_THROW(run_op(rnn_call("RNN", in, {{"direction", attr_string("sideways")}}, 1)), NodeError);
  EXPECT_THROW(run_op(rnn_call("RNN", in, {{"hidden_size", attr_int(2)}}, 1)), NodeError);
  EXPECT_THROW(run_op(rnn_call("GRU", in, {}, 1)), NodeError);  // W needs 3 gates
  EXPECT_THROW(run_op(rnn_call("LSTM", in, {{"linear_before_reset", attr_int(1)}}, 1)), NodeError);
}

struct OracleCase {
  std::string dir;
  std::string op;
  std::map<std::string, Attribute> attributes;
};

void expect_oracle(const OracleCase& c) {
  SCOPED_TRACE(c.dir);
  const std::filesystem::path dir =
      std::filesystem::path(DNNFI_SOURCE_DIR) / "tests/ops/data/rnn_oracles" / c.dir;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  OpCall call;
  call.op_type = c.op;
  call.attributes = c.attributes;
  call.opset = 14;
  for (int i = 0; std::filesystem::exists(dir / ("in_" + std::to_string(i) + ".npy")); ++i) {
    call.inputs.push_back(load_npy(dir / ("in_" + std::to_string(i) + ".npy")));
  }
  std::vector<Tensor> expected;
  for (int j = 0; std::filesystem::exists(dir / ("out_" + std::to_string(j) + ".npy")); ++j) {
    expected.push_back(load_npy(dir / ("out_" + std::to_string(j) + ".npy")));
  }
  ASSERT_GE(call.inputs.size(), 6u);
  ASSERT_GE(expected.size(), 2u);
  call.num_outputs = expected.size();
  OpResult r = run_op(call);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  ASSERT_EQ(r.outputs.size(), expected.size());
  for (std::size_t j = 0; j < expected.size(); ++j) {
    EXPECT_EQ(compare_close(r.outputs[j], expected[j], 1e-5, 1e-5), "") << "output " << j;
  }
}

TEST(RnnTorchOracle, Rnn) {
  expect_oracle({"rnn_tanh_bidirectional", "RNN", {{"direction", attr_string("bidirectional")}}});
  expect_oracle({"rnn_relu_layout1_lens",
                 "RNN",
                 {{"layout", attr_int(1)}, {"activations", strings({"Relu"})}}});
  expect_oracle({"rnn_tanh_reverse", "RNN", {{"direction", attr_string("reverse")}}});
}

TEST(RnnTorchOracle, Gru) {
  expect_oracle(
      {"gru_bidirectional",
       "GRU",
       {{"direction", attr_string("bidirectional")}, {"linear_before_reset", attr_int(1)}}});
  expect_oracle(
      {"gru_layout1_lens", "GRU", {{"layout", attr_int(1)}, {"linear_before_reset", attr_int(1)}}});
  expect_oracle({"gru_reverse",
                 "GRU",
                 {{"direction", attr_string("reverse")}, {"linear_before_reset", attr_int(1)}}});
}

TEST(RnnTorchOracle, Lstm) {
  expect_oracle({"lstm_bidirectional_lens", "LSTM", {{"direction", attr_string("bidirectional")}}});
  expect_oracle({"lstm_layout1_bidirectional",
                 "LSTM",
                 {{"direction", attr_string("bidirectional")}, {"layout", attr_int(1)}}});
  expect_oracle({"lstm_reverse", "LSTM", {{"direction", attr_string("reverse")}}});
}

TEST(Softsign, HandComputed) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (bool reference : {true, false}) {
    OpCall c{"Softsign", {f32({6}, {-3, 0, 1, 4, nan, -inf})}};
    c.reference = reference;
    c.opset = 1;
    OpResult r = run_op(c);
    ASSERT_TRUE(r.status.is_ok());
    const float* y = r.outputs[0].data<float>();
    EXPECT_FLOAT_EQ(y[0], -0.75f);
    EXPECT_FLOAT_EQ(y[1], 0.0f);
    EXPECT_FLOAT_EQ(y[2], 0.5f);
    EXPECT_FLOAT_EQ(y[3], 0.8f);
    EXPECT_TRUE(std::isnan(y[4]));
    EXPECT_TRUE(std::isnan(y[5]));  // -inf / inf, as PyTorch's x / (1 + |x|) gives
  }
}

}  // namespace
}  // namespace dnnfi::test
