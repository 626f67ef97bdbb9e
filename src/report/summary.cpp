#include "report/summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "campaign/sqlite_statement.h"
#include "report/records_json.h"

namespace dnnfi {

namespace {

using sqlite::Statement;

// The outcome counts of a set of trials `t`, as result columns 1..8 after the key.
constexpr const char* kOutcomeCounts =
    "COUNT(*), COALESCE(SUM(t.outcome = 'masked'), 0), COALESCE(SUM(t.outcome = 'sdc'), 0), "
    "COALESCE(SUM(t.outcome = 'tolerable'), 0), COALESCE(SUM(t.outcome = 'due'), 0), "
    "COALESCE(SUM(t.outcome = 'hang'), 0), "
    "COALESCE(SUM(t.outcome = 'sdc' AND t.golden_in_top5 = 0), 0)";

OutcomeRates read_rates(const Statement& q, std::string key) {
  OutcomeRates r;
  r.key = std::move(key);
  r.trials = q.int64(1);
  r.masked = wilson(q.int64(2), r.trials);
  r.sdc = wilson(q.int64(3), r.trials);
  r.tolerable = wilson(q.int64(4), r.trials);
  r.due = wilson(q.int64(5), r.trials);
  r.hang = wilson(q.int64(6), r.trials);
  r.top5_miss = wilson(q.int64(7), r.trials);
  return r;
}

// One row per distinct `key_sql` over the faults; a trial counts once per key it touches, however
// many of its faults share that key.
std::vector<OutcomeRates> rates_by(const ResultsDb& db, const char* key_sql, const char* where) {
  return outcome_rates_by(
      db, fmt::format("SELECT DISTINCT trial_id, {} AS key FROM faults {}", key_sql, where));
}

std::string percent(double p) { return fmt::format("{:.2f}%", 100.0 * p); }

std::string interval(const Proportion& p) {
  return fmt::format("[{:.2f}, {:.2f}]", 100.0 * p.lo, 100.0 * p.hi);
}

std::string shard_text(const CampaignInfo& c) {
  if (c.shard_count <= 1) return "whole run";
  return fmt::format("shard {}/{}", c.shard_index, c.shard_count);
}

// A fixed-width table of OutcomeRates: one column per outcome rate, the SDC interval beside it
// (the number campaigns are run for).
void append_rates_table(std::string& out, const std::string& key_header,
                        const std::vector<const OutcomeRates*>& rows) {
  std::size_t key_width = key_header.size();
  for (const OutcomeRates* r : rows) key_width = std::max(key_width, r->key.size());
  out += fmt::format("  {:<{}}  {:>8}  {:>7}  {:>7}  {:<16}  {:>9}  {:>7}  {:>7}  {:>10}\n",
                     key_header, key_width, "trials", "masked", "SDC", "SDC 95% CI", "tolerable",
                     "DUE", "hang", "top-5 miss");
  for (const OutcomeRates* r : rows) {
    out += fmt::format("  {:<{}}  {:>8}  {:>7}  {:>7}  {:<16}  {:>9}  {:>7}  {:>7}  {:>10}\n",
                       r->key, key_width, r->trials, percent(r->masked.p), percent(r->sdc.p),
                       interval(r->sdc), percent(r->tolerable.p), percent(r->due.p),
                       percent(r->hang.p), percent(r->top5_miss.p));
  }
}

constexpr std::size_t kNodeRowsShown = 20;

nlohmann::ordered_json rates_json(const OutcomeRates& r) {
  return nlohmann::ordered_json{{"key", r.key},
                                {"trials", r.trials},
                                {"masked", proportion_json(r.masked)},
                                {"sdc", proportion_json(r.sdc)},
                                {"tolerable", proportion_json(r.tolerable)},
                                {"due", proportion_json(r.due)},
                                {"hang", proportion_json(r.hang)},
                                {"top5_miss", proportion_json(r.top5_miss)}};
}

nlohmann::ordered_json rates_list_json(const std::vector<OutcomeRates>& v) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const OutcomeRates& r : v) a.push_back(rates_json(r));
  return a;
}

}  // namespace

std::vector<OutcomeRates> outcome_rates_by(const ResultsDb& db, const std::string& keyed_trials) {
  Statement q(db.handle(), db.path(), "cannot summarize",
              fmt::format("SELECT f.key, {} FROM ({}) AS f JOIN trials AS t ON t.id = f.trial_id "
                          "GROUP BY f.key ORDER BY f.key",
                          kOutcomeCounts, keyed_trials));
  std::vector<OutcomeRates> out;
  while (q.step()) out.push_back(read_rates(q, q.text(0)));
  return out;
}

