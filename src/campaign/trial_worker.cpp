#include "campaign/trial_worker.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/error.h"

namespace dnnfi {

InputRecord golden_record(const CampaignContext& ctx, std::int64_t position,
                          std::int64_t dataset_index) {
  InputRecord rec;
  rec.index = position;
  rec.dataset_index = dataset_index;
  const RawSample raw = ctx.dataset().get(dataset_index);
  rec.label = raw.label;
  if (rec.label >= ctx.num_classes()) {
    throw InputError(
        fmt::format("{}: label {} of sample {} is out of range for the model's {} "
                    "classes",
                    ctx.dataset().describe(), rec.label, dataset_index, ctx.num_classes()));
  }
  std::vector<Tensor> in;
  in.push_back(
      preprocess_sample(raw, ctx.preprocess(), ctx.input_shape(),
                        fmt::format("{} sample {}", ctx.dataset().describe(), dataset_index)));
  const GoldenRun golden = ctx.injector().golden(std::move(in));
  rec.golden_label = golden.top1.at(0);
  rec.correct = rec.label >= 0 && rec.label == rec.golden_label;
  return rec;
}

std::vector<std::vector<std::int64_t>> group_trials_by_input(const CampaignContext& ctx,
                                                             std::span<const std::int64_t> ids,
                                                             std::size_t eligible,
                                                             std::size_t max_group) {
  std::vector<std::pair<std::size_t, std::int64_t>> order;  // (input position, id)
  order.reserve(ids.size());
  for (const std::int64_t id : ids) order.emplace_back(ctx.trial_input(id, eligible), id);
  std::sort(order.begin(), order.end());
  std::vector<std::vector<std::int64_t>> groups;
  for (std::size_t b = 0; b < order.size();) {
    std::size_t e = b + 1;
    while (e < order.size() && e - b < max_group && order[e].first == order[b].first) ++e;
    std::vector<std::int64_t>& g = groups.emplace_back();
    g.reserve(e - b);
    for (std::size_t k = b; k < e; ++k) g.push_back(order[k].second);
    b = e;
  }
  return groups;
}

TrialWorker::TrialWorker(const CampaignContext& ctx, const TrialInputs& inputs)
    : ctx_(ctx), inputs_(inputs) {
  options_.strategy = ctx.config().strategy;
  options_.time_limit_s = ctx.config().time_limit_s;
}

TrialRecord TrialWorker::run(std::int64_t id) {
  const InputRecord& input =
      inputs_.inputs[inputs_.eligible[ctx_.trial_input(id, inputs_.eligible.size())]];
  if (input.index != golden_input_) {
    golden_input_ = -1;
    golden_.reset();
    std::vector<Tensor> in;
    in.push_back(ctx_.input_tensor(input.dataset_index));
    golden_ = std::make_unique<GoldenRun>(ctx_.injector().golden(std::move(in)));
    golden_input_ = input.index;
    if (golden_->top1.at(0) != input.golden_label) {
      throw InputError(fmt::format(
          "input {} (sample {}) now classifies as {} but the golden pass recorded {}: the model "
          "or dataset changed since the campaign started",
          input.index, input.dataset_index, golden_->top1.at(0), input.golden_label));
    }
  }
  const std::vector<Fault> faults =
      ctx_.sampler().sample(ctx_.config().seed, static_cast<std::uint64_t>(id));
  const auto t0 = std::chrono::steady_clock::now();
  const TrialResult r = ctx_.injector().run_trial(*golden_, faults, options_, workspace_);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ctx_.make_record(id, input, r, dt);
}

}  // namespace dnnfi
