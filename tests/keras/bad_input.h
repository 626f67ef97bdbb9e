// Helpers for the Keras bad-input tests: copy a fixture of tests/keras/data to a temporary folder,
// edit its model.json, the config.json or model.weights.h5 inside its model.keras, and expect a
// one-line LoadError.
#pragma once

#include <hdf5.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dnnfi::test {

// tests/keras/data.
const std::string& keras_data();

// Copies tests/keras/data/<fixture> to a fresh temporary folder and returns its path.
std::string copy_fixture(const std::string& tag, const std::string& fixture = "probe");

// Loads `path` and expects a LoadError whose message is one line and contains every `parts`.
void expect_load_error(const std::string& path, const std::vector<std::string>& parts);

// Rewrites <dir>/model.json through `edit`.
void edit_tfjs(const std::string& dir, const std::function<void(nlohmann::json&)>& edit);

// Rewrites config.json inside the .keras zip at `path` through `edit`.
void edit_keras_config(const std::string& path, const std::function<void(nlohmann::json&)>& edit);

// Opens model.weights.h5 inside the .keras zip at `path` read-write, calls `edit` with the HDF5
// file id, and stores the result back in the zip.
void edit_keras_weights(const std::string& path, const std::function<void(hid_t)>& edit);

// Rewrites the model_config attribute of the Keras 2 .h5 file at `path` through `edit`.
void edit_keras2_config(const std::string& path, const std::function<void(nlohmann::json&)>& edit);

// The model config inside a tfjs model.json (modelTopology or modelTopology.model_config).
nlohmann::json& tfjs_topology(nlohmann::json& doc);

// The layer entry named `name` in a model config's layer list (top level only).
nlohmann::json& layer_named(nlohmann::json& model, const std::string& name);

// Replaces the float32 dataset at `path` with one of `n` values.
void replace_dataset(hid_t file, const std::string& path, hsize_t n);

}  // namespace dnnfi::test
