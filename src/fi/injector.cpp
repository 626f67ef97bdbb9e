#include "fi/injector.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/memory.h"
#include "fi/fault_model.h"
#include "graph/superlayers.h"

namespace dnnfi {

std::string strategy_name(Strategy s) {
  switch (s) {
    case Strategy::kCone:
      return "cone";
    case Strategy::kSuperlayer:
      return "superlayer";
    case Strategy::kFull:
      return "full";
  }
  return "?";
}

Strategy parse_strategy(const std::string& s) {
  if (s == "cone") return Strategy::kCone;
  if (s == "superlayer") return Strategy::kSuperlayer;
  if (s == "full") return Strategy::kFull;
  throw InputError("unknown strategy '" + s + "' (expected cone, superlayer or full)");
}

std::string outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kMasked:
      return "masked";
    case Outcome::kSDC:
      return "sdc";
    case Outcome::kTolerable:
      return "tolerable";
    case Outcome::kDUE:
      return "due";
    case Outcome::kHang:
      return "hang";
  }
  return "?";
}

std::vector<std::int64_t> top1_per_row(const Tensor& t) {
  std::vector<std::int64_t> out;
  if (t.numel() == 0) return out;
  const std::int64_t cols = t.rank() == 0 ? 1 : t.shape().back();
  if (cols == 0) return out;
  const std::int64_t rows = t.numel() / cols;
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t best = 0;
    double best_v = t.get_as_double(r * cols);
    for (std::int64_t c = 1; c < cols; ++c) {
      const double v = t.get_as_double(r * cols + c);
      // NaN never wins; a NaN-only row keeps index 0 (the trial is a DUE anyway).
      if (v > best_v || (std::isnan(best_v) && !std::isnan(v))) {
        best = c;
        best_v = v;
      }
    }
    out.push_back(best);
  }
  return out;
}

std::vector<std::int64_t> topk_row0(const Tensor& t, std::size_t k) {
  const std::int64_t cols = t.rank() == 0 ? 1 : t.shape().back();
  std::vector<std::int64_t> idx(static_cast<std::size_t>(std::max<std::int64_t>(cols, 0)));
  std::iota(idx.begin(), idx.end(), 0);
  auto key = [&](std::int64_t i) {
    const double v = t.get_as_double(i);
    return std::isnan(v) ? -INFINITY : v;
  };
  k = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](std::int64_t a, std::int64_t b) {
                      return key(a) > key(b) || (key(a) == key(b) && a < b);
                    });
  idx.resize(k);
  return idx;
}

Injector::Injector(std::shared_ptr<const Session> session, std::size_t min_band_bytes)
    : session_(std::move(session)) {
  if (session_->options().fuse) {
    throw InputError("fault injection needs every node's output: create the session without fuse");
  }
  superlayer_ =
      find_superlayers(session_->graph(), [this](int v) { return session_->is_constant(v); });
  regions_ = std::make_shared<RowRegions>(session_, min_band_bytes);
}

std::size_t GoldenRun::bytes(const Session& session) const {
  std::set<const void*> seen;
  std::size_t total = 0;
  for (std::size_t v = 0; v < store.size(); ++v) {
    const Tensor& t = store[static_cast<int>(v)];
    if (session.is_constant(static_cast<int>(v)) || t.raw() == nullptr) continue;
    if (seen.insert(t.raw()).second) total += t.nbytes();
  }
  return total;
}

std::size_t TrialWorkspace::bytes() const {
  std::size_t total = 0;
  for (const Tensor& t : scratch_) total += t.raw() != nullptr ? t.nbytes() : 0;
  total += arena_.raw() != nullptr ? arena_.nbytes() : 0;
  return total;
}

GoldenRun Injector::golden(std::vector<Tensor> inputs, bool keep_values) const {
  session_->check_inputs(inputs);
  return golden_in(std::move(inputs),
                   keep_values ? session_->make_store() : session_->make_planned_store());
}

GoldenRun Injector::golden(std::vector<Tensor> inputs, ValueStore used) const {
  session_->check_inputs(inputs);
  return golden_in(std::move(inputs), session_->make_store(std::move(used)));
}

GoldenRun Injector::golden_in(std::vector<Tensor> inputs, ValueStore store) const {
  GoldenRun g;
  g.id = new_golden_id();
  g.inputs = std::move(inputs);
  g.store = std::move(store);
  const Status st = session_->run(g.store, g.inputs);
  if (!st.is_ok()) throw InputError("fault-free run failed: " + st.message());
  set_golden_top(g);
  return g;
}

