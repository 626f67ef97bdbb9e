// Every outcome class, and corrupted index/shape tensors handled as DUE, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iterator>
#include <random>

#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "fi/fault_model.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

using Fixture = test::LoadedFixture;
Fixture default_model() { return test::load_for_injection(test::default_model_fixture()); }

TrialResult one(Fixture& fx, const Fault& f, Strategy s = Strategy::kCone, double limit = 0) {
  TrialWorkspace ws;
  TrialOptions o;
  o.strategy = s;
  o.time_limit_s = limit;
  return fx.injector->run_trial(fx.golden, {&f, 1}, o, ws);
}

TEST(Outcomes, MaskedByRelu) {
  Fixture fx = default_model();
  const Graph& g = fx.session->graph();
  const int conv = g.find_node("/stem/stem.0/Conv");
  ASSERT_GE(conv, 0);
  const int v = g.nodes[static_cast<std::size_t>(conv)].outputs[0];
  const Tensor& out = fx.golden.store[v];
  std::int64_t neg = -1;
  for (std::int64_t i = 0; i < out.numel() && neg < 0; ++i) {
    if (out.data<float>()[i] < -0.1f) neg = i;
  }
  ASSERT_GE(neg, 0);
  Fault f{fx.injector->site_by_name("/stem/stem.0/Conv", neg),
          FaultModel{FaultModelKind::kBitFlip, {0}}};
  TrialResult r = one(fx, f);
  EXPECT_EQ(r.outcome, Outcome::kMasked);
  EXPECT_EQ(r.nodes_computed, 1u);  // the Relu, and nothing after it
}

// Several faults on one weight (or input) tensor: each applied exactly once, in order, in every
// strategy. Two flips of the same bit of the same element cancel out (masked); flips of two
// elements each record their own before/after bits.
TEST(Outcomes, SeveralFaultsOnOneSourceTensorApplyOnceEach) {
  Fixture fx = default_model();
  const Graph& g = fx.session->graph();
  std::string weight;
  for (const auto& v : g.values) {
    if (v.is_initializer && v.initializer.dtype() == DType::kFloat32 &&
        v.initializer.numel() > 100) {
      weight = v.name;
      break;
    }
  }
  ASSERT_FALSE(weight.empty());
  const std::string input = g.values[static_cast<std::size_t>(g.inputs[0])].name;
  for (const std::string& name : {weight, input}) {
    for (Strategy s : {Strategy::kCone, Strategy::kSuperlayer, Strategy::kFull}) {
      TrialWorkspace ws;
      TrialOptions o;
      o.strategy = s;
      const FaultModel flip30{FaultModelKind::kBitFlip, {30}};
      std::vector<Fault> same{{fx.injector->site_by_name(name, 7), flip30},
                              {fx.injector->site_by_name(name, 7), flip30}};
      TrialResult r = fx.injector->run_trial(fx.golden, same, o, ws);
      ASSERT_EQ(r.applied.size(), 2u) << name;
      EXPECT_EQ(r.applied[0].bits_after, r.applied[0].bits_before ^ (1u << 30));
      EXPECT_EQ(r.applied[1].bits_before, r.applied[0].bits_after);  // sees the first flip
      EXPECT_EQ(r.applied[1].bits_after, r.applied[0].bits_before);
      EXPECT_EQ(r.outcome, Outcome::kMasked) << name << " " << strategy_name(s);
      std::vector<Fault> two{{fx.injector->site_by_name(name, 3), flip30},
                             {fx.injector->site_by_name(name, 90), flip30}};
      TrialResult t = fx.injector->run_trial(fx.golden, two, o, ws);
      ASSERT_EQ(t.applied.size(), 2u);
      for (const auto& a : t.applied) EXPECT_EQ(a.bits_after, a.bits_before ^ (1u << 30)) << name;
      EXPECT_NE(t.outcome, Outcome::kMasked) << name << " " << strategy_name(s);
    }
  }
}

