// TensorFlow.js layers models: model.json (modelTopology + weightsManifest) and .bin shards.
// Quantized weights are dequantized as tfjs-core's io_utils.ts decodeWeight does:
// float32(q * scale + min), evaluated in double (JavaScript numbers) and rounded once.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/checked.h"
#include "core/error.h"
#include "core/file_bytes.h"
#include "keras/keras_format.h"

namespace dnnfi::keras {

namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw LoadError(what + ": no such file '" + path + "'");
  std::string bytes;
  if (!read_file_bytes(path, bytes)) throw LoadError(what + ": cannot read '" + path + "'");
  return bytes;
}

float half_to_float(std::uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  }
  return sign ? -v : v;
}

// One weightsManifest group: its shards concatenated, then each weight read in order.
void read_group(const nlohmann::json& group, const std::string& what, const fs::path& base,
                const std::string& path, Weights& weights) {
  if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
      !group.contains("weights") || !group["weights"].is_array()) {
    throw LoadError(what + ": needs a 'paths' list and a 'weights' list");
  }
  std::string data;
  for (const auto& p : group["paths"]) {
    if (!p.is_string()) throw LoadError(what + ": 'paths' holds a non-string");
    const fs::path rel(p.get<std::string>());
    if (rel.is_absolute()) throw LoadError(path + ": weight shard path must be relative");
    for (const auto& part : rel) {
      if (part == "..") throw LoadError(path + ": weight shard path leaves the model folder");
    }
    data += read_all((base / rel).string(), path);
  }
  std::size_t offset = 0;
  for (const auto& spec : group["weights"]) {
    if (!spec.is_object() || !spec.contains("name") || !spec["name"].is_string()) {
      throw LoadError(what + ": a weight entry has no name");
    }
    const std::string name = spec["name"].get<std::string>();
    const std::string wwhat = path + ": weight '" + name + "'";
    if (!spec.contains("shape") || !spec["shape"].is_array()) {
      throw LoadError(wwhat + ": 'shape' is not a list");
    }
    Shape shape;
    std::int64_t numel = 1;
    for (const auto& d : spec["shape"]) {
      if (!d.is_number_integer()) throw LoadError(wwhat + ": 'shape' holds a non-integer");
      const std::int64_t v = d.get<std::int64_t>();
      if (v < 0 || (v != 0 && numel > (std::int64_t{1} << 34) / v)) {
        throw LoadError(wwhat + ": bad shape");
      }
      shape.push_back(v);
      numel *= v;
    }
    // int32: Keras's int64 weights (Normalization's count) as tensorflowjs_converter writes them.
    std::string dtype = "float32";
    if (spec.contains("dtype")) {
      if (!spec["dtype"].is_string()) throw LoadError(wwhat + ": 'dtype' is not a string");
      dtype = spec["dtype"].get<std::string>();
    }
    if (dtype != "float32" && dtype != "int32") {
      throw LoadError(wwhat + ": unsupported dtype '" + dtype + "'");
    }
    const auto n = static_cast<std::size_t>(numel);
    // The stored form: float32/int32, or quantized as uint8, uint16 or float16.
    std::string qtype;
    double scale = 0.0, min = 0.0;
    if (spec.contains("quantization")) {
      const auto& q = spec["quantization"];
      if (!q.is_object() || !q.contains("dtype") || !q["dtype"].is_string()) {
        throw LoadError(wwhat + ": 'quantization' has no dtype");
      }
      qtype = q["dtype"].get<std::string>();
      if (qtype != "uint8" && qtype != "uint16" && qtype != "float16") {
        throw LoadError(wwhat + ": unknown quantization dtype '" + qtype + "'");
      }
      if (qtype != "float16") {
        if (!q.contains("scale") || !q.contains("min")) {
          throw LoadError(wwhat + ": " + qtype + " quantization without min and scale");
        }
        if (!q["scale"].is_number() || !q["min"].is_number()) {
          throw LoadError(wwhat + ": quantization 'scale' and 'min' must be numbers");
        }
        scale = q["scale"].get<double>();
        min = q["min"].get<double>();
      }
    }
    const std::size_t width = qtype.empty() ? 4 : qtype == "uint8" ? 1 : 2;
    // Checked before the tensor is allocated: the shape alone may ask for many GiB.
    if (offset + n * width > data.size()) throw LoadError(wwhat + ": weight shards too short");
    Tensor t(DType::kFloat32, shape);
    float* out = t.data<float>();
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data() + offset);
    if (qtype == "float16") {
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = half_to_float(h);
      }
    } else if (!qtype.empty()) {
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t v = bytes[i];
        if (width == 2) std::memcpy(&v, bytes + 2 * i, 2);
        out[i] = to_float_saturated(static_cast<double>(v) * scale + min);  // tfjs: Infinity
      }
    } else if (dtype == "int32") {
      for (std::size_t i = 0; i < n; ++i) {
        std::int32_t v;
        std::memcpy(&v, bytes + 4 * i, 4);
        out[i] = static_cast<float>(v);
      }
    } else if (n) {
      std::memcpy(out, bytes, n * 4);
    }
    offset += n * width;
    // "conv1/kernel" (a nested or scoped name keeps its last two components).
    const auto slash = name.rfind('/');
    std::string layer = name;
    std::string short_name = name;
    if (slash != std::string::npos) {
      const auto prev = name.rfind('/', slash - 1);
      const std::size_t from = prev == std::string::npos ? 0 : prev + 1;
      layer = name.substr(from, slash - from);
      short_name = name.substr(slash + 1);
    }
    // tfjs uniquifies repeated variable names with a "_1" suffix; originalName is saved.
    weights.layers[layer].push_back({short_name, t});
    // A layer name may hold '/' itself (Keras 2 DenseNet's "conv1/conv"): filed under the whole
    // prefix as well, which is how such a layer looks its weights up.
    if (slash != std::string::npos && name.substr(0, slash) != layer) {
      weights.layers[name.substr(0, slash)].push_back({short_name, t});
    }
  }
}

}  // namespace

Graph load_tfjs(const std::string& path) {
  const nlohmann::json doc = parse_json(read_all(path, path), path);
  if (!doc.is_object() || !doc.contains("modelTopology")) {
    throw LoadError(path + ": not a TensorFlow.js layers model (no modelTopology)");
  }
  if (doc.contains("format") && doc["format"] == "graph-model") {
    throw LoadError(path + ": a TensorFlow.js graph model; only layers models are supported");
  }
  nlohmann::json topology = doc["modelTopology"];
  // tensorflowjs_converter nests the Keras config as modelTopology.model_config.
  if (topology.is_object() && topology.contains("model_config"))
    topology = topology["model_config"];
  const fs::path base = fs::path(path).parent_path();
  Weights weights;
  weights.by_class_path = false;
  const nlohmann::json none = nlohmann::json::array();
  const auto& manifest = doc.contains("weightsManifest") ? doc["weightsManifest"] : none;
  if (!manifest.is_array()) throw LoadError(path + ": weightsManifest is not a list");
  for (std::size_t i = 0; i < manifest.size(); ++i) {
    read_group(manifest[i], path + ": weightsManifest[" + std::to_string(i) + "]", base, path,
               weights);
  }
  const Model model = parse_model(topology, Format::kTfjs, path);
  return build_graph(model, weights, Format::kTfjs, path);
}

}  // namespace dnnfi::keras
