// Keras layers -> Graph nodes (existing ONNX ops, opset 17). Every layer-boundary tensor keeps the
// Keras layout (NHWC for channels_last); spatial layers run as Transpose -> ONNX op -> Transpose.
// The last node of each layer call carries the Keras layer name, and so does its output value, so
// a fault site named after a layer is the layer's output as Keras defines it (after its fused
// activation). Helper nodes are named "<layer>/<op>_<n>" and are not fault sites.
//
// This file holds the Builder's graph construction, config, weight, activation, padding and
// model methods and the entry point; keras_layers.cpp holds the per-layer methods.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "core/checked.h"
#include "core/error.h"
#include "keras/keras_builder.h"
#include "keras/keras_format.h"

namespace dnnfi::keras {

namespace {

constexpr std::int64_t kOpset = 17;
constexpr std::int64_t kMaxWindowExtent = std::int64_t{1} << 16;

std::string snake_case(const std::string& cls) {
  if (cls == "Model" || cls == "Functional") return "functional";
  // keras/src/utils/naming.py to_snake_case: "(.)([A-Z][a-z]+)" -> "\1_\2", then
  // "([a-z])([A-Z])" -> "\1_\2", lower case.
  std::string a;
  for (std::size_t i = 0; i < cls.size(); ++i) {
    const char c = cls[i];
    if (i > 0 && std::isupper(static_cast<unsigned char>(c)) && i + 1 < cls.size() &&
        std::islower(static_cast<unsigned char>(cls[i + 1]))) {
      a += '_';
    }
    a += c;
  }
  std::string b;
  for (std::size_t i = 0; i < a.size(); ++i) {
    b += a[i];
    if (std::islower(static_cast<unsigned char>(a[i])) && i + 1 < a.size() &&
        std::isupper(static_cast<unsigned char>(a[i + 1]))) {
      b += '_';
    }
  }
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return b;
}

Tensor i64_tensor(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return make_tensor<std::int64_t>({n}, v);
}

}  // namespace

Builder::Builder(const Weights& w, Format f, std::string source)
    : weights_(w), format_(f), source_(std::move(source)) {
  g_.source = source_;
  g_.opsets[""] = kOpset;
  g_.ir_version = 8;
}

Graph Builder::build(const Model& m) {
  std::vector<KT> outs = build_model(m, nullptr, "", "");
  for (const KT& t : outs) g_.outputs.push_back(t.id);
  g_.finalize();
  return std::move(g_);
}

void Builder::fail(const std::string& msg) const { throw LoadError(what_ + ": " + msg); }

// ---- graph construction -------------------------------------------------------------------------

int Builder::new_value(const std::string& name) {
  if (value_ids_.count(name)) fail("name '" + name + "' is used twice");
  const int id = static_cast<int>(g_.values.size());
  g_.values.push_back(Value{});
  g_.values.back().name = name;
  value_ids_[name] = id;
  return id;
}

// An initializer; the same name (a shared layer's weight) gives the same value.
int Builder::constant(const std::string& name, Tensor t) {
  auto it = value_ids_.find(name);
  if (it != value_ids_.end()) return it->second;
  const int id = new_value(name);
  g_.values[static_cast<std::size_t>(id)].is_initializer = true;
  g_.values[static_cast<std::size_t>(id)].info = t.info();
  g_.values[static_cast<std::size_t>(id)].initializer = std::move(t);
  return id;
}

int Builder::fconst(const std::string& tag, float v) {
  return constant(base_ + "/" + tag + "_" + std::to_string(helper_count_++), scalar_tensor(v));
}

int Builder::iconst(const std::string& tag, std::vector<std::int64_t> v) {
  return constant(base_ + "/" + tag + "_" + std::to_string(helper_count_++),
                  i64_tensor(std::move(v)));
}

int Builder::op(const std::string& type, std::vector<int> inputs,
                std::map<std::string, Attribute> attrs) {
  std::string lower = type;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string name = base_ + "/" + lower + "_" + std::to_string(helper_count_++);
  Node n;
  n.name = name;
  n.op_type = type;
  n.inputs = std::move(inputs);
  n.attributes = std::move(attrs);
  n.fault_site = false;
  const int out = new_value(name);
  n.outputs.push_back(out);
  node_names_.insert(name);
  g_.nodes.push_back(std::move(n));
  return out;
}

int Builder::transpose(int x, std::vector<std::int64_t> perm) {
  return op("Transpose", {x}, {{"perm", attr_ints(std::move(perm))}});
}

// channels_last -> channels_first and back, for rank r.
std::vector<std::int64_t> Builder::to_first_perm(std::size_t r) {
  std::vector<std::int64_t> p{0, static_cast<std::int64_t>(r) - 1};
  for (std::size_t i = 1; i + 1 < r; ++i) p.push_back(static_cast<std::int64_t>(i));
  return p;
}

std::vector<std::int64_t> Builder::to_last_perm(std::size_t r) {
  std::vector<std::int64_t> p{0};
  for (std::size_t i = 2; i < r; ++i) p.push_back(static_cast<std::int64_t>(i));
  p.push_back(1);
  return p;
}

// Gives the layer's last node the layer's name (its output value too) and makes it the fault
// site; a layer that made no node (Dropout, linear Activation) gets an Identity.
KT Builder::finish_layer(KT out) {
  const Value& v = g_.values[static_cast<std::size_t>(out.id)];
  bool own = false;
  std::size_t node_index = 0;
  for (std::size_t n = first_node_; n < g_.nodes.size(); ++n) {
    if (!g_.nodes[n].outputs.empty() && g_.nodes[n].outputs[0] == out.id) {
      own = true;
      node_index = n;
    }
  }
  if (!own || v.is_initializer) {
    out.id = op("Identity", {out.id});
    node_index = g_.nodes.size() - 1;
  }
  if (node_names_.count(base_) || value_ids_.count(base_)) fail("name is used twice");
  Node& node = g_.nodes[node_index];
  const std::string old = node.name;
  node_names_.erase(old);
  node.name = base_;
  node.fault_site = true;
  node_names_.insert(base_);
  g_.values[static_cast<std::size_t>(out.id)].name = base_;
  value_ids_.erase(old);
  value_ids_[base_] = out.id;
  return out;
}

// ---- config access ------------------------------------------------------------------------------

const json& Builder::cfg() const { return layer_->config; }

bool Builder::has(const char* key) const { return cfg().contains(key) && !cfg()[key].is_null(); }

double Builder::num(const char* key, double def) const {
  if (!has(key)) return def;
  const json& v = cfg()[key];
  if (!v.is_number()) fail("'" + std::string(key) + "' is not a number");
  return v.get<double>();
}

// A number that becomes a float attribute or constant: a finite double beyond float's range would
// make the conversion undefined.
float Builder::fnum(const char* key, double def) const {
  const double v = num(key, def);
  if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) {
    fail("'" + std::string(key) + "' is out of float range");
  }
  return static_cast<float>(v);
}

