// The golden activation cache of one input costs at most 1.2x the model's activation bytes
// (issue 4): every node output and graph input at the prepared shapes, counted from the shape
// inference, not from the cache itself. A golden run written into a released run's buffers is the
// run a fresh store gives, bit for bit.
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

TEST(GoldenCache, RunInAReleasedRunsBuffersEqualsAFreshRun) {
  auto fixtures = test::model_fixtures();
  fixtures.push_back(test::default_model_fixture());
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    auto loaded = test::load_for_injection(f);
    const Session& s = *loaded.session;
    // Another input: the released store holds the first input's values, which must not leak.
    std::vector<Tensor> other;
    for (const Tensor& x : loaded.golden.inputs) {
      Tensor y = x.clone();
      if (y.dtype() == DType::kFloat32) {
        for (float& v : y.span<float>()) v = 0.5f - v;
      }
      other.push_back(std::move(y));
    }
    const GoldenRun fresh = loaded.injector->golden(other);
    // One value's buffer is still shared with a tensor outside the store: that one is not reused.
    int shared = -1;
    for (int n : s.run_order()) {
      const int v = s.graph().nodes[static_cast<std::size_t>(n)].outputs.at(0);
      if (v != kNoValue && !s.is_constant(v) && s.info(v).nbytes() > 0) {
        shared = v;
        break;
      }
    }
    ASSERT_GE(shared, 0);
    const Tensor outside = loaded.golden.store[shared];  // shares the buffer
    const Tensor outside_before = outside.clone();
    std::vector<const void*> old(s.graph().values.size(), nullptr);
    for (std::size_t v = 0; v < old.size(); ++v) {
      old[v] = loaded.golden.store[static_cast<int>(v)].raw();
    }
    const GoldenRun reused = loaded.injector->golden(other, std::move(loaded.golden.store));
    std::size_t same_buffer = 0, values = 0;
    for (std::size_t v = 0; v < old.size(); ++v) {
      const int id = static_cast<int>(v);
      ASSERT_TRUE(reused.store[id].bit_equal(fresh.store[id])) << s.graph().values[v].name;
      if (s.is_constant(id) || old[v] == nullptr) continue;
      ++values;
      same_buffer += reused.store[id].raw() == old[v];
    }
    EXPECT_NE(reused.store[shared].raw(), outside.raw());
    EXPECT_TRUE(outside.bit_equal(outside_before));
    EXPECT_EQ(same_buffer, values - 1);  // every buffer but the shared one
    EXPECT_EQ(reused.top1, fresh.top1);
    EXPECT_NE(reused.id, fresh.id);
  }
}

}  // namespace
}  // namespace dnnfi