std::uint64_t Injector::new_golden_id() {
  static std::atomic<std::uint64_t> next_id{0};
  return next_id.fetch_add(1) + 1;
}

void Injector::set_golden_top(GoldenRun& g) const {
  const Tensor& out0 = g.store[session_->graph().outputs[0]];
  g.top1 = top1_per_row(out0);
  g.top5.assign(1, topk_row0(out0, 5));
}

FaultSite Injector::site_by_name(const std::string& name, std::int64_t flat_index) const {
  const Graph& g = session_->graph();
  // "layer:<i>": the i-th entry of Keras's model.layers (TensorFI+ numbers layers that way).
  if (name.rfind("layer:", 0) == 0 && !g.layer_names.empty() && g.find_node(name) < 0) {
    std::size_t index = 0;
    std::size_t used = 0;
    try {
      index = std::stoul(name.substr(6), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != name.size() - 6 || index >= g.layer_names.size() ||
        g.layer_names[index].empty()) {
      throw InputError("no layer '" + name + "' in " + g.source + " (it has " +
                       std::to_string(g.layer_names.size()) + " layers)");
    }
    return site_by_name(g.layer_names[index], flat_index);
  }
  FaultSite site;
  site.flat_index = flat_index;
  const int n = g.find_node(name);
  if (n >= 0) {
    site.kind = SiteKind::kNodeOutput;
    site.node = n;
    site.output = 0;
    site.value = g.nodes[static_cast<std::size_t>(n)].outputs.empty()
                     ? -1
                     : g.nodes[static_cast<std::size_t>(n)].outputs[0];
  } else {
    const int v = g.find_value(name);
    if (v < 0) throw InputError("no node or value named '" + name + "' in " + g.source);
    return site_of_value(v, flat_index);
  }
  if (site.value < 0) throw InputError("node '" + name + "' has no output to inject into");
  validate(Fault{site, FaultModel{FaultModelKind::kSetZero}});
  return site;
}

FaultSite Injector::site_of_value(int value, std::int64_t flat_index) const {
  const Graph& g = session_->graph();
  FaultSite site;
  site.value = value;
  site.flat_index = flat_index;
  if (value >= 0 && value < static_cast<int>(g.values.size())) {
    const Value& val = g.values[static_cast<std::size_t>(value)];
    if (val.producer >= 0) {
      site.kind = SiteKind::kNodeOutput;
      site.node = val.producer;
      const auto& outs = g.nodes[static_cast<std::size_t>(val.producer)].outputs;
      site.output = static_cast<int>(std::find(outs.begin(), outs.end(), value) - outs.begin());
    } else {
      site.kind = val.is_initializer ? SiteKind::kWeight : SiteKind::kGraphInput;
    }
  }
  validate(Fault{site, FaultModel{FaultModelKind::kSetZero}});
  return site;
}

void Injector::validate(const Fault& f) const {
  const Graph& g = session_->graph();
  const FaultSite& s = f.site;
  if (s.value < 0 || s.value >= static_cast<int>(g.values.size())) {
    throw InputError("fault site has no valid value");
  }
  const TensorInfo& info = session_->info(s.value);
  const std::string& name = g.values[static_cast<std::size_t>(s.value)].name;
  if (s.flat_index < 0 || s.flat_index >= info.numel()) {
    throw InputError("index " + std::to_string(s.flat_index) + " is out of range for '" + name +
                     "' of shape " + shape_to_string(info.shape) + " (" +
                     std::to_string(info.numel()) + " elements)");
  }
  validate_fault_model(f.model, info.dtype);
  if (f.model.kind == FaultModelKind::kTensorCallback && session_->nhwc(s.value)) {
    throw InputError("a tensor callback needs '" + name +
                     "' in ONNX layout; this session holds it channels-last (NHWC)");
  }
}

void Injector::bind(const GoldenRun& golden, TrialWorkspace& ws) const {
  const std::size_t nv = session_->graph().values.size();
  if (ws.scratch_.size() != nv) {
    ws.scratch_.assign(nv, Tensor());
    ws.views_.assign(nv, Tensor());
    ws.arena_ = Tensor();
    ws.state_.assign(nv, 0);
    ws.rows_.assign(nv, RowSpan{});
    ws.queued_.assign(session_->graph().nodes.size(), 0);
    ws.touched_.clear();
    ws.table_.assign(nv, nullptr);
    ws.bound_ = nullptr;
  }
  if (ws.bound_ != &golden || ws.bound_id_ != golden.id) {
    for (std::size_t v = 0; v < nv; ++v) ws.table_[v] = &golden.store[static_cast<int>(v)];
    std::fill(ws.state_.begin(), ws.state_.end(), 0);
    ws.touched_.clear();
    ws.bound_ = &golden;
    ws.bound_id_ = golden.id;
  }
}

Tensor& Injector::held(TrialWorkspace& ws, int v) const {
  const auto i = static_cast<std::size_t>(v);
  return ws.in_arena_ && session_->memory_plan().offset[i] != MemoryPlan::kNotPlanned
             ? ws.views_[i]
             : ws.scratch_[i];
}

Tensor& Injector::scratch(TrialWorkspace& ws, int v) const {
  const auto i = static_cast<std::size_t>(v);
  const TensorInfo& info = session_->info(v);
  const MemoryPlan& plan = session_->memory_plan();
  if (ws.in_arena_ && plan.offset[i] != MemoryPlan::kNotPlanned) {
    Tensor& t = ws.views_[i];
    if (t.empty()) {
      t = Tensor::wrap(info.dtype, info.shape,
                       static_cast<char*>(ws.arena_.raw()) + plan.offset[i]);
    }
    return t;
  }
  Tensor& t = ws.scratch_[i];
  if (t.empty()) {
    const MapSmallerBlocks populated;  // kept for the workspace's life
    t = Tensor(info.dtype, info.shape);
  }
  return t;
}

void Injector::reset(TrialWorkspace& ws, const GoldenRun& golden) const {
  for (int v : ws.touched_) {
    ws.table_[static_cast<std::size_t>(v)] = &golden.store[v];
    ws.state_[static_cast<std::size_t>(v)] = 0;
  }
  ws.touched_.clear();
  std::fill(ws.queued_.begin(), ws.queued_.end(), 0);
}

Status Injector::compute_node(int n, TrialWorkspace& ws) const {
  const Node& node = session_->graph().nodes[static_cast<std::size_t>(n)];
  Tensor* outs[16];
  std::vector<Tensor*> outs_vec;
  Tensor** out_ptr = outs;
  if (node.outputs.size() > 16) {
    outs_vec.resize(node.outputs.size());
    out_ptr = outs_vec.data();
  }
  for (std::size_t o = 0; o < node.outputs.size(); ++o) {
    const int v = node.outputs[o];
    out_ptr[o] = v == kNoValue ? nullptr : &scratch(ws, v);
  }
  Status st =
      session_->run_node_with(n, ws.table_, std::span<Tensor* const>(out_ptr, node.outputs.size()));
  for (std::size_t o = 0; o < node.outputs.size(); ++o) {
    const int v = node.outputs[o];
    if (v == kNoValue) continue;
    ws.table_[static_cast<std::size_t>(v)] = out_ptr[o];
    if (ws.state_[static_cast<std::size_t>(v)] == 0) ws.touched_.push_back(v);
    ws.state_[static_cast<std::size_t>(v)] = 1;
    if (regions_->row_value(v)) ws.rows_[static_cast<std::size_t>(v)] = {0, regions_->height(v)};
  }
  return st;
}

void Injector::apply_faults_for_value(int v, std::span<const Fault> faults, TrialWorkspace& ws,
                                      const GoldenRun& golden, TrialResult& r) const {
  bool any = false;
  for (const Fault& f : faults) any |= f.site.value == v;
  if (!any) return;
  const auto vi = static_cast<std::size_t>(v);
  if (ws.banded_ && regions_->row_value(v)) {
    // Copy only the rows the faults land in (and any between them and the band already held).
    const RowLayout layout = regions_->layout(v);
    RowSpan need{regions_->height(v), 0};
    for (const Fault& f : faults) {
      if (f.site.value != v) continue;
      const std::int64_t h = regions_->row_of(v, f.site.flat_index);
      need = {std::min(need.lo, h), std::max(need.hi, h + 1)};
    }
    Tensor& t = scratch(ws, v);
    if (ws.state_[vi] != 1) {
      copy_rows(golden.store[v], layout, need, t);
      ws.table_[vi] = &t;
      if (ws.state_[vi] == 0) ws.touched_.push_back(v);
      ws.state_[vi] = 1;
      ws.rows_[vi] = need;
    } else {
      const RowSpan cur = ws.rows_[vi];
      copy_rows(golden.store[v], layout, {need.lo, cur.lo}, t);
      copy_rows(golden.store[v], layout, {cur.hi, need.hi}, t);
      ws.rows_[vi] = {std::min(need.lo, cur.lo), std::max(need.hi, cur.hi)};
    }
  } else if (ws.state_[vi] != 1) {  // corrupt a copy, never the golden value
    Tensor& t = scratch(ws, v);
    const Tensor& src = golden.store[v];
    if (t.nbytes()) std::memcpy(t.raw(), src.raw(), t.nbytes());
    ws.table_[static_cast<std::size_t>(v)] = &t;
    if (ws.state_[static_cast<std::size_t>(v)] == 0) ws.touched_.push_back(v);
    ws.state_[static_cast<std::size_t>(v)] = 1;
    if (regions_->row_value(v)) ws.rows_[vi] = {0, regions_->height(v)};
  }
  Tensor& t = held(ws, v);
  for (std::size_t i = 0; i < faults.size(); ++i) {
    const Fault& f = faults[i];
    if (f.site.value != v) continue;
    // The site names an element in ONNX order; a channels-last value holds it elsewhere.
    AppliedFault a =
        apply_fault_model_at(f.model, t, session_->storage_index(v, f.site.flat_index));
    a.fault = f;
    a.index = i;
    r.applied.push_back(std::move(a));
  }
}

namespace {

double max_abs_error(const Tensor& a, const Tensor& b) {
  double m = 0.0;
  const std::int64_t n = std::min(a.numel(), b.numel());
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = a.get_as_double(i);
    const double y = b.get_as_double(i);
    if (std::isnan(x) != std::isnan(y) || std::isinf(x) || std::isinf(y)) {
      if (!(x == y)) return INFINITY;
      continue;
    }
    if (std::isnan(x)) continue;
    m = std::max(m, std::abs(x - y));
  }
  return m;
}

}  // namespace

