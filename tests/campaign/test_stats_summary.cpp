// Wilson intervals against published and hand-computed values; summary counts against a
// hand-built campaign whose rates are worked out below; CSV and JSON exports read back by
// independent readers (a small RFC 4180 reader here, nlohmann for JSON).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "campaign/results_db.h"
#include "campaign/stats.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "report/summary.h"
#include "results_records.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;
using test::campaign_info;
using test::fault_record;
using test::input_records;
using test::trial_record;

void expect_interval(const Proportion& p, double lo, double hi) {
  EXPECT_NEAR(p.lo, lo, 1e-4) << p.k << "/" << p.n;
  EXPECT_NEAR(p.hi, hi, 1e-4) << p.k << "/" << p.n;
}

// --- Wilson ----------------------------------------------------------------------------------

TEST(Wilson, MatchesPublishedValues) {
  // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat. Med.
  // 17:857-872, Table I, method 3 (score interval without continuity correction).
  expect_interval(wilson(81, 263), 0.2553, 0.3662);
  expect_interval(wilson(15, 148), 0.0624, 0.1605);
  expect_interval(wilson(0, 20), 0.0, 0.1611);
  expect_interval(wilson(1, 29), 0.0061, 0.1718);
  // Widely quoted: 0/10 -> [0, 0.2775]; 5/100 -> [0.0215, 0.1118].
  expect_interval(wilson(0, 10), 0.0, 0.2775);
  expect_interval(wilson(5, 100), 0.0215, 0.1118);
}

TEST(Wilson, MatchesHandComputedValues) {
  // With z = 1.96, z^2 = 3.8415:
  // 4/10: p = 0.4, d = 1 + 3.8415/10 = 1.38415, c = (0.4 + 0.192073)/d = 0.427753,
  //   h = 1.96/d * sqrt(0.024 + 3.8415/400) = 1.41602 * 0.183313 = 0.259574 -> [0.1682, 0.6873].
  Proportion p = wilson(4, 10);
  EXPECT_EQ(p.k, 4);
  EXPECT_EQ(p.n, 10);
  EXPECT_DOUBLE_EQ(p.p, 0.4);
  expect_interval(p, 0.1682, 0.6873);
  EXPECT_NEAR(p.half_width(), (0.6873 - 0.1682) / 2, 1e-4);
  // 3/4: d = 1 + 3.8415/4 = 1.960365, c = (0.75 + 0.480188)/d = 0.627527,
  //   h = 1.96/d * sqrt(0.046875 + 3.8415/64) = 0.99981 * 0.326955 = 0.32689 -> [0.3006, 0.9544].
  expect_interval(wilson(3, 4), 0.3006, 0.9544);
  // 50/100: c = 0.5 exactly; h = 1.96/1.038415 * sqrt(0.0025 + 0.000096) = 0.096169.
  expect_interval(wilson(50, 100), 0.4038, 0.5962);
  // 10/10 mirrors 0/10: [1 - 0.2775, 1].
  expect_interval(wilson(10, 10), 0.7225, 1.0);
  // 99% (z = 2.5758), 5/100: d = 1.066349, c = (0.05 + 0.033174)/d = 0.078000,
  //   h = 2.5758/d * sqrt(0.000475 + 0.00016587) = 2.41553 * 0.025316 = 0.061152
  //   -> [0.0168, 0.1392].
  expect_interval(wilson(5, 100, 2.5758293035489004), 0.0168, 0.1392);
}

TEST(Wilson, EdgesAreExact) {
  const Proportion none = wilson(0, 0);
  EXPECT_EQ(none.p, 0.0);
  EXPECT_EQ(none.lo, 0.0);
  EXPECT_EQ(none.hi, 1.0);
  EXPECT_EQ(wilson(0, 7).lo, 0.0);  // not -1e-17
  EXPECT_EQ(wilson(7, 7).hi, 1.0);  // not 1 - 1e-16
  EXPECT_EQ(wilson(7, 7).p, 1.0);
  for (int n : {1, 2, 10, 1000, 1000000}) {
    for (int k : {0, 1, n / 2, n}) {
      const Proportion p = wilson(k, n);
      EXPECT_LE(0.0, p.lo);
      EXPECT_LE(p.lo, p.p);
      EXPECT_LE(p.p, p.hi);
      EXPECT_LE(p.hi, 1.0);
    }
  }
}

