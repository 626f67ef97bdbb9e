#include "keras/keras_loader.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "keras/keras_format.h"

namespace dnnfi {

namespace {

std::string extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// The first bytes of the file: HDF5 and zip signatures decide when the extension does not.
std::string signature(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(8, '\0');
  in.read(head.data(), 8);
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

bool is_hdf5(const std::string& head) { return head == std::string("\x89HDF\r\n\x1a\n", 8); }
bool is_zip(const std::string& head) { return head.rfind("PK\x03\x04", 0) == 0; }

}  // namespace

bool is_keras_path(const std::string& path) {
  const std::string ext = extension(path);
  if (ext == ".h5" || ext == ".hdf5" || ext == ".keras" || ext == ".json") return true;
  return is_hdf5(signature(path));
}

Graph load_keras(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw LoadError(path + ": no such file");
  const std::string ext = extension(path);
  const std::string head = signature(path);
  if (ext == ".json") return keras::load_tfjs(path);
  if (ext == ".keras" || is_zip(head)) return keras::load_keras3_zip(path);
  if (ext == ".h5" || ext == ".hdf5" || is_hdf5(head)) return keras::load_keras2_h5(path);
  throw LoadError(path + ": not a Keras file (.h5, .keras or TensorFlow.js model.json)");
}

}  // namespace dnnfi
