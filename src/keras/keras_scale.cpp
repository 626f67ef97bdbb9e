// InceptionResNetV2's scaled residual `x + scale * up` (keras/applications/inception_resnet_v2.py,
// inception_resnet_block). Keras 2 saves it as a Python Lambda, which cannot be run without
// Python; Keras 3 as the applications' own class CustomScaleLayer. Both are recognised by their
// configs and built as Mul + Add; any other Lambda stays a LoadError naming the layer.
#include <cmath>
#include <regex>

#include "keras/keras_builder.h"

namespace dnnfi::keras {

namespace {

// The names inception_resnet_block gives the Lambda: block35_<i>, block17_<i>, block8_<i>.
bool applications_block_name(const std::string& name) {
  static const std::regex kName("block(35|17|8)_[0-9]+");
  return std::regex_match(name, kName);
}

// Keras 2's Lambda.get_config stores the function's module; the applications' lambda lives in
// (tensorflow.python.)keras(.src).applications.inception_resnet_v2.
bool applications_module(const json& m) {
  static const std::string kTail = "applications.inception_resnet_v2";
  if (!m.is_string()) return false;
  const auto s = m.get<std::string>();
  return s.size() >= kTail.size() && s.compare(s.size() - kTail.size(), kTail.size(), kTail) == 0;
}

}  // namespace

// Keras 2 Lambda: recognised only as inception_resnet_block saves it (its block name,
// `arguments` = {"scale": s}, a lambda of the applications' module when the module is saved).
bool Builder::is_scaled_residual_lambda() const {
  if (!applications_block_name(layer_->name) || !has("arguments")) return false;
  const json& args = cfg()["arguments"];
  if (!args.is_object() || args.size() != 1 || !args.contains("scale")) return false;
  if (has("function_type") && cfg()["function_type"] != "lambda") return false;
  if (has("module") && !cfg()["module"].is_null() && !applications_module(cfg()["module"])) {
    return false;
  }
  return true;
}

KT Builder::scaled_residual(const std::vector<KT>& xs, const json& scale_value) {
  if (xs.size() != 2) {
    fail("a scaled residual takes 2 inputs [x, up], got " + std::to_string(xs.size()));
  }
  if (!scale_value.is_number()) fail("'scale' is not a number");
  const double s = scale_value.get<double>();
  if (!std::isfinite(s) || std::fabs(s) > 1e30) fail("'scale' must be a finite float");
  if (xs[0].shape != xs[1].shape) fail("a scaled residual needs inputs of one shape");
  const int scaled = op("Mul", {xs[1].id, fconst("scale", static_cast<float>(s))});
  return KT{op("Add", {xs[0].id, scaled}), xs[0].shape};
}

}  // namespace dnnfi::keras
