// Batched evaluation gives, for every trial, exactly what one trial at a time gives: outcome,
// labels, applied faults and the output bits.
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "core/error.h"
#include "exec/model_file.h"
#include "fi/batched.h"
#include "fi/sampler.h"

namespace dnnfi {
namespace {

void expect_same(const TrialResult& a, const TrialResult& b, const std::string& what) {
  EXPECT_EQ(a.outcome, b.outcome) << what;
  EXPECT_EQ(a.faulty_top1, b.faulty_top1) << what;
  EXPECT_EQ(a.golden_in_top5, b.golden_in_top5) << what;
  ASSERT_EQ(a.applied.size(), b.applied.size()) << what;
  for (std::size_t k = 0; k < a.applied.size(); ++k) {
    EXPECT_EQ(a.applied[k].bits_before, b.applied[k].bits_before) << what;
    EXPECT_EQ(a.applied[k].bits_after, b.applied[k].bits_after) << what;
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size()) << what;
  for (std::size_t o = 0; o < a.outputs.size(); ++o) {
    EXPECT_TRUE(a.outputs[o].bit_equal(b.outputs[o])) << what << " output " << o;
  }
}

// Runs `n` random trials (TensorFI+'s fault model, and two-fault trials) batched by `batch` and
// one at a time; returns how many batches ran.
int compare_batched(const test::Fixture& f, int batch, int n) {
  auto loaded = test::load_for_injection(f);
  BatchedInjector batched(loaded.session, batch);
  const GoldenRun golden_b = batched.golden(loaded.golden);
  SamplerConfig one;
  SamplerConfig two;
  two.faults_per_trial = 2;
  FaultSampler s1(*loaded.session, one), s2(*loaded.session, two);
  TrialOptions opt;
  opt.keep_outputs = true;
  TrialWorkspace ws;
  BatchedWorkspace bws;
  int batches = 0;
  for (int start = 0; start < n; start += batch) {
    std::vector<std::vector<Fault>> trials;
    for (int t = start; t < std::min(n, start + batch); ++t) {
      trials.push_back((t % 3 == 2 ? s2 : s1).sample(99, static_cast<std::uint64_t>(t)));
    }
    const auto got = batched.run_trials(loaded.golden, golden_b, trials, true, bws);
    if (!got) continue;  // a kernel error: the caller reruns one at a time
    ++batches;
    for (std::size_t r = 0; r < trials.size(); ++r) {
      const TrialResult want = loaded.injector->run_trial(loaded.golden, trials[r], opt, ws);
      expect_same((*got)[r], want,
                  f.name + " trial " + std::to_string(start + static_cast<int>(r)));
    }
  }
  return batches;
}

TEST(Batched, SameResultsAsOneTrialAtATime) {
  EXPECT_GT(compare_batched(test::default_model_fixture(), 4, 400), 90);
  int models = 0;
  for (const auto& f : test::model_fixtures()) {
    try {
      EXPECT_GT(compare_batched(f, 3, 60), 15) << f.name;
      ++models;
    } catch (const InputError& e) {
      // Models that hard-code batch 1 (a Reshape to [1,-1]) are refused, never run wrongly.
      EXPECT_NE(std::string(e.what()).find("batch"), std::string::npos) << e.what();
      std::cerr << f.name << ": " << e.what() << "\n";
    }
  }
  EXPECT_GE(models, 6);
}

// A batch golden run copied from the batch-1 one is the one the batch session computes.
TEST(Batched, ReplicatedGoldenEqualsTheComputedOne) {
  auto loaded = test::load_for_injection(test::default_model_fixture());
  BatchedInjector batched(loaded.session, 5);
  const GoldenRun computed = batched.golden(loaded.golden);
  const GoldenRun copied = batched.replicate(loaded.golden);
  const Graph& g = batched.session().graph();
  int compared = 0;
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const int id = static_cast<int>(v);
    if (batched.session().is_constant(id)) continue;
    ASSERT_EQ(computed.store[id].shape(), copied.store[id].shape()) << g.values[v].name;
    EXPECT_TRUE(computed.store[id].bit_equal(copied.store[id])) << g.values[v].name;
    ++compared;
  }
  EXPECT_GT(compared, 20);
  EXPECT_EQ(copied.top1, loaded.golden.top1);
}

TEST(Batched, RefusesWeightFaultsAndOversizedBatches) {
  auto loaded = test::load_for_injection(test::default_model_fixture());
  BatchedInjector batched(loaded.session, 2);
  const GoldenRun gb = batched.golden(loaded.golden);
  BatchedWorkspace ws;
  SamplerConfig w;
  w.target = SiteKind::kWeight;
  FaultSampler sw(*loaded.session, w);
  std::vector<std::vector<Fault>> trials{sw.sample(1, 0)};
  EXPECT_THROW(batched.run_trials(loaded.golden, gb, trials, false, ws), InputError);
  FaultSampler s(*loaded.session, SamplerConfig{});
  std::vector<std::vector<Fault>> three{s.sample(1, 0), s.sample(1, 1), s.sample(1, 2)};
  EXPECT_THROW(batched.run_trials(loaded.golden, gb, three, false, ws), InputError);
}

}  // namespace
}  // namespace dnnfi
