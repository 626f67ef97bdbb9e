// Batched fault evaluation: up to B trials on the same input in one pass of a batch-B session,
// trial r's faults in row r. Every node downstream of any trial's fault is computed once for the
// whole batch; each row's outputs are classified against the golden run.
//
// Results are bit-identical to one trial at a time (Injector::run_trial), which holds only when
// the model is row-separable (every value keeps the batch as axis 0 and rows never mix) and its
// kernels compute each row with the same arithmetic at batch B as at batch 1. The constructor and
// golden() check both and refuse the model otherwise; a kernel error in a batched pass (which no
// row can own) is reported as "no result" so the caller reruns those trials one at a time.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "fi/injector.h"

namespace dnnfi {

class BatchedWorkspace {
 public:
  BatchedWorkspace() = default;

 private:
  friend class BatchedInjector;
  std::vector<Tensor> scratch_;
  std::vector<const Tensor*> table_;
  std::vector<std::uint8_t> dirty_;
};

class BatchedInjector {
 public:
  // `single` is the batch-1 injector; builds a batch-`batch` session of the same graph. Throws
  // InputError when the model's input has a fixed batch other than 1, or a value does not keep
  // the batch as axis 0 (naming it).
  BatchedInjector(std::shared_ptr<const Session> single, int batch);

  int batch() const { return batch_; }
  const Session& session() const { return *batched_; }

  // The batch golden run: `single`'s input in every row. Throws InputError naming the first node
  // whose rows differ from the batch-1 golden run (batch-dependent arithmetic).
  GoldenRun golden(const GoldenRun& single) const;
  // The batch golden run by copying `single`'s values into every row, without running the model:
  // for further inputs once golden() has shown that the model computes each row as at batch 1.
  GoldenRun replicate(const GoldenRun& single) const;

  // Trials (at most batch() of them) on the input of `single` / `batched`: node-output and
  // graph-input faults only (a weight is shared by every row). nullopt after a kernel error.
  // Outputs are kept when `keep_outputs`.
  std::optional<std::vector<TrialResult>> run_trials(const GoldenRun& single,
                                                     const GoldenRun& batched,
                                                     std::span<const std::vector<Fault>> trials,
                                                     bool keep_outputs, BatchedWorkspace& ws) const;

 private:
  std::shared_ptr<const Session> single_;
  std::shared_ptr<const Session> batched_;
  int batch_ = 1;
};

}  // namespace dnnfi
