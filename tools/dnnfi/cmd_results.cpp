// Commands that read campaign results: summary, export, merge, replay.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <filesystem>

#include "campaign/campaign.h"
#include "campaign/replay.h"
#include "campaign/results_db.h"
#include "commands.h"
#include "core/error.h"
#include "core/npy.h"
#include "report/summary.h"

namespace dnnfi::cli {

namespace {

namespace fs = std::filesystem;

ResultsDb open_results(const std::string& dir) {
  const std::string path = results_db_path(dir);
  if (!fs::exists(path)) throw InputError(dir + ": no campaign results (results.sqlite) here");
  return ResultsDb::open(path, true);
}

std::string describe_fault(const FaultRecord& f) {
  const std::string where = f.node.empty() ? f.site_kind + " '" + f.value + "'"
                                           : fmt::format("node '{}' ({})", f.node, f.op_type);
  std::string bits;
  if (!f.bits.empty()) bits = fmt::format(" bits {}", fmt::join(f.bits, ","));
  return fmt::format("{} value '{}' element {} [{}] {}{}: {:.9g} -> {:.9g}", where, f.value,
                     f.flat_index, fmt::join(f.coords, ","), f.model, bits, f.value_before,
                     f.value_after);
}

}  // namespace

Command add_summary(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("summary", "Accuracy, outcome rates with 95% intervals, breakdowns");
  auto dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("dir", *dir, "Campaign output directory")->required();
  cmd->add_flag("--json", *json, "Print JSON instead of tables");
  return [dir, json]() {
    const ResultsDb db = open_results(*dir);
    const CampaignSummary s = summarize(db);
    fmt::print("{}\n", *json ? summary_json(s) : format_summary(s));
    return 0;
  };
}

Command add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Export a campaign's results as CSV or JSON");
  struct Opts {
    std::string dir, out;
    bool csv = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("dir", o->dir, "Campaign output directory")->required();
  auto* csv =
      cmd->add_flag("--csv", o->csv, "trials.csv, faults.csv, inputs.csv (default DIR/csv/)");
  auto* json = cmd->add_flag("--json", o->json, "one JSON document (default DIR/results.json)");
  csv->excludes(json);
  cmd->add_option("--out,-o", o->out, "Output folder (--csv) or file (--json)");
  return [o]() {
    if (!o->csv && !o->json) throw InputError("export: choose --csv or --json");
    const ResultsDb db = open_results(o->dir);
    if (o->csv) {
      const std::string out = o->out.empty() ? (fs::path(o->dir) / "csv").string() : o->out;
      export_csv(db, out);
      fmt::print("wrote {}/trials.csv, faults.csv, inputs.csv\n", out);
    } else {
      const std::string out =
          o->out.empty() ? (fs::path(o->dir) / "results.json").string() : o->out;
      export_json(db, out);
      fmt::print("wrote {}\n", out);
    }
    return 0;
  };
}

Command add_merge(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "Merge shard results into one campaign directory");
  auto out = std::make_shared<std::string>();
  auto dirs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("out", *out, "Output directory (created; must not hold results)")->required();
  cmd->add_option("dirs", *dirs, "Shard output directories")->required();
  return [out, dirs]() {
    std::vector<std::string> paths;
    for (const auto& d : *dirs) {
      const std::string p = results_db_path(d);
      if (!fs::exists(p)) throw InputError(d + ": no campaign results (results.sqlite) here");
      paths.push_back(p);
    }
    std::error_code ec;
    fs::create_directories(*out, ec);
    if (ec) throw InputError(*out + ": cannot create (" + ec.message() + ")");
    merge_results(results_db_path(*out), paths);
    const ResultsDb db = ResultsDb::open(results_db_path(*out), true);
    fmt::print("merged {} shards into {} ({} trials)\n", paths.size(), results_db_path(*out),
               db.trial_count());
    return 0;
  };
}

Command add_replay(CLI::App& app) {
  auto* cmd = app.add_subcommand("replay", "Re-run one trial bit-exactly and show its propagation");
  struct Opts {
    std::string dir, output;
    std::int64_t trial = -1;
    bool all_nodes = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("dir", o->dir, "Campaign output directory")->required();
  cmd->add_option("--trial", o->trial, "Trial number")->required();
  cmd->add_option("--output,-o", o->output, "Write the fault-injected output to this .npy");
  cmd->add_flag("--all-nodes", o->all_nodes, "List unchanged recomputed nodes too");
  return [o]() {
    const ReplayReport r = replay_trial(o->dir, o->trial);
    fmt::print("trial {}: input {} (dataset sample {}, label {}), model {}\n", o->trial,
               r.input.index, r.input.dataset_index, r.input.label, r.model);
    for (const FaultRecord& f : r.replayed.faults)
      fmt::print("fault {}: {}\n", f.ordinal, describe_fault(f));
    std::size_t changed = 0;
    for (const ReplayNode& n : r.trace) changed += n.changed ? 1 : 0;
    fmt::print("propagation: {} nodes recomputed, {} changed\n", r.trace.size(), changed);
    for (const ReplayNode& n : r.trace) {
      if (!n.changed && !o->all_nodes) continue;
      fmt::print("  {:<9} {:<36} {:<20} max abs error {:.6g}\n", n.changed ? "changed" : "same",
                 n.node, n.op_type, n.max_abs_error);
    }
    fmt::print("labels: golden {}, faulty {}; golden label in faulty top-5: {}\n",
               r.replayed.golden_label, r.replayed.faulty_label,
               r.replayed.golden_in_top5 ? "yes" : "no");
    fmt::print("outcome: {}{}\n", r.replayed.outcome,
               r.replayed.error.empty() ? "" : ": " + r.replayed.error);
    fmt::print("matches the stored trial bit for bit: {}\n", r.identical ? "yes" : "NO");
    if (!o->output.empty() && !r.outputs.empty()) save_npy(o->output, r.outputs[0]);
    return r.identical ? 0 : 1;
  };
}

}  // namespace dnnfi::cli
