// The campaign: a golden pass over the chosen inputs (Top-1 accuracy, fault-free labels), then
// seeded trials, each one input and its faults, recorded in the results database.
//
// Determinism: trial i's input is drawn from (seed, i / trials_per_input) and its faults from
// (seed, i) (fi/sampler.h), so results do not depend on the thread count, the shard split or
// resumes. Crash safety: trials are committed in transactions; --resume skips the committed ids;
// a lock file refuses a second process on the same output directory.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "campaign/config.h"
#include "campaign/dataset.h"
#include "campaign/golden_cache.h"
#include "campaign/results_db.h"
#include "fi/batched.h"
#include "fi/injector.h"
#include "fi/sampler.h"

namespace dnnfi {

// Model, dataset and sampler of a campaign, opened once and shared (read-only) by every worker.
class CampaignContext {
 public:
  // Loads and checks everything the config names; throws Error subclasses naming the file/key.
  // Preprocessing keys the config leaves unset come from the model's sidecar file and metadata
  // (with config.model_preprocess), so config().preprocess holds every key the campaign uses.
  explicit CampaignContext(const CampaignConfig& config);

  const CampaignConfig& config() const { return config_; }
  // The preprocessing pipeline every input goes through.
  const PreprocessConfig& preprocess() const { return preprocess_; }
  const Shape& input_shape() const { return input_shape_; }
  const Session& session() const { return *session_; }
  const Injector& injector() const { return *injector_; }
  const FaultSampler& sampler() const { return *sampler_; }
  const Dataset& dataset() const { return *dataset_; }
  std::int64_t num_classes() const { return num_classes_; }
  // Golden runs of the campaign's inputs (by input position), shared by this process's workers.
  GoldenCache& golden_cache() const { return *golden_cache_; }
  // The batch-config().batch injector; nullptr when batch is 1 or the model cannot be evaluated
  // in batches (a warning said why).
  const BatchedInjector* batched() const {
    return batch_ok_.load(std::memory_order_acquire) ? batched_.get() : nullptr;
  }
  // `single`'s golden run in every row of batched()'s session. The campaign's first call runs the
  // batch session and compares each row with `single`: if a node computes rows differently at
  // the batch size (batch-dependent arithmetic), batching is turned off for the campaign with a
  // warning and nullopt is returned. Later calls copy `single` into the rows.
  std::optional<GoldenRun> batched_golden(const GoldenRun& single) const;
  // Trials run in batched passes so far (this process).
  void count_batched(std::size_t n) const { batched_trials_.fetch_add(n); }
  std::int64_t batched_trials() const { return static_cast<std::int64_t>(batched_trials_.load()); }

  // The dataset sample numbers of the campaign's inputs (all, or a seeded random subset).
  std::vector<std::int64_t> select_samples() const;
  // Sample -> model input tensor (decoded and preprocessed). Throws InputError naming the sample.
  Tensor input_tensor(std::int64_t dataset_index) const;
  // Which entry of `eligible` trial i uses.
  std::size_t trial_input(std::int64_t trial, std::size_t eligible) const;
  // A trial's result as a database record (fault sites named as in the model file).
  TrialRecord make_record(std::int64_t trial, const InputRecord& input, const TrialResult& result,
                          double duration_s) const;

 private:
  CampaignConfig config_;
  std::shared_ptr<const Session> session_;
  std::unique_ptr<Injector> injector_;
  std::unique_ptr<FaultSampler> sampler_;
  std::unique_ptr<Dataset> dataset_;
  std::unique_ptr<GoldenCache> golden_cache_;
  std::unique_ptr<BatchedInjector> batched_;
  mutable std::atomic<bool> batch_ok_{false};
  mutable std::mutex batch_mu_;
  mutable bool batch_checked_ = false;  // guarded by batch_mu_
  mutable std::atomic<std::size_t> batched_trials_{0};
  PreprocessConfig preprocess_;
  Shape input_shape_;
  std::int64_t num_classes_ = 0;
};

struct CampaignProgress {
  std::string phase;          // "golden" or "trials"
  std::int64_t done = 0;      // inputs (golden) or committed trials of this shard's plan
  std::int64_t total = 0;     // planned (the maximum with a target half-width)
  std::int64_t sdc = 0;       // SDC trials among the committed ones
  std::int64_t new_done = 0;  // done in this process (for the rate)
  double elapsed_s = 0.0;     // in this phase, in this process
};

struct CampaignRunOptions {
  bool resume = false;  // continue the campaign in the output directory
  std::function<void(const CampaignProgress&)> progress;  // called from the calling thread
  double progress_interval_s = 0.5;
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT): commit and return early
  // Stream the trials of an input whose golden run would not be reused (TrialWorker); false
  // keeps every golden run. The results are the same either way.
  bool stream_goldens = true;
};

