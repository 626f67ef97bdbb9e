// bfloat16 models (tests/models/bf16, made by scripts/make_bf16_fixtures.py): they run with
// bfloat16 storage between nodes (ops without a bfloat16 kernel compute in float32 between a
// widening of their inputs and a rounding of their outputs, ops/fp16_fallback.h) and agree with
// PyTorch's bfloat16 forward on CPU; faults flip bits of bfloat16 values.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

constexpr int kOnnxBFloat16 = 16;  // TensorProto.BFLOAT16

std::string bf16_dir(const std::string& name) {
  return std::string(DNNFI_SOURCE_DIR) + "/tests/models/bf16/" + name;
}

test::Fixture bf16_fixture(const std::string& name) {
  return {name, bf16_dir(name) + "/model.onnx", bf16_dir(name) + "/input.npy",
          bf16_dir(name) + "/expected.npy"};
}

std::shared_ptr<const Session> bf16_session(const std::string& name, SessionOptions opts = {}) {
  return Session::create(load_model(bf16_dir(name) + "/model.onnx"), opts);
}

std::uint32_t low_bits(float f) { return std::bit_cast<std::uint32_t>(f) & 0xffffu; }

class Bf16Models : public ::testing::TestWithParam<const char*> {};

// Tolerance: both engines round every op's output to bfloat16 (8 significant bits, a relative
// step of 2^-8 = 3.9e-3), but not at the same places: PyTorch's Linear is one op where the ONNX
// graph has MatMul then Add, its GELU one op where the graph has Div, Erf, Add, Mul, Mul, and its
// kernels sum in another order. Each extra rounding may move a value by half a step, and a value
// one step apart early on moves the rest of the network. A few steps of the output's scale, 2e-2 x
// max|output|, covers this; an output in float32 all the way (no rounding) would pass as well,
// which is why BFloat16OutputsAreRounded checks the rounding itself. Same top-1 as PyTorch.
TEST_P(Bf16Models, MatchPyTorchBFloat16) {
  const std::string name = GetParam();
  const Tensor input = load_npy(bf16_dir(name) + "/input.npy");
  const Tensor expected = load_npy(bf16_dir(name) + "/expected.npy");
  double scale = 0.0;
  for (std::int64_t i = 0; i < expected.numel(); ++i) {
    scale = std::max(scale, std::abs(expected.get_as_double(i)));
  }
  ASSERT_GT(scale, 0.1);
  test::expect_session_variants_match([&](SessionOptions opts) { return bf16_session(name, opts); },
                                      input, expected, 2e-2, "PyTorch");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Bf16Models, ::testing::Values("cnn", "transformer"));

// The activations are bfloat16 (every Conv, BatchNormalization, Gemm, MatMul, Add, Softmax,
// LayerNormalization output) and the graph's float32 output is a widened bfloat16: the low 16
// bits of each value are zero, as in PyTorch's output. A float32 value that skipped the last
// rounding would have them set (a random float32 has all 16 zero with probability 2^-16).
TEST(Bf16, BFloat16OutputsAreRounded) {
  for (const char* name : {"cnn", "transformer"}) {
    SCOPED_TRACE(name);
    auto s = bf16_session(name);
    int checked = 0;
    for (int n : s->run_order()) {
      const Node& node = s->graph().nodes[static_cast<std::size_t>(n)];
      for (const char* op : {"Conv", "BatchNormalization", "Gemm", "MatMul", "Add", "Softmax",
                             "LayerNormalization", "Erf"}) {
        if (node.op_type != op) continue;
        EXPECT_EQ(s->info(node.outputs[0]).dtype, DType::kBFloat16) << node.name;
        ++checked;
      }
    }
    EXPECT_GT(checked, 5);
    EXPECT_EQ(s->info(s->graph().inputs[0]).dtype, DType::kFloat32);
    EXPECT_EQ(s->info(s->graph().outputs[0]).dtype, DType::kFloat32);

    const Tensor input = load_npy(bf16_dir(name) + "/input.npy");
    const Tensor expected = load_npy(bf16_dir(name) + "/expected.npy");
    std::vector<Tensor> out;
    ASSERT_TRUE(s->run_once({&input, 1}, out).is_ok());
    int nonzero = 0;
    for (std::int64_t i = 0; i < out[0].numel(); ++i) {
      EXPECT_EQ(low_bits(out[0].data<float>()[i]), 0u) << "element " << i;
      EXPECT_EQ(low_bits(expected.data<float>()[i]), 0u) << "PyTorch's element " << i;
      nonzero += out[0].data<float>()[i] != 0.0f;
    }
    EXPECT_GT(nonzero, out[0].numel() / 2);
  }
}