// --- summary ---------------------------------------------------------------------------------

// Ten trials, worked out by hand (faults as node/op/bits):
//   id outcome    top5  faults
//   0  masked     yes   conv1/Conv/{3}
//   1  sdc        yes   conv1/Conv/{30}
//   2  sdc        MISS  fc1/Gemm/{30}
//   3  due        -     fc1/Gemm/{31}
//   4  masked     yes   weight conv1.weight (no node)/Conv/{30}
//   5  tolerable  yes   relu1/Relu/{3}
//   6  hang       -     conv1/Conv/{1,2}                (two bits: in no per-bit row)
//   7  sdc        yes   conv1/Conv/{30} + conv1/Conv/{5} (counts once for conv1 and Conv)
//   8  masked     yes   conv1/Conv/{30} + fc1/Gemm/{30}  (counts once for bit 30)
//   9  sdc        MISS  relu1/Relu/{31}
// Inputs: 4, of which 3 correct (top-1 accuracy 3/4); durations 0.25 s each.
std::string build_campaign(const std::string& dir) {
  const std::string path = dir + "/results.db";
  ResultsDb db = ResultsDb::create(path, campaign_info());
  std::vector<InputRecord> inputs = input_records(4);
  for (InputRecord& in : inputs) in.correct = in.index != 2;  // 3 of 4 correct
  db.write_inputs(inputs);
  auto t = [](int id, const char* outcome, bool top5, std::vector<FaultRecord> faults) {
    TrialRecord r = trial_record(id, outcome, std::move(faults));
    r.golden_in_top5 = top5;
    return r;
  };
  FaultRecord weight = fault_record(0, "", "Conv", {30});
  weight.value = "conv1.weight";
  const std::vector<TrialRecord> trials = {
      t(0, "masked", true, {fault_record(0, "conv1", "Conv", {3})}),
      t(1, "sdc", true, {fault_record(0, "conv1", "Conv", {30})}),
      t(2, "sdc", false, {fault_record(0, "fc1", "Gemm", {30})}),
      t(3, "due", true, {fault_record(0, "fc1", "Gemm", {31})}),
      t(4, "masked", true, {weight}),
      t(5, "tolerable", true, {fault_record(0, "relu1", "Relu", {3})}),
      t(6, "hang", true, {fault_record(0, "conv1", "Conv", {1, 2})}),
      t(7, "sdc", true,
        {fault_record(0, "conv1", "Conv", {30}), fault_record(1, "conv1", "Conv", {5})}),
      t(8, "masked", true,
        {fault_record(0, "conv1", "Conv", {30}), fault_record(1, "fc1", "Gemm", {30})}),
      t(9, "sdc", false, {fault_record(0, "relu1", "Relu", {31})}),
  };
  db.append_trials(trials);  // duration 0.25 s each: 2.5 s in all
  return path;
}

struct Expected {
  std::string key;
  std::int64_t trials, masked, sdc, tolerable, due, hang, top5_miss;
};

void expect_rates(const OutcomeRates& r, const Expected& e) {
  SCOPED_TRACE("key " + e.key);
  EXPECT_EQ(r.key, e.key);
  EXPECT_EQ(r.trials, e.trials);
  EXPECT_EQ(r.masked.k, e.masked);
  EXPECT_EQ(r.sdc.k, e.sdc);
  EXPECT_EQ(r.tolerable.k, e.tolerable);
  EXPECT_EQ(r.due.k, e.due);
  EXPECT_EQ(r.hang.k, e.hang);
  EXPECT_EQ(r.top5_miss.k, e.top5_miss);
  for (const Proportion* p : {&r.masked, &r.sdc, &r.tolerable, &r.due, &r.hang, &r.top5_miss}) {
    EXPECT_EQ(p->n, e.trials);
  }
}