TEST(Outcomes, SdcAndTolerableOnLogits) {
  Fixture fx = default_model();
  const std::int64_t top = fx.golden.top1[0];
  FaultModel low{FaultModelKind::kSetValue};
  low.value = -1e9;
  TrialResult sdc = one(fx, Fault{fx.injector->site_by_name("logits", top), low});
  EXPECT_EQ(sdc.outcome, Outcome::kSDC);
  EXPECT_NE(sdc.faulty_top1[0], top);
  const std::int64_t other = top == 0 ? 1 : 0;
  TrialResult tol = one(fx, Fault{fx.injector->site_by_name("logits", other),
                                  FaultModel{FaultModelKind::kBitFlip, {0}}});
  EXPECT_EQ(tol.outcome, Outcome::kTolerable);
  EXPECT_TRUE(tol.golden_in_top5);
}

TEST(Outcomes, NanIsDueNotACrash) {
  Fixture fx = default_model();
  FaultModel nan{FaultModelKind::kSetValue};
  nan.value = std::nan("");
  for (Strategy s : {Strategy::kCone, Strategy::kSuperlayer, Strategy::kFull}) {
    TrialResult r = one(fx, Fault{fx.injector->site_by_name("/block2/Add", 3), nan}, s);
    EXPECT_EQ(r.outcome, Outcome::kDUE) << strategy_name(s);
  }
}

TEST(Outcomes, HangOnTimeLimit) {
  Fixture fx = default_model();
  Fault f{fx.injector->site_by_name("/stem/stem.0/Conv", 0),
          FaultModel{FaultModelKind::kBitFlip, {30}}};
  TrialResult r = one(fx, f, Strategy::kFull, 1e-12);
  EXPECT_EQ(r.outcome, Outcome::kHang);
}

// Streamed with a fault-free run (Injector::run_streamed), a trial's clock runs only during its
// own steps: a tiny limit is a hang, a generous one gives the kept-golden result, and its time
// (streamed_s) is positive.
TEST(Outcomes, HangOnTimeLimitWhenStreamed) {
  Fixture fx = default_model();
  Fault f{fx.injector->site_by_name("/stem/stem.0/Conv", 0),
          FaultModel{FaultModelKind::kBitFlip, {30}}};
  std::vector<std::vector<Fault>> trials{{f}};
  std::vector<TrialWorkspace> ws(1);
  std::vector<std::int64_t> top1;
  TrialOptions o;
  o.time_limit_s = 1e-12;
  EXPECT_EQ(fx.injector->run_streamed(fx.golden.inputs, trials, o, ws, top1)[0].outcome,
            Outcome::kHang);
  o.time_limit_s = 60.0;
  const TrialResult r = fx.injector->run_streamed(fx.golden.inputs, trials, o, ws, top1)[0];
  EXPECT_EQ(r.outcome, one(fx, f).outcome);
  EXPECT_NE(r.outcome, Outcome::kHang);
  EXPECT_GT(r.streamed_s, 0.0);
}

TEST(Outcomes, WeightFaultLastsTheWholeInference) {
  Fixture fx = default_model();
  const Graph& g = fx.session->graph();
  // The first Conv's weight initializer.
  const int conv = g.find_node("/stem/stem.0/Conv");
  const int w = g.nodes[static_cast<std::size_t>(conv)].inputs[1];
  Fault f{fx.injector->site_by_name(g.values[static_cast<std::size_t>(w)].name, 4),
          FaultModel{FaultModelKind::kBitFlip, {30}}};
  EXPECT_EQ(f.site.kind, SiteKind::kWeight);
  TrialWorkspace ws;
  TrialOptions o;
  o.keep_outputs = true;
  o.trace = true;
  TrialResult cone = fx.injector->run_trial(fx.golden, {&f, 1}, o, ws);
  EXPECT_NE(cone.outcome, Outcome::kMasked);
  ASSERT_FALSE(cone.trace.empty());
  EXPECT_EQ(cone.trace.front().node, conv);  // the weight's consumer is recomputed first
  o.strategy = Strategy::kFull;
  TrialResult full = fx.injector->run_trial(fx.golden, {&f, 1}, o, ws);
  EXPECT_TRUE(cone.outputs[0].bit_equal(full.outputs[0]));
  // The session's constant is untouched: a fault-free trial is masked again.
  EXPECT_EQ(fx.injector->run_trial(fx.golden, {}, o, ws).outcome, Outcome::kMasked);
}

