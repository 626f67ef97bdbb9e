// Internal to src/keras: the Builder that turns a parsed Keras model (keras_format.h) into a Graph.
// keras_graph.cpp defines the graph construction, config, weight, activation, padding and model
// methods and build_graph(); keras_layers.cpp defines the per-layer methods. Nothing outside
// src/keras includes this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "keras/keras_format.h"

namespace dnnfi::keras {

using nlohmann::json;

struct KT {
  int id = -1;
  Shape shape;  // Keras shape with the batch; -1 where unknown
};

inline Attribute attr_int(std::int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
inline Attribute attr_ints(std::vector<std::int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
inline Attribute attr_float(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
inline Attribute attr_string(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

inline Tensor scalar_tensor(float v) { return make_tensor<float>({}, {v}); }

class Builder {
 public:
  Builder(const Weights& w, Format f, std::string source);

  Graph build(const Model& m);

 private:
  const Weights& weights_;
  Format format_;
  std::string source_;
  Graph g_;
  std::map<std::string, int> value_ids_;
  std::set<std::string> node_names_;
  // The layer call being built.
  std::string base_;
  std::string what_;
  const Layer* layer_ = nullptr;
  std::string weight_key_;
  int helper_count_ = 0;
  std::size_t first_node_ = 0;

  [[noreturn]] void fail(const std::string& msg) const;

  // ---- graph construction (keras_graph.cpp) -----------------------------------------------------

  int new_value(const std::string& name);
  int constant(const std::string& name, Tensor t);
  int fconst(const std::string& tag, float v);
  int iconst(const std::string& tag, std::vector<std::int64_t> v);
  int op(const std::string& type, std::vector<int> inputs,
         std::map<std::string, Attribute> attrs = {});
  int transpose(int x, std::vector<std::int64_t> perm);
  static std::vector<std::int64_t> to_first_perm(std::size_t r);
  static std::vector<std::int64_t> to_last_perm(std::size_t r);
  KT finish_layer(KT out);

  // ---- config access (keras_graph.cpp) ----------------------------------------------------------

  const json& cfg() const;
  bool has(const char* key) const;
  double num(const char* key, double def) const;
  std::int64_t integer(const char* key, std::int64_t def) const;
  bool flag(const char* key, bool def) const;
  std::string str(const char* key, const std::string& def) const;
  std::vector<std::int64_t> ints(const char* key, std::size_t n, std::int64_t def) const;
  std::vector<std::int64_t> sizes(const char* key, std::size_t n, std::int64_t def) const;
  std::int64_t positive(const char* key, std::int64_t def) const;
  float fnum(const char* key, double def) const;
  std::int64_t int_value(const json& v, const char* key) const;
  bool channels_last() const;

  // ---- checked shape arithmetic (keras_graph.cpp): fail() on int64 overflow --------------------

  std::int64_t add(std::int64_t a, std::int64_t b) const;
  std::int64_t sub(std::int64_t a, std::int64_t b) const;
  std::int64_t mul(std::int64_t a, std::int64_t b) const;

  // ---- weights (keras_graph.cpp) ----------------------------------------------------------------

  std::vector<Tensor> weights(const std::vector<std::string>& names,
                              const std::vector<Shape>& shapes);
  int weight_const(const std::string& tag, Tensor t);
  std::string layer_base() const;

  // ---- activations (keras_graph.cpp) ------------------------------------------------------------

  static std::string activation_name(const json& a);
  int hard_sigmoid(int x);
  int activate(int x, const json& act, int softmax_axis = -1);

  // ---- padding (keras_graph.cpp) ----------------------------------------------------------------

  struct Window {
    std::vector<std::int64_t> kernel, strides, dilations;
    std::string padding;
  };

  std::int64_t extent(const Window& w, std::size_t i) const;
  std::vector<std::int64_t> pads(const Window& w, const std::vector<std::int64_t>& in);
  std::vector<std::int64_t> window_out(const Window& w, const std::vector<std::int64_t>& in) const;
  void set_window_attrs(std::map<std::string, Attribute>& a, const Window& w,
                        const std::vector<std::int64_t>& in);
  static std::vector<std::int64_t> spatial(const Shape& s, bool cl);
  static Shape with_spatial(std::int64_t batch, std::int64_t ch,
                            const std::vector<std::int64_t>& sp, bool cl);
  void need_rank(const KT& x, std::size_t r) const;

  // ---- layers (keras_layers.cpp) ----------------------------------------------------------------

  KT conv(const KT& x, std::size_t nsp, bool depthwise, bool separable, bool transposed);
  KT pool(const KT& x, std::size_t nsp, bool max);
  KT global_pool(const KT& x, bool max);
  KT dense(const KT& x);
  std::int64_t norm_axis(std::int64_t a, std::size_t r) const;
  std::vector<std::int64_t> axis_list(const char* key, std::int64_t def, std::size_t r) const;
  static Shape channel_shape(std::int64_t c, std::int64_t axis, std::size_t r);
  KT batch_norm(const KT& x);
  KT layer_norm(const KT& x);
  KT relu_layer(const KT& x);
  KT merge(const std::vector<KT>& xs, const std::string& cls);
  std::vector<std::pair<std::int64_t, std::int64_t>> amounts(const char* key, std::size_t nsp,
                                                             std::int64_t def);
  KT zero_pad(const KT& x, std::size_t nsp);
  KT crop(const KT& x, std::size_t nsp);
  KT upsample(const KT& x, std::size_t nsp);
  KT flatten(const KT& x);
  KT reshape(const KT& x);
  KT permute_layer(const KT& x);
  Tensor param(const json& v, const char* key, std::int64_t c, std::int64_t axis, std::size_t r);
  KT normalization(const KT& x);
  // InceptionResNetV2's x + scale * up (keras_scale.cpp).
  bool is_scaled_residual_lambda() const;
  KT scaled_residual(const std::vector<KT>& xs, const json& scale_value);
  KT layer_call(const Layer& l, const std::vector<KT>& xs);

  // ---- models (keras_graph.cpp) -----------------------------------------------------------------

  KT input_layer(const Layer& l, const std::string& name);
  std::vector<KT> build_model(const Model& m, const std::vector<KT>* bound,
                              const std::string& prefix, const std::string& k3prefix);
};

}  // namespace dnnfi::keras
