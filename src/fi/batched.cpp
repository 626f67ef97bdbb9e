#include "fi/batched.h"

#include <omp.h>

#include <cstring>
#include <map>
#include <queue>

#include "core/error.h"
#include "fi/fault_model.h"

namespace dnnfi {

namespace {

std::size_t row_bytes(const Tensor& t, int batch) {
  return t.nbytes() / static_cast<std::size_t>(batch);
}

}  // namespace

BatchedInjector::BatchedInjector(std::shared_ptr<const Session> single, int batch)
    : single_(std::move(single)), batch_(batch) {
  if (batch < 1) throw InputError("batch must be >= 1");
  if (single_->options().fuse) {
    throw InputError("fault injection needs every node's output: create the session without fuse");
  }
  if (single_->options().channels_last) {
    // A batch-N session may choose other kernels than the batch-1 one where a layout choice
    // depends on the shape, and its values would then differ in the last bits.
    throw InputError("batched evaluation needs an NCHW session; this one is channels-last");
  }
  const Graph& g = single_->graph();
  SessionOptions opts = single_->options();
  Graph copy = g;
  for (int v : g.inputs) {
    Shape shape = single_->info(v).shape;
    if (shape.empty() || shape[0] != 1) {
      throw InputError(g.source + ": input '" + g.values[static_cast<std::size_t>(v)].name +
                       "' has no batch axis of size 1; batched evaluation needs one");
    }
    shape[0] = batch;
    opts.input_shapes[g.values[static_cast<std::size_t>(v)].name] = shape;
    // A model exported with a fixed batch of 1 gets a free batch axis; the checks below refuse it
    // if anything in it depends on that 1 (e.g. a Reshape to [1, -1]).
    copy.values[static_cast<std::size_t>(v)].info.shape[0] = -1;
  }
  batched_ = Session::create(std::move(copy), opts);
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const int id = static_cast<int>(v);
    if (single_->is_constant(id)) continue;
    const Shape& s1 = single_->info(id).shape;
    const Shape& sb = batched_->info(id).shape;
    bool ok = !s1.empty() && s1.size() == sb.size() && s1[0] == 1 && sb[0] == batch;
    for (std::size_t d = 1; ok && d < s1.size(); ++d) ok = s1[d] == sb[d];
    if (!ok) {
      throw InputError(g.source + ": value '" + g.values[v].name + "' is " + shape_to_string(s1) +
                       " at batch 1 but " + shape_to_string(sb) + " at batch " +
                       std::to_string(batch) + "; batched evaluation needs the batch on axis 0");
    }
  }
}

GoldenRun BatchedInjector::golden(const GoldenRun& single) const {
  GoldenRun b;
  for (const Tensor& in : single.inputs) {
    Shape shape = in.shape();
    shape[0] = batch_;
    Tensor t(in.dtype(), shape);
    for (int r = 0; r < batch_; ++r) {
      std::memcpy(static_cast<std::uint8_t*>(t.raw()) + static_cast<std::size_t>(r) * in.nbytes(),
                  in.raw(), in.nbytes());
    }
    b.inputs.push_back(std::move(t));
  }
  b.store = batched_->make_store();
  const Status st = batched_->run(b.store, b.inputs);
  if (!st.is_ok()) throw InputError("fault-free batched run failed: " + st.message());
  const Graph& g = batched_->graph();
  for (int n : batched_->run_order()) {
    for (int v : g.nodes[static_cast<std::size_t>(n)].outputs) {
      if (v == kNoValue) continue;
      const Tensor& one = single.store[v];
      const Tensor& many = b.store[v];
      for (int r = 0; r < batch_; ++r) {
        if (std::memcmp(static_cast<const std::uint8_t*>(many.raw()) + r * one.nbytes(), one.raw(),
                        one.nbytes()) != 0) {
          throw InputError(g.source + ": node '" + g.nodes[static_cast<std::size_t>(n)].name +
                           "' computes row " + std::to_string(r) + " differently at batch " +
                           std::to_string(batch_) +
                           " than at batch 1; batched evaluation would not be bit-identical");
        }
      }
    }
  }
  b.top1 = single.top1;
  b.top5 = single.top5;
  return b;
}

