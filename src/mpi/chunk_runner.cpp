#include "mpi/chunk_runner.h"

#include <functional>
#include <vector>

#include "core/error.h"

namespace dnnfi::mpi_detail {

std::optional<wire::Result> ChunkRunner::run(const wire::Work& w, const std::atomic<bool>& stop) {
  const auto t0 = Clock::now();
  wire::Result r;
  r.chunk = w.chunk;
  if (w.golden) {
    for (std::size_t k = 0; k < w.positions.size(); ++k) {
      if (stop.load()) return std::nullopt;
      if (k < w.streamed.size() && !w.streamed[k].empty()) {
        if (!streamer_) streamer_.emplace(ctx_, no_inputs_);
        r.inputs.push_back(streamer_->golden_record_with_trials(w.positions[k], w.samples.at(k),
                                                                w.streamed[k], r.trials));
      } else {
        r.inputs.push_back(golden_record(ctx_, w.positions[k], w.samples.at(k)));
      }
    }
    r.seconds = seconds_since(t0);
    return r;
  }
  if (inputs_ == nullptr || inputs_->eligible.empty()) {
    throw Error("MPI: trial work arrived before the campaign's inputs");
  }
  if (!trials_) trials_.emplace(ctx_, *inputs_);
  r.trials.reserve(w.ids.size());
  // Chunks are cut in (input, id) order: each input's trials in the chunk run as one group, so
  // a group of at most TrialWorker::kMaxStreamed trials is streamed with its fault-free run.
  const std::vector<TrialGroup> groups =
      group_trials_by_input(ctx_, w.ids, inputs_->eligible.size(), w.ids.size());
  const std::function<bool()> stopped = [&] { return stop.load(); };
  for (const TrialGroup& g : groups) {
    if (stop.load()) return std::nullopt;
    trials_->run_group(g, r.trials, stopped);
    for (InputRecord& rec : trials_->take_new_inputs()) r.inputs.push_back(rec);
  }
  if (r.trials.size() < w.ids.size()) return std::nullopt;  // stopped inside a group
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace dnnfi::mpi_detail
