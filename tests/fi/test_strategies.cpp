// The propagation invariant: cone, superlayer and full give bit-identical outputs and outcomes for
// the same faults, on every fixture model, for thousands of random faults of every site kind.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <thread>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

using Loaded = test::LoadedFixture;

// Every test runs on both kinds of fault-injection session: NCHW, and channels-last (values
// between convolutions, pools, Concats and elementwise ops held NHWC).
class Strategies : public ::testing::TestWithParam<bool> {
 protected:
  bool channels_last() const { return GetParam(); }
  Loaded load_fixture(const test::Fixture& f) const {
    Loaded l = test::load_for_injection(f, channels_last());
    ++loaded_;
    if (channels_last()) {
      for (std::size_t v = 0; v < l.session->graph().values.size(); ++v) {
        nhwc_values_ += l.session->nhwc(static_cast<int>(v));
      }
    }
    return l;
  }
  void TearDown() override {
    if (channels_last() && loaded_ > 0) {
      EXPECT_GT(nhwc_values_, 0u) << "no fixture held a value channels-last";
    }
  }

 private:
  mutable std::size_t loaded_ = 0, nhwc_values_ = 0;
};

// A random fault: any node output (folded ones included), weight or graph input; a random
// element; a random fault model on fp32 values.
Fault random_fault(const Session& s, std::mt19937_64& gen) {
  Fault f = test::random_fp32_site_fault(s, gen);
  switch (gen() % 4) {
    case 0:
    case 1:
      f.model = FaultModel{FaultModelKind::kBitFlip, {static_cast<int>(gen() % 32)}};
      break;
    case 2:
      f.model = FaultModel{FaultModelKind::kStuckAt1, {static_cast<int>(gen() % 32)}};
      break;
    default:
      f.model = FaultModel{FaultModelKind::kSetZero};
      break;
  }
  return f;
}

void expect_same(const TrialResult& a, const TrialResult& b, const std::string& what) {
  ASSERT_EQ(a.outcome, b.outcome) << what << " (" << a.error << " / " << b.error << ")";
  ASSERT_EQ(a.outputs.size(), b.outputs.size()) << what;
  for (std::size_t i = 0; i < a.outputs.size(); ++i) {
    ASSERT_TRUE(a.outputs[i].bit_equal(b.outputs[i])) << what << " output " << i;
  }
  ASSERT_EQ(a.applied.size(), b.applied.size()) << what;
  for (std::size_t i = 0; i < a.applied.size(); ++i) {
    EXPECT_EQ(a.applied[i].bits_before, b.applied[i].bits_before) << what;
    EXPECT_EQ(a.applied[i].bits_after, b.applied[i].bits_after) << what;
  }
}

TEST_P(Strategies, ConeSuperlayerFullAreBitIdentical) {
  std::size_t total = 0;
  std::size_t masked = 0;
  std::size_t total_banded = 0;
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    Loaded l = load_fixture(f);
    std::mt19937_64 gen(1234);
    TrialWorkspace ws_cone, ws_super, ws_full, ws_bands;
    TrialOptions opt;
    opt.keep_outputs = true;
    // The fixtures are small: this injector holds values of any size as bands of rows.
    Injector bands(l.session, 0);
    std::size_t banded = 0;
    for (int t = 0; t < 200; ++t) {
      std::vector<Fault> faults{random_fault(*l.session, gen)};
      if (t % 10 == 9) faults.push_back(random_fault(*l.session, gen));  // several per inference
      opt.strategy = Strategy::kCone;
      TrialResult cone = l.injector->run_trial(l.golden, faults, opt, ws_cone);
      opt.strategy = Strategy::kSuperlayer;
      TrialResult super = l.injector->run_trial(l.golden, faults, opt, ws_super);
      opt.strategy = Strategy::kFull;
      TrialResult full = l.injector->run_trial(l.golden, faults, opt, ws_full);
      opt.strategy = Strategy::kCone;
      TrialResult cone_bands = bands.run_trial(l.golden, faults, opt, ws_bands);
      banded += cone_bands.nodes_banded;
      expect_same(cone, full, f.name + " cone/full trial " + std::to_string(t));
      expect_same(cone_bands, full, f.name + " cone on bands/full trial " + std::to_string(t));
      expect_same(super, full, f.name + " superlayer/full trial " + std::to_string(t));
      if (::testing::Test::HasFatalFailure()) return;
      EXPECT_LE(cone.nodes_computed, full.nodes_computed);
      masked += cone.outcome == Outcome::kMasked;
      ++total;
    }
    total_banded += banded;
    // Reusing the workspaces left no trace: the golden cache is untouched.
    TrialResult none = l.injector->run_trial(l.golden, {}, opt, ws_cone);
    EXPECT_EQ(none.outcome, Outcome::kMasked);
  }
  EXPECT_GE(total, 2000u);
  EXPECT_GT(total_banded, total);  // the convolutional fixtures recompute on bands
  EXPECT_GT(masked, 0u);
  EXPECT_LT(masked, total);
}

