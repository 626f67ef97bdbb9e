#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "common/fixtures.h"
#include "core/error.h"
#include "exec/model_file.h"
#include "fi/sampler.h"

namespace dnnfi {
namespace {

std::shared_ptr<const Session> default_session() {
  return Session::create(load_model(test::default_model_fixture().model));
}

bool same(const Fault& a, const Fault& b) {
  return a.site.value == b.site.value && a.site.flat_index == b.site.flat_index &&
         a.model.bits == b.model.bits && a.model.kind == b.model.kind;
}

TEST(Sampler, TrialDependsOnlyOnSeedAndIndex) {
  auto s = default_session();
  FaultSampler sampler(*s, SamplerConfig{});
  FaultSampler again(*s, SamplerConfig{});
  int differing = 0;
  for (std::uint64_t t = 0; t < 200; ++t) {
    auto a = sampler.sample(7, t);
    auto b = again.sample(7, t);  // another sampler, any order
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(same(a[0], b[0]));
    differing += !same(a[0], sampler.sample(8, t)[0]);
  }
  EXPECT_GT(differing, 150);
  // Reverse order gives the same trials.
  for (std::uint64_t t = 200; t-- > 0;)
    EXPECT_TRUE(same(sampler.sample(7, t)[0], again.sample(7, t)[0]));
}

TEST(Sampler, PaperPolicyIsUniformOverNodesAndBits) {
  auto s = default_session();
  FaultSampler sampler(*s, SamplerConfig{});
  EXPECT_EQ(sampler.candidates().size(), s->run_order().size());
  std::map<int, int> per_node;
  std::map<int, int> per_bit;
  const int n = 22000;
  for (int t = 0; t < n; ++t) {
    Fault f = sampler.sample(1, static_cast<std::uint64_t>(t))[0];
    ++per_node[f.site.node];
    ASSERT_EQ(f.model.bits.size(), 1u);
    ++per_bit[f.model.bits[0]];
    ASSERT_LT(f.site.flat_index, s->info(f.site.value).numel());
  }
  EXPECT_EQ(per_node.size(), sampler.candidates().size());
  for (auto [node, count] : per_node) EXPECT_NEAR(count, n / 22.0, 5 * std::sqrt(n / 22.0)) << node;
  EXPECT_EQ(per_bit.size(), 32u);
  for (auto [bit, count] : per_bit) EXPECT_NEAR(count, n / 32.0, 5 * std::sqrt(n / 32.0)) << bit;
}

TEST(Sampler, SizeWeightedFollowsElementCounts) {
  auto s = default_session();
  SamplerConfig c;
  c.policy = SitePolicy::kSizeWeighted;
  FaultSampler sampler(*s, c);
  std::int64_t total = 0;
  for (const auto& cand : sampler.candidates()) total += cand.numel;
  std::map<int, int> per_value;
  const int n = 20000;
  for (int t = 0; t < n; ++t)
    ++per_value[sampler.sample(3, static_cast<std::uint64_t>(t))[0].site.value];
  for (const auto& cand : sampler.candidates()) {
    const double expect = n * static_cast<double>(cand.numel) / static_cast<double>(total);
    EXPECT_NEAR(per_value[cand.site.value], expect, 5 * std::sqrt(expect) + 1);
  }
}

TEST(Sampler, FiltersBitRangesAndMultipleFaults) {
  auto s = default_session();
  SamplerConfig c;
  c.op_types = {"Conv"};
  c.bit_lo = 23;
  c.bit_hi = 30;
  c.faults_per_trial = 3;
  c.independent_sites = false;
  FaultSampler sampler(*s, c);
  EXPECT_EQ(sampler.candidates().size(), 9u);  // the 9 Conv nodes
  for (std::uint64_t t = 0; t < 100; ++t) {
    auto faults = sampler.sample(5, t);
    ASSERT_EQ(faults.size(), 3u);
    for (const auto& f : faults) {
      EXPECT_EQ(s->graph().nodes[static_cast<std::size_t>(f.site.node)].op_type, "Conv");
      EXPECT_EQ(f.site.value, faults[0].site.value);  // one layer, several elements
      EXPECT_GE(f.model.bits[0], 23);
      EXPECT_LE(f.model.bits[0], 30);
    }
  }
  SamplerConfig w;
  w.target = SiteKind::kWeight;
  w.name_regex = "fc";
  FaultSampler weights(*s, w);
  for (const auto& cand : weights.candidates()) {
    EXPECT_NE(s->graph().values[static_cast<std::size_t>(cand.site.value)].name.find("fc"),
              std::string::npos);
  }
  SamplerConfig bad;
  bad.op_types = {"LSTM"};
  EXPECT_THROW(FaultSampler(*s, bad), InputError);
  SamplerConfig bad_bits;
  bad_bits.bit_lo = 10;
  bad_bits.bit_hi = 40;
  EXPECT_THROW(FaultSampler(*s, bad_bits), InputError);
}

// TensorFI2 "Mode: single": one tensor, Amount distinct elements of it (random.sample).
TEST(Sampler, SameSiteFaultsHitDistinctElements) {
  auto s = default_session();
  SamplerConfig c;
  c.independent_sites = false;
  c.faults_per_trial = 40;
  FaultSampler sampler(*s, c);
  for (std::uint64_t t = 0; t < 50; ++t) {
    auto faults = sampler.sample(3, t);
    const std::int64_t numel = s->info(faults.at(0).site.value).numel();
    ASSERT_EQ(static_cast<std::int64_t>(faults.size()), std::min<std::int64_t>(40, numel));
    for (std::size_t k = 1; k < faults.size(); ++k) {
      EXPECT_EQ(faults[k].site.value, faults[0].site.value);
      EXPECT_LT(faults[k - 1].site.flat_index, faults[k].site.flat_index);  // distinct, ascending
    }
  }
}

// TensorFI2 "Type: zeros, Amount: p": floor(p% of the tensor) values; "Mode: multiple": every
// tensor. Expected counts computed from the tensor sizes by hand: floor(0.1 * numel).
TEST(Sampler, PercentPerSiteAndEverySite) {
  auto s = default_session();
  SamplerConfig c;
  c.target = SiteKind::kWeight;
  c.dtypes = {DType::kFloat32};
  c.model.kind = FaultModelKind::kSetZero;
  c.percent_per_site = 10.0;
  c.independent_sites = false;
  c.every_site = true;
  FaultSampler sampler(*s, c);
  std::map<int, std::int64_t> expected;
  for (const auto& cand : sampler.candidates()) {
    EXPECT_EQ(cand.dtype, DType::kFloat32);
    expected[cand.site.value] = cand.numel / 10;
  }
  const auto faults = sampler.sample(11, 0);
  std::map<int, std::int64_t> got;
  for (const auto& f : faults) ++got[f.site.value];
  for (auto& [v, n] : expected) EXPECT_EQ(got[v], n) << s->graph().values[v].name;
  // A percent needs one tensor or all of them, not independent draws.
  SamplerConfig bad = c;
  bad.every_site = false;
  bad.independent_sites = true;
  EXPECT_THROW(FaultSampler(*s, bad), InputError);
}

TEST(Sampler, DtypeFilterDropsIntegerInitializers) {
  auto s = default_session();
  SamplerConfig all;
  all.target = SiteKind::kWeight;
  SamplerConfig floats = all;
  floats.dtypes = {DType::kFloat32};
  FaultSampler a(*s, all), f(*s, floats);
  for (const auto& cand : f.candidates()) EXPECT_EQ(cand.dtype, DType::kFloat32);
  std::size_t n_float = 0;
  for (const auto& cand : a.candidates()) n_float += cand.dtype == DType::kFloat32;
  EXPECT_EQ(f.candidates().size(), n_float);
}

// TensorFI2's `Layer: K`: the K-th candidate (weights in initializer order, nodes in run order).
TEST(Sampler, LayerIndexPicksOneCandidate) {
  auto s = default_session();
  SamplerConfig all;
  all.target = SiteKind::kWeight;
  all.dtypes = {DType::kFloat32};
  FaultSampler every(*s, all);
  SamplerConfig one = all;
  one.layer_index = 2;
  FaultSampler third(*s, one);
  ASSERT_EQ(third.candidates().size(), 1u);
  EXPECT_EQ(third.candidates()[0].site.value, every.candidates()[2].site.value);
  for (std::uint64_t t = 0; t < 20; ++t) {
    EXPECT_EQ(third.sample(1, t)[0].site.value, every.candidates()[2].site.value);
  }
  SamplerConfig out_of_range = all;
  out_of_range.layer_index = static_cast<int>(every.candidates().size());
  EXPECT_THROW(FaultSampler(*s, out_of_range), InputError);
}

}  // namespace
}  // namespace dnnfi
