// One campaign over the ranks of an MPI job (`mpirun -n N dnnfi campaign ...`).
//
// Rank 0 runs run_campaign as a one-process run would (the directory lock, the results database,
// the plan, the progress bar) with an MpiCoordinator as its executor: the golden pass and each
// round of trials are cut into chunks (trials grouped by input, so a rank reuses its golden runs)
// that rank 0's own threads and the other ranks take as they become free. Only rank 0 writes
// the database. A chunk is committed once, whole, the first time its result arrives; the chunks
// of a rank that dies or falls silent for longer than the timeout go to the others. Since a
// trial's record depends on (seed, id) alone, the database holds the same trials, bit for bit,
// whatever the number of ranks and threads, and --resume works as in a one-process run.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "campaign/campaign.h"
#include "mpi/mpi_world.h"
#include "mpi/wire.h"

namespace dnnfi {

struct MpiCampaignStats {
  int ranks = 1;
  int ranks_lost = 0;                // workers given up: died, silent, or failed to set up
  std::int64_t chunks_reissued = 0;  // chunks handed out again after their rank was lost
  std::int64_t trials_committed = 0;
  std::int64_t remote_trials = 0;   // of those, computed by other ranks
  std::int64_t bytes_received = 0;  // result messages of trials (not of the golden pass)
  // Rank 0's main thread: CPU seconds spent decoding results and committing trials. Committed
  // trials per such second is the commit rate rank 0 could sustain (its bound on scale-out).
  double commit_s = 0.0;
};

class MpiCoordinator final : public CampaignExecutor {
 public:
  // timeout_s: a worker silent for this long is given up and its chunks reissued.
  MpiCoordinator(MpiWorld& world, double timeout_s);
  ~MpiCoordinator() override;  // finish(true) unless finish() was called

  std::vector<InputRecord> golden_pass(const CampaignContext& ctx,
                                       const std::vector<std::int64_t>& samples,
                                       std::span<const std::int64_t> positions,
                                       const CampaignRunOptions& options,
                                       std::span<const std::vector<std::int64_t>> trials,
                                       std::vector<TrialRecord>& records) override;
  std::int64_t run_trials(const CampaignContext& ctx, const TrialInputs& inputs,
                          std::span<const std::int64_t> ids, ResultsDb& db,
                          const CampaignRunOptions& options, CampaignProgress& progress,
                          TimePoint t0) override;
  bool makes_input_records() const override { return true; }

  // Tells every worker to stop (`failed`: the campaign ended with an error).
  void finish(bool failed);
  const MpiCampaignStats& stats() const { return stats_; }

 private:
  struct RankState;
  struct Phase;
  void start(const CampaignContext& ctx);
  void handle(MpiMessage& m, Phase& phase);
  void fill(int rank, Phase& phase);
  void give_up(int rank, Phase& phase, const std::string& why);
  void run_phase(const CampaignContext& ctx, Phase& phase, const CampaignRunOptions& options);

  MpiWorld& world_;
  double timeout_s_;
  bool started_ = false;
  bool finished_ = false;
  bool ranks_died_ = false;  // a worker fell silent: the job ends without MPI_Finalize
  std::vector<RankState> ranks_;
  const TrialInputs* inputs_ = nullptr;
  std::string inputs_message_;
  std::int64_t next_chunk_ = 0;
  MpiCampaignStats stats_;
};

// Every rank but 0: serves rank 0's chunks until it says stop. Returns the process exit status:
// 0, 2 when the campaign failed or rank 0 fell silent, 130 when `stop` (a signal) was set.
// `local_config` (optional) gives the campaign this rank's own command line describes, resolved
// as rank 0 resolves it (absolute paths, validated): it is loaded while rank 0 loads, and used
// when rank 0's setup names the same campaign and model file; otherwise the rank loads rank 0's.
int serve_campaign(MpiWorld& world, double timeout_s, const std::atomic<bool>* stop,
                   const std::function<CampaignConfig()>& local_config = {});

}  // namespace dnnfi
