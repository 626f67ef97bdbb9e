#include "report/report_specs.h"

#include <fmt/format.h>

#include <string>

namespace dnnfi {

namespace {

using nlohmann::ordered_json;

constexpr const char* kSchema = "https://vega.github.io/schema/vega-lite/v5.json";
constexpr int kHeight = 240;

// A chart of one rate per row: a bar (or point) at `x` with the 95% Wilson interval as a rule.
struct RateChart {
  std::string x_field = "key";
  std::string x_title;
  std::string mark = "bar";
  std::string y = "sdc", lo = "sdc_lo", hi = "sdc_hi", k = "sdc_k", n = "trials";
  std::string y_title = "SDC rate";
  std::string k_title = "SDC trials";
  int step = 36;                 // pixels per x category
  ordered_json color = nullptr;  // an encoding.color, or null
  ordered_json extra_tooltip = ordered_json::array();
};

ordered_json rate_chart(const ordered_json& rows, const RateChart& c) {
  ordered_json tooltip = ordered_json::array();
  tooltip.push_back({{"field", c.x_field}, {"type", "nominal"}, {"title", c.x_title}});
  for (const auto& t : c.extra_tooltip) tooltip.push_back(t);
  tooltip.push_back({{"field", c.n}, {"type", "quantitative"}, {"title", "trials"}});
  tooltip.push_back({{"field", c.k}, {"type", "quantitative"}, {"title", c.k_title}});
  tooltip.push_back(
      {{"field", c.y}, {"type", "quantitative"}, {"title", c.y_title}, {"format", ".3%"}});
  tooltip.push_back(
      {{"field", c.lo}, {"type", "quantitative"}, {"title", "95% CI low"}, {"format", ".3%"}});
  tooltip.push_back(
      {{"field", c.hi}, {"type", "quantitative"}, {"title", "95% CI high"}, {"format", ".3%"}});

  ordered_json value_enc{{"y",
                          {{"field", c.y},
                           {"type", "quantitative"},
                           {"title", c.y_title},
                           {"axis", {{"format", "%"}}}}},
                         {"tooltip", tooltip}};
  if (!c.color.is_null()) value_enc["color"] = c.color;
  ordered_json value_mark{{"type", c.mark}, {"tooltip", true}};
  if (c.mark == "point") value_mark["filled"] = true;
  return ordered_json{
      {"$schema", kSchema},
      {"data", {{"values", rows}}},
      {"width", {{"step", c.step}}},
      {"height", kHeight},
      {"encoding",
       {{"x",
         {{"field", c.x_field},
          {"type", "nominal"},
          {"sort", nullptr},
          {"title", c.x_title},
          {"axis", {{"labelAngle", c.step < 60 ? -45 : 0}, {"labelLimit", 200}}}}}}},
      {"layer",
       {{{"name", "value"}, {"mark", value_mark}, {"encoding", value_enc}},
        {{"name", "interval"},
         {"mark", {{"type", "rule"}, {"color", "#333"}}},
         {"encoding",
          {{"y", {{"field", c.lo}, {"type", "quantitative"}, {"title", c.y_title}}},
           {"y2", {{"field", c.hi}}},
           {"tooltip", tooltip}}}}}}};
}

ordered_json plot(const char* id, const std::string& title, const std::string& caption,
                  ordered_json spec) {
  return ordered_json{
      {"id", id}, {"title", title}, {"caption", caption}, {"spec", std::move(spec)}};
}

// SDC rate with its interval band, and the interval's half-width, after each committed trial.
ordered_json curve_spec(const ordered_json& data) {
  const ordered_json x{{"field", "trials"},
                       {"type", "quantitative"},
                       {"title", "trials committed (trial-id order)"}};
  const ordered_json tooltip = ordered_json::array(
      {{{"field", "trials"}, {"type", "quantitative"}, {"title", "trials"}},
       {{"field", "sdc_k"}, {"type", "quantitative"}, {"title", "SDC trials"}},
       {{"field", "sdc"}, {"type", "quantitative"}, {"title", "SDC rate"}, {"format", ".3%"}},
       {{"field", "sdc_lo"}, {"type", "quantitative"}, {"title", "95% CI low"}, {"format", ".3%"}},
       {{"field", "sdc_hi"}, {"type", "quantitative"}, {"title", "95% CI high"}, {"format", ".3%"}},
       {{"field", "half_width"},
        {"type", "quantitative"},
        {"title", "half-width"},
        {"format", ".3%"}}});
  ordered_json rate{{"height", kHeight},
                    {"width", 720},
                    {"layer",
                     {{{"name", "band"},
                       {"mark", {{"type", "area"}, {"opacity", 0.3}}},
                       {"encoding",
                        {{"x", x},
                         {"y",
                          {{"field", "sdc_lo"},
                           {"type", "quantitative"},
                           {"title", "SDC rate (95% Wilson interval)"},
                           {"axis", {{"format", "%"}}}}},
                         {"y2", {{"field", "sdc_hi"}}}}}},
                      {{"name", "rate"},
                       {"mark", {{"type", "line"}, {"tooltip", true}}},
                       {"params", {{{"name", "zoom"}, {"select", "interval"}, {"bind", "scales"}}}},
                       {"encoding",
                        {{"x", x},
                         {"y",
                          {{"field", "sdc"},
                           {"type", "quantitative"},
                           {"title", "SDC rate (95% Wilson interval)"}}},
                         {"tooltip", tooltip}}}}}}};
  ordered_json hw_layers = ordered_json::array();
  hw_layers.push_back({{"name", "halfwidth"},
                       {"mark", {{"type", "line"}, {"tooltip", true}, {"color", "#d62728"}}},
                       {"encoding",
                        {{"x", x},
                         {"y",
                          {{"field", "half_width"},
                           {"type", "quantitative"},
                           {"title", "95% half-width"},
                           {"axis", {{"format", "%"}}}}},
                         {"tooltip", tooltip}}}});
  const double target = data.value("target_halfwidth", 0.0);
  if (target > 0.0) {
    hw_layers.push_back(
        {{"name", "target"},
         {"data", {{"values", ordered_json::array({{{"target", target}}})}}},
         {"mark", {{"type", "rule"}, {"strokeDash", {4, 4}}, {"tooltip", true}}},
         {"encoding",
          {{"y", {{"field", "target"}, {"type", "quantitative"}, {"title", "95% half-width"}}},
           {"tooltip",
            {{{"field", "target"},
              {"type", "quantitative"},
              {"title", "target half-width"},
              {"format", ".3%"}}}}}}});
  }
  ordered_json halfwidth{{"height", 160}, {"width", 720}, {"layer", std::move(hw_layers)}};
  return ordered_json{{"$schema", kSchema},
                      {"data", {{"values", data["curve"]}}},
                      {"vconcat", ordered_json::array({std::move(rate), std::move(halfwidth)})}};
}

}  // namespace

ordered_json report_plots(const ordered_json& data) {
  ordered_json plots = ordered_json::array();
  const std::int64_t trials = data.value("trials", std::int64_t{0});
  if (trials == 0) return plots;

  RateChart outcomes;
  outcomes.x_field = "outcome";
  outcomes.x_title = "outcome";
  outcomes.y = "p";
  outcomes.lo = "lo";
  outcomes.hi = "hi";
  outcomes.k = "k";
  outcomes.n = "n";
  outcomes.y_title = "rate";
  outcomes.k_title = "trials with this outcome";
  outcomes.step = 60;
  outcomes.color = {{"field", "outcome"}, {"type", "nominal"}, {"legend", nullptr}};
  plots.push_back(plot("outcomes", "Outcome rates",
                       fmt::format("Share of the {} trials with each outcome; rules: 95% Wilson "
                                   "intervals.",
                                   trials),
                       rate_chart(data["outcomes"], outcomes)));

  RateChart node;
  node.x_title = "node (graph order)";
  node.mark = "point";
  node.step = 18;
  node.color = {{"field", "op_type"}, {"type", "nominal"}, {"title", "op type"}};
  node.extra_tooltip.push_back({{"field", "op_type"}, {"type", "nominal"}, {"title", "op type"}});
  const bool model_loaded = data["model"].value("loaded", false);
  plots.push_back(plot(
      "per_node", "SDC rate per node",
      std::string("One point per faulted node output, weight or graph input, ") +
          (model_loaded ? "in the model's graph order (a weight or input just before the node "
                          "that first uses it)"
                        : "in name order (the model file was not available)") +
          "; a trial counts once for each node it faulted. Hover a point for its numbers; rules: "
          "95% Wilson intervals.",
      rate_chart(data["per_node"], node)));

  RateChart op;
  op.x_title = "op type";
  op.step = 40;
  plots.push_back(plot("per_op_type", "SDC rate per op type",
                       "Trials grouped by the op type of the faulted node (a weight or input: "
                       "its first consumer's); rules: 95% Wilson intervals.",
                       rate_chart(data["per_op_type"], op)));

  if (!data["per_bit"].empty()) {
    RateChart bit;
    bit.x_title = "bit position (0 = least significant)";
    bit.step = 18;
    if (data.value("float32_bits", false)) {
      bit.color = {{"field", "field"},
                   {"type", "nominal"},
                   {"title", "float32 field"},
                   {"scale", {{"domain", {"mantissa", "exponent", "sign"}}}}};
      bit.extra_tooltip.push_back({{"field", "field"}, {"type", "nominal"}, {"title", "field"}});
    }
    std::string caption =
        "Single-bit faults only, by the flipped bit; float32 bits 23-30 are the exponent, bit 31 "
        "the sign.";
    for (const ordered_json& f : data["bit_fields"]) {
      const std::string field = f.value("key", "");
      if (field == "mantissa") continue;
      caption +=
          fmt::format(" {} bit{}: {:.1f}% of the SDC trials ({} of {} trials drawn, {:.1f}%).",
                      field == "sign" ? "The sign" : "Exponent", field == "sign" ? "" : "s",
                      100.0 * f.value("sdc_share", 0.0), f.value("trials", std::int64_t{0}),
                      data.value("trials", std::int64_t{0}), 100.0 * f.value("trial_share", 0.0));
    }
    caption += " Rules: 95% Wilson intervals.";
    plots.push_back(
        plot("per_bit", "SDC rate per bit position", caption, rate_chart(data["per_bit"], bit)));
  }

  RateChart model;
  model.x_title = "fault model";
  model.step = 60;
  plots.push_back(plot("per_fault_model", "SDC rate per fault model",
                       "Trials grouped by fault model (bitflip, stuck0, stuck1, zero, value, "
                       "random); rules: 95% Wilson intervals.",
                       rate_chart(data["per_fault_model"], model)));

  RateChart cls;
  cls.step = 36;
  if (data.value("per_class_by", "label") == "golden_label") {
    cls.x_title = "fault-free top-1 class of the input";
    plots.push_back(plot("per_class", "SDC rate per fault-free class",
                         "The inputs have no labels: trials grouped by the model's fault-free "
                         "answer on their input; rules: 95% Wilson intervals.",
                         rate_chart(data["per_class"], cls)));
  } else {
    cls.x_title = "true class of the input";
    plots.push_back(plot("per_class", "SDC rate per true class",
                         "Trials grouped by the ground-truth label of their input; rules: 95% "
                         "Wilson intervals.",
                         rate_chart(data["per_class"], cls)));
  }

  if (!data["top_inputs"].empty()) {
    RateChart input;
    input.x_title = "input index";
    input.mark = "point";
    input.step = 20;
    plots.push_back(plot(
        "top_inputs", "Inputs with the most SDC trials",
        fmt::format("The {} inputs with the most SDC trials of the {} inputs that had any, most "
                    "first, with each input's SDC rate over its own trials; rules: 95% Wilson "
                    "intervals.",
                    data["top_inputs"].size(), data.value("inputs_with_sdc", std::size_t{0})),
        rate_chart(data["top_inputs"], input)));
  }

  std::string curve_caption =
      "The SDC rate and its 95% Wilson interval over the first n trials in trial-id order (what "
      "the target-width stopping rule evaluates), and the interval's half-width";
  const double target = data.value("target_halfwidth", 0.0);
  if (target > 0.0) {
    curve_caption += fmt::format("; dashed: the target half-width {:.3g}%, checked every {} trials",
                                 100.0 * target, data.value("checkpoint", std::int64_t{0}));
  }
  curve_caption += ". Drag to pan, scroll to zoom.";
  plots.push_back(
      plot("curve", "SDC rate as trials were committed", curve_caption, curve_spec(data)));
  return plots;
}

}  // namespace dnnfi