TEST(Summary, CountsTheHandBuiltCampaign) {
  const ResultsDb db = ResultsDb::open(build_campaign(test::temp_dir("summary")), true);
  const CampaignSummary s = summarize(db);
  EXPECT_TRUE(s.campaign == campaign_info());
  EXPECT_EQ(s.inputs, 4);
  EXPECT_EQ(s.top1_accuracy.k, 3);
  EXPECT_EQ(s.top1_accuracy.n, 4);
  expect_interval(s.top1_accuracy, 0.3006, 0.9544);  // 3/4, worked out in Wilson tests
  // masked 0,4,8; sdc 1,2,7,9; tolerable 5; due 3; hang 6; top-5 miss 2,9.
  expect_rates(s.overall, {"", 10, 3, 4, 1, 1, 1, 2});
  expect_interval(s.overall.sdc, 0.1682, 0.6873);  // 4/10
  EXPECT_DOUBLE_EQ(s.overall.sdc.p, 0.4);
  EXPECT_DOUBLE_EQ(s.trials_per_s, 10 / 2.5);

  // conv1: 0,1,6,7,8; conv1.weight (no node, so the value's name): 4; fc1: 2,3,8; relu1: 5,9.
  ASSERT_EQ(s.per_node.size(), 4u);
  expect_rates(s.per_node[0], {"conv1", 5, 2, 2, 0, 0, 1, 0});
  expect_rates(s.per_node[1], {"conv1.weight", 1, 1, 0, 0, 0, 0, 0});
  expect_rates(s.per_node[2], {"fc1", 3, 1, 1, 0, 1, 0, 1});
  expect_rates(s.per_node[3], {"relu1", 2, 0, 1, 1, 0, 0, 1});
  expect_interval(s.per_node[0].sdc, 0.1176, 0.7693);  // 2/5, see the table in the Wilson test

  // Conv: 0,1,4,6,7,8; Gemm: 2,3,8; Relu: 5,9.
  ASSERT_EQ(s.per_op_type.size(), 3u);
  expect_rates(s.per_op_type[0], {"Conv", 6, 3, 2, 0, 0, 1, 0});
  expect_rates(s.per_op_type[1], {"Gemm", 3, 1, 1, 0, 1, 0, 1});
  expect_rates(s.per_op_type[2], {"Relu", 2, 0, 1, 1, 0, 0, 1});

  // Single-bit faults only, numeric order (3 < 5 < 30 < 31, not "3" < "30" < "31" < "5"):
  // bit 3: 0,5; bit 5: 7; bit 30: 1,2,4,7,8; bit 31: 3,9.
  ASSERT_EQ(s.per_bit.size(), 4u);
  expect_rates(s.per_bit[0], {"3", 2, 1, 0, 1, 0, 0, 0});
  expect_rates(s.per_bit[1], {"5", 1, 0, 1, 0, 0, 0, 0});
  expect_rates(s.per_bit[2], {"30", 5, 2, 3, 0, 0, 0, 1});
  expect_rates(s.per_bit[3], {"31", 2, 0, 1, 0, 1, 0, 1});
}

TEST(Summary, FormatsTheReport) {
  const ResultsDb db = ResultsDb::open(build_campaign(test::temp_dir("summary")), true);
  const std::string text = format_summary(summarize(db));
  auto has = [&](const std::string& s) {
    EXPECT_NE(text.find(s), std::string::npos) << "missing '" << s << "' in\n" << text;
  };
  has("models/lenet.onnx");
  has("seed 42");
  has("10 trials");
  // 3/4 -> [30.06, 95.44] (hand-computed in the Wilson test).
  has("Top-1 accuracy (fault-free): 75.00% [30.06, 95.44] (n=4)");
  has("4.0 trials/s");
  // SDC 4/10: 40.00% [16.82, 68.73].
  has("40.00%  [16.82, 68.73]");
  has("Per op type");
  has("Per bit");
  has("Per node");
  has("conv1.weight");
  EXPECT_EQ(text.find("more node"), std::string::npos);
}

