#include "campaign/trial_worker.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/error.h"

namespace dnnfi {

namespace {

// The record of sample `raw` at `position`, before its golden run.
InputRecord raw_record(const CampaignContext& ctx, std::int64_t position,
                       std::int64_t dataset_index, const RawSample& raw) {
  InputRecord rec;
  rec.index = position;
  rec.dataset_index = dataset_index;
  rec.label = raw.label;
  if (rec.label >= ctx.num_classes()) {
    throw InputError(
        fmt::format("{}: label {} of sample {} is out of range for the model's {} "
                    "classes",
                    ctx.dataset().describe(), rec.label, dataset_index, ctx.num_classes()));
  }
  return rec;
}

// The record of the input at `position` without its golden label, and its input tensor.
InputRecord unlabelled_record(const CampaignContext& ctx, std::int64_t position,
                              std::int64_t dataset_index, std::vector<Tensor>& in) {
  const RawSample raw = ctx.dataset().get(dataset_index);
  InputRecord rec = raw_record(ctx, position, dataset_index, raw);
  in.clear();
  in.push_back(
      preprocess_sample(raw, ctx.preprocess(), ctx.input_shape(),
                        fmt::format("{} sample {}", ctx.dataset().describe(), dataset_index)));
  return rec;
}

void set_golden_label(InputRecord& rec, std::int64_t top1) {
  rec.golden_label = top1;
  rec.correct = rec.label >= 0 && rec.label == rec.golden_label;
}

// The record of the input at `position` before its golden run (its ground truth read from the
// dataset).
InputRecord input_record(const CampaignContext& ctx, std::int64_t position,
                         std::int64_t dataset_index) {
  return raw_record(ctx, position, dataset_index, ctx.dataset().get(dataset_index));
}

}  // namespace

InputRecord golden_record(const CampaignContext& ctx, std::int64_t position,
                          std::int64_t dataset_index) {
  std::vector<Tensor> in;
  InputRecord rec = unlabelled_record(ctx, position, dataset_index, in);
  // Only the label is needed here: no value kept.
  set_golden_label(rec, ctx.injector().golden(std::move(in), false).top1.at(0));
  return rec;
}

DeferredInputs::DeferredInputs(const TrialInputs& inputs) : recorded_(inputs.inputs.size(), 1) {
  for (std::size_t i = 0; i < inputs.deferred.size() && i < recorded_.size(); ++i) {
    recorded_[i] = inputs.deferred[i] == 0;
  }
}

std::vector<InputRecord> DeferredInputs::fresh(const std::vector<InputRecord>& made) {
  std::vector<InputRecord> out;
  for (const InputRecord& rec : made) {
    if (rec.index < 0 || static_cast<std::size_t>(rec.index) >= recorded_.size()) {
      throw Error(fmt::format("a trial group recorded input position {}", rec.index));
    }
    auto& r = recorded_[static_cast<std::size_t>(rec.index)];
    if (r == 0) out.push_back(rec);
    r = 1;
  }
  return out;
}

std::vector<TrialGroup> group_trials_by_input(const CampaignContext& ctx,
                                              std::span<const std::int64_t> ids,
                                              std::size_t eligible, std::size_t max_group) {
  std::vector<std::pair<std::size_t, std::int64_t>> order;  // (entry of eligible, id)
  order.reserve(ids.size());
  for (const std::int64_t id : ids) order.emplace_back(ctx.trial_input(id, eligible), id);
  std::sort(order.begin(), order.end());
  std::vector<TrialGroup> groups;
  for (std::size_t b = 0; b < order.size();) {
    std::size_t e = b + 1;
    while (e < order.size() && e - b < max_group && order[e].first == order[b].first) ++e;
    TrialGroup& g = groups.emplace_back();
    g.eligible = order[b].first;
    g.ids.reserve(e - b);
    for (std::size_t k = b; k < e; ++k) g.ids.push_back(order[k].second);
    b = e;
  }
  return groups;
}

std::size_t max_group_trials(const CampaignConfig& config) {
  return std::size_t{64} * static_cast<std::size_t>(std::max(1, config.batch));
}

TrialWorker::TrialWorker(const CampaignContext& ctx, const TrialInputs& inputs, bool stream)
    : ctx_(ctx),
      inputs_(inputs),
      stream_(stream),
      workspaces_(1),
      choice_(ctx.config().batch_auto ? BatchChoice::kUndecided : BatchChoice::kBatched) {
  options_.strategy = ctx.config().strategy;
  options_.time_limit_s = ctx.config().time_limit_s;
}

namespace {

void check_golden_label(const InputRecord& input, std::int64_t top1) {
  if (top1 == input.golden_label) return;
  throw InputError(
      fmt::format("input {} (sample {}) now classifies as {} but the golden pass recorded {}: the "
                  "model or dataset changed since the campaign started",
                  input.index, input.dataset_index, top1, input.golden_label));
}

}  // namespace

void announce_groups(const CampaignContext& ctx, const TrialInputs& inputs,
                     std::span<const TrialGroup> groups) {
  for (const TrialGroup& g : groups) {
    ctx.golden_cache().expect(inputs.inputs[inputs.eligible.at(g.eligible)].index, 1);
  }
}

void TrialWorker::use_golden(const InputRecord& input, bool deferred) {
  golden_input_ = -1;
  golden_.reset();
  golden_ = ctx_.golden_cache().get(input.index, [&] {
    std::vector<Tensor> in;
    in.push_back(ctx_.input_tensor(input.dataset_index));
    GoldenRun run = ctx_.injector().golden(std::move(in), ctx_.golden_cache().take_spare());
    if (!deferred) check_golden_label(input, run.top1.at(0));
    return run;
  });
  golden_input_ = input.index;
}

void TrialWorker::run_group(const TrialGroup& group, std::vector<TrialRecord>& out,
                            const std::function<bool()>& stop) {
  const std::size_t position = inputs_.eligible.at(group.eligible);
  const bool deferred = inputs_.is_deferred(position);
  // A deferred input's record: its ground truth now, its golden label from the run below.
  InputRecord input = deferred ? input_record(ctx_, inputs_.inputs[position].index,
                                              inputs_.inputs[position].dataset_index)
                               : inputs_.inputs[position];
  if (stream_ && options_.strategy == Strategy::kCone && group.ids.size() <= kMaxStreamed &&
      input.index != golden_input_ && !stop() && ctx_.golden_cache().use_streamed(input.index)) {
    run_streamed(group, input, deferred, out);
    if (deferred) new_inputs_.push_back(input);
    return;
  }
  // One use of the input's run per group: the cache keeps it while groups of it are to come.
  if (input.index == golden_input_) {
    ctx_.golden_cache().count_use(input.index);
  } else {
    use_golden(input, deferred);
  }
  if (deferred) {
    set_golden_label(input, golden_->top1.at(0));
    new_inputs_.push_back(input);
  }
  if (group.ids.size() > 1 && run_batched(group, input, out, stop)) return;
  for (const std::int64_t id : group.ids) {
    if (stop()) return;
    out.push_back(run_on(id, input));
  }
}

bool TrialWorker::run_batched(const TrialGroup& group, const InputRecord& input,
                              std::vector<TrialRecord>& out, const std::function<bool()>& stop) {
  const BatchedInjector* batched = ctx_.batched();
  if (batched == nullptr || choice_ == BatchChoice::kOneAtATime) return false;
  const std::size_t b = static_cast<std::size_t>(batched->batch());
  // batch: auto decides on a group large enough to time both ways; smaller ones wait.
  if (choice_ == BatchChoice::kUndecided && group.ids.size() < kCalibrationPasses * 2 * b) {
    return false;
  }
  if (batched_input_ != input.index) {
    batched_golden_.reset();
    batched_input_ = -1;
    batched_golden_ = ctx_.batched_golden(*golden_);
    if (!batched_golden_) return false;
    batched_input_ = input.index;
  }
  const Graph& g = ctx_.session().graph();
  std::vector<Pending> pending;
  pending.reserve(group.ids.size());
  for (const std::int64_t id : group.ids) {
    std::vector<Fault> faults =
        ctx_.sampler().sample(ctx_.config().seed, static_cast<std::uint64_t>(id));
    bool rows = true;
    int first = static_cast<int>(g.nodes.size());
    for (const Fault& f : faults) {
      rows &= f.site.kind != SiteKind::kWeight && f.model.kind != FaultModelKind::kTensorCallback;
      if (rows) first = std::min(first, g.values[static_cast<std::size_t>(f.site.value)].producer);
    }
    if (rows) {
      pending.push_back({id, std::move(faults), first});
    } else {  // a weight is shared by every row of a pass
      if (stop()) return true;
      out.push_back(run_on(id, input, faults));
    }
  }
  // Trials whose cones start near each other share most of a pass's nodes.
  std::stable_sort(pending.begin(), pending.end(),
                   [](const Pending& a, const Pending& b) { return a.first_node < b.first_node; });
  if (choice_ == BatchChoice::kUndecided && pending.size() >= kCalibrationPasses * 2 * b) {
    // kCalibrationPasses runs of 2b neighbours, spread over the sorted list (faults early and
    // late in the model cost differently): of each run the even ones go through a pass and the
    // odd ones alone, so both samples cost what the same faults cost.
    double batched_s = 0.0, alone_s = 0.0;
    std::vector<Pending> even, odd, rest;
    std::size_t next = 0;  // pending[next..] not yet taken
    for (std::size_t c = 0; c < kCalibrationPasses; ++c) {
      const std::size_t mid = (2 * c + 1) * pending.size() / (2 * kCalibrationPasses);
      const std::size_t start = std::clamp(mid >= b ? mid - b : 0, next, pending.size() - 2 * b);
      for (; next < start; ++next) rest.push_back(std::move(pending[next]));
      even.clear();
      odd.clear();
      for (std::size_t j = 0; j < 2 * b; ++j, ++next) {
        (j % 2 == 0 ? even : odd).push_back(std::move(pending[next]));
      }
      if (stop()) return true;
      batched_s += run_pass(even, input, out);
      for (const Pending& p : odd) {
        if (stop()) return true;
        out.push_back(run_on(p.id, input, p.faults));
        alone_s += out.back().duration_s;
      }
    }
    for (; next < pending.size(); ++next) rest.push_back(std::move(pending[next]));
    pending = std::move(rest);
    choice_ = batched_s < kAutoMargin * alone_s ? BatchChoice::kBatched : BatchChoice::kOneAtATime;
  }
  if (choice_ == BatchChoice::kOneAtATime) {  // `batch` copies of every activation: not kept
    batched_golden_.reset();
    batched_input_ = -1;
  }
  std::size_t k = 0;
  for (; k < pending.size(); k += b) {
    if (stop()) return true;
    const std::size_t n = std::min(b, pending.size() - k);
    if (choice_ == BatchChoice::kBatched) {
      run_pass(std::span(pending).subspan(k, n), input, out);
    } else {
      for (std::size_t j = 0; j < n; ++j) {
        out.push_back(run_on(pending[k + j].id, input, pending[k + j].faults));
      }
    }
  }
  return true;
}

double TrialWorker::run_pass(std::span<const Pending> trials, const InputRecord& input,
                             std::vector<TrialRecord>& out) {
  const BatchedInjector& batched = *ctx_.batched();
  pass_.clear();
  for (const Pending& p : trials) pass_.push_back(p.faults);
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<std::vector<TrialResult>> results =
      batched.run_trials(*golden_, *batched_golden_, pass_, options_.keep_outputs, batched_ws_);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // A kernel error (owned by no row) or a pass past the time limit: its trials again one at a
  // time, where each gets its own outcome and limit.
  if (!results || (options_.time_limit_s > 0.0 && dt > options_.time_limit_s)) {
    double total = dt;
    for (const Pending& p : trials) {
      out.push_back(run_on(p.id, input, p.faults));
      total += out.back().duration_s;
    }
    return total;
  }
  for (std::size_t j = 0; j < trials.size(); ++j) {
    out.push_back(ctx_.make_record(trials[j].id, input, (*results)[j],
                                   dt / static_cast<double>(trials.size())));
  }
  ctx_.count_batched(trials.size());
  return dt;
}

void TrialWorker::run_streamed(const TrialGroup& group, InputRecord& input, bool deferred,
                               std::vector<TrialRecord>& out) {
  std::vector<Tensor> in;
  in.push_back(ctx_.input_tensor(input.dataset_index));
  InputRecord labelled = input;
  stream(group.ids, std::move(in), labelled, out);
  if (!deferred) check_golden_label(input, labelled.golden_label);
  input = labelled;
}

InputRecord TrialWorker::golden_record_with_trials(std::int64_t position,
                                                   std::int64_t dataset_index,
                                                   std::span<const std::int64_t> ids,
                                                   std::vector<TrialRecord>& out) {
  std::vector<Tensor> in;
  InputRecord rec = unlabelled_record(ctx_, position, dataset_index, in);
  ctx_.golden_cache().use_streamed(position);
  stream(ids, std::move(in), rec, out);
  return rec;
}

void TrialWorker::stream(std::span<const std::int64_t> ids, std::vector<Tensor> in,
                         InputRecord& input, std::vector<TrialRecord>& out) {
  std::vector<std::vector<Fault>> trials;
  trials.reserve(ids.size());
  for (const std::int64_t id : ids) {
    trials.push_back(ctx_.sampler().sample(ctx_.config().seed, static_cast<std::uint64_t>(id)));
  }
  if (workspaces_.size() < trials.size()) workspaces_.resize(trials.size());
  std::vector<std::int64_t> top1;
  const std::vector<TrialResult> results =
      ctx_.injector().run_streamed(std::move(in), trials, options_, workspaces_, top1);
  set_golden_label(input, top1.at(0));
  // Each trial's time is that of its faults and cone, as for trials on a kept golden run.
  for (std::size_t k = 0; k < results.size(); ++k) {
    out.push_back(ctx_.make_record(ids[k], input, results[k], results[k].streamed_s));
  }
}

TrialRecord TrialWorker::run_on(std::int64_t id, const InputRecord& input) {
  return run_on(id, input,
                ctx_.sampler().sample(ctx_.config().seed, static_cast<std::uint64_t>(id)));
}

TrialRecord TrialWorker::run_on(std::int64_t id, const InputRecord& input,
                                const std::vector<Fault>& faults) {
  const auto t0 = std::chrono::steady_clock::now();
  const TrialResult r = ctx_.injector().run_trial(*golden_, faults, options_, workspaces_[0]);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ctx_.make_record(id, input, r, dt);
}

}  // namespace dnnfi