// Trials streamed with a fault-free run on a planned store (Injector::run_streamed: nothing kept,
// arena bytes reused as soon as a value's last reader has run) give the results of the same
// trials on a kept golden run, bit for bit: outcome, outputs, applied faults, the nodes each cone
// computed and banded, and each traced node's change. One trial per run and five together, with
// whole nodes and with bands of rows.
TEST_P(Strategies, StreamedTrialsEqualTrialsOnAKeptGoldenRun) {
  std::size_t total = 0;
  std::size_t computed = 0;
  std::size_t banded = 0;
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    Loaded l = load_fixture(f);
    const Injector bands(l.session, 0);
    for (const Injector* injector : {static_cast<const Injector*>(l.injector.get()), &bands}) {
      std::mt19937_64 gen(99);
      TrialOptions opt;
      opt.keep_outputs = true;
      opt.trace = true;
      std::vector<TrialWorkspace> ws(5);
      TrialWorkspace ws_kept;
      for (int round = 0; round < 9; ++round) {
        const std::size_t k = round % 3 == 0 ? 1 : 5;
        std::vector<std::vector<Fault>> trials(k);
        for (auto& faults : trials) {
          faults.push_back(random_fault(*l.session, gen));
          if (gen() % 8 == 0) faults.push_back(random_fault(*l.session, gen));
        }
        std::vector<std::int64_t> top1;
        const std::vector<TrialResult> streamed =
            injector->run_streamed(l.golden.inputs, trials, opt, ws, top1);
        EXPECT_EQ(top1, l.golden.top1);
        ASSERT_EQ(streamed.size(), k);
        for (std::size_t t = 0; t < k; ++t) {
          const std::string what =
              f.name + " round " + std::to_string(round) + " trial " + std::to_string(t);
          const TrialResult kept = injector->run_trial(l.golden, trials[t], opt, ws_kept);
          expect_same(streamed[t], kept, what);
          if (::testing::Test::HasFatalFailure()) return;
          EXPECT_EQ(streamed[t].nodes_computed, kept.nodes_computed) << what;
          EXPECT_EQ(streamed[t].nodes_banded, kept.nodes_banded) << what;
          ASSERT_EQ(streamed[t].trace.size(), kept.trace.size()) << what;
          for (std::size_t i = 0; i < kept.trace.size(); ++i) {
            EXPECT_EQ(streamed[t].trace[i].node, kept.trace[i].node) << what;
            EXPECT_EQ(streamed[t].trace[i].changed, kept.trace[i].changed) << what;
            EXPECT_EQ(streamed[t].trace[i].max_abs_error, kept.trace[i].max_abs_error) << what;
          }
          computed += kept.nodes_computed;
          banded += kept.nodes_banded;
          ++total;
        }
      }
    }
  }
  EXPECT_EQ(total, test::model_fixtures().size() * 2 * 33);
  EXPECT_GT(computed, total);  // the cones reach beyond the faulty node
  EXPECT_GT(banded, 0u);
}

TEST_P(Strategies, StreamedTrialsRefuseOtherStrategiesAndTooFewWorkspaces) {
  Loaded l = load_fixture(test::model_fixtures().front());
  std::mt19937_64 gen(3);
  std::vector<std::vector<Fault>> trials(2, {random_fault(*l.session, gen)});
  std::vector<TrialWorkspace> ws(2);
  std::vector<std::int64_t> top1;
  TrialOptions opt;
  opt.strategy = Strategy::kSuperlayer;
  EXPECT_THROW(l.injector->run_streamed(l.golden.inputs, trials, opt, ws, top1), InputError);
  opt.strategy = Strategy::kCone;
  EXPECT_THROW(l.injector->run_streamed(l.golden.inputs, trials, opt, {ws.data(), 1}, top1),
               InputError);
  EXPECT_EQ(l.injector->run_streamed(l.golden.inputs, trials, opt, ws, top1).size(), 2u);
}

