// float16 models (tests/models/fp16, made by scripts/make_fp16_fixtures.py): they run with
// float16 storage between nodes (ops without a float16 kernel compute in float32 between a
// widening of their inputs and a rounding of their outputs, ops/fp16_fallback.h) and agree with
// ONNX Runtime's output on the same fp16 model; faults flip bits of float16 values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

std::string fp16_dir(const std::string& name) {
  return std::string(DNNFI_SOURCE_DIR) + "/tests/models/fp16/" + name;
}

test::Fixture fp16_fixture(const std::string& name) {
  return {name, fp16_dir(name) + "/model.onnx", fp16_dir(name) + "/input.npy",
          fp16_dir(name) + "/ort_expected.npy"};
}

std::shared_ptr<const Session> fp16_session(const std::string& name, SessionOptions opts = {}) {
  return Session::create(load_model(fp16_dir(name) + "/model.onnx"), opts);
}

class Fp16Models : public ::testing::TestWithParam<const char*> {};

// ONNX Runtime keeps float32 activations between consecutive nodes that both lack float16
// kernels (it removes the Cast pairs it inserted), where this engine stores every activation as
// float16, so the two differ by float16 rounding: a few float16 ulps of the output's scale.
TEST_P(Fp16Models, MatchOnnxRuntime) {
  const std::string name = GetParam();
  const Tensor input = load_npy(fp16_dir(name) + "/input.npy");
  const Tensor expected = load_npy(fp16_dir(name) + "/ort_expected.npy");
  test::expect_session_variants_match([&](SessionOptions opts) { return fp16_session(name, opts); },
                                      input, expected, 3e-3, "ORT");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Fp16Models,
                         ::testing::Values("fmnist_resnet", "resnet_basic", "mobilenet_v2",
                                           "bert"));

// The activations really are float16: every Conv, Gemm, MatMul, Add and Softmax output.
TEST(Fp16, ActivationsAreStoredAsFloat16) {
  for (const char* name : {"fmnist_resnet", "bert"}) {
    auto s = fp16_session(name);
    int checked = 0;
    for (int n : s->run_order()) {
      const Node& node = s->graph().nodes[static_cast<std::size_t>(n)];
      for (const char* op : {"Conv", "Gemm", "MatMul", "Add", "Softmax", "LayerNormalization"}) {
        if (node.op_type != op) continue;
        EXPECT_EQ(s->info(node.outputs[0]).dtype, DType::kFloat16) << name << " " << node.name;
        ++checked;
      }
    }
    EXPECT_GT(checked, 5) << name;
    EXPECT_EQ(s->info(s->graph().inputs[0]).dtype, load_npy(fp16_dir(name) + "/input.npy").dtype());
    EXPECT_EQ(s->info(s->graph().outputs[0]).dtype, DType::kFloat32);
  }
}

Tensor half_tensor(Shape shape, const std::vector<std::uint16_t>& bits) {
  return test::tensor_from_bits16(DType::kFloat16, std::move(shape), bits);
}

// Add has no float16 kernel: it computes in float32 and rounds the sum to nearest, ties to even.
// Hand-computed: 1 + 2^-11 lies halfway between 1 (0x3c00, even) and 1 + 2^-10, so it rounds
// down; (1 + 2^-10) + 2^-11 halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (0x3c02), so up;
// 1 + 3*2^-12 is above halfway: 1 + 2^-10 (0x3c01); 65504 + 16 = 65520 is halfway between 65504
// (0x7bff, odd) and 65536, beyond float16: +Inf (0x7c00); 65504 + 8 rounds back to 65504.
TEST(Fp16, FallbackRoundsToNearestEven) {
  test::OnnxBuilder b;
  b.input("a", {5}, 10).input("b", {5}, 10).output("y");
  b.node("Add", {"a", "b"}, {"y"});
  auto s = Session::create(load_model(b.save(test::temp_dir("fp16_rne") + "/add.onnx")), {});
  // a: 1, 1+2^-10, 1, 65504, 65504; b: 2^-11, 2^-11, 3*2^-12, 16, 8
  const Tensor a = half_tensor({5}, {0x3c00, 0x3c01, 0x3c00, 0x7bff, 0x7bff});
  const Tensor bb = half_tensor({5}, {0x1000, 0x1000, 0x1200, 0x4c00, 0x4800});
  std::vector<Tensor> out;
  const Tensor ins[] = {a, bb};
  ASSERT_TRUE(s->run_once(ins, out).is_ok());
  ASSERT_EQ(out[0].dtype(), DType::kFloat16);
  EXPECT_EQ(test::bits16_at(out[0], 0), 0x3c00);
  EXPECT_EQ(test::bits16_at(out[0], 1), 0x3c02);
  EXPECT_EQ(test::bits16_at(out[0], 2), 0x3c01);
  EXPECT_EQ(test::bits16_at(out[0], 3), 0x7c00);
  EXPECT_EQ(test::bits16_at(out[0], 4), 0x7bff);
}

