#include "report/report_data.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "campaign/config.h"
#include "campaign/sqlite_statement.h"
#include "campaign/stats.h"
#include "core/error.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "report/model_summary.h"
#include "report/records_json.h"
#include "report/summary.h"

namespace dnnfi {

namespace {

using nlohmann::ordered_json;
using sqlite::Statement;

constexpr const char* kWhat = "cannot build the report";

// One plotted row: an OutcomeRates flattened for Vega-Lite, the SDC interval beside its rate.
ordered_json rates_row(const OutcomeRates& r) {
  return ordered_json{{"key", r.key},         {"trials", r.trials},         {"sdc_k", r.sdc.k},
                      {"sdc", r.sdc.p},       {"sdc_lo", r.sdc.lo},         {"sdc_hi", r.sdc.hi},
                      {"masked", r.masked.p}, {"tolerable", r.tolerable.p}, {"due", r.due.p},
                      {"hang", r.hang.p},     {"top5_miss", r.top5_miss.p}};
}

ordered_json rates_rows(const std::vector<OutcomeRates>& v) {
  ordered_json a = ordered_json::array();
  for (const OutcomeRates& r : v) a.push_back(rates_row(r));
  return a;
}

ordered_json tensor_json(const Graph& g, const Session& s, int v) {
  return ordered_json{{"name", g.values[v].name},
                      {"dtype", std::string(dtype_name(s.info(v).dtype))},
                      {"shape", shape_to_string(s.info(v).shape)}};
}

struct ModelFacts {
  ordered_json summary;
  // Node or value name -> position in graph order: a node's output sits at 2 * node + 1, a
  // weight or graph input at 2 * (its first consumer), just before that consumer's output.
  std::map<std::string, double> site_order;
};

ModelFacts read_model(const CampaignInfo& c) {
  ModelFacts m;
  m.summary = ordered_json{{"path", c.model_path}, {"sha256", c.model_sha256}, {"loaded", false}};
  const char* fallback = "; nodes are shown in name order";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(c.model_path, ec)) {
    m.summary["note"] = std::string("the model file is no longer at this path") + fallback;
    return m;
  }
  try {
    if (sha256_file(c.model_path) != c.model_sha256) {
      m.summary["note"] =
          std::string("the model file changed since the campaign ran (sha256 differs)") + fallback;
      return m;
    }
    auto session = Session::create(load_model(c.model_path));
    const Graph& g = session->graph();
    for (std::size_t n = 0; n < g.nodes.size(); ++n) {
      m.site_order.emplace(g.nodes[n].name, 2.0 * static_cast<double>(n) + 1.0);
    }
    for (const Value& v : g.values) {
      if (v.producer < 0 && !v.consumers.empty()) {
        m.site_order.emplace(v.name, 2.0 * static_cast<double>(v.consumers.front()));
      }
    }
    std::int64_t params = 0, flops = 0, run = 0;
    std::map<std::string, std::int64_t> op_counts;
    for (const NodeSummary& r : summarize_nodes(*session)) {
      params += r.params;
      flops += r.flops;
      if (!r.folded) {
        ++run;
        ++op_counts[r.op_type];
      }
    }
    ordered_json inputs = ordered_json::array(), outputs = ordered_json::array();
    for (int v : g.inputs) inputs.push_back(tensor_json(g, *session, v));
    for (int v : g.outputs) outputs.push_back(tensor_json(g, *session, v));
    ordered_json ops = ordered_json::array();
    for (const auto& [op, count] : op_counts) ops.push_back({{"op_type", op}, {"nodes", count}});
    m.summary["loaded"] = true;
    m.summary["ir_version"] = g.ir_version;
    m.summary["opset"] = g.opset("");
    m.summary["nodes"] = g.nodes.size();
    m.summary["nodes_run"] = run;
    m.summary["parameters"] = params;
    m.summary["flops"] = flops;
    m.summary["inputs"] = std::move(inputs);
    m.summary["outputs"] = std::move(outputs);
    m.summary["op_types"] = std::move(ops);
  } catch (const Error& e) {
    m.site_order.clear();
    m.summary["note"] = fmt::format("the model file could not be read ({}){}", e.what(), fallback);
  }
  return m;
}

// The stopping rule's own keys from the stored resolved config (0 when absent or unreadable:
// the report then draws no target line).
std::pair<double, std::int64_t> stopping_rule(const std::string& config_yaml) {
  try {
    const YAML::Node root = YAML::Load(config_yaml);
    const double target = root["target_halfwidth"] ? root["target_halfwidth"].as<double>() : 0.0;
    const std::int64_t checkpoint =
        root["checkpoint"] ? root["checkpoint"].as<std::int64_t>() : std::int64_t{0};
    return {target, checkpoint};
  } catch (const YAML::Exception&) {
    return {0.0, 0};
  }
}

// SDC rate and Wilson interval after each committed trial in trial-id order, as the target-width
// stopping rule sees them: every trial up to kCurvePoints trials, kCurvePoints points beyond.
ordered_json stopping_curve(const ResultsDb& db, std::int64_t total) {
  ordered_json curve = ordered_json::array();
  if (total <= 0) return curve;
  Statement q(db.handle(), db.path(), kWhat, "SELECT outcome = 'sdc' FROM trials ORDER BY id");
  std::int64_t n = 0, sdc = 0, next_point = 1;
  std::int64_t point = 1;
  auto point_at = [&](std::int64_t i) {
    return total <= kCurvePoints ? i : (i * total + kCurvePoints - 1) / kCurvePoints;
  };
  next_point = point_at(point);
  while (q.step()) {
    ++n;
    sdc += q.int64(0);
    if (n != next_point) continue;
    const Proportion p = wilson(sdc, n);
    curve.push_back(ordered_json{{"trials", n},
                                 {"sdc_k", sdc},
                                 {"sdc", p.p},
                                 {"sdc_lo", p.lo},
                                 {"sdc_hi", p.hi},
                                 {"half_width", p.half_width()}});
    next_point = point_at(++point);
  }
  return curve;
}

std::int64_t count(const ResultsDb& db, const char* sql) {
  Statement q(db.handle(), db.path(), kWhat, sql);
  q.step();
  return q.int64(0);
}

}  // namespace

