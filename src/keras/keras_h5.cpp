// HDF5 side of the Keras front end (Debian libhdf5, C API): Keras 2 model files and Keras 3
// weight files. Layouts: docs/keras.md.
#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "keras/h5_sandbox.h"
#include "keras/keras_format.h"

namespace dnnfi::keras {

namespace {

// Owns one HDF5 identifier.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Bounds on what attributes may declare (Keras's own are at most 64 KiB each: HDF5's header
// limit, why Keras splits long lists into name0, name1, ...).
constexpr hssize_t kMaxAttrStrings = hssize_t{1} << 24;
constexpr std::size_t kMaxAttrBytes = std::size_t{1} << 30;
// A Keras 3 weights file has a group per layer; links may form cycles (a group linked into its own
// subtree), which a depth bound alone does not stop from multiplying.
constexpr int kMaxWeightGroups = 1 << 16;

// HDF5 prints a stack of errors to stderr by default; the library must not print.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Reads a string attribute (scalar or array, fixed-length or variable-length) as a list.
std::vector<std::string> read_string_attr(hid_t obj, const char* name, const std::string& what) {
  Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) throw LoadError(what + ": cannot open attribute '" + name + "'");
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.ok() || !space.ok()) throw LoadError(what + ": unreadable attribute '" + name + "'");
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw LoadError(what + ": attribute '" + name + "' is not a string");
  }
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw LoadError(what + ": unreadable attribute '" + name + "'");
  // The dataspace is read before the data: a few bytes can declare any number of strings.
  if (n > kMaxAttrStrings) {
    throw LoadError(what + ": attribute '" + name + "' holds too many strings");
  }
  std::vector<std::string> out;
  if (n == 0) return out;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0) {
      throw LoadError(what + ": cannot read attribute '" + name + "'");
    }
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0) throw LoadError(what + ": unreadable attribute '" + name + "'");
  if (size > kMaxAttrBytes / static_cast<std::size_t>(n)) {
    throw LoadError(what + ": attribute '" + name + "' is too large");
  }
  std::vector<char> buf(size * static_cast<std::size_t>(n) + 1, '\0');
  if (H5Aread(attr.get(), type.get(), buf.data()) < 0) {
    throw LoadError(what + ": cannot read attribute '" + name + "'");
  }
  for (hssize_t i = 0; i < n; ++i) {
    const char* p = buf.data() + static_cast<std::size_t>(i) * size;
    out.emplace_back(p, strnlen(p, size));
  }
  return out;
}

// Keras splits long string-list attributes into name0, name1, ... (hdf5_format.py,
// save_attributes_to_hdf5_group); reads either form.
std::vector<std::string> read_list_attr(hid_t obj, const std::string& name,
                                        const std::string& what) {
  if (H5Aexists(obj, name.c_str()) > 0) return read_string_attr(obj, name.c_str(), what);
  std::vector<std::string> out;
  for (int chunk = 0;; ++chunk) {
    const std::string part = name + std::to_string(chunk);
    if (H5Aexists(obj, part.c_str()) <= 0) break;
    auto items = read_string_attr(obj, part.c_str(), what);
    out.insert(out.end(), items.begin(), items.end());
  }
  return out;
}

Tensor read_dataset(hid_t loc, const std::string& path, const std::string& what) {
  Handle ds(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw LoadError(what + ": missing dataset '" + path + "'");
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    throw LoadError(what + ": dataset '" + path + "' is not numeric");
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) throw LoadError(what + ": dataset '" + path + "' has a bad rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Shape shape(dims.begin(), dims.end());
  std::int64_t numel = 1;
  for (std::int64_t d : shape) {
    if (d != 0 && numel > (std::int64_t{1} << 34) / d) {
      throw LoadError(what + ": dataset '" + path + "' is too large");
    }
    numel *= d;
  }
  // Unfiltered data is stored in full, so a shape the file does not hold is a lie that would make
  // us allocate for nothing (filtered, compressed data may legitimately be smaller).
  Handle dcpl(H5Dget_create_plist(ds.get()), H5Pclose);
  if (dcpl.ok() && H5Pget_nfilters(dcpl.get()) == 0 && numel > 0 &&
      H5Dget_storage_size(ds.get()) / static_cast<hsize_t>(numel) < H5Tget_size(type.get())) {
    throw LoadError(what + ": dataset '" + path + "' holds less data than its shape " +
                    shape_to_string(shape) + " needs");
  }
  Tensor t(DType::kFloat32, shape);
  if (numel > 0 &&
      H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) < 0) {
    throw LoadError(what + ": cannot read dataset '" + path + "'");
  }
  return t;
}

std::string strip_suffix(std::string s) {
  const auto colon = s.rfind(':');
  if (colon != std::string::npos) s.resize(colon);
  return s;
}

enum class Kind { kGroup, kDataset, kOther };

Kind link_kind(hid_t group, const std::string& name) {
  Handle obj(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.ok()) return Kind::kOther;
  const H5I_type_t t = H5Iget_type(obj.get());
  return t == H5I_GROUP ? Kind::kGroup : t == H5I_DATASET ? Kind::kDataset : Kind::kOther;
}

std::vector<std::string> link_names(hid_t group) {
  H5G_info_t info;
  std::vector<std::string> names;
  if (H5Gget_info(group, &info) < 0) return names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len =
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) continue;
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(len));
    names.push_back(name);
  }
  return names;
}