// The rounding (the F16C instruction where the CPU has it) equals dtype.h's float_to_half on
// float32 sums of every float16 value with another, NaNs and infinities included (the sum of two
// NaNs aside).
TEST(Fp16, FallbackRoundingEqualsFloatToHalfOnAllHalves) {
  test::OnnxBuilder b;
  b.input("a", {65536}, 10).input("b", {65536}, 10).output("y");
  b.node("Add", {"a", "b"}, {"y"});
  SessionOptions two_threads;  // 65536 elements: widened and rounded in parallel chunks
  two_threads.threads = 2;
  auto s =
      Session::create(load_model(b.save(test::temp_dir("fp16_all") + "/add.onnx")), two_threads);
  Tensor a(DType::kFloat16, {65536}), bb(DType::kFloat16, {65536});
  for (std::uint32_t i = 0; i < 65536; ++i) {
    a.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(i);
    bb.data<std::uint16_t>()[i] = static_cast<std::uint16_t>((i * 40503u + 977u) & 0xffffu);
  }
  std::vector<Tensor> out;
  const Tensor ins[] = {a, bb};
  ASSERT_TRUE(s->run_once(ins, out).is_ok());
  int mismatches = 0;
  for (std::int64_t i = 0; i < 65536; ++i) {
    const float x = half_to_float(test::bits16_at(a, i)), y = half_to_float(test::bits16_at(bb, i));
    // Which NaN's payload a sum of two NaNs carries is up to the adder (IEEE leaves it open).
    if (std::isnan(x) && std::isnan(y)) continue;
    const float sum = x + y;
    if (test::bits16_at(out[0], i) != float_to_half(sum) && ++mismatches <= 5) {
      ADD_FAILURE() << std::hex << test::bits16_at(a, i) << " + " << test::bits16_at(bb, i) << " = "
                    << test::bits16_at(out[0], i) << ", float_to_half " << float_to_half(sum);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// A node the float32 form cannot prepare either is refused at load time, saying why.
TEST(Fp16, FallbackKeepsTheLoadTimeError) {
  test::OnnxBuilder b(17);
  b.input("x", {2, 4}, 10).input("scale", {4}, 10).output("y");
  auto& ln = b.node("LayerNormalization", {"x", "scale"}, {"y"});
  test::OnnxBuilder::set_int(ln, "stash_type", 10);
  const std::string path = b.save(test::temp_dir("fp16_refuse") + "/ln.onnx");
  try {
    (void)Session::create(load_model(path), {});
    ADD_FAILURE() << "no error";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("stash_type"), std::string::npos) << e.what();
  }
}

// Faults on float16 values: bits 0..15 are valid (16 is not), and cone, superlayer and full
// recomputation agree bit for bit, including weight faults on float16 weights that the float32
// kernel was prepared with (widened at prepare time).
TEST(Fp16, FaultsFlipFloat16BitsAndConeEqualsFull) {
  const test::LoadedFixture l = test::load_for_injection(fp16_fixture("fmnist_resnet"));
  const test::BitFlipTally tally =
      test::check_bit_flips_cone_equals_full(l, DType::kFloat16, 300, 14, 16);
  EXPECT_GT(tally.weights, 5);
  EXPECT_EQ(tally.trials, 300);
  EXPECT_GT(tally.not_masked, 20);
  EXPECT_GT(tally.weight_sdc, 0);  // a corrupted float16 weight reaches the output
}

// The wrapped kernels' float32 copies live in per-thread buffers: trials run from three threads at
// once give the results of the same trials run one after another.
TEST(Fp16, TrialsFromSeveralThreadsMatchSerialTrials) {
  test::LoadedFixture l = test::load_for_injection(fp16_fixture("bert"));
  const Session& s = *l.session;
  std::vector<int> values;
  for (int n : s.run_order()) {
    const int v = s.graph().nodes[static_cast<std::size_t>(n)].outputs[0];
    if (s.info(v).dtype == DType::kFloat16) values.push_back(v);
  }
  ASSERT_GT(values.size(), 20u);
  std::mt19937_64 gen(3);
  std::vector<Fault> faults;
  for (int t = 0; t < 90; ++t) {
    const int v = values[gen() % values.size()];
    Fault f;
    f.site = l.injector->site_of_value(
        v, static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(s.info(v).numel())));
    f.model = FaultModel{FaultModelKind::kBitFlip, {static_cast<int>(10 + gen() % 6)}};
    faults.push_back(f);
  }
  TrialOptions opt;
  opt.keep_outputs = true;
  auto run_range = [&](std::size_t begin, std::size_t step, std::vector<TrialResult>& out) {
    TrialWorkspace ws;
    for (std::size_t i = begin; i < faults.size(); i += step) {
      out[i] = l.injector->run_trial(l.golden, {&faults[i], 1}, opt, ws);
    }
  };
  std::vector<TrialResult> serial(faults.size()), parallel(faults.size());
  run_range(0, 1, serial);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < 3; ++k) threads.emplace_back([&, k] { run_range(k, 3, parallel); });
  for (auto& th : threads) th.join();
  int changed = 0;
  for (std::size_t i = 0; i < faults.size(); ++i) {
    ASSERT_EQ(serial[i].outcome, parallel[i].outcome) << "trial " << i;
    ASSERT_TRUE(serial[i].outputs.at(0).bit_equal(parallel[i].outputs.at(0))) << "trial " << i;
    changed += !serial[i].outputs[0].bit_equal(l.golden.store[s.graph().outputs[0]]);
  }
  EXPECT_GT(changed, 10);
}

