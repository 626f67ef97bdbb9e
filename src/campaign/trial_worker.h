// The unit of campaign work that every executor shares: the fault-free record of one input, and
// trials run on one thread that keeps its last input's golden run. The thread pool of
// run_campaign and the ranks of the MPI driver (src/mpi/) both run their work through these, so
// a trial's record is the same whichever of them ran it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "campaign/campaign.h"

namespace dnnfi {

// The inputs trials draw from: the golden pass's records and the positions eligible for trials
// (all, or only the correctly classified ones).
struct TrialInputs {
  std::vector<InputRecord> inputs;
  std::vector<std::size_t> eligible;
  // Per position (empty: none): 1 when the input skipped the golden pass, so that its record
  // (inputs[i] holds only index and dataset_index) is made from the golden run its trials use
  // (CampaignExecutor::makes_input_records).
  std::vector<std::uint8_t> deferred;

  bool is_deferred(std::size_t position) const {
    return position < deferred.size() && deferred[position] != 0;
  }
};

// The deferred inputs' records as the trial phase makes them (one per group of such an input):
// keeps the first of each input not yet written, for the executor to commit before the trials
// that came with it.
class DeferredInputs {
 public:
  explicit DeferredInputs(const TrialInputs& inputs);
  // Of `made`, the records of inputs not returned before.
  std::vector<InputRecord> fresh(const std::vector<InputRecord>& made);

 private:
  std::vector<std::uint8_t> recorded_;  // per position
};

// The fault-free record of the input at `position` of the campaign's input list, which is
// dataset sample `dataset_index`. Throws InputError for a label out of the model's range or a
// sample that cannot be read.
InputRecord golden_record(const CampaignContext& ctx, std::int64_t position,
                          std::int64_t dataset_index);

// Trials on one input: `eligible` is the input's entry in TrialInputs::eligible
// (CampaignContext::trial_input of each id).
struct TrialGroup {
  std::size_t eligible = 0;
  std::vector<std::int64_t> ids;
};

// Orders trial ids by (input, id) and cuts them into groups of at most `max_group` trials on one
// input; the groups of one input are consecutive and share its golden run through the context's
// golden cache. Only the order of work changes: a trial's result depends on (seed, id) alone.
std::vector<TrialGroup> group_trials_by_input(const CampaignContext& ctx,
                                              std::span<const std::int64_t> ids,
                                              std::size_t eligible, std::size_t max_group);

// The most trials of one input in a group: 64 for load balance between threads and ranks, times
// the campaign's batch, so that a group sorted by faulted node fills batched passes with trials
// whose cones overlap.
std::size_t max_group_trials(const CampaignConfig& config);

// Tells the context's golden cache how many groups will use each input's golden run, so that it
// keeps a run exactly while groups of its input are still to come.
void announce_groups(const CampaignContext& ctx, const TrialInputs& inputs,
                     std::span<const TrialGroup> groups);

// Runs trials on one thread with its own scratch; golden runs come from the context's golden
// cache (computed once per input while the cache keeps them). A group of at most kMaxStreamed
// cone trials whose input's run the cache would not keep for another group runs streamed instead
// (Injector::run_streamed): the fault-free run then keeps no value and costs what an inference
// costs, with the same results. With a campaign batch > 1, a group's trials are ordered by their
// faulted node and run `batch` at a time in the context's batched injector (same records; each
// trial's time is its share of the pass). With batch: auto, the worker's first group of at least
// 2 x kCalibrationPasses x batch trials runs that many of them (spread over the model), half in
// passes and half alone, and the worker keeps the faster for the rest of the campaign. Not
// thread-safe: one per thread.
class TrialWorker {
 public:
  // Beyond this many trials one kept golden run (a buffer per value) costs less than the
  // streamed trials' workspaces.
  static constexpr std::size_t kMaxStreamed = 4;
  // batch: auto times this many batched passes against as many trials run alone, and batches
  // from then on if the passes took less than kAutoMargin of the time.
  static constexpr std::size_t kCalibrationPasses = 4;
  static constexpr double kAutoMargin = 0.9;
  // stream: false always keeps golden runs (for comparisons).
  TrialWorker(const CampaignContext& ctx, const TrialInputs& inputs, bool stream = true);

