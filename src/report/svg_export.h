// Static SVG files of a report's plots, for papers (dnnfi report --svg DIR). The page itself
// renders them: opened as REPORT.html#svg in headless Chromium it puts each plot's
// view.toSVG() into the DOM (report_page.h), which Chromium's --dump-dom prints; so the files are
// what the page's own "Save as SVG" action gives, with no second renderer to keep in step.
#pragma once

#include <string>
#include <vector>

namespace dnnfi {

// Writes OUT_DIR/<plot id>.svg for every plot of the report at `report_path` (created by
// write_report) and returns their paths in page order. `chromium` is the browser to run (a name
// looked up in PATH, or a path). Throws InputError naming the report, OUT_DIR or the browser when
// one cannot be read, written or run, or when the page reports an error.
std::vector<std::string> export_report_svgs(const std::string& report_path,
                                            const std::string& out_dir,
                                            const std::string& chromium = "chromium");

}  // namespace dnnfi
