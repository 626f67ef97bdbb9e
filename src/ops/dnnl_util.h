// oneDNN glue shared by the Conv, ConvTranspose, Gemm, MatMul and pooling kernels: the CPU engine,
// a stream and grow-only scratch buffers per calling thread, plain format tags, and a cache of
// primitives per OpenMP thread count.
//
// Why per thread count: a oneDNN primitive fixes its thread partitioning (and the size of its
// scratchpad) when it is created, from omp_get_max_threads() at that moment. A session is prepared
// once but run from threads that each pick their own intra-op thread count, so a kernel builds one
// "plan" per thread count it is run at — the first on prepare, others on the first run at that
// count — and never executes a primitive at a thread count it was not built for. This also makes
// results bitwise repeatable for a given thread count.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dnnfi::dnnl_util {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine();
// The calling thread's stream on cpu_engine().
dnnl::stream& thread_stream();

// Thread-local scratch slots. A kernel's run() may hold one pointer per slot at a time; the memory
// stays valid until the next request for the same slot on the same thread.
enum class Scratch { kPad, kSrc, kDst, kWeights, kSum, kCount };
// 64-byte aligned, grow-only (no allocation in steady state); nullptr when allocation fails.
void* thread_scratch(Scratch slot, std::size_t bytes) noexcept;

// The OpenMP thread count a run on the calling thread uses (omp_get_max_threads()).
int current_threads() noexcept;

// "ncw"/"nchw"/"ncdhw" for rank 3/4/5.
Tag plain_tag(std::size_t rank);
// Weight tags in ONNX order: oiw/oihw/oidhw; with groups goiw/goihw/goidhw; ConvTranspose's
// [in, out/group, k...] order: iow/iohw/iodhw, giow/giohw/giodhw.
Tag weights_tag(std::size_t spatial_rank, bool grouped, bool in_out_order);

memory::dims to_dims(const Shape& shape);

// Allocates a buffer for md and reorders `src` (described by src_md, plain data) into it.
// Throws dnnl::error; prepare-time only.
std::shared_ptr<void> reorder_to_new(const memory::desc& src_md, const void* src,
                                     const memory::desc& dst_md);

// One plan per thread count, built lazily by a caller-supplied builder and then read lock-free.
// Plans are immutable once published and live as long as the cache.
template <typename Plan>
class PlanCache {
 public:
  PlanCache() = default;
  PlanCache(const PlanCache&) = delete;
  PlanCache& operator=(const PlanCache&) = delete;

  // The plan for `threads`, building it with build(threads) -> std::unique_ptr<Plan> on first use.
  // Returns nullptr when the builder throws or returns null (the caller falls back to its
  // reference kernel); a failure is remembered so it is not retried on every run.
  template <typename Build>
  const Plan* get(int threads, Build&& build) const noexcept {
    const std::size_t slot = threads < 1 ? 1 : std::min<std::size_t>(threads, kSlots - 1);
    const Plan* p = slots_[slot].load(std::memory_order_acquire);
    if (p != nullptr) return p == failed() ? nullptr : p;
    std::lock_guard<std::mutex> lock(mu_);
    p = slots_[slot].load(std::memory_order_relaxed);
    if (p != nullptr) return p == failed() ? nullptr : p;
    const Plan* result = failed();
    try {
      std::unique_ptr<Plan> built = build(threads);
      if (built != nullptr) {
        owned_.push_back(std::move(built));
        result = owned_.back().get();
      }
    } catch (...) {
      // A plan that cannot be built at this thread count: the caller uses its reference kernel.
    }
    slots_[slot].store(result, std::memory_order_release);
    return result == failed() ? nullptr : result;
  }

 private:
  static constexpr std::size_t kSlots = 257;
  static const Plan* failed() { return reinterpret_cast<const Plan*>(&failed_tag_); }
  static inline const char failed_tag_ = 0;
  mutable std::array<std::atomic<const Plan*>, kSlots> slots_{};
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Plan>> owned_;
};

// "node 'name' (Op): oneDNN error: <what>" for a run-time Status.
std::string error_message(const std::string& node, const std::string& op, const char* what);

}  // namespace dnnfi::dnnl_util