GoldenRun BatchedInjector::replicate(const GoldenRun& single) const {
  GoldenRun b;
  b.store = batched_->make_store();
  const std::size_t nv = batched_->graph().values.size();
  for (std::size_t v = 0; v < nv; ++v) {
    const int id = static_cast<int>(v);
    if (batched_->is_constant(id)) continue;
    const Tensor& one = single.store[id];
    Tensor& many = b.store[id];
    if (one.nbytes() == 0) continue;
    if (many.nbytes() != one.nbytes() * static_cast<std::size_t>(batch_)) {
      throw InputError("value '" + batched_->graph().values[v].name + "' has " +
                       std::to_string(one.nbytes()) + " bytes at batch 1 but " +
                       std::to_string(many.nbytes()) + " at batch " + std::to_string(batch_));
    }
    for (int r = 0; r < batch_; ++r) {
      std::memcpy(
          static_cast<std::uint8_t*>(many.raw()) + static_cast<std::size_t>(r) * one.nbytes(),
          one.raw(), one.nbytes());
    }
  }
  for (int v : batched_->graph().inputs) b.inputs.push_back(b.store[v]);
  b.top1 = single.top1;
  b.top5 = single.top5;
  return b;
}

std::optional<std::vector<TrialResult>> BatchedInjector::run_trials(
    const GoldenRun& single, const GoldenRun& batched, std::span<const std::vector<Fault>> trials,
    bool keep_outputs, BatchedWorkspace& ws) const {
  if (static_cast<int>(trials.size()) > batch_) {
    throw InputError("more trials than the batch size " + std::to_string(batch_));
  }
  const Graph& g = batched_->graph();
  const std::size_t nv = g.values.size();
  if (ws.scratch_.size() != nv) ws.scratch_.assign(nv, Tensor());
  ws.table_.assign(nv, nullptr);
  for (std::size_t v = 0; v < nv; ++v) ws.table_[v] = &batched.store[static_cast<int>(v)];
  ws.dirty_.assign(nv, 0);
  // As Injector::run_trial: set the OpenMP team size only when it differs, not on every pass.
  if (omp_get_max_threads() != batched_->options().threads) {
    omp_set_num_threads(batched_->options().threads);
  }

  std::vector<TrialResult> results(trials.size());
  // Faults by value: (row, position in the trial's list).
  std::map<int, std::vector<std::pair<std::size_t, std::size_t>>> by_value;
  for (std::size_t r = 0; r < trials.size(); ++r) {
    for (std::size_t k = 0; k < trials[r].size(); ++k) {
      const Fault& f = trials[r][k];
      if (f.site.kind == SiteKind::kWeight) {
        throw InputError("batched evaluation cannot fault a weight (every row shares it)");
      }
      if (f.model.kind == FaultModelKind::kTensorCallback) {
        throw InputError("batched evaluation cannot run a tensor callback (it holds every row)");
      }
      by_value[f.site.value].emplace_back(r, k);
    }
  }
  auto scratch = [&](int v) -> Tensor& {
    Tensor& t = ws.scratch_[static_cast<std::size_t>(v)];
    if (t.empty()) t = Tensor(batched_->info(v).dtype, batched_->info(v).shape);
    return t;
  };
  auto apply_faults = [&](int v) {
    const auto it = by_value.find(v);
    if (it == by_value.end()) return false;
    Tensor& t = scratch(v);
    if (!ws.dirty_[static_cast<std::size_t>(v)]) {  // corrupt a copy, never the golden value
      std::memcpy(t.raw(), batched.store[v].raw(), t.nbytes());
      ws.table_[static_cast<std::size_t>(v)] = &t;
      ws.dirty_[static_cast<std::size_t>(v)] = 1;
    }
    const std::size_t esize = dtype_size(t.dtype());
    const std::size_t rb = row_bytes(t, batch_);
    for (const auto& [r, k] : it->second) {
      const Fault& f = trials[r][k];
      auto* elem = static_cast<std::uint8_t*>(t.raw()) + r * rb +
                   static_cast<std::size_t>(f.site.flat_index) * esize;
      AppliedFault a = apply_fault_model(f.model, t.dtype(), elem);
      a.fault = f;
      a.index = k;
      results[r].applied.push_back(std::move(a));
    }
    return true;
  };
  // The union of the trials' cones, in topological order (node index order after finalize).
  std::priority_queue<int, std::vector<int>, std::greater<>> heap;
  std::vector<std::uint8_t> queued(g.nodes.size(), 0);
  auto push_consumers = [&](int v) {
    for (int c : g.values[static_cast<std::size_t>(v)].consumers) {
      if (!queued[static_cast<std::size_t>(c)]) {
        queued[static_cast<std::size_t>(c)] = 1;
        heap.push(c);
      }
    }
  };
  for (const auto& [v, list] : by_value) {
    const int p = g.values[static_cast<std::size_t>(v)].producer;
    if (p < 0) {
      apply_faults(v);
      push_consumers(v);
    } else if (!queued[static_cast<std::size_t>(p)]) {
      queued[static_cast<std::size_t>(p)] = 1;
      heap.push(p);
    }
  }
  std::size_t computed = 0;
  std::vector<Tensor*> outs;
  while (!heap.empty()) {
    const int n = heap.top();
    heap.pop();
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    bool dirty_input = false;
    for (int v : node.inputs)
      dirty_input |= v != kNoValue && ws.dirty_[static_cast<std::size_t>(v)];
    if (dirty_input) {
      outs.assign(node.outputs.size(), nullptr);
      for (std::size_t o = 0; o < node.outputs.size(); ++o) {
        if (node.outputs[o] != kNoValue) outs[o] = &scratch(node.outputs[o]);
      }
      const Status st = batched_->run_node_with(n, ws.table_, outs);
      if (!st.is_ok()) return std::nullopt;
      ++computed;
      for (int v : node.outputs) {
        if (v == kNoValue) continue;
        ws.table_[static_cast<std::size_t>(v)] = &ws.scratch_[static_cast<std::size_t>(v)];
        ws.dirty_[static_cast<std::size_t>(v)] = 1;
      }
    }
    for (int v : node.outputs) {
      if (v == kNoValue) continue;
      apply_faults(v);
      if (!ws.dirty_[static_cast<std::size_t>(v)]) continue;
      if (ws.table_[static_cast<std::size_t>(v)]->bit_equal(batched.store[v])) {
        ws.table_[static_cast<std::size_t>(v)] = &batched.store[v];  // every row masked here
        ws.dirty_[static_cast<std::size_t>(v)] = 0;
      } else {
        push_consumers(v);
      }
    }
  }
  // Each row against the golden run, exactly as one trial at a time classifies it.
  const Graph& g1 = single_->graph();
  for (std::size_t r = 0; r < trials.size(); ++r) {
    std::vector<Tensor> rows;
    std::vector<const Tensor*> ptrs;
    for (int v : g1.outputs) {
      const Tensor& t = *ws.table_[static_cast<std::size_t>(v)];
      const Tensor& one = single.store[v];
      rows.push_back(Tensor::wrap(
          one.dtype(), one.shape(),
          const_cast<std::uint8_t*>(static_cast<const std::uint8_t*>(t.raw())) + r * one.nbytes()));
    }
    for (const Tensor& t : rows) ptrs.push_back(&t);
    TrialResult& res = results[r];
    std::stable_sort(
        res.applied.begin(), res.applied.end(),
        [](const AppliedFault& a, const AppliedFault& b) { return a.index < b.index; });
    res.nodes_computed = computed;
    classify_outputs(*single_, single, ptrs, res);
    if (keep_outputs) {
      for (const Tensor& t : rows) res.outputs.push_back(t.clone());
    }
  }
  return results;
}

}  // namespace dnnfi
