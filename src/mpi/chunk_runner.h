// What rank 0's executor (mpi_campaign.cpp) and the worker ranks (mpi_worker.cpp) share: the
// polling loops' pacing and the runner of one chunk of work.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "campaign/trial_worker.h"
#include "mpi/wire.h"

namespace dnnfi::mpi_detail {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr auto kIdleSleep = std::chrono::microseconds(200);

// The polling loops' pause: short right after activity, doubling up to 2 ms while nothing
// happens, so an idle main thread costs next to no CPU and chunk hand-out stays far below a
// chunk's ~50 ms.
class IdleBackoff {
 public:
  void operator()(bool idle) {
    if (!idle) {
      pause_ = kMin;
      return;
    }
    std::this_thread::sleep_for(pause_);
    pause_ = std::min(pause_ * 2, kMax);
  }

 private:
  static constexpr std::chrono::microseconds kMin{50};
  static constexpr std::chrono::microseconds kMax{2000};
  std::chrono::microseconds pause_ = kMin;
};
constexpr double kHeartbeatS = 1.0;

// Runs chunks on one thread; its TrialWorker (scratch, last golden run) lives across chunks.
class ChunkRunner {
 public:
  ChunkRunner(const CampaignContext& ctx, const TrialInputs* inputs) : ctx_(ctx), inputs_(inputs) {}

  // The chunk's records, or nothing if `stop` was set before it finished.
  std::optional<wire::Result> run(const wire::Work& w, const std::atomic<bool>& stop);

 private:
  const CampaignContext& ctx_;
  const TrialInputs* inputs_;
  std::optional<TrialWorker> trials_;
  const TrialInputs no_inputs_;          // the golden pass's: its inputs are being made
  std::optional<TrialWorker> streamer_;  // streams the golden pass's trials
};

}  // namespace dnnfi::mpi_detail
