// The golden activation cache of one input costs at most 1.2x the model's activation bytes
// (issue 4): every node output and graph input at the prepared shapes, counted from the shape
// inference, not from the cache itself.
#include <gtest/gtest.h>

#include "common/fixtures.h"

namespace dnnfi {
namespace {

std::size_t activation_bytes(const Session& s) {
  std::size_t total = 0;
  for (int v : s.graph().inputs) total += s.info(v).nbytes();
  for (int n : s.run_order()) {
    for (int v : s.graph().nodes[static_cast<std::size_t>(n)].outputs) {
      if (v != kNoValue && !s.is_constant(v)) total += s.info(v).nbytes();
    }
  }
  return total;
}

TEST(GoldenCache, AtMostOnePointTwoTimesTheActivationBytes) {
  auto fixtures = test::model_fixtures();
  fixtures.push_back(test::default_model_fixture());
  for (const auto& f : fixtures) {
    const auto loaded = test::load_for_injection(f);
    const std::size_t act = activation_bytes(*loaded.session);
    const std::size_t cache = loaded.golden.bytes(*loaded.session);
    EXPECT_GT(cache, 0u) << f.name;
    EXPECT_LE(static_cast<double>(cache), 1.2 * static_cast<double>(act))
        << f.name << ": golden cache " << cache << " B, activations " << act << " B";
    // And it holds every activation: nothing is dropped to save memory.
    EXPECT_GE(static_cast<double>(cache), 0.5 * static_cast<double>(act)) << f.name;
  }
}

}  // namespace
}  // namespace dnnfi