bool Injector::timed_out(const TrialOptions& options, const TrialWorkspace& ws) const {
  if (options.time_limit_s <= 0.0) return false;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - ws.t0_).count() >
         options.time_limit_s;
}

void Injector::record(int n, const GoldenRun& golden, const TrialOptions& options,
                      TrialWorkspace& ws, TrialResult& r) const {
  ++r.nodes_computed;
  if (!options.trace) return;
  const Graph& g = session_->graph();
  NodeChange c;
  c.node = n;
  const int v = g.nodes[static_cast<std::size_t>(n)].outputs.empty()
                    ? kNoValue
                    : g.nodes[static_cast<std::size_t>(n)].outputs[0];
  if (v != kNoValue) {
    materialize(ws, golden, v);
    c.changed = !ws.table_[static_cast<std::size_t>(v)]->bit_equal(golden.store[v]);
    c.max_abs_error =
        c.changed ? max_abs_error(*ws.table_[static_cast<std::size_t>(v)], golden.store[v]) : 0.0;
  }
  r.trace.push_back(c);
}

void Injector::after_node(int n, std::span<const Fault> faults, TrialWorkspace& ws,
                          const GoldenRun& golden, TrialResult& r) const {
  for (int v : session_->graph().nodes[static_cast<std::size_t>(n)].outputs) {
    if (v != kNoValue) apply_faults_for_value(v, faults, ws, golden, r);
  }
}

