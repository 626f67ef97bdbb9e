#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "campaign/config.h"
#include "commands.h"
#include "core/error.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"

namespace dnnfi::cli {

namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  int threads = 1;
  int warmup = 0;
  int repeat = 1;
  bool json = false;
  bool reference = false;
  bool golden = false;
  bool streamed = false;
  std::string activation_layout = "nchw";
  std::uint64_t seed = 0;
};

Tensor random_input(const TensorInfo& info, std::uint64_t seed) {
  Tensor t(info.dtype, info.shape);
  std::mt19937_64 gen(seed);
  if (info.dtype == DType::kFloat32) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float& v : t.span<float>()) v = dist(gen);
  } else if (info.dtype == DType::kInt64) {
    std::uniform_int_distribution<std::int64_t> dist(0, 9);
    for (auto& v : t.span<std::int64_t>()) v = dist(gen);
  } else {
    throw InputError("random input of dtype " + std::string(dtype_name(info.dtype)) +
                     " is not supported; pass --input");
  }
  return t;
}

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

void print_top5(const Tensor& out) {
  if (out.dtype() != DType::kFloat32 || out.numel() < 2) return;
  const std::int64_t classes = out.shape().empty() ? out.numel() : out.shape().back();
  if (classes < 2 || out.numel() / classes != 1) return;
  std::vector<std::int64_t> idx(static_cast<std::size_t>(classes));
  std::iota(idx.begin(), idx.end(), 0);
  const float* p = out.data<float>();
  const std::size_t k = std::min<std::size_t>(5, idx.size());
  std::partial_sort(
      idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
      [p](std::int64_t a, std::int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  fmt::print("top-{}:\n", k);
  for (std::size_t i = 0; i < k; ++i) fmt::print("  class {:>5}  {:.6g}\n", idx[i], p[idx[i]]);
}

int run_command(const RunOptions& o) {
  if (o.threads < 1) throw InputError("--threads must be >= 1");
  if (o.repeat < 1 || o.warmup < 0) throw InputError("--repeat must be >= 1 and --warmup >= 0");
  Graph graph = load_model(o.model);
  std::vector<Tensor> inputs;
  SessionOptions opts;
  opts.threads = o.threads;
  opts.reference_kernels = o.reference;
  if (o.streamed && !o.golden) throw InputError("--streamed goes with --golden");
  if (o.activation_layout != "nchw" && !o.golden) {
    throw InputError("--activation-layout goes with --golden");
  }
  opts.fuse = !o.golden;
  try {
    opts.channels_last = !o.golden || parse_activation_layout(o.activation_layout);
  } catch (const InputError& e) {
    throw InputError(std::string("--activation-layout: ") + e.what());
  }
  if (!o.inputs.empty()) {
    if (o.inputs.size() != graph.inputs.size()) {
      throw InputError(o.model + ": model has " + std::to_string(graph.inputs.size()) +
                       " inputs, " + std::to_string(o.inputs.size()) + " --input files given");
    }
    for (std::size_t i = 0; i < o.inputs.size(); ++i) {
      inputs.push_back(load_npy(o.inputs[i]));
      const Value& v = graph.values[graph.inputs[i]];
      if (inputs.back().rank() != v.info.shape.size()) {
        throw InputError(o.inputs[i] + ": shape " + shape_to_string(inputs.back().shape()) +
                         " does not fit input '" + v.name + "' of shape " +
                         shape_to_string(v.info.shape));
      }
      opts.input_shapes[v.name] = inputs.back().shape();
    }
  }
  auto session = Session::create(std::move(graph), opts);
  const Graph& g = session->graph();
  if (inputs.empty()) {
    for (std::size_t i = 0; i < g.inputs.size(); ++i) {
      inputs.push_back(random_input(session->info(g.inputs[i]), o.seed + i));
    }
  }
  session->check_inputs(inputs);
  ValueStore store =
      o.golden && !o.streamed ? session->make_store() : session->make_planned_store();
  for (int i = 0; i < o.warmup; ++i) {
    Status st = session->run(store, inputs);
    if (!st.is_ok()) throw InputError(o.model + ": " + st.message());
  }
  std::vector<double> ms;
  for (int i = 0; i < o.repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = session->run(store, inputs);
    const auto t1 = std::chrono::steady_clock::now();
    if (!st.is_ok()) throw InputError(o.model + ": " + st.message());
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::vector<Tensor> outs = session->outputs(store);
  for (std::size_t i = 0; i < o.outputs.size() && i < outs.size(); ++i)
    save_npy(o.outputs[i], outs[i]);
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.size() % 2
                            ? sorted[sorted.size() / 2]
                            : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  const double p90 = sorted[std::min(
      sorted.size() - 1, static_cast<std::size_t>(0.9 * static_cast<double>(sorted.size())))];
  if (o.json) {
    fmt::print(
        "{{\"model\": \"{}\", \"threads\": {}, \"warmup\": {}, \"repeat\": {}, \"median_ms\": "
        "{:.4f}, "
        "\"min_ms\": {:.4f}, \"p90_ms\": {:.4f}, \"peak_rss_mb\": {:.1f}}}\n",
        o.model, o.threads, o.warmup, o.repeat, median, sorted.front(), p90, peak_rss_mb());
    return 0;
  }
  for (std::size_t i = 0; i < outs.size(); ++i) {
    fmt::print("output {} {} {}\n", g.values[g.outputs[i]].name, dtype_name(outs[i].dtype()),
               shape_to_string(outs[i].shape()));
  }
  if (!outs.empty()) print_top5(outs[0]);
  if (o.repeat > 1 || o.warmup > 0) {
    fmt::print("latency: median {:.3f} ms, min {:.3f} ms over {} runs ({} threads)\n", median,
               sorted.front(), o.repeat, o.threads);
  }
  return 0;
}

}  // namespace

Command add_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run fault-free inference on a model");
  auto o = std::make_shared<RunOptions>();
  cmd->add_option("model", o->model, "Model file (.onnx)")->required();
  cmd->add_option("--input,-i", o->inputs,
                  "Input .npy file, one per graph input (default: random)");
  cmd->add_option("--output,-o", o->outputs, "Write outputs to .npy files, in graph output order");
  cmd->add_option("--threads,-t", o->threads, "Intra-op threads")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed runs before timing")->capture_default_str();
  cmd->add_option("--repeat", o->repeat, "Timed runs")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random input")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print timing as one JSON line");
  cmd->add_flag("--reference", o->reference, "Use the plain reference kernels");
  cmd->add_flag("--golden", o->golden,
                "Run as a fault-injection golden run does: every node output kept in its own "
                "buffer, no fused nodes (default: buffers reused, Conv fused with what follows)");
  cmd->add_flag("--streamed", o->streamed,
                "With --golden: as a streamed golden run (trials advanced in step with it) does: "
                "no fused nodes, buffers reused, nothing kept");
  cmd->add_option("--activation-layout", o->activation_layout,
                  "With --golden: the fault-injection session's layout, nchw or nhwc (a campaign's "
                  "activation_layout)")
      ->capture_default_str();
  return [o]() { return run_command(*o); };
}

}  // namespace dnnfi::cli
