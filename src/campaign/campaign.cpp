#include "campaign/campaign.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "campaign/input_checks.h"
#include "campaign/stats.h"
#include "campaign/trial_worker.h"
#include "core/error.h"
#include "core/log.h"
#include "exec/model_file.h"

namespace dnnfi {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string machine_description() {
  std::string cpu;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  return fmt::format("{} {} {} {}; {}; {} cores", u.nodename, u.sysname, u.release, u.machine,
                     cpu.empty() ? "unknown cpu" : cpu, std::thread::hardware_concurrency());
}

// An exclusive lock on the output directory for the life of the campaign; the kernel releases it
// when the process dies, so a kill -9 never leaves a stale lock.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir) {
    const std::string path = (fs::path(dir) / ".dnnfi.lock").string();
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0) throw InputError(dir + ": output directory is not writable");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw InputError(dir + ": another dnnfi process is running a campaign in this directory");
    }
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

std::vector<std::int64_t> unravel(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> coords(shape.size(), 0);
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] > 0) {
      coords[d] = flat % shape[d];
      flat /= shape[d];
    }
  }
  return coords;
}

// Mean and std have one value or one per channel of the model input; checked here, before any
// sample is read, so that the error names the file (or flag) the values came from.
void check_preprocess_channels(const PreprocessSettings& set, const PreprocessConfig& p,
                               const Shape& input_shape) {
  if (input_shape.size() < 2) return;
  const std::int64_t channels = p.nhwc ? input_shape.back() : input_shape[1];
  if (channels < 1) return;
  auto check = [&](const std::vector<double>& v, const char* key) {
    if (v.size() <= 1 || static_cast<std::int64_t>(v.size()) == channels) return;
    const auto it = set.origin.find(key);
    throw InputError(
        fmt::format("{}: {}: {} values but the model input {} has {} channel{} (give 1 or {})",
                    it != set.origin.end() ? it->second : "preprocessing", key, v.size(),
                    shape_to_string(input_shape), channels, channels == 1 ? "" : "s", channels));
  };
  check(p.mean, "mean");
  check(p.std, "std");
}

}  // namespace

std::string results_db_path(const std::string& dir) {
  return (fs::path(dir) / "results.sqlite").string();
}

CampaignContext::CampaignContext(const CampaignConfig& config) : config_(config) {
  validate_campaign_config(config_);
  Graph graph = load_model(config_.model);
  if (config_.model_preprocess) {
    PreprocessSettings p = model_preprocess(graph.metadata, config_.model);
    p.overlay(config_.preprocess);
    config_.preprocess = std::move(p);
  }
  preprocess_ = config_.preprocess.resolve();
  if (graph.inputs.size() != 1) {
    throw InputError(config_.model + ": campaigns need a model with one input, this one has " +
                     std::to_string(graph.inputs.size()));
  }
  SessionOptions opts;
  opts.threads = 1;  // parallelism comes from trials on several threads
  opts.channels_last = config_.channels_last;
  session_ = Session::create(std::move(graph), opts);
  const Graph& g = session_->graph();
  const TensorInfo& in = session_->info(g.inputs[0]);
  if (in.dtype != DType::kFloat32) {
    throw InputError(config_.model + ": input '" + g.values[g.inputs[0]].name +
                     "' is not float32; campaigns feed float32 images");
  }
  input_shape_ = in.shape;
  check_preprocess_channels(config_.preprocess, preprocess_, input_shape_);
  const TensorInfo& out = session_->info(g.outputs[0]);
  if (out.shape.empty() || out.shape.back() < 1) {
    throw InputError(config_.model + ": output '" + g.values[g.outputs[0]].name +
                     "' has no class axis");
  }
  num_classes_ = out.shape.back();
  injector_ = std::make_unique<Injector>(session_);
  const std::string where = config_.source.empty() ? config_.model : config_.source;
  try {
    sampler_ = std::make_unique<FaultSampler>(*session_, config_.faults);
  } catch (const InputError& e) {
    throw InputError(where + ": faults: " + e.what());
  }
  const std::size_t cache_bytes = config_.golden_cache_mb < 0
                                      ? default_golden_cache_bytes()
                                      : static_cast<std::size_t>(config_.golden_cache_mb) << 20;
  // One spare store per worker thread: a thread releases its input's run, then makes the next.
  golden_cache_ = std::make_unique<GoldenCache>(
      cache_bytes, [session = session_](const GoldenRun& run) { return run.bytes(*session); },
      static_cast<std::size_t>(std::max(1, config_.threads)));
  if (config_.batch > 1) {
    try {
      batched_ = std::make_unique<BatchedInjector>(session_, config_.batch);
      batch_ok_.store(true, std::memory_order_release);
    } catch (const InputError& e) {
      log_warning(fmt::format("batch {}: {}; trials run one at a time", config_.batch, e.what()));
    }
  }
  dataset_ = open_dataset(config_.dataset);
  if (dataset_->size() < 1) throw InputError(dataset_->describe() + ": no samples");
  if (config_.only_correct && dataset_->get(0).label < 0) {
    throw InputError(
        fmt::format("{}: dataset.only_correct needs labels, and {} has none "
                    "(dataset.labels names the labels file of npy and idx data)",
                    where, dataset_->describe()));
  }
  if (config_.samples > dataset_->size()) {
    throw InputError(fmt::format("{}: dataset.samples is {} but {} has only {} samples", where,
                                 config_.samples, dataset_->describe(), dataset_->size()));
  }
}

