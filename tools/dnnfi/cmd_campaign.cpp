// dnnfi campaign CONFIG.yaml [flags]: runs or resumes a fault-injection campaign and prints its
// summary. Flags override the file; a TensorFI2 config (Target/Mode/Type/Amount/Bit) takes the
// model and dataset from flags, and preprocessing from the model (its metadata or sidecar file)
// unless the config or flags set it.
#include <fmt/core.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>

#include "campaign/campaign.h"
#include "campaign/results_db.h"
#include "campaign/stats.h"
#include "commands.h"
#include "core/error.h"
#include "core/log.h"
#include "report/summary.h"
#ifdef DNNFI_HAVE_MPI
#include "mpi/mpi_campaign.h"
#endif

namespace dnnfi::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_interrupt(int) { g_stop.store(true); }

struct CampaignFlags {
  std::string config;
  std::string model;
  std::string dataset_format;
  std::vector<std::string> dataset;
  std::string labels;
  std::int64_t samples = -1;
  bool only_correct = false;
  std::int64_t trials = -1;
  double target_halfwidth = -1.0;
  std::int64_t seed = -1;
  int threads = 0;
  std::int64_t golden_cache_mb = -2;
  std::string batch;
  std::string activation_layout;
  std::string strategy;
  std::string output;
  std::string shard;
  bool resume = false;
  double progress_interval = -1.0;
  bool quiet = false;
  double mpi_timeout = 30.0;
  // Preprocessing (override the config's preprocess: keys, the model's sidecar and metadata).
  std::string scale, mean, std, layout, resize, center_crop;
  bool grayscale = false, bgr = false;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1) {
    out.push_back(s.substr(start, comma - start));
  }
  out.push_back(s.substr(start));
  return out;
}

// The preprocessing flags given, as the keys a config's preprocess: section would hold.
PreprocessSettings preprocess_flags(const CampaignFlags& f) {
  std::vector<std::pair<std::string, std::vector<std::string>>> kv;
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) kv.emplace_back(key, split_commas(value));
  };
  add("scale", f.scale);
  add("mean", f.mean);
  add("std", f.std);
  add("layout", f.layout);
  add("resize", f.resize);
  add("center_crop", f.center_crop);
  if (f.grayscale) kv.push_back({"grayscale", {"true"}});
  if (f.bgr) kv.push_back({"bgr", {"true"}});
  return parse_preprocess_flags(kv);
}

std::string format_duration(double s) {
  if (!(s >= 0.0) || s > 1e7) return "?";
  const auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

// One progress line: on a terminal redrawn in place with a bar, otherwise a plain line every
// few seconds (CI logs, pipes).
class ProgressPrinter {
 public:
  ProgressPrinter(bool tty, double interval) : tty_(tty), interval_(interval) {}

  void operator()(const CampaignProgress& p) {
    const double rate = p.elapsed_s > 0.0 ? static_cast<double>(p.new_done) / p.elapsed_s : 0.0;
    const double eta = rate > 0.0 ? static_cast<double>(p.total - p.done) / rate : -1.0;
    std::string line;
    if (p.phase == "golden") {
      line = fmt::format("golden pass {}/{} inputs, {:.1f} inputs/s, ETA {}", p.done, p.total, rate,
                         format_duration(eta));
    } else {
      const Proportion sdc = wilson(p.sdc, p.done);
      line = fmt::format("{}/{} trials, {:.1f} trials/s, ETA {}, SDC {:.2f}% [{:.2f}, {:.2f}]",
                         p.done, p.total, rate, format_duration(eta), 100.0 * sdc.p, 100.0 * sdc.lo,
                         100.0 * sdc.hi);
    }
    if (tty_) {
      const int width = 24;
      const double frac =
          p.total > 0 ? static_cast<double>(p.done) / static_cast<double>(p.total) : 0.0;
      const int fill = static_cast<int>(frac * width + 0.5);
      std::fprintf(stderr, "\r[%s%s] %3d%% %s\033[K",
                   std::string(static_cast<std::size_t>(fill), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - fill), '.').c_str(),
                   static_cast<int>(frac * 100.0), line.c_str());
      dirty_ = true;
    } else if (p.elapsed_s - last_ >= interval_ || p.done == p.total) {
      if (p.done == last_done_ && p.phase == last_phase_) return;
      std::fprintf(stderr, "%s\n", line.c_str());
      last_ = p.elapsed_s;
      last_done_ = p.done;
      last_phase_ = p.phase;
    }
    std::fflush(stderr);
  }

  void finish() {
    if (tty_ && dirty_) std::fprintf(stderr, "\n");
    dirty_ = false;
  }

 private:
  bool tty_;
  double interval_;
  double last_ = 0.0;  // first line after one interval: quick runs and early errors stay quiet
  std::int64_t last_done_ = -1;
  std::string last_phase_;
  bool dirty_ = false;
};

