// A campaign report (dnnfi report): one self-contained HTML page with the configuration as run,
// a model summary, the fault-free accuracy, the outcome rates with their 95% Wilson intervals and
// interactive Vega-Lite plots (report_specs.h). Vega, Vega-Lite and vega-embed are inline
// (vega_assets.h), so the page opens from any place without a network; each plot's menu exports
// it as SVG or PNG. docs/report.md describes the page.
//
// Once every plot has rendered, the page writes a JSON status into <pre id="dnnfi-status">:
// {done, errors, warnings, plots: {id: {mark name: scenegraph items}}, render_ms}, where errors
// and warnings collect console.error/console.warn calls, uncaught errors and rejected promises,
// and render_ms is performance.now() at that moment. Tests and bench/report.sh read it back with
// headless Chromium's --dump-dom. Opened as REPORT.html#svg, the page also puts each plot's SVG
// into <pre class="svg-export" data-plot="id"> (scripts/report_svg.py writes them to files).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "campaign/results_db.h"

namespace dnnfi {

// The page for report_data()'s JSON.
std::string report_html(const nlohmann::ordered_json& data);

// Writes the report of the campaign in `db` to `out_path` through a temporary file beside it that
// is renamed when complete, so `out_path` is never a half-written page. Throws InputError naming
// the path it cannot write.
void write_report(const ResultsDb& db, const std::string& out_path);

}  // namespace dnnfi