TEST_P(Strategies, GoldenCacheIsNotModifiedByTrials) {
  const auto fixtures = test::model_fixtures();
  Loaded l = load_fixture(fixtures.front());
  std::vector<Tensor> before;
  for (std::size_t v = 0; v < l.golden.store.size(); ++v)
    before.push_back(l.golden.store[static_cast<int>(v)].clone());
  std::mt19937_64 gen(5);
  TrialWorkspace ws;
  for (int t = 0; t < 100; ++t) {
    Fault f = random_fault(*l.session, gen);
    (void)l.injector->run_trial(l.golden, {&f, 1}, TrialOptions{}, ws);
  }
  for (std::size_t v = 0; v < before.size(); ++v) {
    const Tensor& now = l.golden.store[static_cast<int>(v)];
    if (before[v].empty()) continue;
    EXPECT_TRUE(now.bit_equal(before[v])) << l.session->graph().values[v].name;
  }
}

// A workspace bound to one golden run must rebind to a new one made at the same address (a
// worker replacing its last input's run): trials then see the new input, not freed tensors.
TEST_P(Strategies, WorkspaceRebindsToNewGoldenRunAtSameAddress) {
  const auto fixtures = test::model_fixtures();
  Loaded l = load_fixture(fixtures.front());
  std::vector<Tensor> second;
  second.push_back(l.golden.inputs.at(0).clone());
  float* x = second[0].data<float>();
  for (std::int64_t i = 0; i < second[0].numel(); ++i) x[i] = 0.5f - 0.25f * x[i];
  std::mt19937_64 gen(11);
  Fault f = random_fault(*l.session, gen);
  f.model = FaultModel{FaultModelKind::kBitFlip, {30}};
  TrialOptions opt;
  opt.keep_outputs = true;
  std::optional<GoldenRun> slot;
  slot.emplace(l.injector->golden({l.golden.inputs.at(0).clone()}));
  const GoldenRun* first_address = &*slot;
  TrialWorkspace ws;
  (void)l.injector->run_trial(*slot, {&f, 1}, opt, ws);
  slot.reset();
  slot.emplace(l.injector->golden(std::move(second)));
  ASSERT_EQ(&*slot, first_address);
  const TrialResult reused = l.injector->run_trial(*slot, {&f, 1}, opt, ws);
  TrialWorkspace fresh;
  const TrialResult expected = l.injector->run_trial(*slot, {&f, 1}, opt, fresh);
  expect_same(reused, expected, "workspace reused across golden runs");
}

TEST_P(Strategies, SameResultsFromSeveralThreads) {
  const auto fixtures = test::model_fixtures();
  for (const auto& fx : fixtures) {
    if (fx.name != "resnet_basic" && fx.name != "densenet") continue;
    Loaded l = load_fixture(fx);
    std::mt19937_64 gen(99);
    std::vector<Fault> faults;
    for (int t = 0; t < 120; ++t) faults.push_back(random_fault(*l.session, gen));
    TrialOptions opt;
    opt.keep_outputs = true;
    auto run_range = [&](std::size_t begin, std::size_t step, std::vector<TrialResult>& out) {
      TrialWorkspace ws;
      for (std::size_t i = begin; i < faults.size(); i += step) {
        out[i] = l.injector->run_trial(l.golden, {&faults[i], 1}, opt, ws);
      }
    };
    std::vector<TrialResult> serial(faults.size());
    run_range(0, 1, serial);
    std::vector<TrialResult> parallel(faults.size());
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < 3; ++k) {
      threads.emplace_back([&, k] { run_range(k, 3, parallel); });
    }
    for (auto& th : threads) th.join();
    for (std::size_t i = 0; i < faults.size(); ++i) {
      expect_same(serial[i], parallel[i], fx.name + " trial " + std::to_string(i));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, Strategies, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "ChannelsLast" : "Nchw";
                         });

}  // namespace
}  // namespace dnnfi