// An integer element of the config; `key` names it in the error.
std::int64_t Builder::int_value(const json& v, const char* key) const {
  if (!v.is_number_integer()) fail("'" + std::string(key) + "' must hold integers");
  return v.get<std::int64_t>();
}

std::int64_t Builder::integer(const char* key, std::int64_t def) const {
  if (!has(key)) return def;
  const json& v = cfg()[key];
  if (v.is_array() && v.size() == 1) return int_value(v[0], key);
  if (!v.is_number_integer()) fail("'" + std::string(key) + "' is not an integer");
  return v.get<std::int64_t>();
}

// A size (units, filters, a multiplier): >= 1.
std::int64_t Builder::positive(const char* key, std::int64_t def) const {
  const std::int64_t v = integer(key, def);
  if (v < 1) fail("'" + std::string(key) + "' must be positive, got " + std::to_string(v));
  return v;
}

bool Builder::flag(const char* key, bool def) const {
  if (!has(key)) return def;
  if (!cfg()[key].is_boolean()) fail("'" + std::string(key) + "' is not a boolean");
  return cfg()[key].get<bool>();
}

std::string Builder::str(const char* key, const std::string& def) const {
  if (!has(key)) return def;
  if (!cfg()[key].is_string()) fail("'" + std::string(key) + "' is not a string");
  return cfg()[key].get<std::string>();
}