// The campaign the config file and flags describe (flags win), validated.
CampaignConfig config_from_flags(const CampaignFlags& f) {
  CampaignConfig c;
  if (!f.config.empty()) c = load_campaign_config(f.config);
  if (!f.model.empty()) c.model = f.model;
  if (!f.dataset.empty() || !f.dataset_format.empty()) {
    if (f.dataset.empty() || f.dataset_format.empty()) {
      throw InputError("--dataset and --dataset-format go together");
    }
    c.dataset.format = parse_dataset_format(f.dataset_format);
    c.dataset.paths = f.dataset;
    c.has_dataset = true;
  }
  if (!f.labels.empty()) c.dataset.labels = f.labels;
  if (f.samples >= 0) c.samples = f.samples;
  if (f.only_correct) c.only_correct = true;
  if (f.trials >= 0) c.trials = f.trials;
  if (f.target_halfwidth >= 0.0) c.target_halfwidth = f.target_halfwidth;
  if (f.seed >= 0) c.seed = static_cast<std::uint64_t>(f.seed);
  if (f.threads > 0) c.threads = f.threads;
  if (f.golden_cache_mb >= -1) c.golden_cache_mb = f.golden_cache_mb;
  if (!f.strategy.empty()) c.strategy = parse_strategy(f.strategy);
  if (!f.activation_layout.empty()) {
    try {
      c.channels_last = parse_activation_layout(f.activation_layout);
    } catch (const InputError& e) {
      throw InputError(std::string("--activation-layout: ") + e.what());
    }
  }
  if (!f.batch.empty()) {
    try {
      parse_batch(f.batch, c);
    } catch (const InputError& e) {
      throw InputError(std::string("--batch: ") + e.what());
    }
  }
  if (!f.output.empty()) c.output = f.output;
  if (!f.shard.empty()) parse_shard(f.shard, c.shard_index, c.shard_count);
  c.preprocess.overlay(preprocess_flags(f));
  if (c.source.empty()) c.source = "command line";
  validate_campaign_config(c);
  return c;
}

