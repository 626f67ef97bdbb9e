// Builders for results-database records in tests: every field set to a value the tests know.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "campaign/results_db.h"

namespace dnnfi::test {

inline CampaignInfo campaign_info(const std::string& config_hash = "hash-a", int shard_index = 0,
                                  int shard_count = 1) {
  CampaignInfo c;
  c.config_yaml = "model: lenet.onnx\nseed: 42\nnote: \"quoted, with comma\"\n";
  c.config_hash = config_hash;
  c.model_path = "models/lenet.onnx";
  c.model_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  c.dnnfi_version = "0.1.0";
  c.machine = "host; Linux; CPU; 2 cores";
  c.seed = 42;
  c.trials_planned = 1000;
  c.shard_index = shard_index;
  c.shard_count = shard_count;
  c.started_at = "2024-05-01T12:00:00Z";
  return c;
}

inline std::vector<InputRecord> input_records(int n) {
  std::vector<InputRecord> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(InputRecord{.index = i,
                            .dataset_index = 100 + i,
                            .label = i % 10,
                            .golden_label = (i % 3 == 0) ? (i + 1) % 10 : i % 10,
                            .correct = i % 3 != 0});
  }
  return v;
}

inline FaultRecord fault_record(int ordinal, const std::string& node, const std::string& op_type,
                                std::vector<int> bits) {
  FaultRecord f;
  f.ordinal = ordinal;
  f.site_kind = node.empty() ? "weight" : "node_output";
  f.node = node;
  f.op_type = op_type;
  f.value = node.empty() ? op_type + ".weight" : node + "_out";
  f.flat_index = 7 + ordinal;
  f.coords = {0, 1, 2, 3 + ordinal};
  f.model = "bitflip";
  f.bits = std::move(bits);
  f.dtype = "float32";
  f.bits_before = 0x3f800000;  // 1.0f
  f.bits_after = 0x3f800000 ^ (std::uint64_t{1} << (f.bits.empty() ? 0 : f.bits[0]));
  f.value_before = 1.0;
  f.value_after = -1.5;
  return f;
}

inline TrialRecord trial_record(std::int64_t id, const std::string& outcome,
                                std::vector<FaultRecord> faults = {}) {
  TrialRecord t;
  t.id = id;
  t.input_index = id % 4;
  t.label = id % 10;
  t.golden_label = id % 10;
  t.faulty_label = outcome == "due" || outcome == "hang" ? -1 : (id + 1) % 10;
  t.golden_in_top5 = true;
  t.outcome = outcome;
  t.error = outcome == "due" ? "Gather: index 99 out of range [0, 10)" : "";
  t.nodes_computed = 3 + id;
  t.duration_s = 0.25;
  t.faults = faults.empty() ? std::vector<FaultRecord>{fault_record(0, "conv1", "Conv", {30})}
                            : std::move(faults);
  return t;
}

}  // namespace dnnfi::test