// An int or a list of n ints.
std::vector<std::int64_t> Builder::ints(const char* key, std::size_t n, std::int64_t def) const {
  if (!has(key)) return std::vector<std::int64_t>(n, def);
  const json& v = cfg()[key];
  if (v.is_number_integer()) return std::vector<std::int64_t>(n, v.get<std::int64_t>());
  if (!v.is_array() || v.size() != n) {
    fail("'" + std::string(key) + "' must be an int or " + std::to_string(n) + " ints");
  }
  std::vector<std::int64_t> out;
  for (const auto& e : v) out.push_back(int_value(e, key));
  return out;
}

// Window sizes, strides, dilations: an int or a list of n ints, each >= 1.
std::vector<std::int64_t> Builder::sizes(const char* key, std::size_t n, std::int64_t def) const {
  std::vector<std::int64_t> out = ints(key, n, def);
  for (std::int64_t v : out) {
    if (v < 1) fail("'" + std::string(key) + "' must be positive, got " + std::to_string(v));
  }
  return out;
}

bool Builder::channels_last() const {
  const std::string df = str("data_format", "channels_last");
  if (df != "channels_last" && df != "channels_first") fail("unknown data_format '" + df + "'");
  return df == "channels_last";
}

// ---- checked shape arithmetic ------------------------------------------------------------------

std::int64_t Builder::add(std::int64_t a, std::int64_t b) const {
  const auto r = checked_add(a, b);
  if (!r) fail("a dimension overflows int64");
  return *r;
}

std::int64_t Builder::sub(std::int64_t a, std::int64_t b) const {
  const auto r = checked_sub(a, b);
  if (!r) fail("a dimension overflows int64");
  return *r;
}

std::int64_t Builder::mul(std::int64_t a, std::int64_t b) const {
  const auto r = checked_mul(a, b);
  if (!r) fail("a dimension overflows int64");
  return *r;
}

// ---- weights ------------------------------------------------------------------------------------

