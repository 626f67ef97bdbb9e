// Injector::run_superlayers: TensorFI+'s Algorithm 1 (the superlayer strategy) on dnnfi's engine.
#include <algorithm>
#include <utility>
#include <vector>

#include "fi/injector.h"

namespace dnnfi {

void Injector::run_superlayers(const GoldenRun& golden, std::span<const Fault> faults,
                               const TrialOptions& options, TrialWorkspace& ws,
                               TrialResult& r) const {
  const Graph& g = session_->graph();
  const int n_nodes = static_cast<int>(g.nodes.size());
  int lmin = n_nodes;
  int lmax = -1;
  for (const Fault& f : faults) {
    const int p = g.values[static_cast<std::size_t>(f.site.value)].producer;
    lmin = std::min(lmin, p);
    lmax = std::max(lmax, p);
  }
  int ps = -1;
  for (int n = 0; n < lmin && n < n_nodes; ++n) {
    if (superlayer_[static_cast<std::size_t>(n)]) ps = n;
  }
  int ns = n_nodes;
  for (int n = std::max(lmax, 0); n < n_nodes; ++n) {
    if (superlayer_[static_cast<std::size_t>(n)]) {
      ns = n;
      break;
    }
  }
  std::vector<std::uint8_t> done(static_cast<std::size_t>(n_nodes), 0);
  auto run_one = [&](int n) {
    if (!ws.status_.is_ok() || ws.hang_) return;
    if (timed_out(options, ws)) {
      ws.hang_ = true;
      return;
    }
    ws.status_ = compute_node(n, ws);
    if (ws.status_.is_ok()) after_node(n, faults, ws, golden, r);
    done[static_cast<std::size_t>(n)] = 1;
    record(n, golden, options, ws, r);
  };
  // 1. From the input up to the previous superlayer.
  for (int n = 0; n <= ps; ++n) run_one(n);
  // 2. The faulty layers and everything the next superlayer needs, memoised, depth-first.
  // One DFS stack for the whole trial (compute_needed runs once per node after ns).
  std::vector<std::pair<int, std::size_t>> stack;
  auto compute_needed = [&](int target) {
    stack.clear();
    stack.emplace_back(target, 0);
    while (!stack.empty() && ws.status_.is_ok() && !ws.hang_) {
      auto& [n, next_input] = stack.back();
      const Node& node = g.nodes[static_cast<std::size_t>(n)];
      if (done[static_cast<std::size_t>(n)]) {
        stack.pop_back();
        continue;
      }
      if (next_input < node.inputs.size()) {
        const int v = node.inputs[next_input++];
        if (v == kNoValue) continue;
        const int p = g.values[static_cast<std::size_t>(v)].producer;
        if (p > ps && !done[static_cast<std::size_t>(p)]) stack.emplace_back(p, 0);
        continue;
      }
      const int node_id = n;
      stack.pop_back();
      run_one(node_id);
    }
  };
  for (const Fault& f : faults) {
    const int p = g.values[static_cast<std::size_t>(f.site.value)].producer;
    if (p >= 0) compute_needed(p);
  }
  if (ns < n_nodes) {
    compute_needed(ns);
    // 3. From the next superlayer to the output. Through compute_needed: a faulty weight may
    // feed a node folded at prepare time (a QDQ model's weight DequantizeLinear) that sits
    // before ns without being one of its ancestors (constants make no cut), and it must be
    // recomputed before the node after ns that reads it.
    for (int n = ns + 1; n < n_nodes; ++n) {
      if (!done[static_cast<std::size_t>(n)]) compute_needed(n);
    }
  } else {
    for (int n = ps + 1; n < n_nodes; ++n) {
      if (!done[static_cast<std::size_t>(n)]) compute_needed(n);
    }
  }
}

}  // namespace dnnfi
