#include "graph/graph.h"

#include <queue>

#include "core/error.h"

namespace dnnfi {

int Graph::find_value(const std::string& name) const {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Graph::find_node(const std::string& name) const {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::int64_t Graph::opset(const std::string& domain) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = opsets.find(d);
  return it == opsets.end() ? 0 : it->second;
}

void Graph::finalize() {
  const std::string where = source.empty() ? "" : source + ": ";
  const int nv = static_cast<int>(values.size());
  std::vector<bool> is_input(values.size(), false);
  for (int v : inputs) is_input[v] = true;
  std::vector<int> producer(values.size(), -1);
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    for (int v : nodes[n].outputs) {
      if (v == kNoValue) continue;
      if (v < 0 || v >= nv)
        throw LoadError(where + "node '" + nodes[n].name + "' has a bad output id");
      if (producer[v] != -1 || values[v].is_initializer || is_input[v]) {
        throw LoadError(where + "value '" + values[v].name +
                        "' is produced more than once (node '" + nodes[n].name + "')");
      }
      producer[v] = static_cast<int>(n);
    }
  }
  // Kahn's algorithm, taking ready nodes in file order so the result is stable.
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> users(values.size());
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    for (int v : nodes[n].inputs) {
      if (v == kNoValue) continue;
      if (v < 0 || v >= nv)
        throw LoadError(where + "node '" + nodes[n].name + "' has a bad input id");
      if (producer[v] == -1 && !values[v].is_initializer && !is_input[v]) {
        throw LoadError(where + "node '" + nodes[n].name + "' reads value '" + values[v].name +
                        "' that no node, input or initializer provides");
      }
      if (producer[v] != -1) {
        ++pending[n];
        users[v].push_back(static_cast<int>(n));
      }
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    if (pending[n] == 0) ready.push(static_cast<int>(n));
  }
  std::vector<int> order;
  order.reserve(nodes.size());
  while (!ready.empty()) {
    const int n = ready.top();
    ready.pop();
    order.push_back(n);
    for (int v : nodes[n].outputs) {
      if (v == kNoValue) continue;
      for (int u : users[v]) {
        if (--pending[u] == 0) ready.push(u);
      }
    }
  }
  if (order.size() != nodes.size()) {
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (pending[n] != 0) {
        throw LoadError(where + "the graph has a cycle through node '" + nodes[n].name + "'");
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (int n : order) sorted.push_back(std::move(nodes[n]));
  nodes = std::move(sorted);
  for (Value& v : values) {
    v.producer = -1;
    v.consumers.clear();
  }
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    for (int v : nodes[n].outputs) {
      if (v != kNoValue) values[v].producer = static_cast<int>(n);
    }
    for (int v : nodes[n].inputs) {
      if (v != kNoValue) values[v].consumers.push_back(static_cast<int>(n));
    }
  }
  for (int v : outputs) {
    if (values[v].producer == -1 && !values[v].is_initializer && !is_input[v]) {
      throw LoadError(where + "graph output '" + values[v].name + "' is not produced by any node");
    }
  }
}

}  // namespace dnnfi
