#include "campaign/input_checks.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/log.h"

namespace dnnfi {

namespace {

// Where a user sets preprocessing, for the warnings' advice.
std::string where_to_set(const CampaignContext& ctx, const char* flags) {
  return fmt::format("in the config's preprocess: section, with {}, or in {}", flags,
                     preprocess_sidecar_path(ctx.config().model));
}

std::string preprocessing_in_use(const PreprocessSettings& s) {
  if (s.empty()) return "none";
  const std::string from = preprocess_origins(s);
  return describe_preprocess(s) + (from.empty() ? "" : " (from " + from + ")");
}

void check_input_range(const CampaignContext& ctx, const std::vector<InputRecord>& inputs) {
  if (ctx.config().preprocess.scale) return;  // someone said how inputs are scaled
  constexpr std::size_t kLook = 16;
  float lo = INFINITY, hi = -INFINITY;
  const std::size_t n = std::min(kLook, inputs.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Tensor t = ctx.input_tensor(inputs[i].dataset_index);
    const float* x = t.data<float>();
    for (std::int64_t k = 0; k < t.numel(); ++k) {
      if (!std::isfinite(x[k])) continue;
      lo = std::min(lo, x[k]);
      hi = std::max(hi, x[k]);
    }
  }
  if (n == 0 || !(std::max(std::fabs(lo), std::fabs(hi)) > kUnnormalizedInputMax)) return;
  log_warning(fmt::format(
      "inputs range over [{:g}, {:g}] (first {} inputs) but no preprocessing scale is set "
      "(preprocessing in use: {}): if the model expects normalized inputs, set preprocess.scale "
      "(1/255 = 0.00392156862745098 for 8-bit images) and preprocess.mean/std as in its training "
      "{}; if it takes raw values, set preprocess.scale: 1 (or --scale 1)",
      lo, hi, n, preprocessing_in_use(ctx.config().preprocess),
      where_to_set(ctx, "--scale/--mean/--std")));
}

void check_accuracy(const CampaignContext& ctx, const std::vector<InputRecord>& inputs) {
  const std::int64_t classes = ctx.num_classes();
  if (classes < 2) return;
  std::int64_t labelled = 0, correct = 0;
  for (const InputRecord& in : inputs) {
    if (in.label < 0) continue;
    ++labelled;
    correct += in.correct ? 1 : 0;
  }
  if (labelled < kChanceMinInputs) return;
  const double accuracy = static_cast<double>(correct) / static_cast<double>(labelled);
  const double chance = 1.0 / static_cast<double>(classes);
  if (accuracy > kChanceFactor * chance) return;
  log_warning(fmt::format(
      "fault-free Top-1 accuracy is {:.2f}% (n={}), at chance level for {} classes: the model is "
      "probably not getting its inputs preprocessed as in its training (preprocessing in use: "
      "{}); set preprocess.scale/mean/std/layout/grayscale/channels {}, and check the labels",
      100.0 * accuracy, labelled, classes, preprocessing_in_use(ctx.config().preprocess),
      where_to_set(ctx, "--scale/--mean/--std/--layout/--grayscale/--bgr")));
}

}  // namespace

void warn_if_inputs_look_wrong(const CampaignContext& ctx, const std::vector<InputRecord>& inputs) {
  check_input_range(ctx, inputs);
  check_accuracy(ctx, inputs);
}

}  // namespace dnnfi
