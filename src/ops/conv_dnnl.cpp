#include "ops/conv_dnnl.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>

namespace dnnfi {

using dnnl_util::memory;
using dnnl_util::Scratch;

namespace {

dnnl::reorder make_reorder(const memory::desc& from, const memory::desc& to,
                           memory::desc& scratch_md) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::engine& eng = dnnl_util::cpu_engine();
  dnnl::reorder::primitive_desc pd(eng, from, eng, to, attr);
  scratch_md = pd.scratchpad_desc();
  return dnnl::reorder(pd);
}

// 64-bit hash of a buffer, 8 bytes at a time.
std::uint64_t hash_bytes(const void* data, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

// Constant weights packed once per (weights, layout) in the process: a convolution and the band
// variants that fault propagation prepares for it (fi/row_regions.h) share one copy. An entry
// lives while some plan holds the packed data. Weights in a tensor's own storage are known by
// that storage: the entry keeps a weak reference to it, so weights freed and others allocated at
// the same address never meet a stale entry (the old owner has expired), and no variant hashes
// megabytes of weights again. Wrapped memory has no owner: its bytes' hash is part of the key.
std::shared_ptr<void> packed_weights(const memory::desc& user_md, const Tensor& src,
                                     const memory::desc& md) {
  struct Entry {
    memory::desc md;
    bool owned = false;
    std::weak_ptr<const void> owner;  // for owned weights
    std::uint64_t hash = 0;           // of the bytes, for wrapped memory
    std::weak_ptr<void> data;
  };
  static std::mutex mu;
  static std::multimap<const void*, Entry> cache;
  const std::weak_ptr<const void> owner = src.owner();
  const bool owned = !owner.expired();
  const std::uint64_t hash = owned ? 0 : hash_bytes(src.raw(), user_md.get_size());
  auto same_source = [&](const Entry& e) {
    if (e.owned != owned) return false;
    if (!owned) return e.hash == hash;
    return !e.owner.expired() && !e.owner.owner_before(owner) && !owner.owner_before(e.owner);
  };
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = cache.begin(); it != cache.end();) {
    it = it->second.data.expired() ? cache.erase(it) : std::next(it);
  }
  for (auto [it, end] = cache.equal_range(src.raw()); it != end; ++it) {
    if (it->second.md == md && same_source(it->second)) {
      if (std::shared_ptr<void> data = it->second.data.lock()) return data;
    }
  }
  std::shared_ptr<void> data = dnnl_util::reorder_to_new(user_md, src.raw(), md);
  cache.emplace(src.raw(), Entry{md, owned, owner, hash, data});
  return data;
}

}  // namespace

std::unique_ptr<ConvPlan> finish_conv_plan(const dnnl::primitive_desc& pd, dnnl::primitive prim,
                                           const memory::desc& user_src_md,
                                           const memory::desc& user_weights_md,
                                           const memory::desc& user_dst_md,
                                           const Tensor* const_weights, PackedWeights* packed,
                                           const memory::desc& user_sum_md, bool post_after) {
  auto plan = std::make_unique<ConvPlan>();
  plan->prim = std::move(prim);
  plan->src_md = pd.src_desc();
  plan->weights_md = pd.weights_desc();
  plan->bias_md = pd.weights_desc(1);
  plan->dst_md = pd.dst_desc();
  plan->user_src_md = user_src_md;
  plan->user_weights_md = user_weights_md;
  plan->user_dst_md = user_dst_md;
  plan->prim_scratch_md = pd.scratchpad_desc();
  plan->impl = pd.impl_info_str();
  std::size_t scratch = plan->prim_scratch_md.get_size();
  if (plan->src_md != user_src_md) {
    plan->src_reorder = true;
    plan->src_r = make_reorder(user_src_md, plan->src_md, plan->src_scratch_md);
    scratch = std::max(scratch, plan->src_scratch_md.get_size());
  }
  if (plan->dst_md != user_dst_md) {
    plan->dst_reorder = true;
    plan->dst_r = make_reorder(plan->dst_md, user_dst_md, plan->dst_scratch_md);
    scratch = std::max(scratch, plan->dst_scratch_md.get_size());
  }
  // get_post_ops() is a view into the attr: keep the attr alive while reading it.
  const dnnl::primitive_attr attr = pd.get_primitive_attr();
  const dnnl::post_ops post = attr.get_post_ops();
  for (int i = 0; i < post.len(); ++i) plan->sum |= post.kind(i) == dnnl::primitive::kind::sum;
  plan->post_after = post_after;
  plan->user_sum_md = user_sum_md;
  if ((plan->sum || post_after) && user_sum_md.get_size() > 0 && user_sum_md != plan->dst_md) {
    plan->sum_reorder = true;
    plan->sum_r = make_reorder(user_sum_md, plan->dst_md, plan->sum_scratch_md);
    scratch = std::max(scratch, plan->sum_scratch_md.get_size());
  }
  if (const_weights != nullptr) {
    plan->weights_source = const_weights->raw();
    if (packed != nullptr && packed->data != nullptr && packed->md == plan->weights_md) {
      plan->weights = packed->data;
    } else {
      plan->weights = packed_weights(user_weights_md, *const_weights, plan->weights_md);
      if (packed != nullptr && packed->data == nullptr) *packed = {plan->weights_md, plan->weights};
    }
  }
  if (plan->weights_md != user_weights_md) {
    plan->weights_reorder = true;
    plan->weights_r = make_reorder(user_weights_md, plan->weights_md, plan->weights_scratch_md);
    scratch = std::max(scratch, plan->weights_scratch_md.get_size());
  }
  plan->scratch_bytes = scratch;
  return plan;
}