Tensor bf16_tensor(Shape shape, const std::vector<std::uint16_t>& bits) {
  return test::tensor_from_bits16(DType::kBFloat16, std::move(shape), bits);
}

// Add has no bfloat16 kernel: it computes in float32 and rounds the sum to nearest, ties to even.
// Hand-computed (bfloat16 has 7 fraction bits): 1 + 2^-8 lies halfway between 1 (0x3f80, even)
// and 1 + 2^-7 (0x3f81), so it rounds down; (1 + 2^-7) + 2^-8 halfway between 0x3f81 (odd) and
// 1 + 2^-6 (0x3f82), so up; 1 + 3*2^-9 is above halfway: 0x3f81; the largest bfloat16
// (0x7f7f, (2 - 2^-7) * 2^127) plus itself overflows to +Inf (0x7f80); -1 + 1 = +0; a signalling
// NaN (0x7f81) plus 1 stays a NaN.
TEST(Bf16, FallbackRoundsToNearestEven) {
  test::OnnxBuilder b;
  b.input("a", {6}, kOnnxBFloat16).input("b", {6}, kOnnxBFloat16).output("y");
  b.node("Add", {"a", "b"}, {"y"});
  auto s = Session::create(load_model(b.save(test::temp_dir("bf16_rne") + "/add.onnx")), {});
  // a: 1, 1+2^-7, 1, max, -1, sNaN; b: 2^-8, 2^-8, 3*2^-9, max, 1, 1
  const Tensor a = bf16_tensor({6}, {0x3f80, 0x3f81, 0x3f80, 0x7f7f, 0xbf80, 0x7f81});
  const Tensor bb = bf16_tensor({6}, {0x3b80, 0x3b80, 0x3bc0, 0x7f7f, 0x3f80, 0x3f80});
  std::vector<Tensor> out;
  const Tensor ins[] = {a, bb};
  ASSERT_TRUE(s->run_once(ins, out).is_ok());
  ASSERT_EQ(out[0].dtype(), DType::kBFloat16);
  EXPECT_EQ(test::bits16_at(out[0], 0), 0x3f80);
  EXPECT_EQ(test::bits16_at(out[0], 1), 0x3f82);
  EXPECT_EQ(test::bits16_at(out[0], 2), 0x3f81);
  EXPECT_EQ(test::bits16_at(out[0], 3), 0x7f80);
  EXPECT_EQ(test::bits16_at(out[0], 4), 0x0000);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(test::bits16_at(out[0], 5))));
}