int campaign_command(const CampaignFlags& f) {
#ifdef DNNFI_HAVE_MPI
  // Under mpirun, ranks other than 0 serve rank 0's chunks (it sends them the resolved config);
  // rank 0 runs the campaign with them. The coordinator exists before anything can fail, so
  // that an error on rank 0 still stops the workers (its destructor).
  MpiWorld* mpi = mpi_world();
  if (mpi != nullptr && mpi->rank() != 0) {
    set_log_sink([](LogLevel, const std::string&) {});  // rank 0 reports for the job
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    // This rank's own command line names the same campaign as rank 0's (the usual case): load
    // it now, as rank 0 resolves it, instead of after rank 0's setup arrives.
    const int status = serve_campaign(*mpi, f.mpi_timeout, &g_stop, [&f] {
      CampaignConfig own = config_from_flags(f);
      absolutize_paths(own);
      validate_campaign_config(own);
      return own;
    });
    set_log_sink(nullptr);
    return status;
  }
  std::unique_ptr<MpiCoordinator> coordinator;
  if (mpi != nullptr) coordinator = std::make_unique<MpiCoordinator>(*mpi, f.mpi_timeout);
  CampaignExecutor* executor = coordinator.get();
#else
  CampaignExecutor* executor = nullptr;
#endif
  const CampaignConfig c = config_from_flags(f);

  const bool tty = isatty(STDERR_FILENO) != 0;
  ProgressPrinter printer(tty, f.progress_interval > 0.0 ? f.progress_interval : 5.0);
  CampaignRunOptions opt;
  opt.resume = f.resume;
  opt.stop = &g_stop;
  opt.progress_interval_s =
      tty ? 0.25 : std::min(1.0, f.progress_interval > 0.0 ? f.progress_interval : 5.0);
  if (!f.quiet) opt.progress = [&printer](const CampaignProgress& p) { printer(p); };
  // Warnings start on a line of their own, not after a progress bar drawn in place.
  set_log_sink([&printer](LogLevel, const std::string& message) {
    printer.finish();
    std::fprintf(stderr, "dnnfi: warning: %s\n", message.c_str());
    std::fflush(stderr);
  });
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  CampaignRunResult r;
  try {
    r = run_campaign(c, opt, executor);
  } catch (...) {
    set_log_sink(nullptr);
    printer.finish();
    throw;
  }
  set_log_sink(nullptr);
  printer.finish();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
#ifdef DNNFI_HAVE_MPI
  if (coordinator) coordinator->finish(false);
#endif
  if (!r.complete) {
    std::fprintf(stderr,
                 "dnnfi: interrupted with %lld trials committed in %s; run the same command with "
                 "--resume to finish\n",
                 static_cast<long long>(r.trials_done), r.db_path.c_str());
    return 130;
  }
  const ResultsDb db = ResultsDb::open(r.db_path, true);
  fmt::print("{}", format_summary(summarize(db)));
  fmt::print(
      "\nresults: {} ({} trials; {} run now in {:.1f} s wall clock, golden pass included: "
      "{:.1f} trials/s on {} threads{})\n",
      r.db_path, r.trials_done, r.new_trials, r.seconds,
      r.seconds > 0.0 ? static_cast<double>(r.new_trials) / r.seconds : 0.0, c.threads,
      r.reached_target ? "; stopped at the target interval half-width" : "");
  if (const std::int64_t n = r.new_trials - r.golden_pass_trials; n > 0) {
    fmt::print("trial phase {:.2f} s: {:.1f} trials/s (model load and golden pass excluded)\n",
               r.trial_phase_seconds,
               r.trial_phase_seconds > 0.0 ? static_cast<double>(n) / r.trial_phase_seconds : 0.0);
  }
  if (r.golden.misses > 0) {
    fmt::print(
        "golden pass {:.2f} s over {} inputs{}; trial golden runs: {} computed ({} streamed with "
        "their trials), {} reused from the cache (peak {:.1f} of {:.0f} MiB; {} written into "
        "released runs' buffers)\n",
        r.golden_pass_seconds, r.golden_pass_inputs,
        r.golden_pass_trials > 0
            ? fmt::format(" ({} trials streamed in its runs)", r.golden_pass_trials)
            : std::string(),
        r.golden.misses, r.golden.streamed, r.golden.hits,
        static_cast<double>(r.golden.peak_bytes) / 1048576.0,
        static_cast<double>(r.golden_budget_bytes) / 1048576.0, r.golden.recycled);
  }
  if (c.batch > 1) {
    fmt::print("batched passes ({}{}): {} of the {} trials run now\n", c.batch_auto ? "auto, " : "",
               c.batch, r.batched_trials, r.new_trials);
  }
#ifdef DNNFI_HAVE_MPI
  if (coordinator) {
    const MpiCampaignStats& st = coordinator->stats();
    fmt::print(
        "MPI: {} ranks x {} threads; {} of {} trials run by other ranks ({:.0f} bytes per trial "
        "received); {} rank{} lost, {} chunk{} reissued; rank 0 spent {:.3f} s of CPU receiving "
        "and committing ({:.0f} trials/s)\n",
        st.ranks, c.threads, st.remote_trials, st.trials_committed,
        st.remote_trials > 0
            ? static_cast<double>(st.bytes_received) / static_cast<double>(st.remote_trials)
            : 0.0,
        st.ranks_lost, st.ranks_lost == 1 ? "" : "s", st.chunks_reissued,
        st.chunks_reissued == 1 ? "" : "s", st.commit_s,
        st.commit_s > 0.0 ? static_cast<double>(st.trials_committed) / st.commit_s : 0.0);
  }
#endif
  return 0;
}

}  // namespace

