// Fault propagation: a golden (fault-free) run keeps every value; a trial applies fully specified
// faults and recomputes what they reach, by one of three strategies that give bit-identical
// outputs:
//   kCone       (default) only the nodes downstream of a corrupted value, in topological order,
//               every other input taken from the golden cache; stops as soon as no corrupted value
//               is live (masked). Within a node, only the band of output rows the corrupted rows
//               can reach is recomputed where the node allows it (fi/row_regions.h).
//   kSuperlayer TensorFI+'s Algorithm 1 with memoisation: recompute from the input up to the
//               superlayer before the fault, the branches to the next superlayer, then the rest.
//   kFull       the whole graph recomputed from the input (the reference).
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "exec/session.h"
#include "fi/fault.h"
#include "fi/row_regions.h"

namespace dnnfi {

enum class Strategy : std::uint8_t { kCone, kSuperlayer, kFull };
enum class Outcome : std::uint8_t { kMasked, kSDC, kTolerable, kDUE, kHang };

std::string strategy_name(Strategy s);
Strategy parse_strategy(const std::string& s);  // throws InputError
std::string outcome_name(Outcome o);

struct GoldenRun {
  // Bytes held for this input: every distinct non-constant tensor of the store (the golden
  // activation cache; constants are shared with the session, not copied).
  std::size_t bytes(const Session& session) const;

  std::vector<Tensor> inputs;
  // Unique per run made by Injector::golden: a workspace rebinds when it changes, even if a new
  // run lands at the address of the one it replaced.
  std::uint64_t id = 0;
  ValueStore store;                // every value of the fault-free run
  std::vector<std::int64_t> top1;  // per row of output 0 (argmax over its last axis)
  std::vector<std::vector<std::int64_t>> top5;
};

struct TrialOptions {
  Strategy strategy = Strategy::kCone;
  double time_limit_s = 0.0;  // > 0: a trial running longer is a hang
  bool keep_outputs = false;  // copy the faulty outputs into the result
  bool trace = false;         // record every recomputed node and whether its output changed
  // kCone: recompute bands of rows (fi/row_regions.h); false recomputes whole nodes (same
  // results, for comparison).
  bool row_regions = true;
};

struct NodeChange {
  int node = -1;
  bool changed = false;        // output differs from golden
  double max_abs_error = 0.0;  // over its first output (NaN/Inf give inf)
};

struct TrialResult {
  Outcome outcome = Outcome::kMasked;
  std::vector<AppliedFault> applied;
  std::vector<std::int64_t> faulty_top1;  // per row of output 0
  bool golden_in_top5 = true;             // row 0's golden label is in the faulty top-5
  std::string error;                      // DUE reason
  std::size_t nodes_computed = 0;
  std::size_t nodes_banded = 0;    // of those, computed on a band of rows only (fi/row_regions.h)
  std::size_t nodes_in_place = 0;  // of the banded, computed in place (Kernel::run_rows)
  std::vector<NodeChange> trace;   // when TrialOptions::trace
  std::vector<Tensor> outputs;     // when TrialOptions::keep_outputs
  // Injector::run_streamed: the time spent on this trial's faults and cone, its share of the
  // fault-free run excluded (what timing run_trial on a kept golden run measures).
  double streamed_s = 0.0;
};

// Per-thread scratch for recomputed values, allocated on first use and reused: an arena laid out
// by the session's memory plan (cone and full strategies), or a tensor per value (superlayer,
// weights, graph inputs and outputs).
class TrialWorkspace {
 public:
  TrialWorkspace() = default;
  // Bytes of scratch tensors allocated so far (it grows to the largest cone seen).
  std::size_t bytes() const;

