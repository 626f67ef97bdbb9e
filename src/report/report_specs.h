// The Vega-Lite specs of a campaign report page, one per plot, built from report_data()'s JSON
// with the data inline (each plot's rows are already aggregated, so a spec stays a few kB).
// Mark names are part of the contract with tests/report/check_report.py: an interval chart names
// its marks "value" (the bars or points) and "interval" (the 95% Wilson interval rules); the
// stopping curve "band", "rate", "halfwidth" and, with a target, "target".
#pragma once

#include <nlohmann/json.hpp>

namespace dnnfi {

// [{id, title, caption, spec}], in page order; a plot whose data is empty is left out.
nlohmann::ordered_json report_plots(const nlohmann::ordered_json& data);

}  // namespace dnnfi