void Injector::queue_consumers(int v, TrialWorkspace& ws) const {
  for (int c : session_->graph().values[static_cast<std::size_t>(v)].consumers) {
    if (!ws.queued_[static_cast<std::size_t>(c)]) {
      ws.queued_[static_cast<std::size_t>(c)] = 1;
      ws.heap_.push_back(c);
      std::push_heap(ws.heap_.begin(), ws.heap_.end(), std::greater<>());
    }
  }
}

void Injector::begin_trial(const GoldenRun& golden, std::span<const Fault> faults,
                           const TrialOptions& options, TrialWorkspace& ws, TrialResult& r) const {
  const Graph& g = session_->graph();
  for (const Fault& f : faults) validate(f);
  bind(golden, ws);
  // The cone and full strategies compute nodes in index order, as Session::run does, so their
  // recomputed values can share one arena laid out by the session's memory plan (a value's bytes
  // are reused only after its last reader ran): a small, cache-resident working set. Superlayer
  // computes in depth-first order and keeps a buffer per value.
  ws.in_arena_ = options.strategy != Strategy::kSuperlayer;
  const std::size_t arena_bytes = session_->memory_plan().arena_bytes;
  if (ws.in_arena_ && (ws.arena_.empty() || ws.arena_.nbytes() < arena_bytes)) {
    ws.arena_ =
        Tensor(DType::kUInt8, {static_cast<std::int64_t>(std::max<std::size_t>(arena_bytes, 1))});
    std::fill(ws.views_.begin(), ws.views_.end(), Tensor());
  }
  ws.banded_ = options.strategy == Strategy::kCone && options.row_regions;
  for (const Fault& f : faults) {
    ws.banded_ = ws.banded_ && f.model.kind != FaultModelKind::kTensorCallback;
  }
  ws.status_ = Status::ok();
  ws.hang_ = false;
  ws.heap_.clear();
  ws.t0_ = std::chrono::steady_clock::now();
  // Faults on values with no producer (weights, graph inputs) are in place before anything runs.
  // Once per value: apply_faults_for_value applies every fault on that value.
  std::vector<int>& source_values = ws.sources_;
  source_values.clear();
  for (const Fault& f : faults) {
    if (g.values[static_cast<std::size_t>(f.site.value)].producer < 0 &&
        std::find(source_values.begin(), source_values.end(), f.site.value) ==
            source_values.end()) {
      source_values.push_back(f.site.value);
    }
  }
  for (int v : source_values) apply_faults_for_value(v, faults, ws, golden, r);
  if (options.strategy != Strategy::kCone) return;
  for (const Fault& f : faults) {
    const Value& val = g.values[static_cast<std::size_t>(f.site.value)];
    if (val.producer < 0) {
      if (ws.state_[static_cast<std::size_t>(f.site.value)] == 1 &&
          still_differs(ws, golden, f.site.value)) {
        queue_consumers(f.site.value, ws);
      }
    } else if (!ws.queued_[static_cast<std::size_t>(val.producer)]) {
      ws.queued_[static_cast<std::size_t>(val.producer)] = 1;
      ws.heap_.push_back(val.producer);
      std::push_heap(ws.heap_.begin(), ws.heap_.end(), std::greater<>());
    }
  }
}