// Clip's bounds are inputs (opset 11+): a weight fault on one reaches the output. Bit 23 of 6.0f
// (the exponent's lowest bit) makes the upper bound 3.0f, so Clip(x, 0, 6) becomes Clip(x, 0, 3)
// (hand-computed outputs below).
TEST(Outcomes, CorruptedClipBoundIsUsed) {
  const std::string dir = test::temp_dir("fi");
  test::OnnxBuilder b;
  b.input("x", {1, 6});
  b.initializer("lo", {}, {0.0f});
  b.initializer("hi", {}, {6.0f});
  b.node("Clip", {"x", "lo", "hi"}, {"y"}, "clip");
  b.output("y");
  auto s = Session::create(load_model(b.save(dir + "/clip.onnx")));
  Injector inj(s);
  Tensor x(DType::kFloat32, {1, 6});
  const float xs[] = {1.0f, 4.0f, 5.0f, 7.0f, -1.0f, 2.5f};
  std::copy(std::begin(xs), std::end(xs), x.data<float>());
  const GoldenRun golden = inj.golden({x});
  Fault f{inj.site_by_name("hi", 0), FaultModel{FaultModelKind::kBitFlip, {23}}};
  EXPECT_EQ(f.site.kind, SiteKind::kWeight);
  const float want[] = {1.0f, 3.0f, 3.0f, 3.0f, 0.0f, 2.5f};
  for (Strategy strategy : {Strategy::kCone, Strategy::kFull}) {
    TrialWorkspace ws;
    TrialOptions o;
    o.strategy = strategy;
    o.keep_outputs = true;
    const TrialResult r = inj.run_trial(golden, {&f, 1}, o, ws);
    ASSERT_EQ(r.applied.size(), 1u);
    EXPECT_EQ(r.applied[0].value_after, 3.0);
    ASSERT_EQ(r.outputs.size(), 1u);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(r.outputs[0].data<float>()[i], want[i]) << i;
    EXPECT_EQ(r.outcome, Outcome::kSDC);  // top-1 moves from element 3 (7.0) to element 1
  }
  std::filesystem::remove_all(dir);
}