// An inference session (dnnfi run: fuse + channels-last) on a float16 model fuses Conv -> Relu
// and Conv -> Add -> Relu (fmnist_resnet: every Relu) and BatchNormalization -> Relu (resnet_basic,
// whose Add follows a BatchNormalization and stays), and its values are those of the plain session
// bit for bit: the fused Add and Relu apply after the rounding. float16 activations stay NCHW
// (channels-last convolutions sum in another order; see assign_channels_last). mobilenet_v2 (Clip,
// not fused on float16; residual Adds) and bert (no convolutions) must not change either.
TEST(Fp16, InferenceSessionEqualsPlainBitForBit) {
  for (const char* name : {"fmnist_resnet", "resnet_basic", "mobilenet_v2", "bert"}) {
    SCOPED_TRACE(name);
    const Tensor input = load_npy(fp16_dir(name) + "/input.npy");
    SessionOptions inference;
    inference.fuse = inference.channels_last = true;
    auto fused = fp16_session(name, inference);
    int fused_relu = 0, nhwc = 0, relu = 0;
    for (int n : fused->run_order()) {
      const Node& node = fused->graph().nodes[static_cast<std::size_t>(n)];
      relu += node.op_type == "Relu";
      fused_relu += node.op_type == "BatchNormalizationRelu";
      if (node.op_type != "FusedConv") continue;
      auto act = node.attributes.find("activation");
      fused_relu += act != node.attributes.end() && act->second.s == "Relu";
      nhwc += node.attributes.count("dst_layout") > 0;
      EXPECT_EQ(fused->info(node.outputs[0]).dtype, DType::kFloat16);
    }
    const std::string model = name;
    if (model == "fmnist_resnet" || model == "resnet_basic") {
      EXPECT_GT(fused_relu, 0);
      EXPECT_EQ(relu, model == "fmnist_resnet" ? 0 : 2);
    }
    EXPECT_EQ(nhwc, 0);
    std::vector<Tensor> a, b;
    ASSERT_TRUE(fused->run_once({&input, 1}, a).is_ok());
    ASSERT_TRUE(fp16_session(name)->run_once({&input, 1}, b).is_ok());
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(a[0].bit_equal(b[0]));
  }
}

