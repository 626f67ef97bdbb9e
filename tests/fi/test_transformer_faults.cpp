// Fault injection into the transformer fixtures (tests/models/transformers): faults on a MatMul
// output (attention scores / projections) and a Softmax output (attention weights) give the same
// outputs, outcomes and applied bits with the cone strategy as with full recomputation.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/fixtures.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

test::Fixture transformer_fixture(const std::string& name) {
  const std::string dir = std::string(DNNFI_SOURCE_DIR) + "/tests/models/transformers/" + name;
  return {name, dir + "/model.onnx", dir + "/input.npy", dir + "/expected.npy"};
}

// Node outputs of every node of `op_type`, as value ids.
std::vector<int> outputs_of(const Session& s, const std::string& op_type) {
  std::vector<int> values;
  for (int n : s.run_order()) {
    const Node& node = s.graph().nodes[static_cast<std::size_t>(n)];
    if (node.op_type == op_type) values.push_back(node.outputs.at(0));
  }
  return values;
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

class TransformerFaults : public ::testing::TestWithParam<const char*> {};

TEST_P(TransformerFaults, ConeEqualsFullOnMatMulAndSoftmaxOutputs) {
  test::LoadedFixture l = test::load_for_injection(transformer_fixture(GetParam()));
  const Session& s = *l.session;
  std::mt19937_64 gen(77);
  TrialWorkspace ws_cone, ws_full;
  TrialOptions opt;
  opt.keep_outputs = true;
  for (const char* op : {"MatMul", "Softmax"}) {
    SCOPED_TRACE(op);
    const std::vector<int> sites = outputs_of(s, op);
    ASSERT_GE(sites.size(), 2u) << "the fixture has no " << op << " to inject into";
    int changed = 0, computed_less = 0;
    for (int t = 0; t < 150; ++t) {
      const int v = sites[gen() % sites.size()];
      Fault f;
      f.site = l.injector->site_of_value(
          v, static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(s.info(v).numel())));
      // High exponent and sign bits change the output; low mantissa bits are often masked.
      const int bit = t % 3 == 0 ? 30 : static_cast<int>(gen() % 32);
      f.model = FaultModel{FaultModelKind::kBitFlip, {bit}};
      opt.strategy = Strategy::kCone;
      const TrialResult cone = l.injector->run_trial(l.golden, {&f, 1}, opt, ws_cone);
      opt.strategy = Strategy::kFull;
      const TrialResult full = l.injector->run_trial(l.golden, {&f, 1}, opt, ws_full);
      expect_same(cone, full, std::string(GetParam()) + " " + op + " trial " + std::to_string(t));
      if (::testing::Test::HasFatalFailure()) return;
      changed += cone.outcome != Outcome::kMasked;
      computed_less += cone.nodes_computed < full.nodes_computed;
    }
    // The faults reach the outputs (the comparison is not between two untouched goldens) and the
    // cone really is smaller than the whole graph.
    EXPECT_GT(changed, 10);
    EXPECT_GT(computed_less, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TransformerFaults, ::testing::Values("bert", "vit"));

}  // namespace
}  // namespace dnnfi
