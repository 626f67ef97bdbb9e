// Per-node facts for `dnnfi inspect`: output shapes, parameter count, FLOPs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exec/session.h"

namespace dnnfi {

struct NodeSummary {
  int node = -1;
  std::string name;
  std::string op_type;
  std::vector<TensorInfo> outputs;
  std::int64_t params = 0;  // elements of initializer inputs
  std::int64_t flops = 0;   // multiply-adds count as 2; elementwise ops as 1 per output element
  bool folded = false;      // computed once at prepare (constant subgraph)
};

std::vector<NodeSummary> summarize_nodes(const Session& session);

}  // namespace dnnfi
