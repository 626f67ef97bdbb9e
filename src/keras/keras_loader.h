// Keras models in, natively: Keras 2 .h5, Keras 3 .keras and TensorFlow.js layers models
// (model.json) -> the same Graph the ONNX front end builds. Layer-boundary tensors keep Keras's
// layout (NHWC for channels_last) and carry the Keras layer names; see docs/keras.md.
#pragma once

#include <string>

#include "graph/graph.h"

namespace dnnfi {

// True when the path looks like a Keras file: extension .h5/.hdf5/.keras/.json or an HDF5
// signature. Does not validate the file.
bool is_keras_path(const std::string& path);

// Throws LoadError with one line naming the file (and the layer, where one is at fault).
Graph load_keras(const std::string& path);

}  // namespace dnnfi
