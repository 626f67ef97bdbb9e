#include <fmt/core.h>

#include "campaign/preprocess_settings.h"
#include "commands.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "report/model_summary.h"

namespace dnnfi::cli {

namespace {

std::string outputs_text(const std::vector<TensorInfo>& outs) {
  std::string s;
  for (const auto& o : outs) {
    if (!s.empty()) s += " ";
    s += shape_to_string(o.shape);
    if (o.dtype != DType::kFloat32) s += std::string(":") + std::string(dtype_name(o.dtype));
  }
  return s;
}

std::string human(double v) {
  if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}K", v / 1e3);
  return fmt::format("{:.0f}", v);
}

}  // namespace

Command add_inspect(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("inspect", "Show a model's inputs, outputs, preprocessing and node table");
  auto model = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  cmd->add_option("model", *model, "Model file (.onnx)")->required();
  cmd->add_flag("--all", *all, "Also list nodes folded into constants at load time");
  return [=]() {
    Graph graph = load_model(*model);
    const PreprocessSettings preprocess = model_preprocess(graph.metadata, *model);
    auto session = Session::create(std::move(graph));
    const Graph& g = session->graph();
    fmt::print("model: {}\nIR version {}, opset {}, {} nodes\n", *model, g.ir_version, g.opset(""),
               g.nodes.size());
    for (int v : g.inputs) {
      const Value& val = g.values[v];
      fmt::print("input  {} {} {}\n", val.name, dtype_name(session->info(v).dtype),
                 shape_to_string(session->info(v).shape));
    }
    for (int v : g.outputs) {
      fmt::print("output {} {} {}\n", g.values[v].name, dtype_name(session->info(v).dtype),
                 shape_to_string(session->info(v).shape));
    }
    if (preprocess.empty()) {
      fmt::print("preprocess: none carried (no {} metadata, no {})\n", kPreprocessMetadataKey,
                 preprocess_sidecar_path(*model));
    } else {
      fmt::print("preprocess: {} (from {})\n", describe_preprocess(preprocess),
                 preprocess_origins(preprocess));
    }
    const auto rows = summarize_nodes(*session);
    std::size_t name_w = 4;
    for (const auto& r : rows) name_w = std::max(name_w, std::min<std::size_t>(r.name.size(), 48));
    fmt::print("\n{:>4}  {:<{}}  {:<20}  {:<24}  {:>10}  {:>10}\n", "#", "node", name_w, "op",
               "output shape", "params", "FLOPs");
    std::int64_t params = 0;
    std::int64_t flops = 0;
    std::size_t folded = 0;
    for (const auto& r : rows) {
      params += r.params;
      flops += r.flops;
      if (r.folded) {
        ++folded;
        if (!*all) continue;
      }
      fmt::print("{:>4}  {:<{}}  {:<20}  {:<24}  {:>10}  {:>10}{}\n", r.node, r.name, name_w,
                 r.op_type, outputs_text(r.outputs), r.params, human(static_cast<double>(r.flops)),
                 r.folded ? "  (folded)" : "");
    }
    fmt::print("\ntotal: {} parameters, {} FLOPs per inference, {} nodes run, {} folded\n", params,
               human(static_cast<double>(flops)), rows.size() - folded, folded);
    return 0;
  };
}

}  // namespace dnnfi::cli