std::optional<GoldenRun> CampaignContext::batched_golden(const GoldenRun& single) const {
  if (batched() == nullptr) return std::nullopt;
  {
    std::lock_guard<std::mutex> lock(batch_mu_);
    if (!batch_checked_) {
      batch_checked_ = true;
      try {
        return batched_->golden(single);
      } catch (const InputError& e) {
        batch_ok_.store(false, std::memory_order_release);
        log_warning(fmt::format("batch {}: {}; trials run one at a time", config_.batch, e.what()));
        return std::nullopt;
      }
    }
  }
  if (batched() == nullptr) return std::nullopt;
  return batched_->replicate(single);
}

std::vector<std::int64_t> CampaignContext::select_samples() const {
  const std::int64_t n = dataset_->size();
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) all[static_cast<std::size_t>(i)] = i;
  if (config_.samples == 0 || config_.samples >= n) return all;
  // Partial Fisher-Yates on a stream of its own: the subset depends only on the seed.
  std::mt19937_64 gen(trial_stream_seed(config_.seed, 0, 0x5A3D1E));
  const auto k = static_cast<std::size_t>(config_.samples);
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t j = i + uniform_below(gen, all.size() - i);
    std::swap(all[i], all[j]);
  }
  all.resize(k);
  std::sort(all.begin(), all.end());
  return all;
}

Tensor CampaignContext::input_tensor(std::int64_t dataset_index) const {
  const RawSample s = dataset_->get(dataset_index);
  return preprocess_sample(s, preprocess_, input_shape_,
                           fmt::format("{} sample {}", dataset_->describe(), dataset_index));
}

std::size_t CampaignContext::trial_input(std::int64_t trial, std::size_t eligible) const {
  const auto group = static_cast<std::uint64_t>(trial / config_.trials_per_input);
  if (config_.sequential_inputs) return static_cast<std::size_t>(group % eligible);
  std::mt19937_64 gen(trial_stream_seed(config_.seed, group, 2));
  return static_cast<std::size_t>(uniform_below(gen, eligible));
}

TrialRecord CampaignContext::make_record(std::int64_t trial, const InputRecord& input,
                                         const TrialResult& r, double duration_s) const {
  const Graph& g = session_->graph();
  TrialRecord rec;
  rec.id = trial;
  rec.input_index = input.index;
  rec.label = input.label;
  rec.golden_label = input.golden_label;
  rec.outcome = outcome_name(r.outcome);
  rec.error = r.error;
  const bool has_label =
      r.outcome != Outcome::kDUE && r.outcome != Outcome::kHang && !r.faulty_top1.empty();
  rec.faulty_label = has_label ? r.faulty_top1[0] : -1;
  rec.golden_in_top5 = has_label && r.golden_in_top5;
  rec.nodes_computed = static_cast<std::int64_t>(r.nodes_computed);
  rec.duration_s = duration_s;
  for (const AppliedFault& a : r.applied) {
    FaultRecord f;
    const FaultSite& site = a.fault.site;
    f.ordinal = static_cast<int>(a.index);
    f.site_kind = site_kind_name(site.kind);
    const Value& val = g.values[static_cast<std::size_t>(site.value)];
    f.value = val.name;
    if (site.node >= 0) {
      const Node& node = g.nodes[static_cast<std::size_t>(site.node)];
      f.node = node.name;
      f.op_type = node.op_type;
    } else if (!val.consumers.empty()) {
      f.op_type = g.nodes[static_cast<std::size_t>(val.consumers[0])].op_type;
    }
    f.flat_index = site.flat_index;
    f.coords = unravel(site.flat_index, session_->info(site.value).shape);
    f.model = fault_model_kind_name(a.fault.model.kind);
    f.bits = a.fault.model.bits;
    f.dtype = std::string(dtype_name(a.dtype));
    f.bits_before = a.bits_before;
    f.bits_after = a.bits_after;
    f.value_before = a.value_before;
    f.value_after = a.value_after;
    rec.faults.push_back(std::move(f));
  }
  return rec;
}

