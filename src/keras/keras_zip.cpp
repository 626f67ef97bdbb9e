// Keras 3 .keras files: a zip of config.json, metadata.json and model.weights.h5 (libzip).
#include <zip.h>

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "core/zip_entry.h"
#include "keras/keras_format.h"

namespace dnnfi::keras {

namespace {

// A config is kilobytes to a few megabytes; weights may be large.
constexpr zip_uint64_t kMaxConfigSize = zip_uint64_t{1} << 28;
constexpr zip_uint64_t kMaxWeightsSize = zip_uint64_t{1} << 34;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
// A member by name; the size in the zip directory is not trusted for the allocation.
std::string read_member(zip_t* z, const std::string& path, const std::string& member,
                        zip_uint64_t max_size) {
  const zip_int64_t idx = zip_name_locate(z, member.c_str(), 0);
  if (idx < 0) throw LoadError(path + ": no '" + member + "' in the archive");
  return read_zip_entry<LoadError>(z, static_cast<zip_uint64_t>(idx), path + ": '" + member + "'",
                                   max_size);
}

}  // namespace

Graph load_keras3_zip(const std::string& path) {
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> z(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    const std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw LoadError(path + ": not a readable .keras (zip) file (" + msg + ")");
  }
  const nlohmann::json config =
      parse_json(read_member(z.get(), path, "config.json", kMaxConfigSize), path + ": config.json");
  if (zip_name_locate(z.get(), "model.weights.h5", 0) < 0) {
    throw LoadError(path +
                    ": no 'model.weights.h5' in the archive (only HDF5 weights are "
                    "supported)");
  }
  const Weights weights =
      read_keras3_weights(read_member(z.get(), path, "model.weights.h5", kMaxWeightsSize), path);
  const Model model = parse_model(config, Format::kKeras3, path);
  return build_graph(model, weights, Format::kKeras3, path);
}

}  // namespace dnnfi::keras
