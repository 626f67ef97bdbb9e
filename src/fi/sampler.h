// Site sampling: a seeded policy that decides which faults a trial gets, separate from the
// mechanism that applies them (fi/injector.h). Trial i's faults depend only on (seed, i), so the
// results are the same at any thread count, in any shard, after any resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exec/session.h"
#include "fi/fault.h"

namespace dnnfi {

enum class SitePolicy : std::uint8_t {
  kUniformNode,   // TensorFI+: a node uniformly, then an element of its output, then a bit
  kSizeWeighted,  // every element of the candidate tensors equally likely
};

struct SamplerConfig {
  SiteKind target = SiteKind::kNodeOutput;  // node outputs, weights or graph inputs
  SitePolicy policy = SitePolicy::kUniformNode;
  std::vector<std::string> op_types;  // keep only nodes of these op types (empty: all)
  std::string name_regex;             // keep only nodes/values whose name matches (ECMAScript)
  std::vector<std::string> names;     // keep only these nodes/values (empty: all)
  FaultModel model;                   // kind and fixed bits; empty bits: drawn per fault
  int bit_lo = 0;                     // random bits are drawn from [bit_lo, bit_hi]
  int bit_hi = -1;                    // -1: the dtype's top bit
  int bits_per_fault = 1;             // bits drawn per fault (distinct), for random bits
  int faults_per_trial = 1;           // TensorFI2's Amount
  // Several faults in one trial: false = all in one tensor (TensorFI2 "multiple" on one layer),
  // true = each fault draws its own site.
  bool independent_sites = true;
};

struct SampleCandidate {
  FaultSite site;            // flat_index unset
  std::int64_t numel = 0;
  DType dtype = DType::kUndefined;
};

class FaultSampler {
 public:
  // Resolves the candidate tensors; throws InputError naming the filter when nothing matches.
  FaultSampler(const Session& session, SamplerConfig config);

  const std::vector<SampleCandidate>& candidates() const { return candidates_; }
  const SamplerConfig& config() const { return config_; }
  std::vector<Fault> sample(std::uint64_t seed, std::uint64_t trial) const;

 private:
  SamplerConfig config_;
  std::vector<SampleCandidate> candidates_;
  std::vector<std::int64_t> cumulative_;  // prefix sums of numel for kSizeWeighted
};

// splitmix64: the stream seed of trial i is mix(seed, i); independent of any other trial.
std::uint64_t trial_stream_seed(std::uint64_t seed, std::uint64_t trial, std::uint64_t stream);

}  // namespace dnnfi