Status run_conv_plan(const ConvPlan& plan, const void* src, const void* weights, const void* bias,
                     const float* sum, void* dst, const std::string& node, const std::string& op,
                     const ConvPostOps* post, const std::int32_t* src_zero_point) noexcept {
  try {
    dnnl::engine& eng = dnnl_util::cpu_engine();
    dnnl::stream& strm = dnnl_util::thread_stream();
    void* scratch = nullptr;
    if (plan.scratch_bytes > 0) {
      scratch = dnnl_util::thread_scratch(Scratch::kPad, plan.scratch_bytes);
      if (scratch == nullptr) return Status::error("node '" + node + "': out of memory");
    }
    auto run_reorder = [&](const dnnl::reorder& r, const memory::desc& scratch_md,
                           const memory& from, const memory& to) {
      if (scratch_md.get_size() > 0) {
        memory pad(scratch_md, eng, scratch);
        r.execute(strm, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, pad}});
      } else {
        r.execute(strm, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
      }
    };
    auto scratch_memory = [&](Scratch slot, const memory::desc& md) -> memory {
      void* p = dnnl_util::thread_scratch(slot, md.get_size());
      if (p == nullptr) throw std::bad_alloc();
      return memory(md, eng, p);
    };

    memory user_src(plan.user_src_md, eng, const_cast<void*>(src));
    memory src_mem = user_src;
    if (plan.src_reorder) {
      src_mem = scratch_memory(Scratch::kSrc, plan.src_md);
      run_reorder(plan.src_r, plan.src_scratch_md, user_src, src_mem);
    }
    memory weights_mem;
    if (plan.weights != nullptr && weights == plan.weights_source) {
      weights_mem = memory(plan.weights_md, eng, plan.weights.get());
    } else {
      memory user_weights(plan.user_weights_md, eng, const_cast<void*>(weights));
      weights_mem = user_weights;
      if (plan.weights_reorder) {
        weights_mem = scratch_memory(Scratch::kWeights, plan.weights_md);
        run_reorder(plan.weights_r, plan.weights_scratch_md, user_weights, weights_mem);
      }
    }
    memory user_dst(plan.user_dst_md, eng, dst);
    memory dst_mem = plan.dst_reorder ? scratch_memory(Scratch::kDst, plan.dst_md) : user_dst;
    const bool has_sum = plan.sum || (plan.post_after && post != nullptr && post->sum);
    if (has_sum && sum == nullptr) {
      return Status::error("node '" + node + "' (" + op + "): no summand");
    }
    // The summand in the primitive's dst layout: in dst itself for oneDNN's sum post-op, else
    // where the post-after pass reads it.
    const float* summand = sum;
    if (has_sum) {
      memory user_sum(plan.user_sum_md, eng, const_cast<float*>(sum));
      if (plan.sum) {
        if (plan.sum_reorder) {
          run_reorder(plan.sum_r, plan.sum_scratch_md, user_sum, dst_mem);
        } else if (sum != dst_mem.get_data_handle()) {
          std::memcpy(dst_mem.get_data_handle(), sum, plan.dst_md.get_size());
        }
      } else if (plan.sum_reorder) {
        memory staged = scratch_memory(Scratch::kSum, plan.dst_md);
        run_reorder(plan.sum_r, plan.sum_scratch_md, user_sum, staged);
        summand = static_cast<const float*>(staged.get_data_handle());
      }
    }

    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, weights_mem}, {DNNL_ARG_DST, dst_mem}};
    if (bias != nullptr)
      args.emplace(DNNL_ARG_BIAS, memory(plan.bias_md, eng, const_cast<void*>(bias)));
    if (src_zero_point != nullptr) {
      args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC,
                   memory(memory::desc({1}, memory::data_type::s32, memory::format_tag::x), eng,
                          const_cast<std::int32_t*>(src_zero_point)));
    }
    if (plan.prim_scratch_md.get_size() > 0) {
      args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan.prim_scratch_md, eng, scratch));
    }
    plan.prim.execute(strm, args);
    if (plan.post_after && post != nullptr && post->any()) {
      strm.wait();
      // Over the primitive's dst buffer (padding included, harmless), in cache-sized chunks; the
      // split changes no element's value.
      float* y = static_cast<float*>(dst_mem.get_data_handle());
      const auto n = static_cast<std::int64_t>(plan.dst_md.get_size() / sizeof(float));
      constexpr std::int64_t kChunk = 4096;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
      for (std::int64_t i = 0; i < n; i += kChunk) {
        post->apply(y + i, summand != nullptr ? summand + i : nullptr, std::min(kChunk, n - i));
      }
    }
    if (plan.dst_reorder) run_reorder(plan.dst_r, plan.dst_scratch_md, dst_mem, user_dst);
    strm.wait();
    return Status::ok();
  } catch (const dnnl::error& e) {
    return Status::error(dnnl_util::error_message(node, op, e.what()));
  } catch (const std::exception& e) {
    return Status::error("node '" + node + "' (" + op + "): " + e.what());
  }
}

}  // namespace dnnfi
