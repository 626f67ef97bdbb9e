#include "exec/model_file.h"

#include "onnx/loader.h"

namespace dnnfi {

Graph load_model(const std::string& path) { return load_onnx(path); }

}  // namespace dnnfi