// The wrapper's rounding equals dtype.h's float_to_bfloat16 on float32 sums of every bfloat16
// value with another, NaNs and infinities included (the sum of two NaNs aside), in parallel
// chunks.
TEST(Bf16, FallbackRoundingEqualsFloatToBFloat16OnAllValues) {
  test::OnnxBuilder b;
  b.input("a", {65536}, kOnnxBFloat16).input("b", {65536}, kOnnxBFloat16).output("y");
  b.node("Add", {"a", "b"}, {"y"});
  SessionOptions two_threads;
  two_threads.threads = 2;
  auto s =
      Session::create(load_model(b.save(test::temp_dir("bf16_all") + "/add.onnx")), two_threads);
  Tensor a(DType::kBFloat16, {65536}), bb(DType::kBFloat16, {65536});
  for (std::uint32_t i = 0; i < 65536; ++i) {
    a.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(i);
    bb.data<std::uint16_t>()[i] = static_cast<std::uint16_t>((i * 40503u + 977u) & 0xffffu);
  }
  std::vector<Tensor> out;
  const Tensor ins[] = {a, bb};
  ASSERT_TRUE(s->run_once(ins, out).is_ok());
  int mismatches = 0, rounded = 0;
  for (std::int64_t i = 0; i < 65536; ++i) {
    const float x = bfloat16_to_float(test::bits16_at(a, i)),
                y = bfloat16_to_float(test::bits16_at(bb, i));
    if (std::isnan(x) && std::isnan(y)) continue;
    const float sum = x + y;
    rounded += low_bits(sum) != 0;
    if (test::bits16_at(out[0], i) != float_to_bfloat16(sum) && ++mismatches <= 5) {
      ADD_FAILURE() << std::hex << test::bits16_at(a, i) << " + " << test::bits16_at(bb, i) << " = "
                    << test::bits16_at(out[0], i) << ", float_to_bfloat16 "
                    << float_to_bfloat16(sum);
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(rounded, 10000);  // most sums are not bfloat16 values: the rounding is exercised
}

// Cast to and from bfloat16: float32 -> bfloat16 rounds to nearest even (1 + 2^-8 -> 1,
// 1 + 3*2^-8 -> 1 + 2^-6), bfloat16 -> float32 is exact, NaN stays NaN.
TEST(Bf16, CastRoundTrip) {
  test::OnnxBuilder b;
  b.input("x", {4}, 1).output("y");
  auto& to_bf16 = b.node("Cast", {"x"}, {"h"});
  test::OnnxBuilder::set_int(to_bf16, "to", kOnnxBFloat16);
  auto& to_float = b.node("Cast", {"h"}, {"y"});
  test::OnnxBuilder::set_int(to_float, "to", 1);
  auto s = Session::create(load_model(b.save(test::temp_dir("bf16_cast") + "/cast.onnx")), {});
  Tensor x(DType::kFloat32, {4});
  const float values[] = {1.00390625f, 1.01171875f, -3.0f, std::nanf("")};
  std::memcpy(x.raw(), values, sizeof values);
  std::vector<Tensor> out;
  ASSERT_TRUE(s->run_once({&x, 1}, out).is_ok());
  EXPECT_EQ(out[0].data<float>()[0], 1.0f);
  EXPECT_EQ(out[0].data<float>()[1], 1.015625f);
  EXPECT_EQ(out[0].data<float>()[2], -3.0f);
  EXPECT_TRUE(std::isnan(out[0].data<float>()[3]));
}

// No ONNX op takes float16 and bfloat16 in one type constraint: a node mixing them is refused at
// load time rather than rounded to one of the two. Add checks its operands' types itself; MatMul
// refuses float16 input 0 as unsupported, and the fallback then refuses the mix.
TEST(Bf16, MixingFloat16AndBFloat16IsALoadTimeError) {
  for (const char* op : {"Add", "MatMul"}) {
    SCOPED_TRACE(op);
    test::OnnxBuilder b;
    b.input("a", {2, 2}, 10).input("b", {2, 2}, kOnnxBFloat16).output("y");
    b.node(op, {"a", "b"}, {"y"});
    const std::string path = b.save(test::temp_dir("bf16_mixed") + "/mixed.onnx");
    try {
      (void)Session::create(load_model(path), {});
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos) << e.what();
    }
  }
}

// Faults on bfloat16 values (activations and weights): bits 0..15 are valid (16 is not), and cone,
// superlayer and full recomputation agree bit for bit. Odd trials flip bit 14, the top exponent
// bit, which turns most values into huge ones or tiny ones.
TEST(Bf16, FaultsFlipBFloat16BitsAndConeEqualsFull) {
  for (const char* name : {"cnn", "transformer"}) {
    SCOPED_TRACE(name);
    const test::LoadedFixture l = test::load_for_injection(bf16_fixture(name));
    const test::BitFlipTally tally =
        test::check_bit_flips_cone_equals_full(l, DType::kBFloat16, 150, 14, 7);
    EXPECT_GT(tally.weights, 3);
    EXPECT_EQ(tally.trials, 150);
    EXPECT_GT(tally.not_masked, 10);
    EXPECT_GT(tally.weight_sdc, 0);  // a corrupted bfloat16 weight reaches the output
  }
}

}  // namespace
}  // namespace dnnfi
