// Checks that a campaign's inputs look like what the model was trained on. A model fed raw
// 0-255 pixels where it expects normalized ones still runs and still gives answers, so a
// campaign would otherwise report chance-level accuracy and fault rates of a model that is not
// working, and say nothing. These checks warn (core/log.h) and never stop the campaign.
#pragma once

#include <cstdint>
#include <vector>

#include "campaign/campaign.h"
#include "campaign/results_db.h"

namespace dnnfi {

// Warns when inputs are far outside a normalized range while no preprocessing scale is set by
// anyone (config, flags, sidecar, metadata): max |x| over the first inputs above this.
inline constexpr double kUnnormalizedInputMax = 10.0;
// Warns when the fault-free Top-1 accuracy over at least kChanceMinInputs labelled inputs is at
// most kChanceFactor / classes (chance is 1 / classes).
inline constexpr double kChanceFactor = 1.5;
inline constexpr std::int64_t kChanceMinInputs = 50;

// Both checks on the campaign's inputs after the golden pass (or as read back on --resume).
void warn_if_inputs_look_wrong(const CampaignContext& ctx, const std::vector<InputRecord>& inputs);

}  // namespace dnnfi