// Keras 3: every group with a "vars" subgroup is a layer (or model); its datasets 0..n-1 are the
// weights in the layer's own order.
void walk_keras3(hid_t group, const std::string& path, Weights& w, const std::string& what,
                 int depth, int& groups) {
  if (depth > 64) throw LoadError(what + ": weight groups nested too deeply");
  for (const std::string& name : link_names(group)) {
    if (link_kind(group, name) != Kind::kGroup) continue;
    if (++groups > kMaxWeightGroups) throw LoadError(what + ": too many weight groups");
    Handle sub(H5Gopen2(group, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!sub.ok()) continue;
    const std::string sub_path = path.empty() ? name : path + "/" + name;
    if (name == "vars") {
      std::vector<std::pair<long, std::string>> items;
      for (const std::string& v : link_names(sub.get())) {
        char* end = nullptr;
        const long idx = std::strtol(v.c_str(), &end, 10);
        if (end == v.c_str() || *end != '\0') {
          throw LoadError(what + ": unexpected weight '" + sub_path + "/" + v + "'");
        }
        items.emplace_back(idx, v);
      }
      std::sort(items.begin(), items.end());
      auto& list = w.layers[path];
      for (const auto& [idx, v] : items) {
        list.push_back({v, read_dataset(sub.get(), v, what + ": '" + sub_path + "'")});
      }
      continue;
    }
    walk_keras3(sub.get(), sub_path, w, what, depth + 1, groups);
  }
}

// The libhdf5 side of read_keras2_h5: runs in the sandbox's child process.
H5Contents read_keras2_h5_contents(const std::string& path) {
  silence_hdf5();
  H5Contents contents;
  Weights& weights = contents.weights;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw LoadError(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw LoadError(path + ": not an HDF5 file");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw LoadError(path + ": corrupt HDF5 file (cannot open)");
  if (H5Aexists(file.get(), "model_config") <= 0) {
    throw LoadError(path + ": no 'model_config' attribute (a weights-only file, or not Keras)");
  }
  const auto text = read_string_attr(file.get(), "model_config", path);
  if (text.size() != 1) throw LoadError(path + ": 'model_config' is not one string");
  contents.config = text[0];
  weights.by_class_path = false;
  if (H5Lexists(file.get(), "model_weights", H5P_DEFAULT) <= 0) {
    throw LoadError(path + ": no 'model_weights' group");
  }
  Handle mw(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
  if (!mw.ok()) throw LoadError(path + ": cannot open 'model_weights'");
  for (const std::string& layer : read_list_attr(mw.get(), "layer_names", path)) {
    Handle g(H5Gopen2(mw.get(), layer.c_str(), H5P_DEFAULT), H5Gclose);
    const std::string what = path + ": layer '" + layer + "'";
    if (!g.ok()) throw LoadError(what + ": no weight group");
    for (const std::string& wname : read_list_attr(g.get(), "weight_names", what)) {
      // "conv1/kernel:0"; a nested model's group holds "inner_layer/kernel:0" for each inner layer.
      const std::string plain = strip_suffix(wname);
      const auto slash = plain.rfind('/');
      std::string owner = layer;
      if (slash != std::string::npos) {
        const auto prev = plain.rfind('/', slash - 1);
        owner = plain.substr(prev == std::string::npos ? 0 : prev + 1,
                             slash - (prev == std::string::npos ? 0 : prev + 1));
      }
      const std::string short_name = slash == std::string::npos ? plain : plain.substr(slash + 1);
      Tensor value = read_dataset(g.get(), wname, what);
      // A layer named with '/' (Keras 2 DenseNet's "conv1/conv": "conv1/conv/kernel:0") is
      // filed under its own name too.
      if (slash != std::string::npos && plain.substr(0, slash) == layer && owner != layer) {
        weights.layers[layer].push_back({short_name, value});
      }
      weights.layers[owner].push_back({short_name, std::move(value)});
    }
  }
  return contents;
}

// The libhdf5 side of read_keras3_weights: runs in the sandbox's child process.
Weights read_keras3_weights_contents(const std::string& bytes, const std::string& source) {
  silence_hdf5();
  if (bytes.size() < 8 || std::memcmp(bytes.data(), "\x89HDF\r\n\x1a\n", 8) != 0) {
    throw LoadError(source + ": model.weights.h5 is not an HDF5 file");
  }
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), 1 << 16, 0);
  std::string copy = bytes;  // H5Pset_file_image copies; the buffer must stay valid meanwhile
  if (H5Pset_file_image(fapl.get(), copy.data(), copy.size()) < 0) {
    throw LoadError(source + ": cannot read model.weights.h5");
  }
  Handle file(H5Fopen("model.weights.h5", H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.ok()) throw LoadError(source + ": corrupt model.weights.h5");
  Weights w;
  w.by_class_path = true;
  int groups = 0;
  walk_keras3(file.get(), "", w, source + ": model.weights.h5", 0, groups);
  return w;
}

}  // namespace

void read_keras2_h5(const std::string& path, nlohmann::json& config, Weights& weights) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  H5Contents contents =
      read_h5_sandboxed(path, ec ? 0 : size, [&] { return read_keras2_h5_contents(path); });
  config = parse_json(contents.config, path + ": model_config");
  weights = std::move(contents.weights);
}

Weights read_keras3_weights(const std::string& bytes, const std::string& source) {
  auto read = [&] { return H5Contents{{}, read_keras3_weights_contents(bytes, source)}; };
  return read_h5_sandboxed(source, bytes.size(), read).weights;
}

Graph load_keras2_h5(const std::string& path) {
  nlohmann::json config;
  Weights weights;
  read_keras2_h5(path, config, weights);
  const Model model = parse_model(config, Format::kKeras2, path);
  return build_graph(model, weights, Format::kKeras2, path);
}

}  // namespace dnnfi::keras
