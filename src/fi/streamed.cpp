// Injector::run_streamed: trials advanced in step with a fault-free run on a planned store.
#include <chrono>
#include <climits>
#include <memory>
#include <string>

#include "core/error.h"
#include "fi/injector.h"

namespace dnnfi {

std::vector<TrialResult> Injector::run_streamed(std::vector<Tensor> inputs,
                                                std::span<const std::vector<Fault>> trials,
                                                const TrialOptions& options,
                                                std::span<TrialWorkspace> ws,
                                                std::vector<std::int64_t>& golden_top1) const {
  if (options.strategy != Strategy::kCone) {
    throw InputError("streamed trials need the cone strategy, not " +
                     strategy_name(options.strategy));
  }
  if (ws.empty() || ws.size() < trials.size()) {
    throw InputError("streamed trials: " + std::to_string(trials.size()) + " trials but " +
                     std::to_string(ws.size()) + " workspaces");
  }
  session_->check_inputs(inputs);
  for (const std::vector<Fault>& faults : trials) {
    for (const Fault& f : faults) validate(f);
  }
  GoldenRun golden;
  golden.id = new_golden_id();
  golden.inputs = std::move(inputs);
  // Values live from their producer to their last reader; the cones read a golden value only
  // while it is: node n's inputs and outputs right after node n has run, the graph inputs and
  // outputs (own buffers) at any time, and constants.
  // The first workspace keeps the store between calls: a fresh arena costs page faults and a
  // fill on every run.
  TrialWorkspace& keeper = ws[0];
  if (keeper.planned_session_ != session_.get()) {
    keeper.planned_ = session_->make_planned_store();
    keeper.planned_session_ = session_.get();
  }
  golden.store = std::move(keeper.planned_);
  struct GiveBack {
    TrialWorkspace& keeper;
    GoldenRun& golden;
    ~GiveBack() { keeper.planned_ = std::move(golden.store); }
  } give_back{keeper, golden};
  std::vector<TrialResult> results(trials.size());
  std::vector<std::unique_ptr<ResetOnThrow>> guards;
  guards.reserve(trials.size());
  for (std::size_t t = 0; t < trials.size(); ++t) {
    guards.push_back(std::unique_ptr<ResetOnThrow>(new ResetOnThrow{*this, ws[t], golden}));
  }
  // The trials begin (faults on weights and graph inputs applied, the cone's first nodes queued)
  // once the run has copied the inputs in, right after its first node has run; the cones then
  // catch up on that node before the run goes on.
  bool begun = false;
  // A trial's time is that of its own steps; its time limit counts that time only, as on a kept
  // golden run (begin_trial starts the clock; later steps resume it where it stopped).
  auto timed = [&](std::size_t t, const auto& step) {
    const auto t0 = std::chrono::steady_clock::now();
    ws[t].t0_ = t0 - std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(results[t].streamed_s));
    step();
    results[t].streamed_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const auto& order = session_->run_order();
  const int first = order.empty() ? INT_MAX : order.front();
  const Status st = session_->run(golden.store, golden.inputs, [&](int n) {
    if (!begun) {
      // Nodes before the first that runs are folded constants: nothing of theirs is live yet.
      for (std::size_t t = 0; t < trials.size(); ++t) {
        timed(t, [&] {
          begin_trial(golden, trials[t], options, ws[t], results[t]);
          advance_cone(first - 1, golden, trials[t], options, ws[t], results[t]);
        });
      }
      begun = true;
    }
    for (std::size_t t = 0; t < trials.size(); ++t) {
      if (ws[t].heap_.empty() || ws[t].heap_.front() > n) continue;  // nothing to do here
      timed(t, [&] { advance_cone(n, golden, trials[t], options, ws[t], results[t]); });
    }
  });
  if (!st.is_ok()) throw InputError("fault-free run failed: " + st.message());
  for (std::size_t t = 0; !begun && t < trials.size(); ++t) {  // no node runs
    timed(t, [&] { begin_trial(golden, trials[t], options, ws[t], results[t]); });
  }
  set_golden_top(golden);
  golden_top1 = golden.top1;
  const int n_nodes = static_cast<int>(session_->graph().nodes.size());
  for (std::size_t t = 0; t < trials.size(); ++t) {
    // Nodes after the last that runs are folded constants too.
    timed(t, [&] {
      advance_cone(n_nodes, golden, trials[t], options, ws[t], results[t]);
      finish_trial(golden, options, ws[t], results[t]);
    });
  }
  return results;
}

}  // namespace dnnfi
