#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cmath>

#include "commands.h"
#include "core/error.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "fi/fault_model.h"
#include "fi/injector.h"

namespace dnnfi::cli {

namespace {

struct InjectOptions {
  std::string model;
  std::string node;
  std::int64_t index = 0;
  std::vector<int> bits;
  std::string fault_model = "bitflip";
  double value = 0.0;
  std::string input;
  std::string output;
  std::string strategy = "cone";
  int threads = 1;
  std::uint64_t seed = 0;
};

std::string format_bits(std::uint64_t bits, DType dt) {
  return fmt::format("0x{:0{}x}", bits, static_cast<int>(dtype_size(dt) * 2));
}

int inject_command(const InjectOptions& o) {
  Graph graph = load_model(o.model);
  SessionOptions opts;
  opts.threads = o.threads;
  std::vector<Tensor> inputs;
  if (!o.input.empty()) {
    if (graph.inputs.size() != 1)
      throw InputError(o.model + ": --input needs a single-input model");
    inputs.push_back(load_npy(o.input));
    opts.input_shapes[graph.values[graph.inputs[0]].name] = inputs.back().shape();
  }
  auto session = Session::create(std::move(graph), opts);
  const Graph& g = session->graph();
  if (inputs.empty()) {
    for (int v : g.inputs) {
      const TensorInfo& info = session->info(v);
      if (info.dtype != DType::kFloat32)
        throw InputError("random input needs a float32 input; pass --input");
      Tensor t(info.dtype, info.shape);
      // Deterministic pseudo-random input in [-1, 1).
      std::uint64_t x = o.seed * 0x9E3779B97F4A7C15ull + 1;
      for (float& f : t.span<float>()) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        f = static_cast<float>(static_cast<double>(x >> 11) * 0x1.0p-52 - 1.0);
      }
      inputs.push_back(std::move(t));
    }
  }
  Injector injector(session);
  Fault fault;
  fault.site = injector.site_by_name(o.node, o.index);
  fault.model.kind = parse_fault_model_kind(o.fault_model);
  fault.model.bits = o.bits;
  fault.model.value = o.value;
  fault.model.seed = o.seed;
  injector.validate(fault);
  GoldenRun golden = injector.golden(std::move(inputs));
  TrialOptions topt;
  topt.strategy = parse_strategy(o.strategy);
  topt.keep_outputs = true;
  topt.trace = true;
  TrialWorkspace ws;
  TrialResult r = injector.run_trial(golden, {&fault, 1}, topt, ws);

  const Value& val = g.values[static_cast<std::size_t>(fault.site.value)];
  const TensorInfo& info = session->info(fault.site.value);
  std::string coords;
  {
    auto strides = shape_strides(info.shape);
    std::int64_t rem = fault.site.flat_index;
    for (std::size_t i = 0; i < strides.size(); ++i) {
      coords += (i ? "," : "") + std::to_string(rem / strides[i]);
      rem %= strides[i];
    }
  }
  fmt::print(
      "site: {} '{}'{} value '{}' {} {} element {} [{}]\n", site_kind_name(fault.site.kind),
      fault.site.node >= 0 ? g.nodes[static_cast<std::size_t>(fault.site.node)].name : val.name,
      fault.site.node >= 0 ? " (" + g.nodes[static_cast<std::size_t>(fault.site.node)].op_type + ")"
                           : "",
      val.name, dtype_name(info.dtype), shape_to_string(info.shape), fault.site.flat_index, coords);
  for (const AppliedFault& a : r.applied) {
    fmt::print(
        "fault: {} bits [{}]: {} ({}) -> {} ({})\n", fault_model_kind_name(a.fault.model.kind),
        fmt::format("{}", fmt::join(a.fault.model.bits, ",")), a.value_before,
        format_bits(a.bits_before, a.dtype), a.value_after, format_bits(a.bits_after, a.dtype));
  }
  std::size_t changed = 0;
  for (const NodeChange& c : r.trace) changed += c.changed;
  fmt::print("strategy: {}, {} nodes recomputed, {} changed\n", o.strategy, r.nodes_computed,
             changed);
  for (const NodeChange& c : r.trace) {
    if (!c.changed) continue;
    const Node& n = g.nodes[static_cast<std::size_t>(c.node)];
    fmt::print("  changed {:<32} {:<18} max abs error {:.6g}\n", n.name, n.op_type,
               c.max_abs_error);
  }
  std::string labels;
  if (!golden.top1.empty() && !r.faulty_top1.empty()) {
    labels = fmt::format(" (top-1 golden {}, faulty {})", golden.top1[0], r.faulty_top1[0]);
  }
  fmt::print("outcome: {}{}{}\n", outcome_name(r.outcome), labels,
             r.error.empty() ? "" : ": " + r.error);
  if (!o.output.empty() && !r.outputs.empty()) save_npy(o.output, r.outputs[0]);
  return 0;
}

}  // namespace

Command add_inject(CLI::App& app) {
  auto* cmd = app.add_subcommand("inject", "Inject one fault and show how it propagates");
  auto o = std::make_shared<InjectOptions>();
  cmd->add_option("model", o->model, "Model file (.onnx, or Keras .h5/.keras/model.json)")->required();
  cmd->add_option("--node,-n", o->node,
                  "Fault site: a node name, the name of a value a node outputs, an initializer "
                  "(weight) or a graph input")
      ->required();
  cmd->add_option("--index", o->index, "Flat element index, row-major ONNX layout")
      ->capture_default_str();
  cmd->add_option("--bit,-b", o->bits, "Bit position(s), 0 = least significant (fp32 sign = 31)");
  cmd->add_option("--model-kind", o->fault_model,
                  "Fault model: bitflip, stuck0, stuck1, zero, value, random")
      ->capture_default_str();
  cmd->add_option("--value", o->value, "Value for --model-kind value");
  cmd->add_option("--input,-i", o->input, "Input .npy (default: seeded random input)");
  cmd->add_option("--output,-o", o->output, "Write the fault-injected output to this .npy");
  cmd->add_option("--strategy", o->strategy, "cone, superlayer or full")->capture_default_str();
  cmd->add_option("--threads,-t", o->threads, "Intra-op threads")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random input / random-value fault")
      ->capture_default_str();
  return [o]() { return inject_command(*o); };
}

}  // namespace dnnfi::cli