// The layer's weights in `names` order, each checked against `shapes` (-1 = any).
std::vector<Tensor> Builder::weights(const std::vector<std::string>& names,
                                     const std::vector<Shape>& shapes) {
  const std::string key = weights_.by_class_path ? weight_key_ : layer_->name;
  auto it = weights_.layers.find(key);
  static const std::vector<NamedWeight> kNone;
  const std::vector<NamedWeight>& stored = it == weights_.layers.end() ? kNone : it->second;
  std::vector<Tensor> out;
  if (weights_.by_class_path) {
    if (stored.size() != names.size()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      fail("has " + std::to_string(stored.size()) + " stored weights at '" + key + "', expected " +
           std::to_string(names.size()) + " (" + list + ")");
    }
    for (const auto& w : stored) out.push_back(w.value);
  } else {
    for (const auto& n : names) {
      const NamedWeight* found = nullptr;
      for (const auto& w : stored) {
        if (w.name == n) found = &w;
      }
      if (!found) fail("missing weight '" + n + "'");
      out.push_back(found->value);
    }
    if (stored.size() > names.size()) {
      for (const auto& w : stored) {
        if (std::find(names.begin(), names.end(), w.name) == names.end()) {
          fail("unexpected weight '" + w.name + "'");
        }
      }
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Shape& want = shapes[i];
    bool ok = out[i].rank() == want.size();
    for (std::size_t d = 0; ok && d < want.size(); ++d) {
      ok = want[d] < 0 || want[d] == out[i].dim(d);
    }
    if (!ok) {
      fail("weight '" + names[i] + "' has shape " + shape_to_string(out[i].shape()) +
           ", expected " + shape_to_string(want));
    }
  }
  return out;
}

int Builder::weight_const(const std::string& tag, Tensor t) {
  return constant(layer_base() + "/" + tag, std::move(t));
}

// Weights are shared by every call of a layer: named after the first call.
std::string Builder::layer_base() const {
  const auto at = base_.rfind('@');
  return at == std::string::npos ? base_ : base_.substr(0, at);
}

// ---- activations --------------------------------------------------------------------------------

std::string Builder::activation_name(const json& a) {
  if (a.is_null()) return "linear";
  if (a.is_string()) return a.get<std::string>();
  if (a.is_object() && a.contains("config") && a["config"].is_string()) {
    return a["config"].get<std::string>();
  }
  if (a.is_object() && a.contains("class_name") && a["class_name"].is_string()) {
    return a["class_name"].get<std::string>();
  }
  return "?";
}

int Builder::hard_sigmoid(int x) {
  // Keras 2 and tfjs: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6.
  const float alpha = format_ == Format::kKeras3 ? 1.0f / 6.0f : 0.2f;
  return op("HardSigmoid", {x}, {{"alpha", attr_float(alpha)}, {"beta", attr_float(0.5f)}});
}

int Builder::activate(int x, const json& act, int softmax_axis) {
  std::string a = activation_name(act);
  if (a == "linear" || a == "None") return x;
  if (a == "relu") return op("Relu", {x});
  if (a == "relu6") return op("Clip", {x, fconst("zero", 0.0f), fconst("six", 6.0f)});
  if (a == "sigmoid") return op("Sigmoid", {x});
  if (a == "tanh") return op("Tanh", {x});
  if (a == "softmax") return op("Softmax", {x}, {{"axis", attr_int(softmax_axis)}});
  if (a == "log_softmax") return op("LogSoftmax", {x}, {{"axis", attr_int(softmax_axis)}});
  if (a == "softplus") return op("Softplus", {x});
  if (a == "softsign") {
    return op("Div", {x, op("Add", {op("Abs", {x}), fconst("one", 1.0f)})});
  }
  if (a == "swish" || a == "silu") return op("Mul", {x, op("Sigmoid", {x})});
  if (a == "elu") return op("Elu", {x}, {{"alpha", attr_float(1.0f)}});
  if (a == "selu") return op("Selu", {x});
  if (a == "exponential") return op("Exp", {x});
  if (a == "hard_sigmoid" || a == "hardSigmoid") return hard_sigmoid(x);
  if (a == "hard_swish" || a == "hard_silu") return op("HardSwish", {x});
  if (a == "leaky_relu") return op("LeakyRelu", {x}, {{"alpha", attr_float(0.2f)}});
  if (a == "mish") return op("Mul", {x, op("Tanh", {op("Softplus", {x})})});
  if (a == "gelu") {
    // Keras's "gelu" activation is the exact one: x * 0.5 * (1 + erf(x / sqrt(2))).
    const int e = op("Erf", {op("Div", {x, fconst("sqrt2", std::sqrt(2.0f))})});
    const int half = op("Mul", {op("Add", {e, fconst("one", 1.0f)}), fconst("half", 0.5f)});
    return op("Mul", {x, half});
  }
  fail("unknown activation '" + a + "'");
}

// ---- padding ------------------------------------------------------------------------------------

// The dilated kernel size (k - 1) * d + 1; kernel and dilation are >= 1 (sizes()). The kernels
// take time and memory in proportion to it, so it is bounded far above any real model's window
// (WaveNet-style dilated stacks reach ~1000) rather than left to exhaust them.
std::int64_t Builder::extent(const Window& w, std::size_t i) const {
  const std::int64_t k = add(mul(w.kernel[i] - 1, w.dilations[i]), 1);
  if (k > kMaxWindowExtent) {
    fail("a window of " + std::to_string(k) + " (size " + std::to_string(w.kernel[i]) +
         ", dilation " + std::to_string(w.dilations[i]) + ") exceeds the supported " +
         std::to_string(kMaxWindowExtent));
  }
  return k;
}

// TF "same": total = max((ceil(in/s) - 1) * s + (k - 1) * d + 1 - in, 0), before = total / 2.
std::vector<std::int64_t> Builder::pads(const Window& w, const std::vector<std::int64_t>& in) {
  const std::size_t n = w.kernel.size();
  std::vector<std::int64_t> p(2 * n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t k = extent(w, i);
    if (w.padding == "same") {
      if (in[i] < 0) return {};
      const std::int64_t out = in[i] / w.strides[i] + (in[i] % w.strides[i] != 0);
      const std::int64_t total =
          std::max<std::int64_t>(sub(add(mul(out - 1, w.strides[i]), k), in[i]), 0);
      p[i] = total / 2;
      p[i + n] = total - total / 2;
    } else if (w.padding == "causal") {
      p[i] = k - 1;
    } else if (w.padding != "valid") {
      fail("unsupported padding '" + w.padding + "'");
    }
  }
  return p;
}

std::vector<std::int64_t> Builder::window_out(const Window& w,
                                              const std::vector<std::int64_t>& in) const {
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < w.kernel.size(); ++i) {
    const std::int64_t k = extent(w, i);
    if (in[i] < 0) {
      out.push_back(-1);
    } else if (w.padding == "valid") {
      out.push_back(in[i] < k ? 0 : (in[i] - k) / w.strides[i] + 1);
    } else {
      out.push_back(in[i] / w.strides[i] + (in[i] % w.strides[i] != 0));  // ceil(in / s)
    }
  }
  return out;
}

