#include "ops/kernel.h"

#include <algorithm>

namespace dnnfi {

PrepareContext::PrepareContext(const Node& node, std::int64_t opset, std::string_view source,
                               std::vector<TensorInfo> inputs, std::vector<const Tensor*> constants,
                               bool reference)
    : node_(node),
      opset_(opset),
      source_(source),
      inputs_(std::move(inputs)),
      constants_(std::move(constants)),
      reference_(reference) {
  constants_.resize(inputs_.size(), nullptr);
}

bool PrepareContext::has_input(std::size_t i) const {
  return i < inputs_.size() && inputs_[i].dtype != DType::kUndefined;
}

const TensorInfo& PrepareContext::input(std::size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is required but missing");
  return inputs_[i];
}

const Tensor* PrepareContext::constant(std::size_t i) const {
  return i < constants_.size() ? constants_[i] : nullptr;
}

const Tensor& PrepareContext::require_constant(std::size_t i) const {
  const Tensor* t = constant(i);
  if (t == nullptr) {
    unsupported("input " + std::to_string(i) +
                " must be known at load time (initializer, Constant or computable from shapes); "
                "data-dependent shapes are not supported");
  }
  return *t;
}

namespace {
const Attribute* find_attr(const Node& node, const std::string& name) {
  auto it = node.attributes.find(name);
  return it == node.attributes.end() ? nullptr : &it->second;
}
}  // namespace

bool PrepareContext::has_attr(const std::string& name) const {
  return find_attr(node_, name) != nullptr;
}

std::int64_t PrepareContext::attr_int(const std::string& name, std::int64_t fallback) const {
  const Attribute* a = find_attr(node_, name);
  if (a == nullptr) return fallback;
  if (a->kind != Attribute::Kind::kInt) fail("attribute '" + name + "' must be an int");
  return a->i;
}

float PrepareContext::attr_float(const std::string& name, float fallback) const {
  const Attribute* a = find_attr(node_, name);
  if (a == nullptr) return fallback;
  if (a->kind != Attribute::Kind::kFloat) fail("attribute '" + name + "' must be a float");
  return a->f;
}

std::string PrepareContext::attr_string(const std::string& name,
                                        const std::string& fallback) const {
  const Attribute* a = find_attr(node_, name);
  if (a == nullptr) return fallback;
  if (a->kind != Attribute::Kind::kString) fail("attribute '" + name + "' must be a string");
  return a->s;
}

std::vector<std::int64_t> PrepareContext::attr_ints(const std::string& name,
                                                    std::vector<std::int64_t> fallback) const {
  const Attribute* a = find_attr(node_, name);
  if (a == nullptr) return fallback;
  if (a->kind != Attribute::Kind::kInts) fail("attribute '" + name + "' must be a list of ints");
  return a->ints;
}

std::vector<float> PrepareContext::attr_floats(const std::string& name,
                                               std::vector<float> fallback) const {
  const Attribute* a = find_attr(node_, name);
  if (a == nullptr) return fallback;
  if (a->kind != Attribute::Kind::kFloats)
    fail("attribute '" + name + "' must be a list of floats");
  return a->floats;
}

const Tensor* PrepareContext::attr_tensor(const std::string& name) const {
  const Attribute* a = find_attr(node_, name);
  if (a == nullptr) return nullptr;
  if (a->kind != Attribute::Kind::kTensor) fail("attribute '" + name + "' must be a tensor");
  return &a->t;
}

void PrepareContext::allow_attributes(std::initializer_list<std::string_view> names) const {
  for (const auto& [name, attr] : node_.attributes) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      unsupported("attribute '" + name + "' is not supported");
    }
  }
}

void PrepareContext::require_inputs(std::size_t min, std::size_t max) const {
  if (inputs_.size() < min || inputs_.size() > max) {
    fail("expects " + std::to_string(min) + (min == max ? "" : ".." + std::to_string(max)) +
         " inputs, has " + std::to_string(inputs_.size()));
  }
  for (std::size_t i = 0; i < min; ++i) {
    if (!has_input(i)) fail("input " + std::to_string(i) + " is required but missing");
  }
}

void PrepareContext::require_dtype(std::size_t i, std::initializer_list<DType> allowed) const {
  const TensorInfo& info = input(i);
  if (std::find(allowed.begin(), allowed.end(), info.dtype) == allowed.end()) {
    unsupported("input " + std::to_string(i) + " has unsupported dtype " +
                std::string(dtype_name(info.dtype)));
  }
}

namespace {
std::string node_message(std::string_view source, const Node& node, std::int64_t opset,
                         const std::string& message) {
  std::string where = source.empty() ? std::string() : std::string(source) + ": ";
  return where + "node '" + node.name + "' (" + (node.domain.empty() ? "" : node.domain + ".") +
         node.op_type + " opset " + std::to_string(opset) + "): " + message;
}
}  // namespace

void PrepareContext::fail(const std::string& message) const {
  throw NodeError(node_message(source_, node_, opset_, message));
}

void PrepareContext::unsupported(const std::string& message) const {
  throw UnsupportedError(node_message(source_, node_, opset_, message));
}

}  // namespace dnnfi