 private:
  friend class Injector;
  std::vector<Tensor> scratch_;  // own buffers, by value
  // Planned values' buffers in one arena (Session::memory_plan), by value; used when in_arena_.
  Tensor arena_;
  std::vector<Tensor> views_;
  bool in_arena_ = false;
  std::vector<const Tensor*> table_;
  // per value: 0 untouched (golden), 1 differs from golden (in scratch), 2 recomputed but equal
  std::vector<std::uint8_t> state_;
  std::vector<int> touched_;
  std::vector<std::uint8_t> queued_;
  std::vector<int> heap_;     // the cone's pending nodes (a min-heap by topological index)
  std::vector<int> sources_;  // faulty values without a producer (weights, graph inputs)
  // Per value in state 1 with row bands on: the rows scratch holds (elsewhere it equals golden).
  std::vector<RowSpan> rows_;
  bool banded_ = false;            // this trial keeps row bands
  std::vector<Tensor> slabs_;      // dense band buffers (bytes), one per node input and the output
  std::vector<RowInput> row_in_;   // a node's inputs for Kernel::run_rows
  std::vector<Tensor> row_views_;  // [N, 1, H, W * C] views of channels-last inputs for row_in_
  std::vector<const Tensor*> slab_in_;
  std::vector<Tensor> slab_views_;
  const GoldenRun* bound_ = nullptr;
  std::uint64_t bound_id_ = 0;
  // The planned store of the last streamed fault-free run (Injector::run_streamed), reused.
  ValueStore planned_;
  const Session* planned_session_ = nullptr;
  // The trial in progress.
  std::chrono::steady_clock::time_point t0_;
  Status status_;
  bool hang_ = false;
};

class Injector {
 public:
  // min_band_bytes: the smallest value the cone holds as a band of rows (fi/row_regions.h).
  explicit Injector(std::shared_ptr<const Session> session,
                    std::size_t min_band_bytes = RowRegions::kMinBandBytes);

  const Session& session() const { return *session_; }
  const std::vector<bool>& superlayers() const { return superlayer_; }

  // Runs the model fault-free and keeps every value. keep_values false runs it on a planned store
  // (Session::make_planned_store) instead, as fast as an inference: then only the graph inputs
  // and outputs (and top1/top5) are meaningful, too little for trials. Throws InputError on bad
  // inputs or a kernel error.
  GoldenRun golden(std::vector<Tensor> inputs, bool keep_values = true) const;
  // A kept golden run written into the buffers of `used`, the store of a golden run of this
  // injector nobody reads any more (Session::make_store(ValueStore)); the same run as golden().
  GoldenRun golden(std::vector<Tensor> inputs, ValueStore used) const;

  // Sites by name: a node name or the name of a value it outputs; an initializer name gives a
  // weight site; a graph input name an input site; "layer:<i>" the i-th of Keras's model.layers
  // (Keras front end). Throws InputError naming what is wrong.
  FaultSite site_by_name(const std::string& name, std::int64_t flat_index) const;
  // The site of element `flat_index` of value `value` (a node output, weight or graph input),
  // validated; throws InputError if the index is out of range.
  FaultSite site_of_value(int value, std::int64_t flat_index) const;
  // Throws InputError if the fault cannot apply (index out of range, bit out of range...).
  void validate(const Fault& fault) const;

  TrialResult run_trial(const GoldenRun& golden, std::span<const Fault> faults,
                        const TrialOptions& options, TrialWorkspace& ws) const;

  // Trials on one input without a kept golden run (fi/streamed.cpp): runs the model fault-free
  // once on a planned store (Session::make_planned_store, which keeps a value only until its
  // last reader has run) and advances every trial's cone in step with it, node by node, while
  // the golden values each cone node reads are still live. The fault-free run then costs what
  // Session::run costs instead of writing every value to its own buffer. Results equal
  // run_trial(golden(inputs), trials[i], options) bit for bit. kCone only; one workspace per
  // trial (ws.size() >= trials.size()). The fault-free top-1 (per row of output 0) goes to
  // golden_top1. Throws InputError on bad inputs, faults or options.
  std::vector<TrialResult> run_streamed(std::vector<Tensor> inputs,
                                        std::span<const std::vector<Fault>> trials,
                                        const TrialOptions& options, std::span<TrialWorkspace> ws,
                                        std::vector<std::int64_t>& golden_top1) const;

