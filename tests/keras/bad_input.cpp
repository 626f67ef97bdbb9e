#include "bad_input.h"

#include <gtest/gtest.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/onnx_builder.h"
#include "core/error.h"
#include "exec/model_file.h"

namespace dnnfi::test {

namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_zip_member(const std::string& path, const std::string& member) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) throw std::runtime_error("cannot open " + path);
  zip_stat_t st;
  zip_stat_init(&st);
  zip_file_t* f = nullptr;
  if (zip_stat(z, member.c_str(), 0, &st) != 0 || !(f = zip_fopen(z, member.c_str(), 0))) {
    zip_discard(z);
    throw std::runtime_error("no " + member + " in " + path);
  }
  std::string bytes(static_cast<std::size_t>(st.size), '\0');
  const zip_int64_t n = zip_fread(f, bytes.data(), st.size);
  zip_fclose(f);
  zip_discard(z);
  if (n != static_cast<zip_int64_t>(st.size)) throw std::runtime_error("short read of " + member);
  return bytes;
}

void write_zip_member(const std::string& path, const std::string& member,
                      const std::string& bytes) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), 0, &err);
  if (!z) throw std::runtime_error("cannot open " + path);
  // The buffer must stay valid until zip_close, which is below.
  zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
  if (!src || zip_file_add(z, member.c_str(), src, ZIP_FL_OVERWRITE) < 0) {
    if (src) zip_source_free(src);
    zip_discard(z);
    throw std::runtime_error("cannot replace " + member + " in " + path);
  }
  if (zip_close(z) != 0) {
    zip_discard(z);
    throw std::runtime_error("cannot write " + path);
  }
}

}  // namespace

const std::string& keras_data() {
  static const std::string dir = std::string(DNNFI_SOURCE_DIR) + "/tests/keras/data";
  return dir;
}

std::string copy_fixture(const std::string& tag, const std::string& fixture) {
  const std::string dir = temp_dir("keras_" + tag);
  for (const auto& e : fs::directory_iterator(keras_data() + "/" + fixture)) {
    fs::copy_file(e.path(), dir + "/" + e.path().filename().string(),
                  fs::copy_options::overwrite_existing);
  }
  return dir;
}

void expect_load_error(const std::string& path, const std::vector<std::string>& parts) {
  try {
    load_model(path);
    ADD_FAILURE() << path << " loaded";
  } catch (const LoadError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << msg << " lacks " << p;
  }
}

void edit_tfjs(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(slurp(dir + "/model.json"));
  edit(j);
  std::ofstream(dir + "/model.json") << j.dump();
}

void edit_keras_config(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(read_zip_member(path, "config.json"));
  edit(j);
  write_zip_member(path, "config.json", j.dump());
}

void edit_keras_weights(const std::string& path, const std::function<void(hid_t)>& edit) {
  const std::string h5 = path + ".weights.h5";
  std::ofstream(h5, std::ios::binary) << read_zip_member(path, "model.weights.h5");
  const hid_t file = H5Fopen(h5.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) throw std::runtime_error("cannot open " + h5);
  edit(file);
  H5Fclose(file);
  write_zip_member(path, "model.weights.h5", slurp(h5));
}

void edit_keras2_config(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) throw std::runtime_error("cannot open " + path);
  const hid_t attr = H5Aopen(file, "model_config", H5P_DEFAULT);
  const hid_t type = H5Aget_type(attr);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, H5T_VARIABLE);
  std::string text;
  if (H5Tis_variable_str(type) > 0) {
    char* p = nullptr;
    H5Aread(attr, str, &p);
    text = p ? p : "";
    H5free_memory(p);
  } else {
    std::vector<char> buf(H5Tget_size(type) + 1, '\0');
    H5Aread(attr, type, buf.data());
    text = buf.data();
  }
  H5Tclose(type);
  H5Aclose(attr);
  nlohmann::json j = nlohmann::json::parse(text);
  edit(j);
  text = j.dump();
  H5Adelete(file, "model_config");
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t out = H5Acreate2(file, "model_config", str, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* p = text.c_str();
  const herr_t written = H5Awrite(out, str, &p);
  H5Aclose(out);
  H5Sclose(space);
  H5Tclose(str);
  H5Fclose(file);
  if (out < 0 || written < 0) throw std::runtime_error("cannot write model_config of " + path);
}

nlohmann::json& tfjs_topology(nlohmann::json& doc) {
  nlohmann::json& t = doc["modelTopology"];
  return t.contains("model_config") ? t["model_config"] : t;
}

nlohmann::json& layer_named(nlohmann::json& model, const std::string& name) {
  for (auto& l : model["config"]["layers"]) {
    if (l["config"]["name"] == name) return l;
  }
  throw std::runtime_error("no layer " + name);
}

void replace_dataset(hid_t file, const std::string& path, hsize_t n) {
  if (H5Ldelete(file, path.c_str(), H5P_DEFAULT) < 0) throw std::runtime_error("no " + path);
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t ds =
      H5Dcreate2(file, path.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0) throw std::runtime_error("cannot create " + path);
  const std::vector<float> ones(n, 1.0f);
  H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ones.data());
  H5Dclose(ds);
  H5Sclose(space);
}

}  // namespace dnnfi::test
