// Fuzz targets for the model readers: ONNX, Keras .h5 / .keras, TensorFlow.js layers models.
#include "core/error.h"
#include "exec/model_file.h"
#include "fuzz_util.h"
#include "targets.h"

namespace dnnfi::fuzz {

namespace {

// Writes the input under `name`, loads it as a model and runs it; dnnfi::Errors are the expected
// answer to bad input.
int load_and_run(const std::string& name, std::string_view bytes) {
  clear_scratch();
  const std::string path = write_scratch(name, bytes);
  try {
    prepare_and_run(load_model(path));
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace

int onnx(const std::uint8_t* data, std::size_t size) {
  return load_and_run("model.onnx", {reinterpret_cast<const char*>(data), size});
}

int keras_h5(const std::uint8_t* data, std::size_t size) {
  return load_and_run("model.h5", {reinterpret_cast<const char*>(data), size});
}

int keras_zip(const std::uint8_t* data, std::size_t size) {
  return load_and_run("model.keras", {reinterpret_cast<const char*>(data), size});
}

int tfjs(const std::uint8_t* data, std::size_t size) {
  const auto parts = split_parts(data, size);
  clear_scratch();
  if (parts.size() > 1) write_scratch("weights.bin", parts[1]);
  const std::string path = write_scratch("model.json", parts[0]);
  try {
    prepare_and_run(load_model(path));
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace dnnfi::fuzz
