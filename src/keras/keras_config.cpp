// The Keras JSON topology (model_config / config.json / modelTopology) -> Model: Sequential and
// Functional, nested models, shared layers; Keras 2 "inbound_nodes" lists and Keras 3
// "args"/"keras_history" forms.
#include <cstdint>

#include "core/error.h"
#include "keras/keras_format.h"

namespace dnnfi::keras {

namespace {

using nlohmann::json;

const json kNone;  // a missing key

bool is_model_class(const std::string& c) {
  return c == "Sequential" || c == "Functional" || c == "Model";
}

// Nesting deeper than this is rejected while parsing, so that nothing recursive over a document
// (copies, dumps, the walks below) can exhaust the stack. Real configs stay under ~150 levels even
// with models nested to the parser's limit.
constexpr int kMaxJsonDepth = 512;
constexpr int kMaxModelDepth = 32;

// A short rendering of a value for error messages.
std::string brief(const json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// A node or tensor index: an integer in [0, INT32_MAX].
int ref_index(const json& j, const json& ref, const char* which, const std::string& what) {
  bool ok = false;
  if (j.is_number_unsigned()) {
    ok = j.get<std::uint64_t>() <= INT32_MAX;
  } else if (j.is_number_integer()) {
    ok = j.get<std::int64_t>() >= 0 && j.get<std::int64_t>() <= INT32_MAX;
  }
  if (!ok) {
    throw LoadError(what + ": " + which + " index in " + brief(ref) +
                    " is not a non-negative integer");
  }
  return static_cast<int>(j.get<std::int64_t>());
}

Ref parse_ref(const json& j, const std::string& what) {
  if (!j.is_array() || j.size() < 3 || !j[0].is_string()) {
    throw LoadError(what + ": malformed tensor reference " + brief(j));
  }
  return Ref{j[0].get<std::string>(), ref_index(j[1], j, "node", what),
             ref_index(j[2], j, "tensor", what)};
}

// [[name, n, t], ...] or a single [name, n, t] (Keras 3 writes one input that way).
std::vector<Ref> parse_ref_list(const json& j, const std::string& what) {
  std::vector<Ref> out;
  if (!j.is_array()) throw LoadError(what + ": malformed input/output list");
  if (!j.empty() && j[0].is_string()) {
    out.push_back(parse_ref(j, what));
    return out;
  }
  for (const auto& r : j) out.push_back(parse_ref(r, what));
  return out;
}

// Keras 3 call arguments: every "__keras_tensor__" in args, depth first.
void collect_keras3_tensors(const json& j, std::vector<Ref>& out, const std::string& what) {
  if (j.is_object()) {
    if (j.contains("class_name") && j["class_name"] == "__keras_tensor__") {
      const json& cfg = j.contains("config") ? j["config"] : kNone;
      if (!cfg.is_object() || !cfg.contains("keras_history")) {
        throw LoadError(what + ": __keras_tensor__ without config.keras_history");
      }
      out.push_back(parse_ref(cfg["keras_history"], what + " keras_history"));
      return;
    }
    for (const auto& [k, v] : j.items()) collect_keras3_tensors(v, out, what);
  } else if (j.is_array()) {
    for (const auto& v : j) collect_keras3_tensors(v, out, what);
  }
}

std::vector<std::vector<Ref>> parse_calls(const json& nodes, const std::string& what) {
  std::vector<std::vector<Ref>> calls;
  if (nodes.is_null()) return calls;
  if (!nodes.is_array()) throw LoadError(what + ": malformed inbound_nodes");
  const std::string in_what = what + " inbound_nodes";
  for (const auto& node : nodes) {
    std::vector<Ref> refs;
    if (node.is_object()) {  // Keras 3: {"args": [...], "kwargs": {...}}
      collect_keras3_tensors(node.value("args", json::array()), refs, in_what);
    } else if (node.is_array() && !node.empty() && node[0].is_string()) {
      refs.push_back(parse_ref(node, in_what));  // a bare [name, n, t, kwargs]
    } else if (node.is_array()) {
      for (const auto& r : node) refs.push_back(parse_ref(r, in_what));
    } else {
      throw LoadError(in_what + ": malformed inbound node " + brief(node));
    }
    calls.push_back(std::move(refs));
  }
  return calls;
}

std::string layer_name(const json& layer) {
  if (layer.contains("name") && layer["name"].is_string()) return layer["name"].get<std::string>();
  if (layer.contains("config") && layer["config"].is_object() && layer["config"].contains("name") &&
      layer["config"]["name"].is_string()) {
    return layer["config"]["name"].get<std::string>();
  }
  return "";
}

Model parse_model_impl(const json& j, Format format, const std::string& source, int depth);

Layer parse_layer(const json& j, Format format, const std::string& source, int depth) {
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string()) {
    throw LoadError(source + ": malformed layer entry");
  }
  Layer l;
  l.class_name = j["class_name"].get<std::string>();
  l.name = layer_name(j);
  const std::string what = source + ": layer '" + l.name + "' (" + l.class_name + ")";
  if (l.name.empty()) throw LoadError(source + ": a " + l.class_name + " layer has no name");
  l.config = j.value("config", json::object());
  if (!l.config.is_object()) throw LoadError(what + ": config is not an object");
  if (is_model_class(l.class_name)) {
    if (depth >= kMaxModelDepth) {
      throw LoadError(what + ": models nested more than " + std::to_string(kMaxModelDepth) +
                      " levels deep");
    }
    l.model = std::make_shared<Model>(parse_model_impl(j, format, source, depth + 1));
  }
  try {
    l.calls = parse_calls(j.contains("inbound_nodes") ? j["inbound_nodes"] : kNone, what);
  } catch (const json::exception& e) {
    throw LoadError(what + ": malformed inbound_nodes (" + std::string(e.what()) + ")");
  }
  return l;
}

// The batch input shape of a Sequential's first layer, if it declares one.
json declared_input_shape(const json& config) {
  for (const char* key : {"batch_input_shape", "batch_shape"}) {
    if (config.contains(key) && config[key].is_array()) return config[key];
  }
  if (config.contains("input_shape") && config["input_shape"].is_array()) {
    json s = json::array({nullptr});
    for (const auto& d : config["input_shape"]) s.push_back(d);
    return s;
  }
  return json();
}

Model parse_model_impl(const json& j, Format format, const std::string& source, int depth) {
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string() ||
      !j.contains("config")) {
    throw LoadError(source + ": the model config has no class_name/config");
  }
  Model m;
  m.class_name = j["class_name"].get<std::string>();
  if (!is_model_class(m.class_name)) {
    throw LoadError(source + ": top-level class '" + m.class_name + "' is not a Keras model");
  }
  const json& cfg = j["config"];
  if (!cfg.is_object() && !cfg.is_array()) {
    throw LoadError(source + ": " + m.class_name + " config is not an object");
  }
  m.name = "sequential";  // Keras 2.2-era Sequential configs are a bare list of layers
  if (cfg.is_object()) {
    m.name = "model";
    if (cfg.contains("name")) {
      if (!cfg["name"].is_string()) throw LoadError(source + ": model name is not a string");
      m.name = cfg["name"].get<std::string>();
    }
  }
  const json& layers = cfg.is_array() ? cfg : cfg.contains("layers") ? cfg["layers"] : kNone;
  if (!layers.is_array()) throw LoadError(source + ": model '" + m.name + "' has no layer list");
  if (layers.empty()) throw LoadError(source + ": model '" + m.name + "' has no layers");
  if (m.class_name == "Sequential") {
    std::string prev;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      Layer l = parse_layer(layers[i], format, source, depth);
      l.calls.clear();
      if (l.class_name == "InputLayer") {
        if (!prev.empty()) throw LoadError(source + ": InputLayer '" + l.name + "' after layers");
        prev = l.name;
        m.inputs.push_back(Ref{l.name, 0, 0});
        m.layers.push_back(std::move(l));
        continue;
      }
      if (prev.empty()) {
        const json shape = declared_input_shape(l.config);
        if (shape.is_null() && l.model) {
          // A nested model as the first layer: its own input defines the shape.
          const Layer* in = nullptr;
          if (!l.model->inputs.empty()) {
            for (const Layer& inner : l.model->layers) {
              if (inner.name == l.model->inputs.front().layer) in = &inner;
            }
          }
          if (!in || in->class_name != "InputLayer") {
            throw LoadError(source + ": layer '" + l.name + "' (" + l.class_name +
                            "): a nested model without an InputLayer cannot start Sequential '" +
                            m.name + "'");
          }
          Layer input;
          input.class_name = "InputLayer";
          input.name = l.name + "_input";
          input.config = in->config;
          prev = input.name;
          m.inputs.push_back(Ref{prev, 0, 0});
          m.layers.push_back(std::move(input));
        } else {
          if (shape.is_null()) {
            throw LoadError(source + ": Sequential model '" + m.name +
                            "' declares no input shape (an unbuilt model?)");
          }
          Layer input;
          input.class_name = "InputLayer";
          input.name = l.name + "_input";
          input.config = {{"batch_input_shape", shape}, {"name", input.name}};
          prev = input.name;
          m.inputs.push_back(Ref{prev, 0, 0});
          m.layers.push_back(std::move(input));
        }
      }
      // A nested model's own construction is its call 0 in Keras 2 and tfjs (see below).
      const int node = 0;
      l.calls.push_back({Ref{prev, node, 0}});
      prev = l.name;
      m.layers.push_back(std::move(l));
    }
    if (prev.empty()) throw LoadError(source + ": Sequential model '" + m.name + "' is empty");
    m.outputs.push_back(Ref{prev, 0, 0});
  } else {
    for (const auto& lj : layers) m.layers.push_back(parse_layer(lj, format, source, depth));
    if (!cfg.is_object()) throw LoadError(source + ": model '" + m.name + "' has no config");
    m.inputs = parse_ref_list(cfg.contains("input_layers") ? cfg["input_layers"] : json::array(),
                              source + ": model '" + m.name + "' input_layers");
    m.outputs = parse_ref_list(cfg.contains("output_layers") ? cfg["output_layers"] : json::array(),
                               source + ": model '" + m.name + "' output_layers");
    if (m.outputs.empty()) throw LoadError(source + ": model '" + m.name + "' has no outputs");
  }
  // A nested model is created with a call of its own (input -> output): Keras 2 and tfjs count it
  // as call 0 of the model when numbering references, Keras 3 does so only for Functional models
  // (functional.py, node_reindexing_map). References here use indices into the listed calls.
  std::map<std::string, int> offset;
  for (const Layer& l : m.layers) {
    if (!l.model) continue;
    offset[l.name] = format == Format::kKeras3 && l.class_name == "Sequential" ? 0 : 1;
  }
  auto fix = [&](Ref& r) {
    auto it = offset.find(r.layer);
    if (it != offset.end()) r.node = std::max(0, r.node - it->second);
  };
  for (Layer& l : m.layers) {
    for (auto& call : l.calls) {
      for (Ref& r : call) fix(r);
    }
  }
  for (Ref& r : m.outputs) fix(r);
  return m;
}

}  // namespace

json parse_json(const std::string& text, const std::string& what) {
  // Nesting is limited while parsing (nlohmann's parser itself does not recurse).
  const json::parser_callback_t limit_depth = [&](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) {
      throw LoadError(what + ": JSON nested more than " + std::to_string(kMaxJsonDepth) +
                      " levels deep");
    }
    return true;
  };
  try {
    return json::parse(text, limit_depth);
  } catch (const json::exception& e) {
    std::string msg = e.what();
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    throw LoadError(what + ": invalid JSON (" + msg + ")");
  }
}

Model parse_model(const json& j, Format format, const std::string& source) {
  try {
    return parse_model_impl(j, format, source, 0);
  } catch (const json::exception& e) {
    throw LoadError(source + ": malformed model config (" + std::string(e.what()) + ")");
  }
}

}  // namespace dnnfi::keras