void Builder::set_window_attrs(std::map<std::string, Attribute>& a, const Window& w,
                               const std::vector<std::int64_t>& in) {
  a["kernel_shape"] = attr_ints(w.kernel);
  a["strides"] = attr_ints(w.strides);
  const auto p = pads(w, in);
  if (p.empty()) {
    a["auto_pad"] = attr_string("SAME_UPPER");  // TF "same" on an unknown dim
  } else {
    a["pads"] = attr_ints(p);
  }
}

// Spatial layout helpers: spatial dims of a shape, and the shape rebuilt from them.
std::vector<std::int64_t> Builder::spatial(const Shape& s, bool cl) {
  return cl ? std::vector<std::int64_t>(s.begin() + 1, s.end() - 1)
            : std::vector<std::int64_t>(s.begin() + 2, s.end());
}

Shape Builder::with_spatial(std::int64_t batch, std::int64_t ch,
                            const std::vector<std::int64_t>& sp, bool cl) {
  Shape s{batch};
  if (!cl) s.push_back(ch);
  s.insert(s.end(), sp.begin(), sp.end());
  if (cl) s.push_back(ch);
  return s;
}

void Builder::need_rank(const KT& x, std::size_t r) const {
  if (x.shape.size() != r) {
    fail("expects a rank-" + std::to_string(r) + " input, got " + shape_to_string(x.shape));
  }
}

// ---- models -------------------------------------------------------------------------------------