void Injector::advance_cone(int last, const GoldenRun& golden, std::span<const Fault> faults,
                            const TrialOptions& options, TrialWorkspace& ws, TrialResult& r) const {
  const Graph& g = session_->graph();
  std::vector<int>& heap = ws.heap_;
  while (!heap.empty() && heap.front() <= last && ws.status_.is_ok() && !ws.hang_) {
    if (timed_out(options, ws)) {
      ws.hang_ = true;
      break;
    }
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const int n = heap.back();
    heap.pop_back();
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    bool dirty_input = false;
    for (int v : node.inputs) {
      dirty_input |= v != kNoValue && ws.state_[static_cast<std::size_t>(v)] == 1;
    }
    if (dirty_input) {
      if (ws.banded_ && compute_band(n, ws, golden, ws.status_, r)) {
        ++r.nodes_banded;
      } else {
        // A node with a row rule computed whole still differs only in the rows its inputs reach.
        RowSpan reached;
        const bool limited = ws.banded_ && reach(n, ws, reached) && !reached.empty();
        for (int v : node.inputs) {
          if (v != kNoValue) materialize(ws, golden, v);
        }
        ws.status_ = compute_node(n, ws);
        if (limited) ws.rows_[static_cast<std::size_t>(node.outputs[0])] = reached;
      }
      if (!ws.status_.is_ok()) break;
    }
    after_node(n, faults, ws, golden, r);  // faults on its outputs (a copy of golden if not rerun)
    for (int v : node.outputs) {
      if (v == kNoValue || ws.state_[static_cast<std::size_t>(v)] != 1) continue;
      if (still_differs(ws, golden, v)) queue_consumers(v, ws);
    }
    if (dirty_input) record(n, golden, options, ws, r);
  }
}