namespace {

// Runs the campaign's work on threads of this process.
class ThreadExecutor final : public CampaignExecutor {
 public:
  std::vector<InputRecord> golden_pass(const CampaignContext& ctx,
                                       const std::vector<std::int64_t>& samples,
                                       std::span<const std::int64_t> positions,
                                       const CampaignRunOptions& options,
                                       std::span<const std::vector<std::int64_t>> trials,
                                       std::vector<TrialRecord>& records) override;
  std::int64_t run_trials(const CampaignContext& ctx, const TrialInputs& inputs,
                          std::span<const std::int64_t> ids, ResultsDb& db,
                          const CampaignRunOptions& options, CampaignProgress& progress,
                          TimePoint t0) override;
  bool makes_input_records() const override { return true; }
};

// The golden pass: the inputs at `positions` once each, fault-free, on the configured threads.
std::vector<InputRecord> ThreadExecutor::golden_pass(
    const CampaignContext& ctx, const std::vector<std::int64_t>& samples,
    std::span<const std::int64_t> positions, const CampaignRunOptions& options,
    std::span<const std::vector<std::int64_t>> trials, std::vector<TrialRecord>& records) {
  std::vector<InputRecord> inputs(positions.size());
  const TrialInputs none;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> finished{0};
  std::exception_ptr error;
  std::mutex error_mu;
  std::atomic<bool> abort{false};
  // The calling thread reports progress until the last worker leaves, waking then, not at the
  // next report.
  std::condition_variable left_cv;
  int working = ctx.config().threads;  // guarded by error_mu
  auto leave = [&] {
    std::lock_guard<std::mutex> lock(error_mu);
    --working;
    left_cv.notify_all();
  };
  auto worker = [&] {
    try {
      std::optional<TrialWorker> streamer;
      std::vector<TrialRecord> done;
      while (!abort.load()) {
        const std::size_t k = next.fetch_add(1);
        if (k >= positions.size()) break;
        const std::int64_t position = positions[k];
        const auto i = static_cast<std::size_t>(position);
        if (i < trials.size() && !trials[i].empty()) {
          if (!streamer) streamer.emplace(ctx, none);
          inputs[k] = streamer->golden_record_with_trials(position, samples.at(i), trials[i], done);
        } else {
          inputs[k] = golden_record(ctx, position, samples.at(i));
        }
        finished.fetch_add(1);
      }
      std::lock_guard<std::mutex> lock(error_mu);
      for (auto& rec : done) records.push_back(std::move(rec));
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      abort.store(true);
    }
    leave();
  };
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < ctx.config().threads; ++t) pool.emplace_back(worker);
  const auto interval = std::chrono::duration<double>(options.progress_interval_s);
  while (options.progress) {
    {
      std::unique_lock<std::mutex> lock(error_mu);
      if (left_cv.wait_for(lock, interval, [&] { return working == 0; })) break;
    }
    CampaignProgress p;
    p.phase = "golden";
    p.done = p.new_done = static_cast<std::int64_t>(finished.load());
    p.total = static_cast<std::int64_t>(positions.size());
    p.elapsed_s = seconds_since(t0);
    options.progress(p);
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  return inputs;
}

struct TrialQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TrialRecord> ready;
  std::vector<InputRecord> ready_inputs;  // made by the trials' golden runs (deferred inputs)
  int workers_left = 0;
  std::exception_ptr error;
};