KT Builder::input_layer(const Layer& l, const std::string& name) {
  what_ = source_ + ": layer '" + l.name + "' (InputLayer)";
  layer_ = &l;
  json shape;
  std::string key;
  for (const char* k : {"batch_input_shape", "batch_shape"}) {
    if (l.config.contains(k) && l.config[k].is_array()) {
      shape = l.config[k];
      key = k;
    }
  }
  if (shape.is_null() && l.config.contains("input_shape") && l.config["input_shape"].is_array()) {
    shape = json::array({nullptr});
    for (const auto& d : l.config["input_shape"]) shape.push_back(d);
    key = "input_shape";
  }
  if (shape.is_null()) fail("no input shape");
  if (shape.empty()) fail("'" + key + "' is empty (no batch dimension)");
  // Keras 3 may write the dtype as a DTypePolicy object.
  const json& dt = l.config.contains("dtype") ? l.config["dtype"] : json();
  std::string dtype = "float32";
  if (dt.is_string()) {
    dtype = dt.get<std::string>();
  } else if (dt.is_object() && dt.contains("config") && dt["config"].is_object() &&
             dt["config"].contains("name") && dt["config"]["name"].is_string()) {
    dtype = dt["config"]["name"].get<std::string>();
  }
  if (dtype != "float32") fail("input dtype '" + dtype + "' is not supported (float32 only)");
  const int id = new_value(name);
  Value& v = g_.values[static_cast<std::size_t>(id)];
  v.info.dtype = DType::kFloat32;
  KT t{id, {}};
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const json& e = shape[i];
    if (!e.is_null() && (!e.is_number_integer() || e.get<std::int64_t>() < 0)) {
      fail("'" + key + "' dimension " + std::to_string(i) + " is " + e.dump() +
           ", not null or a non-negative integer");
    }
    const std::int64_t d = e.is_null() ? -1 : e.get<std::int64_t>();
    v.info.shape.push_back(d);
    v.dim_names.push_back(d < 0 ? (i == 0 ? "N" : name + "_d" + std::to_string(i)) : "");
    t.shape.push_back(d);
  }
  g_.inputs.push_back(id);
  return t;
}

