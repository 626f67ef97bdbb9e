// Fault-injection cost benchmark: mean time of one fault-injected inference under the TensorFI+
// fault model (uniform node output, uniform element, uniform bit of the fp32) for each strategy,
// divided by the fault-free inference time measured in the same run. Prints one JSON line.
//
//   dnnfi_fi_bench MODEL.onnx [--input X.npy] [--trials N] [--threads T] [--seed S]
//                  [--strategies cone,cone-whole,superlayer,full]
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "fi/batched.h"
#include "fi/injector.h"
#include "fi/sampler.h"

using namespace dnnfi;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: dnnfi_fi_bench MODEL [--input X.npy] [--trials N] [--threads T] "
                 "[--seed S] [--strategies cone,superlayer,full]\n");
    return 2;
  }
  std::string model = argv[1];
  std::string input_path;
  int trials = 200;
  int threads = 1;
  std::uint64_t seed = 1;
  std::string strategies = "cone,cone-whole,superlayer,full";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--input")
      input_path = v;
    else if (k == "--trials")
      trials = std::stoi(v);
    else if (k == "--threads")
      threads = std::stoi(v);
    else if (k == "--seed")
      seed = std::stoull(v);
    else if (k == "--strategies")
      strategies = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  try {
    Graph g = load_model(model);
    SessionOptions opts;
    opts.threads = threads;
    std::vector<Tensor> inputs;
    if (!input_path.empty()) {
      inputs.push_back(load_npy(input_path));
      opts.input_shapes[g.values[g.inputs[0]].name] = inputs[0].shape();
    }
    auto session = Session::create(std::move(g), opts);
    if (inputs.empty()) {
      const TensorInfo& info = session->info(session->graph().inputs[0]);
      Tensor t(info.dtype, info.shape);
      float x = 0.1f;
      for (float& f : t.span<float>())
        f = (x = x * 1.7f - static_cast<float>(static_cast<int>(x * 1.7f)));
      inputs.push_back(t);
    }
    // Fault-free latency, same session and thread count.
    ValueStore store = session->make_store();
    for (int i = 0; i < 3; ++i) (void)session->run(store, inputs);
    std::vector<double> ff;
    for (int i = 0; i < 20; ++i) {
      const double t0 = now_ms();
      if (!session->run(store, inputs).is_ok()) throw InputError("fault-free run failed");
      ff.push_back(now_ms() - t0);
    }
    std::sort(ff.begin(), ff.end());
    const double ff_median = 0.5 * (ff[9] + ff[10]);

    Injector injector(session);
    GoldenRun golden = injector.golden(inputs);
    SamplerConfig sc;
    sc.model.kind = FaultModelKind::kBitFlip;
    FaultSampler sampler(*session, sc);
    std::vector<std::vector<Fault>> faults;
    for (int t = 0; t < trials; ++t)
      faults.push_back(sampler.sample(seed, static_cast<std::uint64_t>(t)));

    // Memory: the golden cache against the model's activation bytes (every node output at this
    // input shape), and the cone workspace after the trials below.
    std::size_t activation_bytes = 0;
    for (int n : session->run_order()) {
      for (int v : session->graph().nodes[static_cast<std::size_t>(n)].outputs) {
        if (v != kNoValue && !session->is_constant(v))
          activation_bytes += session->info(v).nbytes();
      }
    }
    std::ostringstream out;
    out << "{\"model\": \"" << model << "\", \"threads\": " << threads << ", \"trials\": " << trials
        << ", \"fault_free_ms\": " << ff_median << ", \"sites\": " << sampler.candidates().size();
    std::stringstream ss(strategies);
    std::string name;
    while (std::getline(ss, name, ',')) {
      TrialOptions to;
      // "cone-whole": the cone recomputing whole nodes (no row bands), for comparison.
      to.strategy = parse_strategy(name == "cone-whole" ? "cone" : name);
      to.row_regions = name != "cone-whole";
      TrialWorkspace ws;
      (void)injector.run_trial(golden, faults[0], to, ws);  // allocate the workspace
      // The cone prepares a band variant of a node the first time a band height reaches it
      // (fi/row_regions.h): a campaign pays that once, so prepare them on other faults first.
      const double w0 = now_ms();
      if (to.strategy == Strategy::kCone && to.row_regions) {
        for (int t = 0; t < trials; ++t) {
          (void)injector.run_trial(golden, sampler.sample(seed + 1, static_cast<std::uint64_t>(t)),
                                   to, ws);
        }
      }
      const double warmup_ms = now_ms() - w0;
      std::size_t counts[5] = {};
      double nodes = 0, banded = 0;
      const double t0 = now_ms();
      for (const auto& f : faults) {
        TrialResult r = injector.run_trial(golden, f, to, ws);
        ++counts[static_cast<int>(r.outcome)];
        nodes += static_cast<double>(r.nodes_computed);
        banded += static_cast<double>(r.nodes_banded);
      }
      const double mean = (now_ms() - t0) / trials;
      out << ", \"" << name << "_ms\": " << mean << ", \"" << name
          << "_ratio\": " << mean / ff_median << ", \"" << name << "_nodes\": " << nodes / trials
          << ", \"" << name << "_banded\": " << banded / trials;
      if (warmup_ms > 0.5) out << ", \"" << name << "_warmup_ms\": " << warmup_ms;
      if (name == "cone") {
        out << ", \"golden_bytes\": " << golden.bytes(*session)
            << ", \"activation_bytes\": " << activation_bytes
            << ", \"cone_workspace_bytes\": " << ws.bytes();
        out << ", \"masked\": " << counts[0] << ", \"sdc\": " << counts[1]
            << ", \"tolerable\": " << counts[2] << ", \"due\": " << counts[3]
            << ", \"hang\": " << counts[4];
      }
    }
    // Batched evaluation (fi/batched.h): the same trials, sorted by the position of their faulted
    // node so that a batch's cones overlap, 8 per pass; time per trial.
    try {
      BatchedInjector batched(session, 8);
      const GoldenRun golden_b = batched.golden(golden);
      std::vector<std::size_t> order(faults.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      auto pos = [&](std::size_t i) {
        return session->graph().values[static_cast<std::size_t>(faults[i][0].site.value)].producer;
      };
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return pos(a) < pos(b); });
      BatchedWorkspace bws;
      std::vector<std::vector<Fault>> group;
      (void)batched.run_trials(golden, golden_b, std::span(faults.data(), 1), false, bws);
      const double t0 = now_ms();
      for (std::size_t k = 0; k < order.size(); k += 8) {
        group.clear();
        for (std::size_t j = k; j < std::min(order.size(), k + 8); ++j)
          group.push_back(faults[order[j]]);
        (void)batched.run_trials(golden, golden_b, group, false, bws);
      }
      const double mean = (now_ms() - t0) / trials;
      out << ", \"batched8_ms\": " << mean << ", \"batched8_ratio\": " << mean / ff_median;
    } catch (const InputError& e) {
      out << ", \"batched8_ms\": null";
    }
    {
      // Fault-free again, after the trials: guards against a drifting machine.
      std::vector<double> ff2;
      for (int i = 0; i < 20; ++i) {
        const double t0 = now_ms();
        (void)session->run(store, inputs);
        ff2.push_back(now_ms() - t0);
      }
      std::sort(ff2.begin(), ff2.end());
      out << ", \"fault_free_after_ms\": " << 0.5 * (ff2[9] + ff2[10]);
    }
    out << ", \"nodes_total\": " << session->run_order().size() << "}";
    fmt::print("{}\n", out.str());
  } catch (const Error& e) {
    std::fprintf(stderr, "dnnfi_fi_bench: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
