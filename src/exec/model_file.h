// Any supported model file -> Graph, chosen by content/extension. Keras formats join here later.
#pragma once

#include <string>

#include "graph/graph.h"

namespace dnnfi {

// Throws LoadError naming the file.
Graph load_model(const std::string& path);

}  // namespace dnnfi