TEST(Summary, ReportShowsTheTwentyNodesWithMostSdcs) {
  const std::string path = test::temp_dir("summary") + "/results.db";
  ResultsDb db = ResultsDb::create(path, campaign_info());
  // Node nK has K SDC trials and one masked trial (rate K/(K+1)); "tiny" has one trial, an SDC:
  // the highest rate but only one SDC, so it is among the six left out (n00..n04 and tiny).
  std::vector<TrialRecord> trials;
  std::int64_t id = 0;
  auto add = [&](const std::string& node, const char* outcome) {
    trials.push_back(trial_record(id++, outcome, {fault_record(0, node, "Conv", {1})}));
  };
  for (int k = 0; k < 25; ++k) {
    const std::string node = (k < 10 ? "n0" : "n") + std::to_string(k);
    for (int i = 0; i < k; ++i) add(node, "sdc");
    add(node, "masked");
  }
  add("tiny", "sdc");
  db.append_trials(trials);
  const std::string text = format_summary(summarize(db));
  EXPECT_NE(text.find("and 6 more nodes"), std::string::npos) << text;
  EXPECT_EQ(text.find("tiny"), std::string::npos) << text;
  EXPECT_EQ(text.find("n04 "), std::string::npos) << text;
  const auto n24 = text.find("n24 ");
  const auto n05 = text.find("n05 ");
  ASSERT_NE(n24, std::string::npos);
  ASSERT_NE(n05, std::string::npos);
  EXPECT_LT(n24, n05) << "highest SDC rate first";
}

TEST(Summary, JsonHoldsEverything) {
  const ResultsDb db = ResultsDb::open(build_campaign(test::temp_dir("summary")), true);
  const nlohmann::json j = nlohmann::json::parse(summary_json(summarize(db)));
  EXPECT_EQ(j["campaign"]["model_path"], "models/lenet.onnx");
  EXPECT_EQ(j["campaign"]["seed"], 42);
  EXPECT_EQ(j["inputs"], 4);
  EXPECT_EQ(j["top1_accuracy"]["k"], 3);
  EXPECT_NEAR(j["top1_accuracy"]["lo"].get<double>(), 0.3006, 1e-4);
  EXPECT_EQ(j["overall"]["trials"], 10);
  EXPECT_EQ(j["overall"]["sdc"]["k"], 4);
  EXPECT_NEAR(j["overall"]["sdc"]["hi"].get<double>(), 0.6873, 1e-4);
  EXPECT_EQ(j["overall"]["top5_miss"]["k"], 2);
  EXPECT_DOUBLE_EQ(j["trials_per_s"].get<double>(), 4.0);
  std::vector<std::string> bits;
  for (const auto& r : j["per_bit"]) bits.push_back(r["key"]);
  EXPECT_EQ(bits, (std::vector<std::string>{"3", "5", "30", "31"}));
  EXPECT_EQ(j["per_node"].size(), 4u);
  EXPECT_EQ(j["per_op_type"][1]["key"], "Gemm");
  EXPECT_EQ(j["per_op_type"][1]["due"]["k"], 1);
}

TEST(Summary, EmptyCampaign) {
  const std::string path = test::temp_dir("summary") + "/results.db";
  ResultsDb::create(path, campaign_info());
  const CampaignSummary s = summarize(ResultsDb::open(path, true));
  EXPECT_EQ(s.inputs, 0);
  EXPECT_EQ(s.overall.trials, 0);
  EXPECT_EQ(s.overall.sdc.hi, 1.0);
  EXPECT_EQ(s.trials_per_s, 0.0);
  EXPECT_TRUE(s.per_node.empty() && s.per_op_type.empty() && s.per_bit.empty());
  EXPECT_NE(format_summary(s).find("0 trials"), std::string::npos);
}

// --- exports ---------------------------------------------------------------------------------