Command add_campaign(CLI::App& app) {
  auto* cmd = app.add_subcommand("campaign", "Run (or --resume) a fault-injection campaign");
  auto f = std::make_shared<CampaignFlags>();
  cmd->add_option("config", f->config,
                  "Campaign config (.yaml): dnnfi keys or a TensorFI2 fault config");
  cmd->add_option("--model,-m", f->model, "Model file (overrides model:)");
  cmd->add_option("--dataset-format", f->dataset_format,
                  "npy, npz, idx, cifar10, cifar100, images, gtsrb (with --dataset)");
  cmd->add_option("--dataset,-d", f->dataset, "Dataset file(s) or folder (overrides dataset:)");
  cmd->add_option("--labels", f->labels, "Labels file (npy, idx)");
  cmd->add_option("--samples", f->samples, "Random subset of this many samples (0: all)");
  cmd->add_flag("--only-correct", f->only_correct, "Inject only into correctly classified inputs");
  cmd->add_option("--trials,-n", f->trials,
                  "Number of trials (the maximum with --target-halfwidth)");
  cmd->add_option("--target-halfwidth", f->target_halfwidth,
                  "Stop once the SDC rate's 95% interval half-width is at most this (e.g. 0.005)");
  cmd->add_option("--seed", f->seed, "Seed: trial i depends only on (seed, i)");
  cmd->add_option("--threads,-t", f->threads, "Worker threads");
  cmd->add_option("--golden-cache-mb", f->golden_cache_mb,
                  "MiB of golden runs kept between trials (default: a quarter of memory, at most "
                  "4096; 0 keeps none)");
  cmd->add_option("--strategy", f->strategy, "cone, superlayer or full");
  cmd->add_option("--activation-layout", f->activation_layout,
                  "Activation layout of the fault-injection session: nchw (default) or nhwc "
                  "(channels-last: no layout reorders around convolutions; values may differ "
                  "from nchw's in the last bits)");
  cmd->add_option("--batch", f->batch,
                  "Trials on one input per batched pass: 1..64, or auto (each thread times "
                  "passes of 8 against lone trials and keeps the faster); same results");
  cmd->add_option("--output,-o", f->output, "Output directory (results.sqlite)");
  cmd->add_option("--shard", f->shard, "Run the deterministic slice k/N (0-based k)");
  cmd->add_flag("--resume", f->resume, "Continue the campaign in the output directory");
  cmd->add_option("--progress-interval", f->progress_interval,
                  "Seconds between progress lines when not on a terminal (default 5)");
  cmd->add_flag("--quiet,-q", f->quiet, "No progress output");
  cmd->add_option("--mpi-timeout", f->mpi_timeout,
                  "Under mpirun: seconds of silence after which a rank is given up and its "
                  "work handed to the others (default 30)")
      ->check(CLI::Range(0.5, 86400.0));
  const char* pre = "Preprocessing (overrides the config, the model's sidecar and metadata)";
  cmd->add_option("--scale", f->scale,
                  "Multiply every input value first (1/255: 0.00392156862745098)")
      ->type_name("FLOAT")
      ->group(pre);
  cmd->add_option("--mean", f->mean, "Subtract after scaling: one value or one per channel")
      ->type_name("M[,M,M]")
      ->group(pre);
  cmd->add_option("--std", f->std, "Then divide: one value or one per channel")
      ->type_name("S[,S,S]")
      ->group(pre);
  cmd->add_option("--layout", f->layout, "Model input layout")->type_name("nchw|nhwc")->group(pre);
  cmd->add_flag("--grayscale", f->grayscale, "Convert images to one channel")->group(pre);
  cmd->add_flag("--bgr", f->bgr, "Reorder RGB images to BGR")->group(pre);
  cmd->add_option("--resize", f->resize, "Resize images (S: the shorter side to S)")
      ->type_name("H[,W]")
      ->group(pre);
  cmd->add_option("--center-crop", f->center_crop, "Crop the centre")
      ->type_name("H[,W]")
      ->group(pre);
  return [f]() { return campaign_command(*f); };
}

}  // namespace dnnfi::cli
