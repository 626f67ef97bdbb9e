// The golden cache on its own: it keeps a run exactly while announced uses are left, within its
// budget (dropping the least recently used run first), computes a run once when threads ask for
// it together, neither keeps nor hides a failed computation, and hands the stores of released
// runs back for new ones, up to its number of spares. Run sizes come from a table so the
// budget arithmetic is by hand.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <thread>

#include "campaign/golden_cache.h"
#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "exec/model_file.h"

namespace dnnfi {
namespace {

// A run tagged with its key (in GoldenRun::id) whose size the table gives.
struct Runs {
  std::map<std::int64_t, std::size_t> size;
  std::atomic<int> made{0};
  std::function<GoldenRun()> make(std::int64_t key) {
    return [this, key] {
      ++made;
      GoldenRun r;
      r.id = static_cast<std::uint64_t>(key);
      return r;
    };
  }
  std::function<std::size_t(const GoldenRun&)> bytes() {
    return [this](const GoldenRun& r) { return size.at(static_cast<std::int64_t>(r.id)); };
  }
};

TEST(GoldenCache, KeepsARunWhileItHasUsesLeft) {
  Runs runs;
  runs.size = {{1, 40}, {2, 40}};
  GoldenCache cache(1000, runs.bytes());
  cache.expect(1, 3);
  cache.expect(2, 2);
  EXPECT_EQ(cache.get(1, runs.make(1))->id, 1u);
  EXPECT_EQ(cache.get(2, runs.make(2))->id, 2u);
  EXPECT_EQ(cache.stats().bytes, 80u);
  cache.get(1, runs.make(1));
  cache.get(1, runs.make(1));  // its last use: dropped
  EXPECT_EQ(cache.stats().bytes, 40u);
  cache.get(2, runs.make(2));
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(runs.made.load(), 2);
  cache.get(1, runs.make(1));  // not announced: made, not kept
  cache.get(1, runs.make(1));
  EXPECT_EQ(runs.made.load(), 4);
  const GoldenCacheStats s = cache.stats();
  EXPECT_EQ(s.hits, 3);
  EXPECT_EQ(s.misses, 4);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.peak_bytes, 80u);
}

TEST(GoldenCache, BudgetDropsTheLeastRecentlyUsedRun) {
  Runs runs;
  runs.size = {{1, 40}, {2, 40}, {3, 40}, {4, 200}};
  GoldenCache cache(100, runs.bytes());
  for (std::int64_t k : {1, 2, 3}) cache.expect(k, 3);
  cache.get(1, runs.make(1));
  cache.get(2, runs.make(2));
  cache.get(1, runs.make(1));  // hit: 2 is now the least recently used
  cache.get(3, runs.make(3));  // 120 > 100: drops 2
  GoldenCacheStats s = cache.stats();
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.bytes, 80u);
  EXPECT_LE(s.peak_bytes, 100u);
  cache.get(2, runs.make(2));  // made again: 2 uses left, kept; drops 1 (least recent)
  EXPECT_EQ(runs.made.load(), 4);
  cache.get(3, runs.make(3));
  cache.get(2, runs.make(2));
  EXPECT_EQ(runs.made.load(), 4);
  // Larger than the whole budget: handed out, never kept, nothing dropped for it.
  cache.expect(4, 2);
  EXPECT_EQ(cache.get(4, runs.make(4))->id, 4u);
  cache.get(4, runs.make(4));
  EXPECT_EQ(runs.made.load(), 6);
  s = cache.stats();
  EXPECT_EQ(s.evictions, 2);
  EXPECT_LE(s.peak_bytes, 100u);
}

TEST(GoldenCache, ZeroBudgetKeepsNothing) {
  Runs runs;
  runs.size = {{1, 1}};
  GoldenCache cache(0, runs.bytes());
  cache.expect(1, 2);
  cache.get(1, runs.make(1));
  cache.get(1, runs.make(1));
  EXPECT_EQ(runs.made.load(), 2);
  EXPECT_EQ(cache.stats().peak_bytes, 0u);
}

TEST(GoldenCache, ConcurrentRequestsComputeOnce) {
  Runs runs;
  runs.size = {{7, 10}};
  GoldenCache cache(100, runs.bytes());
  cache.expect(7, 2);
  std::atomic<bool> started{false};
  auto slow = [&] {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return runs.make(7)();
  };
  std::shared_ptr<const GoldenRun> a, b;
  std::thread t([&] { a = cache.get(7, slow); });
  while (!started.load()) std::this_thread::yield();
  b = cache.get(7, runs.make(7));  // waits for the first thread's run
  t.join();
  EXPECT_EQ(runs.made.load(), 1);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(cache.stats().hits, 1);
}

TEST(GoldenCache, FailedComputationIsRethrownAndNotKept) {
  Runs runs;
  runs.size = {{1, 10}};
  GoldenCache cache(100, runs.bytes());
  cache.expect(1, 2);
  EXPECT_THROW(cache.get(1, []() -> GoldenRun { throw std::runtime_error("bad sample"); }),
               std::runtime_error);
  EXPECT_EQ(cache.get(1, runs.make(1))->id, 1u);  // computed afresh, and kept for its next use
  EXPECT_EQ(cache.stats().bytes, 10u);
  cache.get(1, runs.make(1));
  EXPECT_EQ(runs.made.load(), 1);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

// A run's store comes back (take_spare) once no one holds the run: not while the cache keeps it
// or a caller still holds it, and at most `spare_stores` of them are kept.
TEST(GoldenCache, ReleasedRunsStoresAreHandedBack) {
  const std::string dir = test::temp_dir("spares");
  test::OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y");
  const auto session = Session::create(load_model(b.save(dir + "/relu.onnx")));
  const int x = session->graph().find_value("x");
  Runs runs;
  runs.size = {{1, 40}, {2, 40}, {3, 40}, {4, 40}};
  std::map<std::int64_t, const void*> buffer;  // key -> its run's buffer of x
  auto make = [&](std::int64_t key) {
    return [&, key] {
      GoldenRun r = runs.make(key)();
      r.store = session->make_store();
      buffer[key] = r.store[x].raw();
      return r;
    };
  };
  GoldenCache cache(1000, runs.bytes(), 2);
  EXPECT_EQ(cache.take_spare().size(), 0u);  // nothing released yet
  cache.expect(1, 2);
  auto held = cache.get(1, make(1));
  held.reset();
  EXPECT_EQ(cache.take_spare().size(), 0u);  // the cache keeps it for its second use
  held = cache.get(1, make(1));              // its last use: dropped by the cache, still held
  EXPECT_EQ(cache.take_spare().size(), 0u);
  held.reset();
  ValueStore spare = cache.take_spare();
  ASSERT_EQ(spare.size(), session->graph().values.size());
  EXPECT_EQ(spare[x].raw(), buffer[1]);
  EXPECT_EQ(cache.take_spare().size(), 0u);
  // Three runs released one after the other: two spares kept, the newest last in.
  for (std::int64_t key : {2, 3, 4}) (void)cache.get(key, make(key));
  EXPECT_EQ(cache.take_spare()[x].raw(), buffer[3]);
  EXPECT_EQ(cache.take_spare()[x].raw(), buffer[2]);
  EXPECT_EQ(cache.take_spare().size(), 0u);
  EXPECT_EQ(cache.stats().recycled, 3);
  // Without spares nothing comes back.
  GoldenCache none(1000, runs.bytes());
  (void)none.get(2, make(2));
  EXPECT_EQ(none.take_spare().size(), 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnnfi
