// Site sampling: a seeded policy that decides which faults a trial gets, separate from the
// mechanism that applies them (fi/injector.h). Trial i's faults depend only on (seed, i), so the
// results are the same at any thread count, in any shard, after any resume.
#pragma once

#include <cstdint>
#include <random>
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
  std::vector<DType> dtypes;          // keep only tensors of these dtypes (empty: all)
  // >= 0: only the candidate of this index after the other filters (TensorFI2's `Layer: K`);
  // for node outputs of a Keras model, the K-th of model.layers (Graph::layer_names).
  int layer_index = -1;
  int faults_per_trial = 1;  // TensorFI2's Amount (bitflips, random)
  // > 0: the number of faults per chosen tensor is floor(percent/100 * its element count)
  // instead of faults_per_trial (TensorFI2's Amount for zeros). Needs !independent_sites.
  double percent_per_site = 0.0;
  // How a trial's faults spread over sites:
  //   independent_sites (default): each fault draws its own site (tensor and element);
  //   !independent_sites: one tensor is drawn, the faults hit distinct elements of it
  //     (TensorFI2 "Mode: single");
  //   every_site: every candidate tensor gets its faults, distinct elements in each
  //     (TensorFI2 "Mode: multiple").
  bool independent_sites = true;
  bool every_site = false;
};

struct SampleCandidate {
  FaultSite site;  // flat_index unset
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

// Uniform integer in [0, n), n > 0, without modulo bias and portable (the standard distributions
// are implementation-defined, which would break cross-platform replay).
std::uint64_t uniform_below(std::mt19937_64& gen, std::uint64_t n);

// splitmix64: the stream seed of trial i is mix(seed, i); independent of any other trial.
std::uint64_t trial_stream_seed(std::uint64_t seed, std::uint64_t trial, std::uint64_t stream);

}  // namespace dnnfi
