#include "report/report_page.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "report/report_data.h"
#include "report/report_specs.h"
#include "report/vega_assets.h"

namespace dnnfi {

namespace {

using nlohmann::ordered_json;

constexpr const char* kStyle = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 2em;
       max-width: 1300px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.headline td { font-size: 1.15em; font-weight: 600; }
table.model td { text-align: left; }
.caption { color: #444; font-size: 0.9em; max-width: 60em; }
.plot { overflow-x: auto; }
.note { background: #fff6dd; padding: 0.4em 0.8em; }
pre.config { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
code { font-size: 0.95em; }
)css";

// Set up before the libraries load, so that an error while they load is caught too.
constexpr const char* kStatusScript = R"js(
(function () {
  'use strict';
  var status = {done: false, errors: [], warnings: [], plots: {}, render_ms: null};
  function text(args) {
    return Array.prototype.map.call(args, function (a) {
      return a && a.stack ? String(a.stack) : String(a);
    }).join(' ');
  }
  function publish() {
    var el = document.getElementById('dnnfi-status');
    if (el) el.textContent = JSON.stringify(status);
  }
  window.dnnfiReport = {status: status, publish: publish, text: text};
  window.addEventListener('error', function (e) {
    status.errors.push('uncaught: ' + e.message); publish();
  });
  window.addEventListener('unhandledrejection', function (e) {
    status.errors.push('unhandled rejection: ' + text([e.reason])); publish();
  });
  var consoleError = console.error, consoleWarn = console.warn;
  console.error = function () {
    status.errors.push(text(arguments)); publish(); consoleError.apply(console, arguments);
  };
  console.warn = function () {
    status.warnings.push(text(arguments)); publish(); consoleWarn.apply(console, arguments);
  };
})();
)js";

constexpr const char* kMainScript = R"js(
(function () {
  'use strict';
  var report = window.dnnfiReport, status = report.status;
  // Scenegraph items per named mark (role "mark": bars, points, rules, lines, areas), through
  // layers and concatenations; a line or area has one item per data point.
  function countMarks(mark, counts) {
    if (!mark || !mark.items) return;
    if (mark.role === 'mark' && mark.name) {
      counts[mark.name] = (counts[mark.name] || 0) + mark.items.length;
    }
    mark.items.forEach(function (item) {
      (item.items || []).forEach(function (child) { countMarks(child, counts); });
    });
  }
  var plots = JSON.parse(document.getElementById('dnnfi-plots').textContent);
  var svgExport = window.location.hash === '#svg';
  Promise.all(plots.map(function (p) {
    return vegaEmbed('#plot-' + p.id, p.spec, {
      renderer: 'canvas',
      logLevel: vega.Warn,
      downloadFileName: 'dnnfi-' + p.id,
      actions: {export: true, source: true, compiled: true, editor: false}
    }).then(function (result) {
      var counts = {};
      countMarks(result.view.scenegraph().root, counts);
      status.plots[p.id] = counts;
      if (!svgExport) return null;
      return result.view.toSVG().then(function (svg) {
        var pre = document.createElement('pre');
        pre.className = 'svg-export';
        pre.dataset.plot = p.id;
        pre.hidden = true;
        pre.textContent = svg;
        document.body.appendChild(pre);
      });
    });
  })).then(function () {
    status.render_ms = performance.now();
    status.done = true;
    report.publish();
  }, function (e) {
    status.errors.push('render: ' + report.text([e]));
    report.publish();
  });
})();
)js";

std::string escape_html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// JSON for a <script type="application/json"> element: '<' written as \u003c so that no
// "</script>" or "<!--" inside a string can end or change the element.
std::string script_json(const ordered_json& j) {
  const std::string text = j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent(double p) { return fmt::format("{:.2f}%", 100.0 * p); }

std::string interval(const ordered_json& p) {
  return fmt::format("[{:.2f}, {:.2f}]", 100.0 * p.value("lo", 0.0), 100.0 * p.value("hi", 1.0));
}

std::string human(double v) {
  if (v >= 1e9) return fmt::format("{:.2f} G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f} K", v / 1e3);
  return fmt::format("{:.0f}", v);
}

void append_header(std::string& h, const ordered_json& data) {
  const ordered_json& c = data["campaign"];
  const std::string model_path = c.value("model_path", "");
  const std::string model_name = std::filesystem::path(model_path).filename().string();
  h += "<h1>dnnfi campaign report: " + escape_html(model_name) + "</h1>\n<p class=\"meta\">";
  h += fmt::format("{} trials", data.value("trials", std::int64_t{0}));
  const std::int64_t planned = c.value("trials_planned", std::int64_t{0});
  const double target = data.value("target_halfwidth", 0.0);
  if (planned >= 0) {
    h += fmt::format(" of {} planned", planned);
  } else if (target > 0.0) {
    h += fmt::format(" (until the SDC interval's half-width is at most {:.3g}%)", 100.0 * target);
  }
  h += fmt::format(", seed {}", c.value("seed", std::uint64_t{0}));
  const int shards = c.value("shard_count", 1);
  if (shards > 1) h += fmt::format(", shard {}/{}", c.value("shard_index", 0), shards);
  h += ", started " + escape_html(c.value("started_at", "")) + ", dnnfi " +
       escape_html(c.value("dnnfi_version", "")) +
       "<br>\nmachine: " + escape_html(c.value("machine", "")) + "<br>\nconfig sha256 <code>" +
       escape_html(c.value("config_hash", "")) + "</code>";
  h += fmt::format(", {:.1f} trials/s per thread (fault propagation only)</p>\n",
                   data.value("trials_per_s", 0.0));
}

void append_results(std::string& h, const ordered_json& data) {
  const ordered_json& acc = data["top1_accuracy"];
  h += "<h2>Results</h2>\n<table class=\"headline\">\n";
  if (acc.value("n", std::int64_t{0}) > 0) {
    h += fmt::format(
        "<tr><th>Top-1 accuracy (fault-free)</th><td>{}</td><td>{}</td><td>n = {} labelled "
        "inputs</td></tr>\n</table>\n",
        percent(acc.value("p", 0.0)), interval(acc), acc.value("n", std::int64_t{0}));
  } else {
    h += fmt::format(
        "<tr><th>Top-1 accuracy (fault-free)</th><td>n/a</td><td></td><td>{} inputs, none "
        "labelled</td></tr>\n</table>\n",
        data.value("inputs", std::int64_t{0}));
  }
  h += fmt::format(
      "<table><caption>Outcomes over {} trials: rate and 95% Wilson interval</caption>\n"
      "<tr><th>outcome</th><th>trials</th><th>rate</th><th>95% CI (%)</th></tr>\n",
      data.value("trials", std::int64_t{0}));
  auto row = [&](const std::string& name, const ordered_json& p) {
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", name,
                     p.value("k", std::int64_t{0}), percent(p.value("p", 0.0)), interval(p));
  };
  for (const ordered_json& o : data["outcomes"]) row(o.value("outcome", ""), o);
  row("SDC, golden label out of the top-5", data["top5_miss"]);
  h += "</table>\n";
  if (data.value("trials", std::int64_t{0}) == 0) {
    h += "<p class=\"note\">No trials are committed yet: there is nothing to plot.</p>\n";
  }

  const ordered_json& fields = data["bit_fields"];
  if (!fields.empty()) {
    h += "<h2>float32 bit fields</h2>\n<p class=\"caption\">Single-bit faults in float32 values "
         "grouped by the field of the flipped bit: mantissa (bits 0-22), exponent (23-30), sign "
         "(31). \"Share of SDCs\" is the field's part of the SDC trials among these faults; "
         "\"share of trials\" its part of the faults drawn.</p>\n<table>\n<tr><th>field</th>"
         "<th>trials</th><th>share of trials</th><th>SDC trials</th><th>share of SDCs</th>"
         "<th>SDC rate</th><th>95% CI (%)</th></tr>\n";
    for (const ordered_json& f : fields) {
      h += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>[{:.2f}, "
          "{:.2f}]</td></tr>\n",
          escape_html(f.value("key", "")), f.value("trials", std::int64_t{0}),
          percent(f.value("trial_share", 0.0)), f.value("sdc_k", std::int64_t{0}),
          percent(f.value("sdc_share", 0.0)), percent(f.value("sdc", 0.0)),
          100.0 * f.value("sdc_lo", 0.0), 100.0 * f.value("sdc_hi", 1.0));
    }
    h += "</table>\n";
  }
}

void append_model(std::string& h, const ordered_json& m) {
  h += "<h2>Model</h2>\n<table class=\"model\">\n";
  h += "<tr><td>file</td><td><code>" + escape_html(m.value("path", "")) + "</code></td></tr>\n";
  h += "<tr><td>sha256</td><td><code>" + escape_html(m.value("sha256", "")) + "</code></td></tr>\n";
  if (!m.value("loaded", false)) {
    h += "</table>\n<p class=\"note\">" + escape_html(m.value("note", "")) + "</p>\n";
    return;
  }
  h += fmt::format("<tr><td>IR version, opset</td><td>{}, {}</td></tr>\n",
                   m.value("ir_version", std::int64_t{0}), m.value("opset", std::int64_t{0}));
  h += fmt::format("<tr><td>nodes</td><td>{} ({} run, the rest folded into constants)</td></tr>\n",
                   m.value("nodes", std::int64_t{0}), m.value("nodes_run", std::int64_t{0}));
  h += fmt::format("<tr><td>parameters</td><td>{}</td></tr>\n",
                   m.value("parameters", std::int64_t{0}));
  h += fmt::format("<tr><td>FLOPs per inference</td><td>{}</td></tr>\n",
                   human(static_cast<double>(m.value("flops", std::int64_t{0}))));
  for (const char* kind : {"inputs", "outputs"}) {
    for (const ordered_json& t : m[kind]) {
      h += fmt::format("<tr><td>{}</td><td><code>{}</code> {} {}</td></tr>\n",
                       std::string_view(kind).substr(0, std::strlen(kind) - 1),
                       escape_html(t.value("name", "")), escape_html(t.value("dtype", "")),
                       escape_html(t.value("shape", "")));
    }
  }
  std::string ops;
  for (const ordered_json& o : m["op_types"]) {
    if (!ops.empty()) ops += ", ";
    ops += fmt::format("{} {}", escape_html(o.value("op_type", "")),
                       o.value("nodes", std::int64_t{0}));
  }
  h += "<tr><td>op types (nodes run)</td><td>" + ops + "</td></tr>\n</table>\n";
}

}  // namespace

std::string report_html(const ordered_json& data) {
  const ordered_json plots = report_plots(data);
  const std::string model_name =
      std::filesystem::path(data["campaign"].value("model_path", "")).filename().string();
  std::string h;
  h.reserve(assets::kVegaJs.size() + assets::kVegaLiteJs.size() + assets::kVegaEmbedJs.size() +
            (1 << 16));
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"generator\" content=\"dnnfi report\">\n";
  h += "<title>dnnfi report: " + escape_html(model_name) + "</title>\n<style>";
  h += kStyle;
  h += "</style>\n<script>";
  h += kStatusScript;
  h += "</script>\n</head>\n<body>\n";
  append_header(h, data);
  append_results(h, data);
  for (const ordered_json& p : plots) {
    const std::string id = p.value("id", "");
    h += "<section>\n<h2>" + escape_html(p.value("title", "")) + "</h2>\n<p class=\"caption\">" +
         escape_html(p.value("caption", "")) + "</p>\n<div class=\"plot\" id=\"plot-" + id +
         "\"></div>\n</section>\n";
  }
  append_model(h, data["model"]);
  h += "<h2>Configuration</h2>\n<p class=\"caption\">The resolved configuration as run (stored in "
       "the results database).</p>\n<pre class=\"config\">" +
       escape_html(data["campaign"].value("config_yaml", "")) + "</pre>\n";
  h += "<pre id=\"dnnfi-status\" hidden></pre>\n";
  // The libraries are plain text inside <script>: none of them contains "</script".
  for (std::string_view js : {assets::kVegaJs, assets::kVegaLiteJs, assets::kVegaEmbedJs}) {
    h += "<script>";
    h += js;
    h += "</script>\n";
  }
  h += "<script type=\"application/json\" id=\"dnnfi-plots\">" + script_json(plots) +
       "</script>\n<script>";
  h += kMainScript;
  h += "</script>\n</body>\n</html>\n";
  return h;
}

void write_report(const ResultsDb& db, const std::string& out_path) {
  const std::string html = report_html(report_data(db));
  const std::string tmp = fmt::format("{}.{}.part", out_path, ::getpid());
  auto fail = [&](const std::string& why) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw InputError(out_path + ": cannot write the report (" + why + ")");
  };
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(std::strerror(errno));
    f.write(html.data(), static_cast<std::streamsize>(html.size()));
    f.flush();
    if (!f) fail(std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out_path, ec);
  if (ec) fail(ec.message());
}

}  // namespace dnnfi