CampaignSummary summarize(const ResultsDb& db) {
  CampaignSummary s;
  s.campaign = db.campaign();
  const std::string what = "cannot summarize";
  {
    Statement q(db.handle(), db.path(), what,
                "SELECT COUNT(*), COALESCE(SUM(correct), 0), COALESCE(SUM(label >= 0), 0) "
                "FROM inputs");
    q.step();
    s.inputs = q.int64(0);
    s.top1_accuracy = wilson(q.int64(1), q.int64(2));
  }
  {
    Statement q(db.handle(), db.path(), what,
                fmt::format("SELECT '', {}, TOTAL(t.duration_s) FROM trials AS t", kOutcomeCounts));
    q.step();
    s.overall = read_rates(q, "");
    const double seconds = q.real(8);
    s.trials_per_s = seconds > 0.0 ? static_cast<double>(s.overall.trials) / seconds : 0.0;
  }
  // Weights and graph inputs have no producing node: the tensor's name stands in for it.
  s.per_node = rates_by(db, "CASE WHEN node <> '' THEN node ELSE value END", "");
  s.per_op_type = rates_by(db, "op_type", "");
  s.per_bit = rates_by(db, "bit", "WHERE bit IS NOT NULL");
  return s;
}

std::string format_summary(const CampaignSummary& s) {
  const CampaignInfo& c = s.campaign;
  std::string out;
  out +=
      fmt::format("Campaign: model {}, seed {}, {} trials", c.model_path, c.seed, s.overall.trials);
  if (c.trials_planned >= 0) out += fmt::format(" of {} planned", c.trials_planned);
  out += fmt::format(", {}, dnnfi {}\n", shard_text(c), c.dnnfi_version);
  if (s.top1_accuracy.n > 0) {
    out += fmt::format("Top-1 accuracy (fault-free): {} {} (n={})\n", percent(s.top1_accuracy.p),
                       interval(s.top1_accuracy), s.top1_accuracy.n);
  } else {
    out += fmt::format("Top-1 accuracy (fault-free): n/a ({} inputs, none labelled)\n", s.inputs);
  }
  out += fmt::format(
      "Fault propagation: {:.1f} trials/s per thread (summed per-trial times, golden runs "
      "excluded)\n",
      s.trials_per_s);

  out +=
      fmt::format("\nOutcomes over {} trials (rate and 95% Wilson interval):\n", s.overall.trials);
  const std::pair<const char*, const Proportion*> outcomes[] = {
      {"masked", &s.overall.masked},       {"SDC", &s.overall.sdc},
      {"tolerable", &s.overall.tolerable}, {"DUE", &s.overall.due},
      {"hang", &s.overall.hang},           {"SDC, top-5 miss", &s.overall.top5_miss}};
  out += fmt::format("  {:<16}  {:>8}  {:>7}  {}\n", "outcome", "trials", "rate", "95% CI");
  for (const auto& [name, p] : outcomes) {
    out += fmt::format("  {:<16}  {:>8}  {:>7}  {}\n", name, p->k, percent(p->p), interval(*p));
  }

  auto pointers = [](const std::vector<OutcomeRates>& v) {
    std::vector<const OutcomeRates*> p;
    for (const OutcomeRates& r : v) p.push_back(&r);
    return p;
  };
  if (!s.per_op_type.empty()) {
    out += "\nPer op type (a trial counts once for each op type it faulted):\n";
    append_rates_table(out, "op type", pointers(s.per_op_type));
  }
  if (!s.per_bit.empty()) {
    out += "\nPer bit (single-bit faults):\n";
    append_rates_table(out, "bit", pointers(s.per_bit));
  }
  if (!s.per_node.empty()) {
    // The nodes with the most SDC trials (not the highest rate, which a node with one trial can
    // top by chance), shown by SDC rate.
    std::vector<const OutcomeRates*> nodes = pointers(s.per_node);
    std::stable_sort(nodes.begin(), nodes.end(), [](const OutcomeRates* a, const OutcomeRates* b) {
      return a->sdc.k > b->sdc.k;
    });
    const std::size_t hidden = nodes.size() > kNodeRowsShown ? nodes.size() - kNodeRowsShown : 0;
    nodes.resize(nodes.size() - hidden);
    std::stable_sort(nodes.begin(), nodes.end(), [](const OutcomeRates* a, const OutcomeRates* b) {
      return a->sdc.p > b->sdc.p;
    });
    if (hidden > 0) {
      out +=
          fmt::format("\nPer node (the {} with the most SDC trials, by SDC rate):\n", nodes.size());
    } else {
      out += "\nPer node (by SDC rate):\n";
    }
    append_rates_table(out, "node", nodes);
    if (hidden > 0) {
      out += fmt::format("  ... and {} more node{} (the JSON summary lists every node)\n", hidden,
                         hidden == 1 ? "" : "s");
    }
  }
  return out;
}

std::string summary_json(const CampaignSummary& s) {
  nlohmann::ordered_json j{{"campaign", campaign_json(s.campaign)},
                           {"inputs", s.inputs},
                           {"top1_accuracy", proportion_json(s.top1_accuracy)},
                           {"trials_per_s", s.trials_per_s},
                           {"overall", rates_json(s.overall)},
                           {"per_node", rates_list_json(s.per_node)},
                           {"per_op_type", rates_list_json(s.per_op_type)},
                           {"per_bit", rates_list_json(s.per_bit)}};
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace dnnfi
