// Any supported model file -> Graph, chosen by content/extension: ONNX, or a Keras model (.h5,
// .keras, TensorFlow.js model.json; see keras/keras_loader.h).
#pragma once

#include <string>

#include "graph/graph.h"

namespace dnnfi {

// Throws LoadError naming the file.
Graph load_model(const std::string& path);

}  // namespace dnnfi