// A graph whose Gather indices and Reshape shape are computed at run time from the input, so that
// faults can corrupt them: x[1,4] -> ArgMax -> Gather(table, idx); shape via Shape->Reshape.
TEST(Outcomes, CorruptedIndexTensorsAreDue) {
  const std::string dir = test::temp_dir("fi");
  test::OnnxBuilder b;
  b.input("x", {1, 4});
  b.initializer("table", {4, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto& am = b.node("ArgMax", {"x"}, {"idx"}, "argmax");
  test::OnnxBuilder::set_int(am, "axis", 1);
  test::OnnxBuilder::set_int(am, "keepdims", 0);
  b.node("Gather", {"table", "idx"}, {"rows"}, "gather");
  b.node("Relu", {"rows"}, {"y"}, "relu");
  b.output("y");
  auto s = Session::create(load_model(b.save(dir + "/m.onnx")));
  Injector inj(s);
  Tensor x = make_tensor<float>({1, 4}, {0.1f, 0.9f, 0.3f, 0.2f});
  GoldenRun golden = inj.golden({x});
  TrialWorkspace ws;
  int due = 0;
  for (int bit = 0; bit < 64; ++bit) {  // every bit of the int64 index
    Fault f{inj.site_by_name("argmax", 0), FaultModel{FaultModelKind::kBitFlip, {bit}}};
    TrialResult r = inj.run_trial(golden, {&f, 1}, TrialOptions{}, ws);
    // idx 1 -> 0 (bit 0) or 3 (bit 1) stay in range; everything else is out of [−4, 4).
    if (bit == 0 || bit == 1) {
      EXPECT_NE(r.outcome, Outcome::kDUE) << bit;
    } else {
      EXPECT_EQ(r.outcome, Outcome::kDUE) << bit;
      EXPECT_NE(r.error.find("gather"), std::string::npos) << r.error;
      ++due;
    }
  }
  EXPECT_EQ(due, 62);
  std::filesystem::remove_all(dir);
}

TEST(Outcomes, FuzzedShapeTensorsNeverCrash) {
  // Random faults on every value of every fixture, int64 shape values included: the engine returns
  // a status or a result, never crashes (run under ASan/UBSan in CI's sanitizer job).
  for (const auto& fxt : test::model_fixtures()) {
    test::LoadedFixture l = test::load_for_injection(fxt);
    const auto& s = l.session;
    Injector& inj = *l.injector;
    const GoldenRun& golden = l.golden;
    std::mt19937_64 gen(11);
    TrialWorkspace ws;
    for (std::size_t v = 0; v < s->graph().values.size(); ++v) {
      const TensorInfo& info = s->info(static_cast<int>(v));
      if (info.numel() == 0 || info.dtype == DType::kFloat32) continue;
      for (int k = 0; k < 16; ++k) {
        Fault f;
        f.site.value = static_cast<int>(v);
        f.site.node = s->graph().values[v].producer;
        f.site.kind = f.site.node >= 0 ? SiteKind::kNodeOutput : SiteKind::kWeight;
        f.site.flat_index =
            static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(info.numel()));
        f.model = FaultModel{FaultModelKind::kBitFlip,
                             {static_cast<int>(gen() % (dtype_size(info.dtype) * 8))}};
        TrialResult r = inj.run_trial(golden, {&f, 1}, TrialOptions{}, ws);
        EXPECT_TRUE(r.outcome == Outcome::kDUE || r.outcome == Outcome::kMasked ||
                    r.outcome == Outcome::kSDC || r.outcome == Outcome::kTolerable);
      }
    }
  }
}

}  // namespace
}  // namespace dnnfi

namespace dnnfi {
namespace {

// Independent oracle for weight faults: the fault-injected output equals the output of the same
// model loaded with that initializer element changed (packed/folded weights must not hide it).
TEST(Outcomes, WeightFaultEqualsModifiedModel) {
  std::size_t checked = 0;
  for (const auto& fxt : test::model_fixtures()) {
    Tensor input = load_npy(fxt.input);
    Graph g = load_model(fxt.model);
    SessionOptions opts;
    opts.input_shapes[g.values[g.inputs[0]].name] = input.shape();
    auto s = Session::create(g, opts);
    Injector inj(s);
    GoldenRun golden = inj.golden({input});
    std::mt19937_64 gen(21);
    TrialWorkspace ws;
    TrialOptions o;
    o.keep_outputs = true;
    for (std::size_t v = 0; v < g.values.size(); ++v) {
      const Value& val = g.values[v];
      if (!val.is_initializer || val.initializer.dtype() != DType::kFloat32 ||
          val.initializer.numel() == 0 || val.consumers.empty()) {
        continue;
      }
      Fault f{inj.site_by_name(val.name,
                               static_cast<std::int64_t>(
                                   gen() % static_cast<std::uint64_t>(val.initializer.numel()))),
              FaultModel{FaultModelKind::kBitFlip, {static_cast<int>(20 + gen() % 11)}}};
      TrialResult r = inj.run_trial(golden, {&f, 1}, o, ws);
      Graph changed = g;
      Tensor w = changed.values[v].initializer.clone();
      (void)apply_fault_model(f.model, DType::kFloat32, w.data<float>() + f.site.flat_index);
      changed.values[v].initializer = w;
      auto s2 = Session::create(std::move(changed), opts);
      std::vector<Tensor> expected;
      ASSERT_TRUE(s2->run_once({&input, 1}, expected).is_ok());
      ASSERT_TRUE(r.outputs[0].bit_equal(expected[0]))
          << fxt.name << " weight " << val.name << " index " << f.site.flat_index;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100u);
}

}  // namespace
}  // namespace dnnfi
