// dnnfi report's data and page (the page in a browser: tests/report/check_report.py): the stopping
// curve ends at the campaign's SDC rate, nodes come in graph order, breakdowns add up to the
// trials, the page's scripts stay closed, and a failed write leaves nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "campaign/campaign.h"
#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "exec/model_file.h"
#include "report/report_data.h"
#include "report/report_page.h"
#include "report/summary.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(DNNFI_SOURCE_DIR) + "/models/fmnist_resnet.onnx";

// Single-bit trials on 32 Fashion-MNIST test images, into `out`; labelled unless told otherwise.
void run_small_campaign(const std::string& out, std::int64_t trials, bool labelled = true) {
  CampaignConfig c = test::fmnist_campaign_config(out, trials, 32, labelled);
  c.seed = 11;
  run_campaign(c, {});
}

// 300 trials, run once for every test here.
const std::string& campaign_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("report");
    run_small_campaign(d, 300);
    return d;
  }();
  return dir;
}

TEST(Report, DataAddsUpToTheSummary) {
  const ResultsDb db = ResultsDb::open(results_db_path(campaign_dir()), true);
  const CampaignSummary s = summarize(db);
  const auto d = report_data(db);
  ASSERT_EQ(d["trials"], 300);

  // One curve point per trial (fewer than kCurvePoints), ending at the overall rate.
  const auto& curve = d["curve"];
  ASSERT_EQ(curve.size(), 300u);
  EXPECT_EQ(curve.front()["trials"], 1);
  EXPECT_EQ(curve.back()["trials"], 300);
  EXPECT_EQ(curve.back()["sdc_k"], s.overall.sdc.k);
  EXPECT_DOUBLE_EQ(curve.back()["half_width"].get<double>(), s.overall.sdc.half_width());

  // Every trial has one input, so classes and fault models partition the trials.
  std::int64_t class_trials = 0, class_sdc = 0;
  for (const auto& r : d["per_class"]) {
    class_trials += r["trials"].get<std::int64_t>();
    class_sdc += r["sdc_k"].get<std::int64_t>();
  }
  EXPECT_EQ(class_trials, 300);
  EXPECT_EQ(class_sdc, s.overall.sdc.k);
  ASSERT_EQ(d["per_fault_model"].size(), 1u);
  EXPECT_EQ(d["per_fault_model"][0]["key"], "bitflip");
  EXPECT_EQ(d["per_fault_model"][0]["trials"], 300);

  // float32 single-bit faults: the three fields' shares of the SDCs add up to 1 (when any).
  ASSERT_TRUE(d["float32_bits"].get<bool>());
  double share = 0.0;
  for (const auto& f : d["bit_fields"]) share += f["sdc_share"].get<double>();
  if (s.overall.sdc.k > 0) {
    EXPECT_NEAR(share, 1.0, 1e-12);
  }
  for (const auto& r : d["per_bit"]) {
    const int bit = std::stoi(r["key"].get<std::string>());
    EXPECT_EQ(r["field"], bit == 31 ? "sign" : bit >= 23 ? "exponent" : "mantissa");
  }

  // The top inputs are sorted by SDC trials and all have some.
  std::int64_t last = INT64_MAX;
  for (const auto& r : d["top_inputs"]) {
    EXPECT_GT(r["sdc_k"].get<std::int64_t>(), 0);
    EXPECT_LE(r["sdc_k"].get<std::int64_t>(), last);
    last = r["sdc_k"].get<std::int64_t>();
  }
}

TEST(Report, NodesInGraphOrder) {
  const ResultsDb db = ResultsDb::open(results_db_path(campaign_dir()), true);
  const auto d = report_data(db);
  ASSERT_TRUE(d["model"]["loaded"].get<bool>()) << d["model"].dump();
  const Graph g = load_model(kModel);
  std::map<std::string, std::size_t> index;
  for (std::size_t n = 0; n < g.nodes.size(); ++n) index[g.nodes[n].name] = n;
  std::size_t previous = 0;
  ASSERT_GT(d["per_node"].size(), 5u);
  for (const auto& r : d["per_node"]) {
    const auto it = index.find(r["key"].get<std::string>());
    ASSERT_NE(it, index.end()) << r["key"];
    EXPECT_GE(it->second, previous) << r["key"];
    previous = it->second;
    EXPECT_EQ(r["op_type"], g.nodes[it->second].op_type);
  }
}

TEST(Report, PageScriptsStayClosed) {
  const ResultsDb db = ResultsDb::open(results_db_path(campaign_dir()), true);
  const std::string html = report_html(report_data(db));
  std::size_t opens = 0, closes = 0;
  for (std::size_t at = 0; (at = html.find("<script", at)) != std::string::npos; ++at) ++opens;
  for (std::size_t at = 0; (at = html.find("</script", at)) != std::string::npos; ++at) ++closes;
  EXPECT_EQ(opens, 6u);  // status hooks, vega, vega-lite, vega-embed, plot data, main
  EXPECT_EQ(closes, opens);
  EXPECT_NE(html.find("<pre id=\"dnnfi-status\" hidden></pre>"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
}

// Unlabelled inputs: no accuracy, and the per-class plot groups trials by the fault-free answer.
TEST(Report, UnlabelledCampaignGroupsByFaultFreeAnswer) {
  const std::string dir = test::temp_dir("report_unlabelled");
  run_small_campaign(dir, 120, false);
  const ResultsDb db = ResultsDb::open(results_db_path(dir), true);
  const auto d = report_data(db);
  EXPECT_EQ(d["per_class_by"], "golden_label");
  std::map<std::string, std::int64_t> want;  // trials per fault-free answer, from the records
  for (const TrialRecord& t : db.trials()) {
    EXPECT_EQ(t.label, -1);
    ++want[std::to_string(t.golden_label)];
  }
  ASSERT_GE(want.size(), 2u);
  std::map<std::string, std::int64_t> got;
  for (const auto& r : d["per_class"]) got[r["key"].get<std::string>()] = r["trials"];
  EXPECT_EQ(got, want);
  const std::string html = report_html(d);
  EXPECT_NE(html.find("32 inputs, none labelled"), std::string::npos);
  EXPECT_NE(html.find("SDC rate per fault-free class"), std::string::npos);
  // The labelled campaign keeps its true classes.
  EXPECT_EQ(report_data(ResultsDb::open(results_db_path(campaign_dir()), true))["per_class_by"],
            "label");
}

TEST(Report, FailedWriteLeavesNothing) {
  const ResultsDb db = ResultsDb::open(results_db_path(campaign_dir()), true);
  const std::string dir = test::temp_dir("report_out");
  const std::string out = dir + "/missing/report.html";
  try {
    write_report(db, out);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(out), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir));
  write_report(db, dir + "/report.html");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace dnnfi