void Injector::finish_trial(const GoldenRun& golden, const TrialOptions& options,
                            TrialWorkspace& ws, TrialResult& r) const {
  const Graph& g = session_->graph();
  for (int v : g.outputs) materialize(ws, golden, v);
  // Strategies reach the faulty nodes in different orders; report faults in the caller's order.
  std::stable_sort(r.applied.begin(), r.applied.end(),
                   [](const AppliedFault& a, const AppliedFault& b) { return a.index < b.index; });
  if (ws.hang_) {
    r.outcome = Outcome::kHang;
    r.error = "time limit exceeded";
  } else if (!ws.status_.is_ok()) {
    r.outcome = Outcome::kDUE;
    r.error = ws.status_.message();
  } else {
    classify(golden, ws, r);
  }
  if (options.keep_outputs) {
    for (int v : g.outputs) r.outputs.push_back(ws.table_[static_cast<std::size_t>(v)]->clone());
  }
  reset(ws, golden);
}

TrialResult Injector::run_trial(const GoldenRun& golden, std::span<const Fault> faults,
                                const TrialOptions& options, TrialWorkspace& ws) const {
  TrialResult r;
  const int n_nodes = static_cast<int>(session_->graph().nodes.size());
  // A tensor callback may throw (FaultModel::tensor_callback); the workspace stays usable.
  ResetOnThrow reset_on_throw{*this, ws, golden};
  // Kernels size their OpenMP teams from the calling thread's setting; set it only when it
  // differs (not on every trial).
  if (omp_get_max_threads() != session_->options().threads) {
    omp_set_num_threads(session_->options().threads);
  }
  begin_trial(golden, faults, options, ws, r);
  if (options.strategy == Strategy::kCone) {
    advance_cone(n_nodes, golden, faults, options, ws, r);
  } else if (options.strategy == Strategy::kFull) {
    for (int n = 0; n < n_nodes && ws.status_.is_ok(); ++n) {
      if (timed_out(options, ws)) {
        ws.hang_ = true;
        break;
      }
      ws.status_ = compute_node(n, ws);
      if (ws.status_.is_ok()) after_node(n, faults, ws, golden, r);
      record(n, golden, options, ws, r);
    }
  } else {
    run_superlayers(golden, faults, options, ws, r);
  }
  finish_trial(golden, options, ws, r);
  return r;
}

void Injector::classify(const GoldenRun& golden, TrialWorkspace& ws, TrialResult& r) const {
  const Graph& g = session_->graph();
  std::vector<const Tensor*> faulty;
  for (int v : g.outputs) faulty.push_back(ws.table_[static_cast<std::size_t>(v)]);
  classify_outputs(*session_, golden, faulty, r);
}

void classify_outputs(const Session& session, const GoldenRun& golden,
                      std::span<const Tensor* const> faulty, TrialResult& r) {
  const Graph& g = session.graph();
  bool identical = true;
  bool non_finite = false;
  for (std::size_t o = 0; o < g.outputs.size(); ++o) {
    const Tensor& f = *faulty[o];
    const Tensor& gold = golden.store[g.outputs[o]];
    if (f.bit_equal(gold)) continue;
    identical = false;
    const DType dt = f.dtype();
    if (dt == DType::kFloat32 || dt == DType::kFloat64 || dt == DType::kFloat16 ||
        dt == DType::kBFloat16) {
      for (std::int64_t i = 0; i < f.numel(); ++i) {
        const double x = f.get_as_double(i);
        if (!std::isfinite(x) && std::isfinite(gold.get_as_double(i))) {
          non_finite = true;
          break;
        }
      }
    }
  }
  const Tensor& out0 = *faulty[0];
  r.faulty_top1 = identical ? golden.top1 : top1_per_row(out0);
  if (identical) {
    r.outcome = Outcome::kMasked;
    r.golden_in_top5 = true;
    return;
  }
  const auto top5 = topk_row0(out0, 5);
  r.golden_in_top5 =
      !golden.top1.empty() && std::find(top5.begin(), top5.end(), golden.top1[0]) != top5.end();
  if (non_finite) {
    r.outcome = Outcome::kDUE;
    r.error = "NaN or Inf in the output";
  } else if (r.faulty_top1 != golden.top1) {
    r.outcome = Outcome::kSDC;
  } else {
    r.outcome = Outcome::kTolerable;
  }
}

}  // namespace dnnfi
