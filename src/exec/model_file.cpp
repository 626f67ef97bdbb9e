#include "exec/model_file.h"

#include "keras/keras_loader.h"
#include "onnx/loader.h"

namespace dnnfi {

Graph load_model(const std::string& path) {
  if (is_keras_path(path)) return load_keras(path);
  return load_onnx(path);
}

}  // namespace dnnfi