// RFC 4180 reader: quoted fields may hold commas, quotes (doubled) and line breaks.
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  EXPECT_TRUE(field.empty() && row.empty()) << path << " does not end with a line break";
  return rows;
}

// Records with names that need quoting and values that need every digit.
struct ExportCase {
  std::string path;
  CampaignInfo info;
  std::vector<InputRecord> inputs;
  std::vector<TrialRecord> trials;
};

ExportCase build_export_case(const std::string& dir) {
  ExportCase c;
  c.path = dir + "/results.db";
  c.info = campaign_info();
  c.info.seed = 0xfedcba9876543210ull;
  c.inputs = input_records(3);
  TrialRecord a = trial_record(0, "sdc");
  a.duration_s = 0.1 + 0.2;  // 0.30000000000000004: needs 17 digits
  a.faults[0].node = "block,1/\"conv\"\nsecond line";
  a.faults[0].bits_before = 0x8000000000000001ull;
  a.faults[0].value_before = 1.0 / 3.0;
  a.faults[0].value_after = -std::numeric_limits<double>::infinity();
  TrialRecord b = trial_record(
      5, "due", {fault_record(0, "", "Gemm", {1, 7}), fault_record(1, "x", "Add", {})});
  b.faults[0].value_after = std::numeric_limits<double>::quiet_NaN();
  b.faults[1].coords = {};
  TrialRecord d = trial_record(9, "masked");
  d.faults.clear();  // a trial may hold no faults (e.g. a fault model that drew none)
  c.trials = {a, b, d};
  ResultsDb db = ResultsDb::create(c.path, c.info);
  db.write_inputs(c.inputs);
  db.append_trials(c.trials);
  return c;
}

std::string list_text(const auto& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// A double from its CSV/JSON text, bits compared except NaN's (the text "nan" has no payload).
void expect_same_double(const std::string& text, double want) {
  const double got = std::strtod(text.c_str(), nullptr);
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << text;
  } else {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(got), std::bit_cast<std::uint64_t>(want)) << text;
  }
}