 private:
  // Resets a workspace left mid-trial by an exception (a tensor callback may throw).
  struct ResetOnThrow {
    const Injector& injector;
    TrialWorkspace& ws;
    const GoldenRun& golden;
    int exceptions = std::uncaught_exceptions();
    ~ResetOnThrow() {
      if (std::uncaught_exceptions() > exceptions) injector.reset(ws, golden);
    }
  };
  // A trial in steps: begin_trial applies the faults on sources and queues the cone's first
  // nodes; advance_cone runs the queued nodes up to index `last`; finish_trial classifies and
  // resets the workspace.
  void begin_trial(const GoldenRun& golden, std::span<const Fault> faults,
                   const TrialOptions& options, TrialWorkspace& ws, TrialResult& r) const;
  void advance_cone(int last, const GoldenRun& golden, std::span<const Fault> faults,
                    const TrialOptions& options, TrialWorkspace& ws, TrialResult& r) const;
  void run_superlayers(const GoldenRun& golden, std::span<const Fault> faults,
                       const TrialOptions& options, TrialWorkspace& ws, TrialResult& r) const;
  void finish_trial(const GoldenRun& golden, const TrialOptions& options, TrialWorkspace& ws,
                    TrialResult& r) const;
  bool timed_out(const TrialOptions& options, const TrialWorkspace& ws) const;
  void record(int n, const GoldenRun& golden, const TrialOptions& options, TrialWorkspace& ws,
              TrialResult& r) const;
  void after_node(int n, std::span<const Fault> faults, TrialWorkspace& ws, const GoldenRun& golden,
                  TrialResult& r) const;
  void queue_consumers(int v, TrialWorkspace& ws) const;
  GoldenRun golden_in(std::vector<Tensor> inputs, ValueStore store) const;
  void set_golden_top(GoldenRun& g) const;
  static std::uint64_t new_golden_id();
  void bind(const GoldenRun& golden, TrialWorkspace& ws) const;
  // The buffer that holds v's recomputed value in this trial, allocated on first use.
  Tensor& scratch(TrialWorkspace& ws, int v) const;
  // The same buffer, already allocated.
  Tensor& held(TrialWorkspace& ws, int v) const;
  void reset(TrialWorkspace& ws, const GoldenRun& golden) const;
  Status compute_node(int n, TrialWorkspace& ws) const;
  void apply_faults_for_value(int v, std::span<const Fault> faults, TrialWorkspace& ws,
                              const GoldenRun& golden, TrialResult& r) const;
  void classify(const GoldenRun& golden, TrialWorkspace& ws, TrialResult& r) const;
  // Row bands (fi/row_regions.h).
  bool partial(const TrialWorkspace& ws, int v) const;
  void materialize(TrialWorkspace& ws, const GoldenRun& golden, int v) const;
  // After v was written: false (and v reset to golden) when it equals golden; tightens its band.
  bool still_differs(TrialWorkspace& ws, const GoldenRun& golden, int v) const;
  // The output rows node n's corrupted inputs reach; false when the node has no row rule or an
  // input it cannot slice is corrupted.
  bool reach(int n, const TrialWorkspace& ws, RowSpan& out) const;
  // Computes node n on the band of rows its corrupted inputs reach; false when it cannot (the
  // caller computes the whole node).
  bool compute_band(int n, TrialWorkspace& ws, const GoldenRun& golden, Status& status,
                    TrialResult& r) const;
  // The rows `out` of node n's output written in place by its kernel (Kernel::run_rows) from its
  // inputs' rows; false when the kernel does not (nothing written).
  bool compute_rows_in_place(int n, RowSpan out, TrialWorkspace& ws, const GoldenRun& golden) const;
  // v now differs from golden, held in `held`, valid in rows `rows`.
  void hold_band(TrialWorkspace& ws, int v, Tensor& held, RowSpan rows) const;
  Tensor& slab(TrialWorkspace& ws, std::size_t i, DType dtype, Shape shape) const;

  std::shared_ptr<const Session> session_;
  std::vector<bool> superlayer_;
  std::shared_ptr<const RowRegions> regions_;
};

// The outcome of faulty outputs (graph output order) against the golden run: masked, DUE (NaN/Inf
// where golden is finite), SDC (top-1 of some row differs) or tolerable; fills faulty_top1 and
// golden_in_top5 too.
void classify_outputs(const Session& session, const GoldenRun& golden,
                      std::span<const Tensor* const> faulty, TrialResult& r);

// Argmax over the last axis of each row of a float tensor; ties go to the lower index.
std::vector<std::int64_t> top1_per_row(const Tensor& t);
std::vector<std::int64_t> topk_row0(const Tensor& t, std::size_t k);

}  // namespace dnnfi
