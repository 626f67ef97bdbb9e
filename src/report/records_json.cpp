#include "report/records_json.h"

#include <fmt/format.h>

#include <cmath>

namespace dnnfi {

using nlohmann::ordered_json;

ordered_json double_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

ordered_json campaign_json(const CampaignInfo& c) {
  return ordered_json{{"config_yaml", c.config_yaml},
                      {"config_hash", c.config_hash},
                      {"model_path", c.model_path},
                      {"model_sha256", c.model_sha256},
                      {"dnnfi_version", c.dnnfi_version},
                      {"machine", c.machine},
                      {"seed", c.seed},
                      {"trials_planned", c.trials_planned},
                      {"shard_index", c.shard_index},
                      {"shard_count", c.shard_count},
                      {"started_at", c.started_at}};
}

ordered_json input_json(const InputRecord& in) {
  return ordered_json{{"input_index", in.index},
                      {"dataset_index", in.dataset_index},
                      {"label", in.label},
                      {"golden_label", in.golden_label},
                      {"correct", in.correct}};
}

ordered_json fault_json(const FaultRecord& f) {
  return ordered_json{{"ordinal", f.ordinal},
                      {"site_kind", f.site_kind},
                      {"node", f.node},
                      {"op_type", f.op_type},
                      {"value", f.value},
                      {"flat_index", f.flat_index},
                      {"coords", f.coords},
                      {"model", f.model},
                      {"bits", f.bits},
                      {"dtype", f.dtype},
                      {"bits_before", fmt::format("{:#x}", f.bits_before)},
                      {"bits_after", fmt::format("{:#x}", f.bits_after)},
                      {"value_before", double_json(f.value_before)},
                      {"value_after", double_json(f.value_after)}};
}

ordered_json trial_json(const TrialRecord& t) {
  ordered_json faults = ordered_json::array();
  for (const FaultRecord& f : t.faults) faults.push_back(fault_json(f));
  return ordered_json{{"id", t.id},
                      {"input_index", t.input_index},
                      {"label", t.label},
                      {"golden_label", t.golden_label},
                      {"faulty_label", t.faulty_label},
                      {"golden_in_top5", t.golden_in_top5},
                      {"outcome", t.outcome},
                      {"error", t.error},
                      {"nodes_computed", t.nodes_computed},
                      {"duration_s", double_json(t.duration_s)},
                      {"faults", std::move(faults)}};
}

ordered_json proportion_json(const Proportion& p) {
  return ordered_json{{"k", p.k}, {"n", p.n}, {"p", p.p}, {"lo", p.lo}, {"hi", p.hi}};
}

}  // namespace dnnfi