// Worker threads run groups of trials; the calling thread commits their records in
// transactions and reports progress.
std::int64_t ThreadExecutor::run_trials(const CampaignContext& ctx, const TrialInputs& inputs,
                                        std::span<const std::int64_t> ids, ResultsDb& db,
                                        const CampaignRunOptions& options,
                                        CampaignProgress& progress, TimePoint t0) {
  const CampaignConfig& cfg = ctx.config();
  TrialQueue q;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> abort{false};
  // Groups capped for load balance: one golden run serves a group.
  const std::vector<TrialGroup> groups =
      group_trials_by_input(ctx, ids, inputs.eligible.size(), max_group_trials(ctx.config()));
  announce_groups(ctx, inputs, groups);
  const std::function<bool()> stopped = [&] {
    return abort.load() || (options.stop != nullptr && options.stop->load());
  };
  auto worker = [&] {
    try {
      TrialWorker trials(ctx, inputs, options.stream_goldens);
      while (!stopped()) {
        const std::size_t g = next.fetch_add(1);
        if (g >= groups.size()) break;
        std::vector<TrialRecord> done;
        trials.run_group(groups[g], done, stopped);
        std::lock_guard<std::mutex> lock(q.mu);
        for (auto& rec : done) q.ready.push_back(std::move(rec));
        for (auto& rec : trials.take_new_inputs()) q.ready_inputs.push_back(rec);
        q.cv.notify_one();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(q.mu);
      if (!q.error) q.error = std::current_exception();
      abort.store(true);
    }
    std::lock_guard<std::mutex> lock(q.mu);
    --q.workers_left;
    q.cv.notify_one();
  };
  const int threads = std::max(1, std::min<int>(cfg.threads, static_cast<int>(groups.size())));
  q.workers_left = threads;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  std::int64_t committed = 0;
  std::exception_ptr commit_error;
  auto last_report = Clock::now();
  const auto interval = std::chrono::duration<double>(options.progress_interval_s);
  // Each deferred input's record is written once, before its trials.
  DeferredInputs deferred(inputs);
  for (;;) {
    std::vector<TrialRecord> batch;
    std::vector<InputRecord> made;
    bool finished = false;
    {
      std::unique_lock<std::mutex> lock(q.mu);
      // Commit often (a crash loses at most this much work), report at the progress interval.
      q.cv.wait_for(lock, std::min(interval, std::chrono::duration<double>(0.2)),
                    [&] { return q.workers_left == 0; });
      batch.swap(q.ready);
      made.swap(q.ready_inputs);
      finished = q.workers_left == 0;
    }
    const std::vector<InputRecord> fresh = deferred.fresh(made);
    if ((!batch.empty() || !fresh.empty()) && !commit_error) {
      try {
        if (!fresh.empty()) db.write_inputs(fresh);
        db.append_trials(batch);
        committed += static_cast<std::int64_t>(batch.size());
        progress.done += static_cast<std::int64_t>(batch.size());
        progress.new_done += static_cast<std::int64_t>(batch.size());
        for (const auto& r : batch) progress.sdc += r.outcome == "sdc" ? 1 : 0;
      } catch (...) {
        commit_error = std::current_exception();
        abort.store(true);
      }
    }
    if (options.progress && (finished || Clock::now() - last_report >= interval)) {
      progress.elapsed_s = seconds_since(t0);
      options.progress(progress);
      last_report = Clock::now();
    }
    if (finished) break;
  }
  for (auto& th : pool) th.join();
  if (commit_error) std::rethrow_exception(commit_error);
  if (q.error) std::rethrow_exception(q.error);
  return committed;
}

}  // namespace

