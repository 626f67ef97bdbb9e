// Summaries and exports of a campaign's results database (dnnfi summary / dnnfi export).
#pragma once

#include <string>
#include <vector>

#include "campaign/results_db.h"
#include "campaign/stats.h"

namespace dnnfi {

struct OutcomeRates {
  std::string key;  // node name, op type or bit position ("" for the whole campaign)
  std::int64_t trials = 0;
  Proportion masked, sdc, tolerable, due, hang;
  Proportion top5_miss;  // SDC trials whose golden label left the top-5
};

struct CampaignSummary {
  CampaignInfo campaign;
  std::int64_t inputs = 0;
  // Fault-free, over the golden pass's labelled inputs (n = 0 when the dataset has no labels).
  Proportion top1_accuracy;
  OutcomeRates overall;
  std::vector<OutcomeRates> per_node;     // by faulted node/value name; sorted by name
  std::vector<OutcomeRates> per_op_type;  // sorted by op type
  std::vector<OutcomeRates> per_bit;      // single-bit faults, by bit position ascending
  double trials_per_s = 0.0;              // trials / sum of durations
};

// A trial with several faults counts once in each distinct node/op/bit it touches.
CampaignSummary summarize(const ResultsDb& db);
// Outcome rates of trials grouped by a key: `keyed_trials` is an SQL query over the results
// database yielding columns (trial_id, key), each pair at most once. One OutcomeRates per key,
// ordered by key (numerically for integer keys). summarize() builds its per-node/op/bit tables
// with it, dnnfi report its per-fault-model and per-input ones.
std::vector<OutcomeRates> outcome_rates_by(const ResultsDb& db, const std::string& keyed_trials);
// Plain-text report for the terminal (fixed-width tables).
std::string format_summary(const CampaignSummary& s);
std::string summary_json(const CampaignSummary& s);

// Writes campaign.csv, inputs.csv, trials.csv and faults.csv into `out_dir` (created if missing);
// layouts in docs/results_schema.md. Throws InputError naming the path it cannot write.
void export_csv(const ResultsDb& db, const std::string& out_dir);
// Writes one JSON document {campaign, inputs, trials: [{..., faults: [...]}]} to `out_path`.
void export_json(const ResultsDb& db, const std::string& out_path);

}  // namespace dnnfi
