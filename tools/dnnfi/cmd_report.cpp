// dnnfi report: a campaign's results as one self-contained HTML page (report/report_page.h).
#include <fmt/core.h>

#include <filesystem>

#include "campaign/campaign.h"
#include "campaign/results_db.h"
#include "commands.h"
#include "core/error.h"
#include "report/report_page.h"
#include "report/svg_export.h"

namespace dnnfi::cli {

Command add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "Write a self-contained HTML report with interactive plots of a campaign");
  struct Opts {
    std::string dir, out, svg_dir, chromium = "chromium";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("dir", o->dir, "Campaign output directory")->required();
  cmd->add_option("--out,-o", o->out, "Output HTML file (default DIR/report.html)");
  cmd->add_option("--svg", o->svg_dir,
                  "Also write each plot as SVG into this folder (rendered by headless Chromium)");
  cmd->add_option("--chromium", o->chromium, "Browser for --svg (default: chromium in PATH)");
  return [o]() {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(o->dir, ec)) {
      throw InputError(o->dir + ": not a campaign output directory (" +
                       (fs::exists(o->dir, ec) ? "not a directory" : "no such directory") + ")");
    }
    const std::string db_path = results_db_path(o->dir);
    if (!fs::exists(db_path, ec)) {
      throw InputError(o->dir + ": no campaign results (results.sqlite) here");
    }
    const ResultsDb db = ResultsDb::open(db_path, true);
    const std::string out = o->out.empty() ? (fs::path(o->dir) / "report.html").string() : o->out;
    write_report(db, out);
    fmt::print("wrote {}\n", out);
    if (!o->svg_dir.empty()) {
      for (const std::string& svg : export_report_svgs(out, o->svg_dir, o->chromium)) {
        fmt::print("wrote {}\n", svg);
      }
    }
    return 0;
  };
}

}  // namespace dnnfi::cli