// Builds a model; `bound` gives the tensors of its inputs when it is nested (nullptr: the
// top level, whose InputLayers become graph inputs). `prefix` prefixes every node name.
std::vector<KT> Builder::build_model(const Model& m, const std::vector<KT>* bound,
                                     const std::string& prefix, const std::string& k3prefix) {
  std::map<std::pair<std::string, int>, std::vector<KT>> made;  // (layer, call) -> outputs
  std::map<std::string, const Layer*> by_name;
  std::map<std::string, std::string> k3key;
  std::map<std::string, int> used;
  for (const Layer& l : m.layers) {
    if (!by_name.emplace(l.name, &l).second) {
      throw LoadError(source_ + ": model '" + m.name + "' has two layers named '" + l.name + "'");
    }
    std::string cls = snake_case(l.class_name);
    auto it = used.find(cls);
    if (it == used.end()) {
      used[cls] = 0;
    } else {
      cls += "_" + std::to_string(++it->second);
    }
    k3key[l.name] = k3prefix + "layers/" + cls;
  }
  // Inputs.
  if (bound && bound->size() != m.inputs.size()) {
    throw LoadError(source_ + ": nested model '" + m.name + "' takes " +
                    std::to_string(m.inputs.size()) + " inputs, called with " +
                    std::to_string(bound->size()));
  }
  for (std::size_t i = 0; i < m.inputs.size(); ++i) {
    const Ref& r = m.inputs[i];
    auto it = by_name.find(r.layer);
    if (it == by_name.end() || it->second->class_name != "InputLayer") {
      throw LoadError(source_ + ": model '" + m.name + "' input '" + r.layer +
                      "' is not an InputLayer");
    }
    if (r.node != 0 || r.tensor != 0) {
      throw LoadError(source_ + ": model '" + m.name + "' input_layers refers to call " +
                      std::to_string(r.node) + ", output " + std::to_string(r.tensor) + " of '" +
                      r.layer + "' (an InputLayer has one: 0, 0)");
    }
    made[{r.layer, 0}] = {bound ? (*bound)[i] : input_layer(*it->second, prefix + r.layer)};
  }
  // Layer calls, in the file's order, deferring a call until its inputs exist (Keras's
  // from_config does the same).
  std::map<std::string, std::size_t> next_call;
  bool progress = true;
  while (progress) {
    progress = false;
    for (const Layer& l : m.layers) {
      if (l.class_name == "InputLayer") continue;
      std::size_t& k = next_call[l.name];
      while (k < l.calls.size()) {
        std::vector<KT> ins;
        bool ready = true;
        for (const Ref& r : l.calls[k]) {
          auto it = made.find({r.layer, r.node});
          if (it == made.end()) {
            if (!by_name.count(r.layer)) {
              throw LoadError(source_ + ": layer '" + l.name +
                              "' takes the output of unknown layer '" + r.layer + "'");
            }
            ready = false;
            break;
          }
          if (r.tensor < 0 || r.tensor >= static_cast<int>(it->second.size())) {
            throw LoadError(source_ + ": layer '" + l.name + "' refers to output " +
                            std::to_string(r.tensor) + " of '" + r.layer + "'");
          }
          ins.push_back(it->second[static_cast<std::size_t>(r.tensor)]);
        }
        if (!ready) break;
        const std::string base = prefix + l.name + (k > 0 ? "@" + std::to_string(k) : "");
        if (l.model) {
          std::vector<KT> outs = build_model(*l.model, &ins, base + "/", k3key[l.name] + "/");
          made[{l.name, static_cast<int>(k)}] = outs;
        } else {
          base_ = base;
          layer_ = &l;
          what_ = source_ + ": layer '" + l.name + "' (" + l.class_name + ")";
          weight_key_ = k3key[l.name];
          helper_count_ = 0;
          first_node_ = g_.nodes.size();
          KT out;
          try {
            out = finish_layer(layer_call(l, ins));
          } catch (const json::exception& e) {
            fail(std::string("malformed config (") + e.what() + ")");
          }
          made[{l.name, static_cast<int>(k)}] = {out};
        }
        ++k;
        progress = true;
      }
    }
  }
  // A call still waiting refers to a call that does not exist or that waits on it (a cycle).
  for (const Layer& l : m.layers) {
    const std::size_t k = next_call[l.name];
    if (l.class_name == "InputLayer" || k >= l.calls.size()) continue;
    const std::string what = source_ + ": layer '" + l.name + "' (" + l.class_name + ")";
    for (const Ref& r : l.calls[k]) {
      if (made.count({r.layer, r.node})) continue;
      auto it = by_name.find(r.layer);
      if (it == by_name.end()) {
        throw LoadError(what + " takes the output of unknown layer '" + r.layer + "'");
      }
      const Layer& from = *it->second;
      const std::size_t calls = from.class_name == "InputLayer" ? 1 : from.calls.size();
      if (static_cast<std::size_t>(r.node) >= calls) {
        throw LoadError(what + " inbound_nodes: refers to call " + std::to_string(r.node) +
                        " of '" + r.layer + "', which has " + std::to_string(calls));
      }
    }
    throw LoadError(what + " has inputs that cannot be computed (a cycle or a missing input)");
  }
  std::vector<KT> outs;
  for (const Ref& r : m.outputs) {
    auto it = made.find({r.layer, r.node});
    if (it == made.end()) {
      throw LoadError(source_ + ": model '" + m.name + "' output '" + r.layer +
                      "' cannot be computed (a cycle or a missing input)");
    }
    if (r.tensor < 0 || r.tensor >= static_cast<int>(it->second.size())) {
      throw LoadError(source_ + ": model '" + m.name + "' output_layers refers to output " +
                      std::to_string(r.tensor) + " of '" + r.layer + "', which has " +
                      std::to_string(it->second.size()));
    }
    outs.push_back(it->second[static_cast<std::size_t>(r.tensor)]);
  }
  if (!bound) {
    // model.layers as Keras lists them: a Sequential's InputLayer is not among them.
    for (const Layer& l : m.layers) {
      if (m.class_name == "Sequential" && l.class_name == "InputLayer") continue;
      auto it = made.find({l.name, 0});
      g_.layer_names.push_back(it == made.end() || it->second.empty()
                                   ? std::string()
                                   : g_.values[static_cast<std::size_t>(it->second[0].id)].name);
    }
  }
  return outs;
}

Graph build_graph(const Model& model, const Weights& weights, Format format,
                  const std::string& source) {
  Builder b(weights, format, source);
  return b.build(model);
}

}  // namespace dnnfi::keras
