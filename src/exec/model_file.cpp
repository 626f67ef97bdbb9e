#include "exec/model_file.h"

#include "core/memory.h"
#include "keras/keras_loader.h"
#include "onnx/loader.h"

namespace dnnfi {

Graph load_model(const std::string& path) {
  const MapSmallerBlocks populated;  // the weights, kept for the model's life
  if (is_keras_path(path)) return load_keras(path);
  return load_onnx(path);
}

}  // namespace dnnfi