ordered_json report_data(const ResultsDb& db) {
  const CampaignSummary s = summarize(db);
  ModelFacts model = read_model(s.campaign);

  // Nodes in graph order when the model was read (unknown names after, by name), else by name.
  ordered_json per_node = ordered_json::array();
  {
    std::map<std::string, std::string> op_of;
    Statement q(db.handle(), db.path(), kWhat,
                "SELECT CASE WHEN node <> '' THEN node ELSE value END AS key, MIN(op_type) "
                "FROM faults GROUP BY key");
    while (q.step()) op_of[q.text(0)] = q.text(1);
    std::vector<const OutcomeRates*> nodes;
    for (const OutcomeRates& r : s.per_node) nodes.push_back(&r);
    auto order = [&](const OutcomeRates* r) {
      auto it = model.site_order.find(r->key);
      return it == model.site_order.end() ? INFINITY : it->second;
    };
    std::stable_sort(nodes.begin(), nodes.end(), [&](const OutcomeRates* a, const OutcomeRates* b) {
      return order(a) < order(b);
    });
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      ordered_json row = rates_row(*nodes[i]);
      row["order"] = i;
      row["op_type"] = op_of[nodes[i]->key];
      per_node.push_back(std::move(row));
    }
  }

  // Bits: the float32 field of each bit when every single-bit fault is float32.
  const bool float32_bits =
      count(db, "SELECT COUNT(*) FROM faults WHERE bit IS NOT NULL AND dtype <> 'float32'") == 0;
  ordered_json per_bit = rates_rows(s.per_bit);
  ordered_json bit_fields = ordered_json::array();
  if (float32_bits) {
    for (auto& row : per_bit) {
      const int bit = std::stoi(row["key"].get<std::string>());
      row["field"] = bit == 31 ? "sign" : bit >= 23 ? "exponent" : "mantissa";
    }
    const auto fields = outcome_rates_by(
        db,
        "SELECT DISTINCT trial_id, CASE WHEN bit = 31 THEN 'sign' WHEN bit >= 23 THEN 'exponent' "
        "ELSE 'mantissa' END AS key FROM faults WHERE bit IS NOT NULL AND dtype = 'float32'");
    std::int64_t sdc_total = 0, trials_total = 0;
    for (const OutcomeRates& r : fields) {
      sdc_total += r.sdc.k;
      trials_total += r.trials;
    }
    for (const OutcomeRates& r : fields) {
      ordered_json row = rates_row(r);
      row["sdc_share"] = sdc_total > 0 ? static_cast<double>(r.sdc.k) / sdc_total : 0.0;
      row["trial_share"] = trials_total > 0 ? static_cast<double>(r.trials) / trials_total : 0.0;
      bit_fields.push_back(std::move(row));
    }
  }

  // Per true class; on unlabelled data (no trial has a label) per fault-free answer instead.
  const bool labelled = count(db, "SELECT EXISTS(SELECT 1 FROM trials WHERE label >= 0)") != 0;
  const auto per_class =
      outcome_rates_by(db, labelled ? "SELECT id AS trial_id, label AS key FROM trials"
                                    : "SELECT id AS trial_id, golden_label AS key FROM trials");
  std::vector<OutcomeRates> per_input =
      outcome_rates_by(db, "SELECT id AS trial_id, input_index AS key FROM trials");
  // The inputs with the most SDC trials (ties: the higher rate, then the lower index).
  std::stable_sort(per_input.begin(), per_input.end(),
                   [](const OutcomeRates& a, const OutcomeRates& b) {
                     if (a.sdc.k != b.sdc.k) return a.sdc.k > b.sdc.k;
                     return a.sdc.p > b.sdc.p;
                   });
  const std::size_t inputs_with_sdc = static_cast<std::size_t>(std::count_if(
      per_input.begin(), per_input.end(), [](const OutcomeRates& r) { return r.sdc.k > 0; }));
  per_input.resize(std::min({per_input.size(), kTopInputs, inputs_with_sdc}));

  const auto [target, checkpoint] = stopping_rule(s.campaign.config_yaml);
  const std::pair<const char*, const Proportion*> outcomes[] = {{"masked", &s.overall.masked},
                                                                {"SDC", &s.overall.sdc},
                                                                {"tolerable", &s.overall.tolerable},
                                                                {"DUE", &s.overall.due},
                                                                {"hang", &s.overall.hang}};
  ordered_json outcome_rows = ordered_json::array();
  for (const auto& [name, p] : outcomes) {
    outcome_rows.push_back(ordered_json{
        {"outcome", name}, {"k", p->k}, {"n", p->n}, {"p", p->p}, {"lo", p->lo}, {"hi", p->hi}});
  }

  return ordered_json{
      {"campaign", campaign_json(s.campaign)},
      {"model", std::move(model.summary)},
      {"inputs", s.inputs},
      {"top1_accuracy", proportion_json(s.top1_accuracy)},
      {"trials", s.overall.trials},
      {"trials_per_s", s.trials_per_s},
      {"overall", rates_row(s.overall)},
      {"top5_miss", proportion_json(s.overall.top5_miss)},
      {"outcomes", std::move(outcome_rows)},
      {"per_node", std::move(per_node)},
      {"per_op_type", rates_rows(s.per_op_type)},
      {"per_bit", std::move(per_bit)},
      {"float32_bits", float32_bits},
      {"bit_fields", std::move(bit_fields)},
      {"per_fault_model",
       rates_rows(outcome_rates_by(db, "SELECT DISTINCT trial_id, model AS key FROM faults"))},
      {"per_class", rates_rows(per_class)},
      {"per_class_by", labelled ? "label" : "golden_label"},
      {"inputs_with_sdc", inputs_with_sdc},
      {"top_inputs", rates_rows(per_input)},
      {"target_halfwidth", target},
      {"checkpoint", checkpoint},
      {"curve", stopping_curve(db, s.overall.trials)}};
}

}  // namespace dnnfi