TEST(Export, CsvReadsBackFieldByField) {
  const std::string dir = test::temp_dir("export");
  const ExportCase c = build_export_case(dir);
  const std::string out = dir + "/csv/nested";  // created by the export
  export_csv(ResultsDb::open(c.path, true), out);

  const auto campaign = read_csv(out + "/campaign.csv");
  ASSERT_EQ(campaign.size(), 2u);
  ASSERT_EQ(campaign[0].size(), 11u);
  EXPECT_EQ(campaign[0][0], "config_yaml");
  EXPECT_EQ(campaign[1][0], c.info.config_yaml);  // newlines, quotes and a comma inside
  EXPECT_EQ(campaign[1][2], c.info.model_path);
  EXPECT_EQ(campaign[1][6], "18364758544493064720");  // 0xfedcba9876543210 in decimal

  const auto inputs = read_csv(out + "/inputs.csv");
  ASSERT_EQ(inputs.size(), 1 + c.inputs.size());
  EXPECT_EQ(inputs[0], (std::vector<std::string>{"input_index", "dataset_index", "label",
                                                 "golden_label", "correct"}));
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    const InputRecord& in = c.inputs[i];
    EXPECT_EQ(inputs[i + 1],
              (std::vector<std::string>{std::to_string(in.index), std::to_string(in.dataset_index),
                                        std::to_string(in.label), std::to_string(in.golden_label),
                                        in.correct ? "1" : "0"}));
  }

  const auto trials = read_csv(out + "/trials.csv");
  ASSERT_EQ(trials.size(), 1 + c.trials.size());
  EXPECT_EQ(trials[0], (std::vector<std::string>{"id", "input_index", "label", "golden_label",
                                                 "faulty_label", "golden_in_top5", "outcome",
                                                 "error", "nodes_computed", "duration_s"}));
  for (std::size_t i = 0; i < c.trials.size(); ++i) {
    const TrialRecord& t = c.trials[i];
    const auto& r = trials[i + 1];
    ASSERT_EQ(r.size(), 10u);
    EXPECT_EQ(r[0], std::to_string(t.id));
    EXPECT_EQ(r[1], std::to_string(t.input_index));
    EXPECT_EQ(r[2], std::to_string(t.label));
    EXPECT_EQ(r[3], std::to_string(t.golden_label));
    EXPECT_EQ(r[4], std::to_string(t.faulty_label));
    EXPECT_EQ(r[5], t.golden_in_top5 ? "1" : "0");
    EXPECT_EQ(r[6], t.outcome);
    EXPECT_EQ(r[7], t.error);
    EXPECT_EQ(r[8], std::to_string(t.nodes_computed));
    expect_same_double(r[9], t.duration_s);
  }

  const auto faults = read_csv(out + "/faults.csv");
  EXPECT_EQ(faults[0], (std::vector<std::string>{"trial_id", "ordinal", "site_kind", "node",
                                                 "op_type", "value", "flat_index", "coords",
                                                 "model", "bits", "bit", "dtype", "bits_before",
                                                 "bits_after", "value_before", "value_after"}));
  std::size_t row = 1;
  for (const TrialRecord& t : c.trials) {
    for (const FaultRecord& f : t.faults) {
      ASSERT_LT(row, faults.size());
      const auto& r = faults[row++];
      ASSERT_EQ(r.size(), 16u);
      EXPECT_EQ(r[0], std::to_string(t.id));
      EXPECT_EQ(r[1], std::to_string(f.ordinal));
      EXPECT_EQ(r[2], f.site_kind);
      EXPECT_EQ(r[3], f.node);
      EXPECT_EQ(r[4], f.op_type);
      EXPECT_EQ(r[5], f.value);
      EXPECT_EQ(r[6], std::to_string(f.flat_index));
      EXPECT_EQ(r[7], list_text(f.coords));
      EXPECT_EQ(r[8], f.model);
      EXPECT_EQ(r[9], list_text(f.bits));
      EXPECT_EQ(r[10], f.bits.size() == 1 ? std::to_string(f.bits[0]) : "");
      EXPECT_EQ(r[11], f.dtype);
      EXPECT_EQ(std::strtoull(r[12].c_str(), nullptr, 16), f.bits_before) << r[12];
      EXPECT_EQ(r[12].substr(0, 2), "0x");
      EXPECT_EQ(std::strtoull(r[13].c_str(), nullptr, 16), f.bits_after) << r[13];
      expect_same_double(r[14], f.value_before);
      expect_same_double(r[15], f.value_after);
    }
  }
  EXPECT_EQ(row, faults.size());
  EXPECT_EQ(faults[1][12], "0x8000000000000001");
}

