// Keras 3 .keras files: a zip of config.json, metadata.json and model.weights.h5 (libzip).
#include <zip.h>

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "keras/keras_format.h"

namespace dnnfi::keras {

namespace {

// A config is kilobytes to a few megabytes; weights may be large.
constexpr zip_uint64_t kMaxConfigSize = zip_uint64_t{1} << 28;
constexpr zip_uint64_t kMaxWeightsSize = zip_uint64_t{1} << 34;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// Reads a member as the data arrives: the size in the directory is not trusted for the
// allocation, so a few bytes cannot make it reserve gigabytes.
std::string read_member(zip_t* z, const std::string& path, const std::string& member,
                        zip_uint64_t max_size) {
  const zip_int64_t idx = zip_name_locate(z, member.c_str(), 0);
  if (idx < 0) throw LoadError(path + ": no '" + member + "' in the archive");
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z, static_cast<zip_uint64_t>(idx), 0, &st) != 0 ||
      !(st.valid & ZIP_STAT_SIZE)) {
    throw LoadError(path + ": cannot read '" + member + "' (" + zip_strerror(z) + ")");
  }
  if (st.size > max_size) throw LoadError(path + ": '" + member + "' too large");
  std::unique_ptr<zip_file_t, ZipFileCloser> f(
      zip_fopen_index(z, static_cast<zip_uint64_t>(idx), 0));
  if (!f) throw LoadError(path + ": cannot open '" + member + "' (" + zip_strerror(z) + ")");
  constexpr zip_uint64_t kChunk = zip_uint64_t{1} << 20;
  std::string bytes;
  while (bytes.size() < st.size) {
    const std::size_t got = bytes.size();
    const zip_uint64_t want = std::min<zip_uint64_t>(kChunk, st.size - got);
    bytes.resize(got + want);
    const zip_int64_t n = zip_fread(f.get(), bytes.data() + got, want);
    if (n <= 0) {
      throw LoadError(path + ": corrupt '" + member + "' (" + zip_file_strerror(f.get()) + ")");
    }
    bytes.resize(got + static_cast<std::size_t>(n));
  }
  return bytes;
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
