#include "campaign/golden_cache.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

namespace dnnfi {

GoldenCache::GoldenCache(std::size_t budget_bytes,
                         std::function<std::size_t(const GoldenRun&)> run_bytes,
                         std::size_t spare_stores)
    : budget_(budget_bytes), spares_(std::make_shared<Spares>()), run_bytes_(std::move(run_bytes)) {
  spares_->max = spare_stores;
}

ValueStore GoldenCache::take_spare() {
  ValueStore store;
  {
    std::lock_guard<std::mutex> lock(spares_->mu);
    if (spares_->stores.empty()) return store;
    store = std::move(spares_->stores.back());
    spares_->stores.pop_back();
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.recycled;
  return store;
}

void GoldenCache::expect(std::int64_t key, std::int64_t uses) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[key].uses_left += uses;
}

void GoldenCache::drop_locked(Entry& e) {
  if (!e.run) return;
  e.run.reset();
  stats_.bytes -= e.bytes;
  e.bytes = 0;
  lru_.erase(e.lru);
}

// Counts one use; a run with no use left is dropped, and so is an entry with nothing to remember.
void GoldenCache::use_locked(std::unordered_map<std::int64_t, Entry>::iterator it) {
  Entry& e = it->second;
  if (e.uses_left > 0) --e.uses_left;
  if (e.uses_left == 0) {
    drop_locked(e);
    if (!e.computing) entries_.erase(it);
  }
}

std::shared_ptr<const GoldenRun> GoldenCache::get(std::int64_t key,
                                                  const std::function<GoldenRun()>& make) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.computing) break;
    // Another thread computes this input's run: wait until it is done (kept, or not).
    cv_.wait(lock, [&] {
      auto j = entries_.find(key);
      return j == entries_.end() || !j->second.computing;
    });
  }
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.run) {
    ++stats_.hits;
    std::shared_ptr<const GoldenRun> run = it->second.run;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    use_locked(it);
    return run;
  }
  entries_[key].computing = true;
  lock.unlock();
  std::shared_ptr<const GoldenRun> run;
  std::exception_ptr error;
  std::size_t bytes = 0;
  try {
    // When the last holder releases the run, its store becomes a spare (if there is room).
    run = std::shared_ptr<const GoldenRun>(
        new GoldenRun(make()), [spares = spares_](const GoldenRun* released) {
          std::unique_ptr<GoldenRun> owned(const_cast<GoldenRun*>(released));
          std::lock_guard<std::mutex> lock(spares->mu);
          if (spares->stores.size() < spares->max) {
            spares->stores.push_back(std::move(owned->store));
          }
        });
    bytes = run_bytes_(*run);
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  ++stats_.misses;
  it = entries_.find(key);
  Entry& e = it->second;
  e.computing = false;
  if (!error && e.uses_left > 1 && bytes <= budget_) {
    e.run = run;
    e.bytes = bytes;
    lru_.push_front(key);
    e.lru = lru_.begin();
    stats_.bytes += bytes;
    // Over budget: drop the least recently used other runs (their next use recomputes them).
    while (stats_.bytes > budget_ && lru_.back() != key) {
      Entry& victim = entries_.find(lru_.back())->second;
      drop_locked(victim);
      ++stats_.evictions;
    }
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes);
  }
  if (!error)
    use_locked(it);
  else if (e.uses_left == 0)
    entries_.erase(it);
  cv_.notify_all();
  if (error) std::rethrow_exception(error);
  return run;
}

void GoldenCache::count_use(std::int64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.hits;
  auto it = entries_.find(key);
  if (it != entries_.end()) use_locked(it);
}

bool GoldenCache::use_streamed(std::int64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    const Entry& e = it->second;
    if (e.run || e.computing || (e.uses_left > 1 && budget_ > 0)) return false;
  }
  ++stats_.misses;
  ++stats_.streamed;
  if (it != entries_.end()) use_locked(it);
  return true;
}

GoldenCacheStats GoldenCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::size_t default_golden_cache_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  constexpr std::size_t kMax = std::size_t{4} << 30;
  if (pages <= 0 || page <= 0) return std::size_t{1} << 30;
  return std::min(kMax, static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 4);
}

}  // namespace dnnfi