TEST(Export, JsonReadsBackFieldByField) {
  const std::string dir = test::temp_dir("export");
  const ExportCase c = build_export_case(dir);
  const std::string out = dir + "/results.json";
  export_json(ResultsDb::open(c.path, true), out);
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);

  const auto& cj = j["campaign"];
  EXPECT_EQ(cj["config_yaml"], c.info.config_yaml);
  EXPECT_EQ(cj["config_hash"], c.info.config_hash);
  EXPECT_EQ(cj["model_sha256"], c.info.model_sha256);
  EXPECT_EQ(cj["machine"], c.info.machine);
  EXPECT_EQ(cj["seed"].get<std::uint64_t>(), 0xfedcba9876543210ull);
  EXPECT_EQ(cj["trials_planned"], c.info.trials_planned);
  EXPECT_EQ(cj["shard_index"], 0);
  EXPECT_EQ(cj["shard_count"], 1);
  EXPECT_EQ(cj["started_at"], c.info.started_at);

  ASSERT_EQ(j["inputs"].size(), c.inputs.size());
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    const auto& r = j["inputs"][i];
    EXPECT_EQ(r["input_index"], c.inputs[i].index);
    EXPECT_EQ(r["dataset_index"], c.inputs[i].dataset_index);
    EXPECT_EQ(r["label"], c.inputs[i].label);
    EXPECT_EQ(r["golden_label"], c.inputs[i].golden_label);
    EXPECT_EQ(r["correct"], c.inputs[i].correct);
  }

  // JSON has no NaN/Inf: they are the strings "nan", "inf", "-inf".
  auto as_double = [](const nlohmann::json& v) {
    return v.is_string() ? std::strtod(v.get<std::string>().c_str(), nullptr) : v.get<double>();
  };
  ASSERT_EQ(j["trials"].size(), c.trials.size());
  for (std::size_t i = 0; i < c.trials.size(); ++i) {
    const TrialRecord& t = c.trials[i];
    const auto& r = j["trials"][i];
    EXPECT_EQ(r["id"], t.id);
    EXPECT_EQ(r["input_index"], t.input_index);
    EXPECT_EQ(r["label"], t.label);
    EXPECT_EQ(r["golden_label"], t.golden_label);
    EXPECT_EQ(r["faulty_label"], t.faulty_label);
    EXPECT_EQ(r["golden_in_top5"], t.golden_in_top5);
    EXPECT_EQ(r["outcome"], t.outcome);
    EXPECT_EQ(r["error"], t.error);
    EXPECT_EQ(r["nodes_computed"], t.nodes_computed);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(as_double(r["duration_s"])),
              std::bit_cast<std::uint64_t>(t.duration_s));
    ASSERT_EQ(r["faults"].size(), t.faults.size());
    for (std::size_t k = 0; k < t.faults.size(); ++k) {
      const FaultRecord& f = t.faults[k];
      const auto& fj = r["faults"][k];
      EXPECT_EQ(fj["ordinal"], f.ordinal);
      EXPECT_EQ(fj["site_kind"], f.site_kind);
      EXPECT_EQ(fj["node"], f.node);
      EXPECT_EQ(fj["op_type"], f.op_type);
      EXPECT_EQ(fj["value"], f.value);
      EXPECT_EQ(fj["flat_index"], f.flat_index);
      EXPECT_EQ(fj["coords"].get<std::vector<std::int64_t>>(), f.coords);
      EXPECT_EQ(fj["model"], f.model);
      EXPECT_EQ(fj["bits"].get<std::vector<int>>(), f.bits);
      EXPECT_EQ(fj["dtype"], f.dtype);
      EXPECT_EQ(std::strtoull(fj["bits_before"].get<std::string>().c_str(), nullptr, 16),
                f.bits_before);
      EXPECT_EQ(std::strtoull(fj["bits_after"].get<std::string>().c_str(), nullptr, 16),
                f.bits_after);
      const double vb = as_double(fj["value_before"]);
      const double va = as_double(fj["value_after"]);
      EXPECT_EQ(std::bit_cast<std::uint64_t>(vb), std::bit_cast<std::uint64_t>(f.value_before));
      if (std::isnan(f.value_after)) {
        EXPECT_EQ(fj["value_after"], "nan");
      } else {
        EXPECT_EQ(std::bit_cast<std::uint64_t>(va), std::bit_cast<std::uint64_t>(f.value_after));
      }
    }
  }
  EXPECT_EQ(j["trials"][0]["faults"][0]["value_after"], "-inf");
}

TEST(Export, UnwritablePathIsAnInputError) {
  const std::string dir = test::temp_dir("export");
  const ExportCase c = build_export_case(dir);
  const ResultsDb db = ResultsDb::open(c.path, true);
  const std::string file = dir + "/plain_file";
  std::ofstream(file) << "x";
  for (const std::string& bad : {file, file + "/sub"}) {
    try {
      export_csv(db, bad);
      ADD_FAILURE() << "export_csv into " << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  const std::string bad_json = file + "/results.json";
  try {
    export_json(db, bad_json);
    ADD_FAILURE() << "export_json into " << bad_json;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(bad_json), std::string::npos) << e.what();
  }
  // A full disk: /dev/full accepts the open and fails the write.
  if (fs::exists("/dev/full")) {
    EXPECT_THROW(export_json(db, "/dev/full"), InputError);
  }
}

}  // namespace
}  // namespace dnnfi