  // A group's trials in order, appended to `out`; returns early (with the trials done) once
  // `stop` returns true. A trial's input is trial_input(id), its faults sample(seed, id). Throws
  // InputError if the input no longer classifies as the golden pass recorded (model or dataset
  // changed). One use of its input's golden run in the context's golden cache (see
  // announce_groups).
  void run_group(const TrialGroup& group, std::vector<TrialRecord>& out,
                 const std::function<bool()>& stop);
  // The records of deferred inputs (TrialInputs::deferred) that run_group made since the last
  // call: one per group of such an input, from the golden run its trials used.
  std::vector<InputRecord> take_new_inputs() { return std::exchange(new_inputs_, {}); }
  // The golden pass's record of the input at `position` (dataset sample `dataset_index`) with its
  // trials `ids` (cone strategy, at most kMaxStreamed) streamed in the same fault-free run,
  // appended to `out`: for a campaign whose trial inputs are known before the golden pass (every
  // input eligible). Throws InputError as golden_record does.
  InputRecord golden_record_with_trials(std::int64_t position, std::int64_t dataset_index,
                                        std::span<const std::int64_t> ids,
                                        std::vector<TrialRecord>& out);

 private:
  TrialRecord run_on(std::int64_t id, const InputRecord& input);
  TrialRecord run_on(std::int64_t id, const InputRecord& input, const std::vector<Fault>& faults);
  // The group's trials through the batched injector (those it cannot hold one at a time);
  // false, with nothing run, when batching is off or the model turned out not to allow it.
  bool run_batched(const TrialGroup& group, const InputRecord& input, std::vector<TrialRecord>& out,
                   const std::function<bool()>& stop);
  struct Pending {
    std::int64_t id;
    std::vector<Fault> faults;
    int first_node;  // the earliest node the trial's faults feed (its cone starts there)
  };
  // One batched pass over `trials` (at most batch()), or each alone after a kernel error or past
  // the time limit; returns the seconds spent.
  double run_pass(std::span<const Pending> trials, const InputRecord& input,
                  std::vector<TrialRecord>& out);
  // The group's trials streamed with one fault-free run, appended to `out`; sets input's golden
  // label (a deferred input) or checks it.
  void run_streamed(const TrialGroup& group, InputRecord& input, bool deferred,
                    std::vector<TrialRecord>& out);
  // Trials `ids` streamed with the fault-free run on `in`; sets input's golden label from it.
  void stream(std::span<const std::int64_t> ids, std::vector<Tensor> in, InputRecord& input,
              std::vector<TrialRecord>& out);
  // Makes `input`'s golden run current, through the cache; a computed run's top-1 must be the
  // input's golden label unless the input is deferred (not recorded yet).
  void use_golden(const InputRecord& input, bool deferred);

  const CampaignContext& ctx_;
  const TrialInputs& inputs_;
  TrialOptions options_;
  bool stream_;
  std::vector<TrialWorkspace> workspaces_;  // [0] for trials on a kept run
  std::shared_ptr<const GoldenRun> golden_;
  std::int64_t golden_input_ = -1;
  std::optional<GoldenRun> batched_golden_;  // golden_ in every row, for run_batched
  std::int64_t batched_input_ = -1;
  BatchedWorkspace batched_ws_;
  std::vector<std::vector<Fault>> pass_;
  std::vector<InputRecord> new_inputs_;
  enum class BatchChoice : std::uint8_t { kUndecided, kOneAtATime, kBatched };
  BatchChoice choice_;
};

}  // namespace dnnfi