CampaignRunResult run_campaign(const CampaignConfig& config_in, const CampaignRunOptions& options,
                               CampaignExecutor* executor) {
  ThreadExecutor threads;
  if (executor == nullptr) executor = &threads;
  const auto t_start = Clock::now();
  CampaignConfig config = config_in;
  absolutize_paths(config);
  validate_campaign_config(config);
  std::error_code ec;
  fs::create_directories(config.output, ec);
  if (ec || !fs::is_directory(config.output)) {
    throw InputError(config.output + ": cannot create the output directory (" + ec.message() + ")");
  }
  DirectoryLock lock(config.output);
  CampaignContext ctx(config);
  CampaignRunResult result;
  result.db_path = results_db_path(config.output);
  const std::string hash = campaign_config_hash(ctx.config());
  const std::string model_hash = sha256_file(config.model);

  std::optional<ResultsDb> db;
  if (fs::exists(result.db_path)) {
    if (!options.resume) {
      throw InputError(config.output +
                       " already holds a campaign (results.sqlite); pass --resume to continue it "
                       "or choose another output directory");
    }
    db.emplace(ResultsDb::open(result.db_path, false));
    const CampaignInfo info = db->campaign();
    if (info.config_hash != hash) {
      throw InputError(config.output +
                       " holds a different campaign (its configuration differs from this one)");
    }
    if (info.shard_index != config.shard_index || info.shard_count != config.shard_count) {
      throw InputError(fmt::format("{} holds shard {}/{}, not {}/{}", config.output,
                                   info.shard_index, info.shard_count, config.shard_index,
                                   config.shard_count));
    }
    if (info.model_sha256 != model_hash) {
      throw InputError(config.model + ": the model file changed since the campaign in " +
                       config.output + " started");
    }
  } else {
    CampaignInfo info;
    info.config_yaml = campaign_config_yaml(ctx.config());
    info.config_hash = hash;
    info.model_path = config.model;
    info.model_sha256 = model_hash;
    info.dnnfi_version = DNNFI_VERSION;
    info.machine = machine_description();
    info.seed = config.seed;
    info.trials_planned = config.target_halfwidth > 0.0 ? -1 : config.trials;
    info.shard_index = config.shard_index;
    info.shard_count = config.shard_count;
    info.started_at = utc_now();
    // Made under a temporary name and renamed once complete (closing checkpoints the WAL into
    // the file), so a kill during creation never leaves a half-made results.sqlite behind.
    const std::string tmp = result.db_path + ".creating";
    fs::remove(tmp, ec);
    fs::remove(tmp + "-wal", ec);
    fs::remove(tmp + "-shm", ec);
    { ResultsDb::create(tmp, info); }
    fs::rename(tmp, result.db_path, ec);
    if (ec) throw InputError(result.db_path + ": cannot create (" + ec.message() + ")");
    db.emplace(ResultsDb::open(result.db_path, false));
  }

  TrialInputs plan;
  std::vector<InputRecord>& inputs = plan.inputs;
  const std::vector<std::int64_t> samples = ctx.select_samples();
  // The records already in the database (all of them once the campaign is past its golden pass;
  // some when it was stopped while deferred inputs were being recorded).
  std::vector<std::uint8_t> have(samples.size(), 0);
  inputs.resize(samples.size());
  for (const InputRecord& rec : db->inputs()) {
    const auto i = static_cast<std::size_t>(rec.index);
    if (rec.index < 0 || i >= samples.size() || samples[i] != rec.dataset_index) {
      const std::string now = rec.index < 0 || i >= samples.size()
                                  ? fmt::format("selects only {} samples", samples.size())
                                  : fmt::format("selects sample {} there", samples[i]);
      throw InputError(
          fmt::format("{}: input {} is sample {}, but the campaign now {}: the "
                      "dataset or its sample selection changed since it started",
                      result.db_path, rec.index, rec.dataset_index, now));
    }
    inputs[i] = rec;
    have[i] = 1;
  }
  const std::vector<std::int64_t> done_ids = db->trial_ids();
  std::set<std::int64_t> done(done_ids.begin(), done_ids.end());
  // When every input is eligible and every trial will run, the trials' inputs are known before
  // any fault-free run, so each input's run is computed once: an input with few cone trials gets
  // them streamed in its golden-pass run; one with more skips the golden pass (deferred), and the
  // trial phase records it from the golden run its trials use.
  std::vector<std::vector<std::int64_t>> by_input;
  plan.deferred.assign(samples.size(), 0);
  if (!config.only_correct && config.target_halfwidth <= 0.0 && !samples.empty()) {
    by_input.resize(samples.size());
    for (std::int64_t id = config.shard_index; id < config.trials; id += config.shard_count) {
      if (!done.contains(id)) by_input[ctx.trial_input(id, samples.size())].push_back(id);
    }
    const bool stream = options.stream_goldens && config.strategy == Strategy::kCone;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      std::vector<std::int64_t>& ids = by_input[i];
      if (ids.empty() || (stream && ids.size() <= TrialWorker::kMaxStreamed)) continue;
      plan.deferred[i] = executor->makes_input_records() && !have[i];
      ids.clear();
    }
  }
  std::vector<std::int64_t> todo;  // the golden pass's positions
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (!have[i] && !plan.deferred[i]) todo.push_back(static_cast<std::int64_t>(i));
  }
  if (!todo.empty()) {  // new, or killed during the golden pass
    const auto t_golden = Clock::now();
    std::vector<TrialRecord> early;
    const std::vector<InputRecord> made =
        executor->golden_pass(ctx, samples, todo, options, by_input, early);
    for (const InputRecord& rec : made) {
      if (rec.index < 0 || static_cast<std::size_t>(rec.index) >= samples.size()) {
        throw Error(fmt::format("the golden pass returned input position {}", rec.index));
      }
      inputs[static_cast<std::size_t>(rec.index)] = rec;
    }
    db->write_inputs(made);
    std::sort(early.begin(), early.end(),
              [](const TrialRecord& a, const TrialRecord& b) { return a.id < b.id; });
    db->append_trials(early);
    for (const TrialRecord& t : early) done.insert(t.id);
    result.new_trials += static_cast<std::int64_t>(early.size());
    result.golden_pass_trials = static_cast<std::int64_t>(early.size());
    result.golden_pass_seconds = seconds_since(t_golden);
    result.golden_pass_inputs = static_cast<std::int64_t>(todo.size());
  }
  const bool any_deferred =
      std::find(plan.deferred.begin(), plan.deferred.end(), 1) != plan.deferred.end();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (plan.deferred[i]) {  // recorded by the trial phase
      inputs[i].index = static_cast<std::int64_t>(i);
      inputs[i].dataset_index = samples[i];
    }
  }
  if (!any_deferred) warn_if_inputs_look_wrong(ctx, inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!config.only_correct || inputs[i].correct) plan.eligible.push_back(i);
  }
  if (plan.eligible.empty()) {
    throw InputError(config.source +
                     ": dataset.only_correct leaves no input: the model classifies "
                     "none of the chosen samples correctly");
  }

  // The plan: ids 0..trials-1 of this shard, in rounds of `checkpoint` when a target half-width
  // may stop the campaign early (a stop decided only at round ends is the same in every run).
  CampaignProgress progress;
  progress.phase = "trials";
  progress.total =
      (config.trials - config.shard_index + config.shard_count - 1) / config.shard_count;
  progress.done = static_cast<std::int64_t>(done.size());
  progress.sdc = db->outcome_count("sdc");
  const std::int64_t round = config.target_halfwidth > 0.0 ? config.checkpoint : config.trials;
  const auto t_trials = Clock::now();
  bool interrupted = false;
  for (std::int64_t first = 0; first < config.trials && !interrupted; first += round) {
    const std::int64_t last = std::min(config.trials, first + round);
    std::vector<std::int64_t> pending;
    for (std::int64_t id = first; id < last; ++id) {
      if (id % config.shard_count == config.shard_index && !done.contains(id))
        pending.push_back(id);
    }
    if (!pending.empty()) {
      const std::int64_t n =
          executor->run_trials(ctx, plan, pending, *db, options, progress, t_trials);
      result.new_trials += n;
      if (n < static_cast<std::int64_t>(pending.size())) {  // stopped before the round ended
        interrupted = true;
        break;
      }
    }
    if (config.target_halfwidth > 0.0) {
      const Proportion sdc = wilson(progress.sdc, db->trial_count());
      if (sdc.half_width() <= config.target_halfwidth) {
        result.reached_target = true;
        break;
      }
    }
  }
  result.trial_phase_seconds = seconds_since(t_trials);
  if (any_deferred && !interrupted) warn_if_inputs_look_wrong(ctx, db->inputs());
  result.trials_done = db->trial_count();
  result.complete = !interrupted;
  result.seconds = seconds_since(t_start);
  result.golden = ctx.golden_cache().stats();
  result.batched_trials = ctx.batched_trials();
  result.golden_budget_bytes = ctx.golden_cache().budget_bytes();
  return result;
}

}  // namespace dnnfi
