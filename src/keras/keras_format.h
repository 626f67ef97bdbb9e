// Internals of the Keras front end shared by its readers (Keras 2 .h5, Keras 3 .keras,
// TensorFlow.js model.json) and the graph builder. docs/keras.md describes the file layouts and the
// semantics.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/graph.h"

namespace dnnfi::keras {

enum class Format { kKeras2, kKeras3, kTfjs };

struct NamedWeight {
  std::string name;  // short name ("kernel", "moving_mean"); Keras 3 files: the index ("0", "1")
  Tensor value;      // float32
};

// Every stored weight, grouped by layer. Keras 2 and tfjs files address a layer by its name (the
// key is the innermost layer name); Keras 3 files by a path of snake_case class names numbered per
// container ("layers/conv2d_1", "layers/sequential/layers/dense"), and list the weights by index.
struct Weights {
  bool by_class_path = false;
  std::map<std::string, std::vector<NamedWeight>> layers;
};

// A reference to a tensor made by a layer call: (layer, call index, output index).
struct Ref {
  std::string layer;
  int node = 0;
  int tensor = 0;
};

struct Model;

struct Layer {
  std::string class_name;
  std::string name;
  nlohmann::json config;
  std::vector<std::vector<Ref>> calls;  // the input refs of each call (Keras "inbound nodes")
  std::shared_ptr<Model> model;         // set when the layer is itself a model
};

// A model in functional form: a Sequential is rewritten as a chain with an explicit InputLayer.
struct Model {
  std::string class_name;
  std::string name;
  std::vector<Layer> layers;  // model.layers order (the file's order)
  std::vector<Ref> inputs;
  std::vector<Ref> outputs;
};

// Parses a model config ({"class_name": ..., "config": ...}) of any of the three formats. Throws
// LoadError naming `source` and the layer.
Model parse_model(const nlohmann::json& j, Format format, const std::string& source);

// Builds the Graph (ONNX ops, opset 17) of a parsed model with its weights.
Graph build_graph(const Model& model, const Weights& weights, Format format,
                  const std::string& source);

// Readers: Keras 2 model file (.h5); Keras 3 weights file from memory (model.weights.h5 inside a
// .keras zip). Throw LoadError naming `source`.
// Both read through libhdf5 in a child process (keras/h5_sandbox.h).
void read_keras2_h5(const std::string& path, nlohmann::json& config, Weights& weights);
Weights read_keras3_weights(const std::string& bytes, const std::string& source);

Graph load_keras2_h5(const std::string& path);
Graph load_keras3_zip(const std::string& path);
Graph load_tfjs(const std::string& path);

// Parses JSON text; throws LoadError naming `what`.
nlohmann::json parse_json(const std::string& text, const std::string& what);

}  // namespace dnnfi::keras
