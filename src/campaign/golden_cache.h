// The golden runs (fault-free activations) of a campaign's inputs, kept between the groups of
// trials that use them, so that an input's golden run is computed once however its trials are
// split across threads, groups and rounds.
//
// What is kept is decided by the plan, not guessed: the executor announces how many more times
// each input's run will be asked for (expect), a run is kept only while it has uses left, and
// all kept runs together stay within a byte budget (beyond it the least recently used one is
// dropped and computed again when its next use comes). A run nobody announced is handed out and
// not kept. Runs are immutable and handed out as shared_ptr: a thread keeps the run it works on
// alive even after the cache dropped it, so memory is bounded by the budget plus one run per
// worker thread. While one thread computes an input's run, other threads asking for the same
// input wait for it instead of computing it twice. Thread-safe.
//
// The stores of runs nobody holds any more (dropped by the cache and released by every thread)
// are kept, up to `spare_stores` of them, for the next runs to be written into
// (Injector::golden(inputs, ValueStore)): a campaign over many inputs then allocates a run's
// memory a few times instead of once per input. Memory stays bounded by the budget, one run per
// worker thread and the spare stores.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fi/injector.h"

namespace dnnfi {

struct GoldenCacheStats {
  std::int64_t hits = 0;       // runs served from the cache (or from another thread's computation)
  std::int64_t misses = 0;     // runs computed (streamed ones included)
  std::int64_t streamed = 0;   // of those, runs made in step with their trials, never kept
  std::int64_t evictions = 0;  // runs dropped for the budget while they still had uses left
  std::int64_t recycled = 0;   // spare stores handed out (take_spare) for new runs
  std::size_t bytes = 0;       // held now
  std::size_t peak_bytes = 0;  // most held at once
};

class GoldenCache {
 public:
  // `run_bytes` gives a run's size (GoldenRun::bytes); budget 0 keeps nothing. At most
  // `spare_stores` stores of released runs are kept for take_spare().
  GoldenCache(std::size_t budget_bytes, std::function<std::size_t(const GoldenRun&)> run_bytes,
              std::size_t spare_stores = 0);
  GoldenCache(const GoldenCache&) = delete;
  GoldenCache& operator=(const GoldenCache&) = delete;

  // `uses` more get() calls for `key` will come.
  void expect(std::int64_t key, std::int64_t uses);

  // One use of input `key`'s run: cached, or made by `make` on this thread. If `make` throws, the
  // exception reaches this caller and nothing is kept (a thread that waited on that computation
  // then runs `make` itself).
  std::shared_ptr<const GoldenRun> get(std::int64_t key, const std::function<GoldenRun()>& make);

  // One use of `key` by a thread that still holds its run (counted as get() would, nothing made).
  void count_use(std::int64_t key);

  // One use of `key` whose run the caller makes itself and drops (Injector::run_streamed), taken
  // only when keeping the run could not serve another use: it is not held nor being computed,
  // and this is its last announced use (or the budget is 0). Counts a streamed miss and returns
  // true; otherwise counts nothing and returns false (use get()).
  bool use_streamed(std::int64_t key);

  // The store of a released run (empty if none is kept), for `make` to write a new run into.
  ValueStore take_spare();

  GoldenCacheStats stats() const;
  std::size_t budget_bytes() const { return budget_; }

 private:
  struct Entry {
    std::shared_ptr<const GoldenRun> run;  // null: not held (never made, dropped, or computing)
    std::size_t bytes = 0;
    std::int64_t uses_left = 0;
    bool computing = false;
    std::list<std::int64_t>::iterator lru;  // valid while `run` is held
  };

  // Released runs' stores; shared with the runs' deleters, which may outlive the cache.
  struct Spares {
    std::mutex mu;
    std::vector<ValueStore> stores;
    std::size_t max = 0;
  };

  void drop_locked(Entry& e);
  void use_locked(std::unordered_map<std::int64_t, Entry>::iterator it);

  const std::size_t budget_;
  const std::shared_ptr<Spares> spares_;
  const std::function<std::size_t(const GoldenRun&)> run_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::int64_t, Entry> entries_;
  std::list<std::int64_t> lru_;  // keys whose run is held, most recently used first
  GoldenCacheStats stats_;
};

// The default budget: a quarter of the machine's physical memory, at most 4 GiB.
std::size_t default_golden_cache_bytes();

}  // namespace dnnfi