// Conv -> Relu on float16, fused: the Relu follows the float16 rounding, as the separate node did.
// Hand-computed with weight 0.5: -2^-24 * 0.5 = -2^-25 rounds (ties to even) to -0, which Relu
// keeps (a Relu in float32 before the rounding would give +0); -3 * 2^-24 * 0.5 rounds to
// -2^-23, Relu +0; 2^-25 rounds to +0; 3 * 2^-25 to 2^-23 (0x0002); 1 -> 0.5; -1 -> +0;
// 65504 -> 32752; -inf -> +0.
TEST(Fp16, FusedConvReluRoundsBeforeTheRelu) {
  test::OnnxBuilder b;
  b.input("x", {1, 1, 2, 4}, 10).output("y");
  auto* w = b.model().mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(10);
  for (int d = 0; d < 4; ++d) w->add_dims(1);
  w->add_int32_data(0x3800);  // 0.5
  b.node("Conv", {"x", "w"}, {"c"});
  b.node("Relu", {"c"}, {"y"});
  const std::string path = b.save(test::temp_dir("fp16_conv_relu") + "/conv_relu.onnx");
  const Tensor x =
      half_tensor({1, 1, 2, 4}, {0x8001, 0x8003, 0x0001, 0x0003, 0x3c00, 0xbc00, 0x7bff, 0xfc00});
  const std::vector<std::uint16_t> expected = {0x8000, 0x0000, 0x0000, 0x0002,
                                               0x3800, 0x0000, 0x77ff, 0x0000};
  for (bool fuse : {false, true}) {
    SCOPED_TRACE(fuse ? "fused" : "plain");
    SessionOptions opts;
    opts.fuse = opts.channels_last = fuse;
    auto s = Session::create(load_model(path), opts);
    EXPECT_EQ(s->run_order().size(), fuse ? 1u : 2u);
    std::vector<Tensor> out;
    ASSERT_TRUE(s->run_once({&x, 1}, out).is_ok());
    ASSERT_EQ(out[0].dtype(), DType::kFloat16);
    for (std::int64_t i = 0; i < 8; ++i) {
      EXPECT_EQ(test::bits16_at(out[0], i), expected[static_cast<std::size_t>(i)])
          << "element " << i;
    }
  }
}

// Conv -> Add -> Relu on float16, fused: the convolution is rounded before the Add, whose sum is
// rounded again. Hand-computed: (1 + 2^-10) * (1 + 2^-10) = 1 + 2^-9 + 2^-20 rounds to 1 + 2^-9
// (0x3c02); adding 2^-11 gives 1 + 2^-9 + 2^-11, halfway to 0x3c03, which rounds to even: 0x3c02
// (a float32 sum of the unrounded convolution, above halfway, would give 0x3c03). Negated, the
// Relu gives +0. Both operand orders of the Add fuse.
TEST(Fp16, FusedConvAddReluRoundsTwice) {
  for (bool conv_first : {true, false}) {
    SCOPED_TRACE(conv_first ? "Add(conv, s)" : "Add(s, conv)");
    test::OnnxBuilder b;
    b.input("x", {1, 1, 1, 2}, 10).input("s", {1, 1, 1, 2}, 10).output("y");
    auto* w = b.model().mutable_graph()->add_initializer();
    w->set_name("w");
    w->set_data_type(10);
    for (int d = 0; d < 4; ++d) w->add_dims(1);
    w->add_int32_data(0x3c01);  // 1 + 2^-10
    b.node("Conv", {"x", "w"}, {"c"});
    if (conv_first) {
      b.node("Add", {"c", "s"}, {"a"});
    } else {
      b.node("Add", {"s", "c"}, {"a"});
    }
    b.node("Relu", {"a"}, {"y"});
    const std::string path = b.save(test::temp_dir("fp16_conv_add") + "/conv_add_relu.onnx");
    const Tensor x = half_tensor({1, 1, 1, 2}, {0x3c01, 0xbc01});
    const Tensor sum = half_tensor({1, 1, 1, 2}, {0x1000, 0x1000});
    const Tensor ins[] = {x, sum};
    for (bool fuse : {false, true}) {
      SCOPED_TRACE(fuse ? "fused" : "plain");
      SessionOptions opts;
      opts.fuse = opts.channels_last = fuse;
      auto s = Session::create(load_model(path), opts);
      EXPECT_EQ(s->run_order().size(), fuse ? 1u : 3u);
      std::vector<Tensor> out;
      ASSERT_TRUE(s->run_once(ins, out).is_ok());
      ASSERT_EQ(out[0].dtype(), DType::kFloat16);
      EXPECT_EQ(test::bits16_at(out[0], 0), 0x3c02);
      EXPECT_EQ(test::bits16_at(out[0], 1), 0x0000);
    }
  }
}

// A float16 convolution computes what the float32 convolution gives on the widened values, rounded
// where the separate nodes round, bit for bit, in plain and inference sessions, whichever way the
// wrapper feeds it: widening straight into NHWC for primitives that pick their own layouts
// (3x3, strided 1x1) or NCHW for the gemm-based 1x1 kernel. The oracle is a float32 model with
// the widened weights, run as a plain session, and the rounding, Add and Relu written out here.
// Channel and spatial sizes are not multiples of 16 (the transposes' tiles); x holds a
// signalling NaN and a -0.
TEST(Fp16, ConvEqualsFloat32ConvRoundedBitForBit) {
  struct Case {
    std::int64_t kernel, stride, h, w;
  };
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto halves = [&](std::int64_t n) {
    std::vector<std::uint16_t> v(static_cast<std::size_t>(n));
    for (auto& h : v) h = float_to_half(u(rng));
    return v;
  };
  auto widened = [](const std::vector<std::uint16_t>& v) {
    std::vector<float> f;
    for (std::uint16_t h : v) f.push_back(half_to_float(h));
    return f;
  };
  auto half_initializer = [](test::OnnxBuilder& b, const std::string& name,
                             std::vector<std::int64_t> dims, const std::vector<std::uint16_t>& v) {
    auto* t = b.model().mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(10);
    for (std::int64_t d : dims) t->add_dims(d);
    for (std::uint16_t h : v) t->add_int32_data(h);
  };
  const std::int64_t n = 2, c = 40, m = 24;
  for (const Case& k : {Case{3, 1, 13, 11}, Case{1, 2, 13, 11}, Case{1, 1, 17, 15}}) {
    SCOPED_TRACE("kernel " + std::to_string(k.kernel) + " stride " + std::to_string(k.stride));
    const std::int64_t pad = k.kernel / 2;
    const std::int64_t oh = (k.h + 2 * pad - k.kernel) / k.stride + 1;
    const std::int64_t ow = (k.w + 2 * pad - k.kernel) / k.stride + 1;
    const std::vector<std::int64_t> xd = {n, c, k.h, k.w}, wd = {m, c, k.kernel, k.kernel},
                                    yd = {n, m, oh, ow};
    std::vector<std::uint16_t> x = halves(n * c * k.h * k.w);
    x[100] = 0x7c01;  // signalling NaN
    x[101] = 0x8000;  // -0
    const std::vector<std::uint16_t> w = halves(m * c * k.kernel * k.kernel), bias = halves(m),
                                     s = halves(n * m * oh * ow);
    auto conv_attrs = [&](onnx::NodeProto& node) {
      test::OnnxBuilder::set_ints(node, "pads", {pad, pad, pad, pad});
      test::OnnxBuilder::set_ints(node, "strides", {k.stride, k.stride});
    };
    // The oracle: float32 convolution of the widened values.
    test::OnnxBuilder f32;
    f32.input("x", xd).output("c");
    f32.initializer("w", wd, widened(w)).initializer("b", {m}, widened(bias));
    conv_attrs(f32.node("Conv", {"x", "w", "b"}, {"c"}));
    auto s32 = Session::create(
        load_model(f32.save(test::temp_dir("fp16_conv_oracle") + "/conv32.onnx")), {});
    Tensor x32(DType::kFloat32, xd);
    for (std::size_t i = 0; i < x.size(); ++i) x32.data<float>()[i] = half_to_float(x[i]);
    std::vector<Tensor> conv32;
    ASSERT_TRUE(s32->run_once({&x32, 1}, conv32).is_ok());
    std::vector<std::uint16_t> want(s.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      const std::uint16_t r = float_to_half(conv32[0].data<float>()[i]);
      const float sum = half_to_float(r) + half_to_float(s[i]);
      const std::uint16_t a = float_to_half(sum);
      want[i] = half_to_float(a) < 0.0f ? 0 : float_to_half(half_to_float(a));
    }
    // The float16 model: Conv -> Add -> Relu.
    test::OnnxBuilder f16;
    f16.input("x", xd, 10).input("s", yd, 10).output("y");
    half_initializer(f16, "w", wd, w);
    half_initializer(f16, "b", {m}, bias);
    conv_attrs(f16.node("Conv", {"x", "w", "b"}, {"c"}));
    f16.node("Add", {"c", "s"}, {"a"});
    f16.node("Relu", {"a"}, {"y"});
    const std::string path = f16.save(test::temp_dir("fp16_conv") + "/conv16.onnx");
    const Tensor ins[] = {half_tensor(xd, x), half_tensor(yd, s)};
    for (bool fuse : {false, true}) {
      SCOPED_TRACE(fuse ? "fused" : "plain");
      SessionOptions opts;
      opts.fuse = opts.channels_last = fuse;
      auto s16 = Session::create(load_model(path), opts);
      EXPECT_EQ(s16->run_order().size(), fuse ? 1u : 3u);
      std::vector<Tensor> out;
      ASSERT_TRUE(s16->run_once(ins, out).is_ok());
      ASSERT_EQ(out[0].numel(), static_cast<std::int64_t>(want.size()));
      int bad = 0;
      for (std::int64_t i = 0; i < out[0].numel(); ++i) {
        if (test::bits16_at(out[0], i) != want[static_cast<std::size_t>(i)] && ++bad <= 5) {
          ADD_FAILURE() << "element " << i << ": " << std::hex << test::bits16_at(out[0], i)
                        << ", want " << want[static_cast<std::size_t>(i)];
        }
      }
    }
  }
}

}  // namespace
}  // namespace dnnfi
