// JSON forms of the results records, shared by summary_json and export_json (layouts in
// docs/results_schema.md). JSON has no NaN or Inf, so a double that is not finite becomes the
// string "nan", "inf" or "-inf"; a raw bit pattern (uint64) becomes a hex string "0x3f800000", so
// no JSON reader rounds it through a double and the bits read as bits.
#pragma once

#include <nlohmann/json.hpp>

#include "campaign/results_db.h"
#include "campaign/stats.h"

namespace dnnfi {

nlohmann::ordered_json double_json(double v);
nlohmann::ordered_json campaign_json(const CampaignInfo& c);
nlohmann::ordered_json input_json(const InputRecord& in);
nlohmann::ordered_json fault_json(const FaultRecord& f);
nlohmann::ordered_json trial_json(const TrialRecord& t);  // with its faults
nlohmann::ordered_json proportion_json(const Proportion& p);

}  // namespace dnnfi
