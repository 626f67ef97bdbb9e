// TensorFlow.js layers models: model.json (modelTopology + weightsManifest) and .bin shards.
// Quantized weights are dequantized as tfjs-core's io_utils.ts decodeWeight does:
// float32(q * scale + min), evaluated in double (JavaScript numbers) and rounded once.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "keras/keras_format.h"

namespace dnnfi::keras {

namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw LoadError(what + ": no such file '" + path + "'");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in) throw LoadError(what + ": cannot read '" + path + "'");
  return ss.str();
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

}  // namespace

Graph load_tfjs(const std::string& path) {
  const nlohmann::json doc = parse_json(read_all(path, path), path);
  if (!doc.is_object() || !doc.contains("modelTopology")) {
    throw LoadError(path + ": not a TensorFlow.js layers model (no modelTopology)");
  }
  if (doc.value("format", std::string("layers-model")) == "graph-model") {
    throw LoadError(path + ": a TensorFlow.js graph model; only layers models are supported");
  }
  nlohmann::json topology = doc["modelTopology"];
  // tensorflowjs_converter nests the Keras config as modelTopology.model_config.
  if (topology.is_object() && topology.contains("model_config"))
    topology = topology["model_config"];
  const fs::path base = fs::path(path).parent_path();
  Weights weights;
  weights.by_class_path = false;
  const auto manifest = doc.value("weightsManifest", nlohmann::json::array());
  if (!manifest.is_array()) throw LoadError(path + ": weightsManifest is not a list");
  for (const auto& group : manifest) {
    std::string data;
    try {
      for (const auto& p : group.at("paths")) {
        const fs::path rel(p.get<std::string>());
        if (rel.is_absolute()) throw LoadError(path + ": weight shard path must be relative");
        for (const auto& part : rel) {
          if (part == "..") throw LoadError(path + ": weight shard path leaves the model folder");
        }
        data += read_all((base / rel).string(), path);
      }
      std::size_t offset = 0;
      for (const auto& spec : group.at("weights")) {
        const std::string name = spec.at("name").get<std::string>();
        const std::string what = path + ": weight '" + name + "'";
        Shape shape;
        std::int64_t numel = 1;
        for (const auto& d : spec.at("shape")) {
          const std::int64_t v = d.get<std::int64_t>();
          if (v < 0 || (v != 0 && numel > (std::int64_t{1} << 34) / v)) {
            throw LoadError(what + ": bad shape");
          }
          shape.push_back(v);
          numel *= v;
        }
        // int32: Keras's int64 weights (Normalization's count) as tensorflowjs_converter writes
        // them.
        const std::string dtype = spec.value("dtype", std::string("float32"));
        if (dtype != "float32" && dtype != "int32") {
          throw LoadError(what + ": unsupported dtype '" + dtype + "'");
        }
        Tensor t(DType::kFloat32, shape);
        float* out = t.data<float>();
        const auto n = static_cast<std::size_t>(numel);
        if (spec.contains("quantization")) {
          const auto& q = spec["quantization"];
          const std::string qtype = q.at("dtype").get<std::string>();
          const std::size_t width = qtype == "uint8" ? 1 : 2;
          if (qtype != "uint8" && qtype != "uint16" && qtype != "float16") {
            throw LoadError(what + ": unknown quantization dtype '" + qtype + "'");
          }
          if (offset + n * width > data.size()) throw LoadError(what + ": weight shards too short");
          const auto* bytes = reinterpret_cast<const unsigned char*>(data.data() + offset);
          if (qtype == "float16") {
            for (std::size_t i = 0; i < n; ++i) {
              std::uint16_t h;
              std::memcpy(&h, bytes + 2 * i, 2);
              out[i] = half_to_float(h);
            }
          } else {
            if (!q.contains("scale") || !q.contains("min")) {
              throw LoadError(what + ": " + qtype + " quantization without min and scale");
            }
            const double scale = q["scale"].get<double>();
            const double min = q["min"].get<double>();
            for (std::size_t i = 0; i < n; ++i) {
              std::uint16_t v = bytes[i];
              if (width == 2) std::memcpy(&v, bytes + 2 * i, 2);
              out[i] = static_cast<float>(static_cast<double>(v) * scale + min);
            }
          }
          offset += n * width;
        } else {
          if (offset + n * 4 > data.size()) throw LoadError(what + ": weight shards too short");
          if (dtype == "int32") {
            for (std::size_t i = 0; i < n; ++i) {
              std::int32_t v;
              std::memcpy(&v, data.data() + offset + 4 * i, 4);
              out[i] = static_cast<float>(v);
            }
          } else if (n) {
            std::memcpy(out, data.data() + offset, n * 4);
          }
          offset += n * 4;
        }
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
      }
    } catch (const nlohmann::json::exception& e) {
      throw LoadError(path + ": malformed weightsManifest (" + e.what() + ")");
    }
  }
  const Model model = parse_model(topology, Format::kTfjs, path);
  return build_graph(model, weights, Format::kTfjs, path);
}

}  // namespace dnnfi::keras
