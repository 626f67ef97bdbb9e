// Replay of one stored trial: the same input and faults, re-derived from (seed, trial) and run
// again with a propagation trace; the result is compared with the stored record bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "campaign/results_db.h"
#include "core/tensor.h"

namespace dnnfi {

struct ReplayNode {
  std::string node;
  std::string op_type;
  bool changed = false;
  double max_abs_error = 0.0;
};

struct ReplayReport {
  std::string model;
  InputRecord input;
  TrialRecord stored;
  TrialRecord replayed;           // duration_s is this run's
  bool identical = false;         // replayed.same_result(stored)
  std::vector<ReplayNode> trace;  // every recomputed node, in execution order
  std::vector<Tensor> outputs;    // the fault-injected outputs
};

// Throws InputError naming the directory, the trial or the changed file.
ReplayReport replay_trial(const std::string& dir, std::int64_t trial);

}  // namespace dnnfi
