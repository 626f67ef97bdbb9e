// Superlayers (TensorFI+): nodes that every path from the graph inputs to the outputs passes
// through, i.e. after which the node's own outputs are the only live non-constant values.
#pragma once

#include <vector>

#include "graph/graph.h"

namespace dnnfi {

// is_constant(value id) says which values never change (initializers, folded values); they do not
// make a cut. Returns one flag per node (graph.nodes order).
template <typename IsConstant>
std::vector<bool> find_superlayers(const Graph& g, IsConstant is_constant) {
  const int n_nodes = static_cast<int>(g.nodes.size());
  // live_across[i]: non-constant values produced at or before node i and used after it.
  std::vector<int> delta(static_cast<std::size_t>(n_nodes) + 2, 0);
  std::vector<int> own(static_cast<std::size_t>(n_nodes), 0);
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[static_cast<std::size_t>(v)] = true;
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (is_constant(static_cast<int>(v))) continue;
    int last = is_output[v] ? n_nodes : -1;
    for (int c : val.consumers) last = std::max(last, c);
    const int first = val.producer;  // -1 for graph inputs
    if (last <= first) continue;
    // live across boundaries first .. last-1 (boundary i = after node i)
    delta[static_cast<std::size_t>(first + 1)] += 1;
    delta[static_cast<std::size_t>(last + 1)] -= 1;
    if (first >= 0) own[static_cast<std::size_t>(first)] += 1;
  }
  std::vector<bool> result(static_cast<std::size_t>(n_nodes), false);
  int live = delta[0];
  for (int i = 0; i < n_nodes; ++i) {
    live += delta[static_cast<std::size_t>(i + 1)];
    result[static_cast<std::size_t>(i)] =
        own[static_cast<std::size_t>(i)] > 0 && live == own[static_cast<std::size_t>(i)];
  }
  return result;
}

}  // namespace dnnfi
