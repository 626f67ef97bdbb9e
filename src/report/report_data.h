// The numbers a campaign report page (dnnfi report) shows, gathered from a results database as
// one JSON object: the summary of summary.h plus the breakdowns only the page has (per fault
// model, per true class, the inputs with the most SDC trials, the SDC rate as trials were
// committed) and what the model file says (node order, sizes). Everything is aggregated in SQL, so
// the object stays small (nodes + bits + classes + at most kCurvePoints points) whatever the
// number of trials. Layout and formulas: docs/report.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "campaign/results_db.h"

namespace dnnfi {

// The stopping curve has a point after every trial up to this many trials, and this many evenly
// spaced points (the last at the last trial) beyond.
inline constexpr std::int64_t kCurvePoints = 2000;
// The per-input plot shows the inputs with the most SDC trials, at most this many.
inline constexpr std::size_t kTopInputs = 30;

// Throws InputError naming the database if a query fails. The model file named by the campaign is
// read when it is still there with the same sha256 (for the graph order of nodes and the model
// summary); when it is not, the report says so and orders nodes by name.
nlohmann::ordered_json report_data(const ResultsDb& db);

}  // namespace dnnfi
