// Graph IR shared by every front end (ONNX, Keras): nodes in topological order, values referred to
// by integer id, producers and consumers. Front ends build it; exec/ prepares and runs it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dnnfi {

inline constexpr int kNoValue = -1;

struct Attribute {
  enum class Kind { kFloat, kInt, kString, kTensor, kFloats, kInts, kStrings, kOther };
  Kind kind = Kind::kOther;
  float f = 0.0f;
  std::int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name;     // unique in the graph; front ends name unnamed nodes "<op_type>_<index>"
  std::string op_type;  // e.g. "Conv"
  std::string domain;   // "" for the default ai.onnx domain
  std::vector<int> inputs;   // value ids; kNoValue for an omitted optional input
  std::vector<int> outputs;  // value ids; kNoValue for an omitted optional output
  std::map<std::string, Attribute> attributes;
  // False for helper nodes a front end adds inside one source-level layer (the Keras front end's
  // layout transposes, bias adds, ...): the fault sampler skips them, so sampling over "layers"
  // draws from the model's own layers, as TensorFI+ counts them. They can still be named.
  bool fault_site = true;
};

struct Value {
  std::string name;
  TensorInfo info;                     // dims < 0 are not known yet (symbolic or not inferred)
  std::vector<std::string> dim_names;  // symbolic dim names of graph inputs ("" when numeric)
  int producer = -1;                   // node index; -1 for graph inputs and initializers
  std::vector<int> consumers;          // node indices, in topological order, may repeat
  bool is_initializer = false;
  Tensor initializer;  // the stored weight when is_initializer
};

struct Graph {
  std::string source;  // the file it came from, for error messages
  std::int64_t ir_version = 0;
  std::map<std::string, std::int64_t> opsets;  // domain -> opset version ("" = ai.onnx)
  std::vector<Value> values;
  std::vector<Node> nodes;   // topological order after finalize()
  std::vector<int> inputs;   // graph inputs that are not initializers, in model order
  std::vector<int> outputs;  // graph outputs, in model order
  // Keras front end: the node names of model.layers in order (InputLayers included where Keras
  // lists them), so a fault site can be named "layer:<index>" as TensorFI+ counts layers.
  std::vector<std::string> layer_names;
  // The model file's key/value metadata (ONNX metadata_props), e.g. "dnnfi.preprocess": the
  // preprocessing the model expects (campaign/preprocess_settings.h).
  std::map<std::string, std::string> metadata;

  int find_value(const std::string& name) const;        // -1 if absent
  int find_node(const std::string& name) const;         // -1 if absent
  std::int64_t opset(const std::string& domain) const;  // 0 if the model does not import it

  // Sorts nodes topologically (stable with respect to file order), fills producers/consumers and
  // checks that every value has exactly one producer or is an input/initializer. Throws LoadError
  // naming the node/value on a cycle, a dangling value or a value produced twice.
  void finalize();
};

}  // namespace dnnfi