struct CampaignRunResult {
  std::string db_path;
  std::int64_t trials_done = 0;  // committed in the database
  std::int64_t new_trials = 0;   // run by this process
  bool complete = false;         // the plan (or the target half-width) was reached
  bool reached_target = false;   // stopped early because the half-width target was met
  double seconds = 0.0;
  double golden_pass_seconds = 0.0;  // of `seconds`: the golden pass (0 when resumed past it)
  // Of `seconds`: the trial phase (trials not streamed in the golden pass, with their golden runs
  // and commits; no model load, no golden pass).
  double trial_phase_seconds = 0.0;
  // Of new_trials: those streamed in their input's golden-pass run (their time is in
  // golden_pass_seconds).
  std::int64_t golden_pass_trials = 0;
  // Inputs the golden pass ran (this process): those without trials or with streamed ones; an
  // input whose trials keep its golden run is recorded from that run instead (deferred).
  std::int64_t golden_pass_inputs = 0;
  GoldenCacheStats golden;          // this process's golden runs (rank 0's under MPI)
  std::int64_t batched_trials = 0;  // of new_trials, run in batched passes (rank 0's under MPI)
  std::size_t golden_budget_bytes = 0;
};

struct TrialInputs;

// Where a campaign's work runs: on threads of this process (the default, ThreadExecutor in
// campaign.cpp) or on MPI ranks (src/mpi/). run_campaign owns the directory, the database, the
// plan and the stopping rule; an executor only computes and commits, and since a trial's record
// depends on (seed, id) alone the database holds the same trials whichever executor ran them.
class CampaignExecutor {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~CampaignExecutor() = default;

  // The fault-free records of samples[p] for each position p in `positions` (record index p), in
  // the order of `positions` (progress reported while it runs). trials[p], where given and not
  // empty, lists trial ids on input p (at most TrialWorker::kMaxStreamed, cone strategy): they are
  // streamed in that input's fault-free run (TrialWorker::golden_record_with_trials) and their
  // records appended to `records`, in any order.
  virtual std::vector<InputRecord> golden_pass(const CampaignContext& ctx,
                                               const std::vector<std::int64_t>& samples,
                                               std::span<const std::int64_t> positions,
                                               const CampaignRunOptions& options,
                                               std::span<const std::vector<std::int64_t>> trials,
                                               std::vector<TrialRecord>& records) = 0;
  // True when run_trials makes the record of an input TrialInputs::deferred marks, from the
  // golden run its trials use, and commits it with them: such an input then skips the golden
  // pass, and its fault-free run is computed once.
  virtual bool makes_input_records() const { return false; }
  // Runs the trial ids and commits their records to `db`, adding them to `progress` (reported
  // with elapsed time since `t0`). Returns the number committed: all of them, or fewer only when
  // options.stop was set. Rethrows a worker's error.
  virtual std::int64_t run_trials(const CampaignContext& ctx, const TrialInputs& inputs,
                                  std::span<const std::int64_t> ids, ResultsDb& db,
                                  const CampaignRunOptions& options, CampaignProgress& progress,
                                  TimePoint t0) = 0;
};

// Runs (or resumes) a campaign on `executor` (nullptr: threads of this process). Throws
// InputError on bad config/data, on an existing campaign without `resume`, on a different
// campaign in the directory, or when another process holds it.
CampaignRunResult run_campaign(const CampaignConfig& config, const CampaignRunOptions& options,
                               CampaignExecutor* executor = nullptr);

// The database file of a campaign directory.
std::string results_db_path(const std::string& dir);

}  // namespace dnnfi
