// Campaigns end to end on the bundled model and Debian's Fashion-MNIST test set: golden pass
// accuracy against PyTorch's, determinism across threads and shards, kill -9 and resume, the
// directory lock, target-width stopping, replay and the CLI's bad-input handling.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "campaign/campaign.h"
#include "campaign/replay.h"
#include "campaign/stats.h"
#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "report/summary.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;

const std::string kModel = std::string(DNNFI_SOURCE_DIR) + "/models/fmnist_resnet.onnx";
const std::string kImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
const std::string kLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

CampaignConfig fmnist_config(const std::string& out, std::int64_t trials,
                             std::int64_t samples = 64) {
  return test::fmnist_campaign_config(out, trials, samples);
}

std::string config_file(const std::string& dir, const std::string& extra) {
  const std::string path = dir + "/c.yaml";
  std::ofstream(path) << "model: " << kModel << "\ndataset:\n  format: idx\n  path: " << kImages
                      << "\n  labels: " << kLabels
                      << "\n  samples: 64\npreprocess:\n  scale: 0.00392156862745098\n  mean: "
                         "[0.2860]\n  std: [0.3530]\nseed: 3\n"
                      << extra;
  return path;
}

std::vector<TrialRecord> trials_of(const std::string& dir) {
  return ResultsDb::open(results_db_path(dir), true).trials();
}

void expect_same_trials(const std::vector<TrialRecord>& a, const std::vector<TrialRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].same_result(b[i])) << "trial " << a[i].id << " vs " << b[i].id;
  }
}

// Starts `dnnfi campaign CFG -o OUT --quiet [--resume]` as a child process (output discarded).
pid_t spawn_campaign(const std::string& cfg, const std::string& out, bool resume) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(DNNFI_CLI_PATH, DNNFI_CLI_PATH, "campaign", cfg.c_str(), "-o", out.c_str(), "--quiet",
          resume ? "--resume" : static_cast<char*>(nullptr), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// PyTorch measured 91.33% (9133 of 10000) on the Fashion-MNIST test set when the model was
// trained (scripts/train_default_model.py, models/README.md); our engine's float32 arithmetic
// may flip a borderline sample or two.
TEST(Campaign, GoldenPassMatchesPyTorchAccuracy) {
  const std::string dir = test::temp_dir("golden");
  auto c = fmnist_config(dir, 20, 0);
  c.threads = 2;
  run_campaign(c, {});
  const auto db = ResultsDb::open(results_db_path(dir), true);
  const auto inputs = db.inputs();
  ASSERT_EQ(inputs.size(), 10000u);
  std::int64_t correct = 0;
  for (const auto& in : inputs) correct += in.correct;
  EXPECT_NEAR(static_cast<double>(correct), 9133.0, 2.0);
  EXPECT_EQ(inputs[0].label, 9);  // first test image: ankle boot
  EXPECT_EQ(inputs[0].golden_label, 9);
  const auto s = summarize(db);
  EXPECT_EQ(s.top1_accuracy.k, correct);
  EXPECT_EQ(s.overall.trials, 20);
}

TEST(Campaign, SameTrialsAtAnyThreadCount) {
  const std::string a = test::temp_dir("t1"), b = test::temp_dir("t2");
  auto ca = fmnist_config(a, 300);
  auto cb = fmnist_config(b, 300);
  cb.threads = 2;
  cb.trials_per_input = 1;
  run_campaign(ca, {});
  run_campaign(cb, {});
  const auto ta = trials_of(a);
  ASSERT_EQ(ta.size(), 300u);
  expect_same_trials(ta, trials_of(b));
  // Trials record every fault field, and the outcomes are a real mix.
  std::set<std::string> outcomes;
  for (const auto& t : ta) {
    outcomes.insert(t.outcome);
    ASSERT_EQ(t.faults.size(), 1u);
    EXPECT_EQ(t.faults[0].site_kind, "node_output");
    EXPECT_FALSE(t.faults[0].node.empty());
    EXPECT_EQ(t.faults[0].bits.size(), 1u);
    EXPECT_EQ(t.faults[0].bits_before ^ t.faults[0].bits_after, 1ull << t.faults[0].bits[0]);
  }
  EXPECT_TRUE(outcomes.contains("masked"));
  EXPECT_TRUE(outcomes.contains("tolerable"));
}

// A channels-last campaign (activation_layout: nhwc) on the bundled ResNet: its trials are the same
// faults as the NCHW campaign's (same seed, same sites and elements in ONNX order), every record
// replays bit for bit on its own layout, the same at 1 and 2 threads, and its outcomes agree
// with the NCHW campaign's except where a value's last bits decide (kernels sum in another order).
TEST(Campaign, ChannelsLastCampaignRunsTheSameFaults) {
  SessionOptions opts;
  opts.channels_last = true;
  const auto session = Session::create(load_model(kModel), opts);
  std::size_t held_nhwc = 0;
  for (std::size_t v = 0; v < session->graph().values.size(); ++v) {
    held_nhwc += session->nhwc(static_cast<int>(v));
  }
  EXPECT_GE(held_nhwc, 10u);
  const std::string a = test::temp_dir("nchw"), b = test::temp_dir("nhwc1"),
                    c = test::temp_dir("nhwc2");
  auto ca = fmnist_config(a, 300);
  auto cb = fmnist_config(b, 300);
  cb.channels_last = true;
  auto cc = cb;
  cc.output = c;
  cc.threads = 2;
  cc.batch = 4;  // batched passes need NCHW: one at a time, with a warning
  run_campaign(ca, {});
  run_campaign(cb, {});
  run_campaign(cc, {});
  const auto ta = trials_of(a), tb = trials_of(b);
  ASSERT_EQ(tb.size(), 300u);
  expect_same_trials(tb, trials_of(c));
  ASSERT_EQ(ta.size(), tb.size());
  std::size_t same_outcome = 0;
  for (std::size_t i = 0; i < ta.size(); ++i) {
    ASSERT_EQ(ta[i].faults.size(), 1u);
    ASSERT_EQ(tb[i].faults.size(), 1u);
    EXPECT_EQ(ta[i].input_index, tb[i].input_index);
    EXPECT_EQ(ta[i].faults[0].node, tb[i].faults[0].node);
    EXPECT_EQ(ta[i].faults[0].flat_index, tb[i].faults[0].flat_index);
    EXPECT_EQ(ta[i].faults[0].bits, tb[i].faults[0].bits);
    same_outcome += ta[i].outcome == tb[i].outcome;
  }
  EXPECT_GE(same_outcome, 290u);
  for (std::int64_t id : {1, 57, 123, 299}) {
    EXPECT_TRUE(replay_trial(b, id).identical) << "trial " << id;
  }
}

// Golden runs are computed once per input and shared by the groups and threads that use it; the
// cache's budget changes only the work, never a trial. Four inputs with about 150 trials each are
// cut into groups of at most 64, so each input is met by three groups, spread over two threads.
TEST(Campaign, GoldenCacheBudgetNeverChangesTrials) {
  const std::string a = test::temp_dir("gc_none"), b = test::temp_dir("gc_all"),
                    c = test::temp_dir("gc_one");
  auto ca = fmnist_config(a, 600, 4);
  ca.golden_cache_mb = 0;  // keeps nothing: only a thread's current run is reused
  auto cb = fmnist_config(b, 600, 4);
  cb.threads = 2;
  auto cc = fmnist_config(c, 600, 4);
  cc.threads = 2;
  cc.golden_cache_mb = 1;  // room for two of this model's runs (~0.43 MiB each), not four
  const CampaignRunResult ra = run_campaign(ca, {});
  const CampaignRunResult rb = run_campaign(cb, {});
  const CampaignRunResult rc = run_campaign(cc, {});
  const auto ta = trials_of(a);
  ASSERT_EQ(ta.size(), 600u);
  expect_same_trials(ta, trials_of(b));
  expect_same_trials(ta, trials_of(c));
  std::set<std::int64_t> inputs;
  for (const auto& t : ta) inputs.insert(t.input_index);
  ASSERT_EQ(inputs.size(), 4u);
  EXPECT_EQ(ra.golden.misses, 4);  // one thread meets each input's groups one after the other
  EXPECT_EQ(ra.golden.peak_bytes, 0u);
  EXPECT_EQ(ra.golden.recycled, 3);  // inputs 2 to 4 written into the previous input's buffers
  EXPECT_EQ(rb.golden.misses, 4);    // two threads: still once per input
  EXPECT_EQ(rb.golden.misses + rb.golden.hits, 12);
  EXPECT_GT(rb.golden.peak_bytes, 0u);
  EXPECT_EQ(rb.golden.bytes, 0u);  // all dropped after their last group
  EXPECT_LE(rc.golden.peak_bytes, std::size_t{1} << 20);
  // Each trial is the one a fresh golden run and full recomputation give (replay).
  for (const std::int64_t id : {0, 299, 599}) {
    EXPECT_TRUE(replay_trial(c, id).identical) << "trial " << id;
  }
}

// An input with at most 4 trials gets no kept golden run: its trials are streamed with a
// fault-free run that keeps no value (Injector::run_streamed), in the golden pass itself when
// every input is eligible (its inputs are then known up front), else by the trial workers
// (TrialWorker). Either way the trials are the ones kept golden runs give, bit for bit.
TEST(Campaign, StreamedTrialsEqualTrialsOnKeptGoldenRuns) {
  for (const bool only_correct : {false, true}) {
    SCOPED_TRACE(only_correct ? "only correct inputs" : "every input");
    const std::string a = test::temp_dir("stream_on"), b = test::temp_dir("stream_off");
    auto ca = fmnist_config(a, 150, 64);  // 150 trials over 64 inputs: 0 to about 8 each
    ca.threads = 2;
    ca.only_correct = only_correct;
    auto cb = fmnist_config(b, 150, 64);
    cb.only_correct = only_correct;
    const CampaignRunResult ra = run_campaign(ca, {});
    CampaignRunOptions keep;
    keep.stream_goldens = false;
    const CampaignRunResult rb = run_campaign(cb, keep);
    const auto ta = trials_of(a);
    ASSERT_EQ(ta.size(), 150u);
    expect_same_trials(ta, trials_of(b));
    EXPECT_EQ(ra.new_trials, 150);
    std::map<std::int64_t, int> per_input;
    for (const auto& t : ta) ++per_input[t.input_index];
    int small = 0;         // inputs with at most TrialWorker::kMaxStreamed (4) trials: streamed
    int small_trials = 0;  // their trials
    for (const auto& [input, n] : per_input) {
      small += n <= 4;
      small_trials += n <= 4 ? n : 0;
    }
    EXPECT_EQ(ra.golden.streamed, small);
    EXPECT_GT(ra.golden.streamed, 20);
    EXPECT_EQ(ra.golden_pass_trials, only_correct ? 0 : small_trials);
    EXPECT_LT(ra.golden.streamed, ra.golden.misses);  // larger groups keep their run
    EXPECT_EQ(ra.golden.misses, static_cast<std::int64_t>(per_input.size()));
    EXPECT_EQ(rb.golden.streamed, 0);
    EXPECT_EQ(rb.golden_pass_trials, 0);
    EXPECT_EQ(rb.golden.misses, static_cast<std::int64_t>(per_input.size()));
    // The golden pass records the same inputs either way.
    const auto ia = ResultsDb::open(results_db_path(a), true).inputs();
    const auto ib = ResultsDb::open(results_db_path(b), true).inputs();
    ASSERT_EQ(ia.size(), ib.size());
    for (std::size_t i = 0; i < ia.size(); ++i) {
      EXPECT_EQ(ia[i].golden_label, ib[i].golden_label) << "input " << i;
      EXPECT_EQ(ia[i].correct, ib[i].correct) << "input " << i;
    }
    for (const std::int64_t id : {0, 75, 149}) {
      EXPECT_TRUE(replay_trial(a, id).identical) << "trial " << id;
    }
  }
}

// When every input is eligible and every trial will run, an input with more than 4 trials skips
// the golden pass: the trial phase records it from the golden run its trials use, so it is run
// fault-free once. Its record and its trials are the ones the golden pass and a second run give
// (a target half-width makes the plan unknown up front, so that campaign runs the golden pass
// first), also when the campaign is stopped with some inputs recorded and then resumed.
TEST(Campaign, InputsWithManyTrialsRunFaultFreeOnce) {
  const std::string a = test::temp_dir("deferred"), b = test::temp_dir("golden_first"),
                    c = test::temp_dir("deferred_stopped");
  auto config = [](const std::string& out) {
    auto k = fmnist_config(out, 240, 8);  // 8 inputs x 30 trials, in order
    k.trials_per_input = 30;
    k.sequential_inputs = true;
    k.strategy = Strategy::kFull;  // slow enough trials for the stop below to land mid-campaign
    return k;
  };
  auto ca = config(a);
  ca.threads = 2;
  const CampaignRunResult ra = run_campaign(ca, {});
  EXPECT_EQ(ra.golden_pass_inputs, 0);
  EXPECT_EQ(ra.golden.misses, 8);  // one fault-free run per input
  EXPECT_EQ(ra.new_trials, 240);
  auto cb = config(b);
  cb.target_halfwidth = 1e-6;  // never reached: every trial runs, in rounds of `checkpoint`
  cb.checkpoint = 60;
  const CampaignRunResult rb = run_campaign(cb, {});
  EXPECT_EQ(rb.golden_pass_inputs, 8);
  EXPECT_EQ(rb.golden.misses, 8);  // a second fault-free run per input
  const auto ia = ResultsDb::open(results_db_path(a), true).inputs();
  const auto ib = ResultsDb::open(results_db_path(b), true).inputs();
  ASSERT_EQ(ia.size(), 8u);
  EXPECT_EQ(ia, ib);
  std::int64_t correct = 0;
  for (const auto& in : ia) correct += in.correct;
  EXPECT_GT(correct, 4);  // real labels: most of the 8 are classified right
  const auto ta = trials_of(a);
  ASSERT_EQ(ta.size(), 240u);
  expect_same_trials(ta, trials_of(b));

  // Stopped once 40 trials are committed (one thread: input 0's trials, then input 1's).
  std::atomic<bool> stop{false};
  CampaignRunOptions first;
  first.stop = &stop;
  first.progress_interval_s = 0.001;
  first.progress = [&](const CampaignProgress& p) {
    if (p.phase == "trials" && p.done >= 40) stop.store(true);
  };
  const CampaignRunResult r1 = run_campaign(config(c), first);
  EXPECT_FALSE(r1.complete);
  const auto partial = ResultsDb::open(results_db_path(c), true).inputs();
  EXPECT_GE(partial.size(), 1u);
  EXPECT_LT(partial.size(), 8u);
  for (const auto& in : partial) EXPECT_EQ(in, ia.at(static_cast<std::size_t>(in.index)));
  CampaignRunOptions resume;
  resume.resume = true;
  const CampaignRunResult r2 = run_campaign(config(c), resume);
  EXPECT_TRUE(r2.complete);
  EXPECT_EQ(r2.golden_pass_inputs, 0);
  EXPECT_EQ(r1.new_trials + r2.new_trials, 240);
  EXPECT_EQ(ResultsDb::open(results_db_path(c), true).inputs(), ia);
  expect_same_trials(ta, trials_of(c));
}

// batch: N runs an input's trials N at a time in a batch-N session (fi/batched.h): the records
// are the ones one trial at a time gives, bit for bit, at any thread count. Weight faults (a
// weight is shared by every row) run one at a time.
TEST(Campaign, BatchedTrialsEqualOneAtATime) {
  const std::string a = test::temp_dir("batch1"), b = test::temp_dir("batch8"),
                    e = test::temp_dir("batch_auto");
  auto ca = fmnist_config(a, 300, 3);  // about 100 trials per input, one group each
  auto cb = fmnist_config(b, 300, 3);
  cb.batch = 8;
  cb.threads = 2;
  auto ce = fmnist_config(e, 300, 3);
  parse_batch("auto", ce);
  const CampaignRunResult ra = run_campaign(ca, {});
  const CampaignRunResult rb = run_campaign(cb, {});
  const CampaignRunResult re = run_campaign(ce, {});
  EXPECT_EQ(ra.batched_trials, 0);
  EXPECT_EQ(rb.batched_trials, 300);  // every trial: node-output faults, a row-separable model
  // auto: the first group's 4 timed passes of 8, then whichever was faster.
  EXPECT_GE(re.batched_trials, 32);
  const auto ta = trials_of(a), tb = trials_of(b);
  ASSERT_EQ(ta.size(), 300u);
  expect_same_trials(ta, tb);
  expect_same_trials(ta, trials_of(e));
  // A batched pass computes the union of its trials' cones on whole nodes: the node counts show
  // that the trials did run in passes.
  int other_count = 0;
  for (std::size_t i = 0; i < ta.size() && i < tb.size(); ++i) {
    other_count += ta[i].nodes_computed != tb[i].nodes_computed;
  }
  EXPECT_GT(other_count, 150);
  for (const std::int64_t id : {0, 150, 299}) {
    EXPECT_TRUE(replay_trial(b, id).identical) << "trial " << id;
  }

  const std::string c = test::temp_dir("batch1w"), d = test::temp_dir("batch8w");
  auto cc = fmnist_config(c, 60, 2);
  cc.faults.target = SiteKind::kWeight;
  auto cd = cc;
  cd.output = d;
  cd.batch = 8;
  run_campaign(cc, {});
  EXPECT_EQ(run_campaign(cd, {}).batched_trials, 0);
  const auto tc = trials_of(c), td = trials_of(d);
  ASSERT_EQ(tc.size(), 60u);
  expect_same_trials(tc, td);
  for (std::size_t i = 0; i < tc.size() && i < td.size(); ++i) {
    EXPECT_EQ(tc[i].nodes_computed, td[i].nodes_computed) << "trial " << tc[i].id;
  }
}

TEST(Campaign, ShardsMergeIntoTheSingleRun) {
  const std::string single = test::temp_dir("single");
  run_campaign(fmnist_config(single, 150), {});
  std::vector<std::string> shard_dbs;
  for (int k = 0; k < 3; ++k) {
    const std::string d = test::temp_dir("shard" + std::to_string(k));
    auto c = fmnist_config(d, 150);
    c.shard_index = k;
    c.shard_count = 3;
    c.threads = 1 + k % 2;
    run_campaign(c, {});
    for (const auto& t : trials_of(d)) EXPECT_EQ(t.id % 3, k);
    shard_dbs.push_back(results_db_path(d));
  }
  const std::string merged = test::temp_dir("merged");
  merge_results(results_db_path(merged), shard_dbs);
  expect_same_trials(trials_of(single), trials_of(merged));
  const auto s1 = summarize(ResultsDb::open(results_db_path(single), true));
  const auto s2 = summarize(ResultsDb::open(results_db_path(merged), true));
  EXPECT_EQ(s1.overall.sdc.k, s2.overall.sdc.k);
  EXPECT_EQ(s1.overall.masked.k, s2.overall.masked.k);
}

// Kills a real campaign process with SIGKILL twice at different moments, resumes it, and
// compares with an uninterrupted run: no trial lost, none duplicated, the same results.
TEST(Campaign, Kill9AndResumeGiveTheUninterruptedResults) {
  const std::string ref = test::temp_dir("ref"), dir = test::temp_dir("killed");
  const std::string cfg = config_file(dir, "trials: 20000\nthreads: 2\nstrategy: full\n");
  const std::string out = dir + "/out";
  auto c = load_campaign_config(cfg);
  c.output = ref;
  run_campaign(c, {});
  const auto reference = trials_of(ref);
  ASSERT_EQ(reference.size(), 20000u);

  auto committed = [&] {
    if (!fs::exists(results_db_path(out))) return std::int64_t{0};
    try {
      return ResultsDb::open(results_db_path(out), true).trial_count();
    } catch (const InputError&) {
      return std::int64_t{0};
    }
  };
  // Kill 1 right after the start (loading, golden pass); kills 2 and 3 while trials are being
  // committed (polled from the database, which WAL lets us read while the process writes).
  std::int64_t kills = 0;
  for (const std::int64_t after : {std::int64_t{-1}, std::int64_t{1000}, std::int64_t{3000}}) {
    const std::int64_t start = committed();
    const pid_t pid = spawn_campaign(cfg, out, /*resume=*/true);
    ASSERT_GT(pid, 0);
    if (after < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } else {
      for (int i = 0; i < 2000 && committed() < start + after; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    kills += WIFSIGNALED(status) ? 1 : 0;
  }
  EXPECT_GE(kills, 1);
  std::int64_t before = 0;
  if (fs::exists(results_db_path(out))) {
    before = ResultsDb::open(results_db_path(out), true).trial_count();
  }
  EXPECT_GT(before, 0);  // killed after some trials were committed
  EXPECT_LT(before, 20000);
  const auto r = test::run_cli("campaign " + cfg + " -o " + out + " --resume --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_trials(reference, trials_of(out));
}

// Ctrl-C (SIGINT) commits what is done and exits 130; --resume finishes with the same results.
TEST(Campaign, InterruptCommitsAndResumes) {
  const std::string ref = test::temp_dir("int_ref"), dir = test::temp_dir("int");
  const std::string cfg = config_file(dir, "trials: 30000\nthreads: 2\nstrategy: full\n");
  auto c = load_campaign_config(cfg);
  c.output = ref;
  run_campaign(c, {});
  const std::string out = dir + "/out";
  const pid_t pid = spawn_campaign(cfg, out, /*resume=*/false);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 2000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!fs::exists(results_db_path(out))) continue;
    try {
      if (ResultsDb::open(results_db_path(out), true).trial_count() >= 500) break;
    } catch (const InputError&) {
    }
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const auto partial = ResultsDb::open(results_db_path(out), true).trial_count();
  EXPECT_GE(partial, 500);
  EXPECT_LT(partial, 30000);
  const auto r = test::run_cli("campaign " + cfg + " -o " + out + " --resume --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_trials(trials_of(ref), trials_of(out));
}

// On a terminal (a pseudo-terminal from util-linux `script`) the progress is a bar redrawn in
// place with trials/s, ETA and the running SDC interval.
TEST(Campaign, ProgressBarOnATerminal) {
  const std::string dir = test::temp_dir("tty");
  const std::string cfg = config_file(dir, "trials: 3000\n");
  const std::string log = dir + "/tty.log";
  const std::string cmd = "script -qec '" + std::string(DNNFI_CLI_PATH) + " campaign " + cfg +
                          " -o " + dir + "/out' " + log + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\r["), std::string::npos) << text.substr(0, 400);
  EXPECT_NE(text.find("] 100% 3000/3000 trials"), std::string::npos) << text.substr(0, 400);
  EXPECT_NE(text.find("SDC "), std::string::npos);
}

TEST(Campaign, SecondProcessOnTheSameDirectoryIsRefused) {
  const std::string dir = test::temp_dir("locked");
  const int fd = ::open((dir + "/.dnnfi.lock").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  try {
    run_campaign(fmnist_config(dir, 10), {});
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another dnnfi process"), std::string::npos) << e.what();
  }
  close(fd);
  EXPECT_FALSE(fs::exists(results_db_path(dir)));
}

TEST(Campaign, ExistingResultsAreNeverOverwritten) {
  const std::string dir = test::temp_dir("existing");
  run_campaign(fmnist_config(dir, 40), {});
  const auto before = trials_of(dir);
  EXPECT_THROW(run_campaign(fmnist_config(dir, 40), {}), InputError);  // no --resume
  auto other = fmnist_config(dir, 40);
  other.seed = 8;
  CampaignRunOptions resume;
  resume.resume = true;
  try {
    run_campaign(other, resume);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("different campaign"), std::string::npos) << e.what();
  }
  expect_same_trials(before, trials_of(dir));
  // Resuming a finished campaign adds nothing.
  const auto r = run_campaign(fmnist_config(dir, 40), resume);
  EXPECT_EQ(r.new_trials, 0);
  EXPECT_TRUE(r.complete);
}

// The stop point depends only on the trials, so it is the first checkpoint where the SDC
// interval is narrow enough, checked here against the Wilson interval of each prefix.
TEST(Campaign, TargetHalfWidthStopsAtTheFirstNarrowCheckpoint) {
  const std::string dir = test::temp_dir("target");
  auto c = fmnist_config(dir, 5000);
  c.target_halfwidth = 0.02;
  c.checkpoint = 100;
  c.threads = 2;
  const auto r = run_campaign(c, {});
  EXPECT_TRUE(r.reached_target);
  const auto t = trials_of(dir);
  ASSERT_EQ(static_cast<std::int64_t>(t.size()) % 100, 0);
  ASSERT_LT(t.size(), 5000u);
  std::int64_t sdc = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].id, static_cast<std::int64_t>(i));
    sdc += t[i].outcome == "sdc";
    const auto n = static_cast<std::int64_t>(i + 1);
    if (n % 100 == 0) {
      const double half = wilson(sdc, n).half_width();
      if (n == static_cast<std::int64_t>(t.size())) {
        EXPECT_LE(half, 0.02);
      } else {
        EXPECT_GT(half, 0.02) << "should have stopped at " << n;
      }
    }
  }
  // The same trials as a fixed-size run of that length.
  const std::string fixed = test::temp_dir("fixed");
  run_campaign(fmnist_config(fixed, static_cast<std::int64_t>(t.size())), {});
  expect_same_trials(t, trials_of(fixed));
}

TEST(Campaign, OnlyCorrectInputsAndTrialsPerInput) {
  const std::string dir = test::temp_dir("correct");
  auto c = fmnist_config(dir, 60);
  c.only_correct = true;
  c.trials_per_input = 4;
  run_campaign(c, {});
  const auto db = ResultsDb::open(results_db_path(dir), true);
  const auto inputs = db.inputs();
  const auto t = db.trials();
  ASSERT_EQ(t.size(), 60u);
  for (const auto& tr : t) {
    EXPECT_TRUE(inputs.at(static_cast<std::size_t>(tr.input_index)).correct);
    EXPECT_EQ(tr.input_index, t[static_cast<std::size_t>(tr.id / 4 * 4)].input_index);
  }
}

// Without a labels file the same campaign runs on unlabelled inputs: an SDC compares with the
// fault-free answer, so every trial's outcome equals the labelled run's; Top-1 accuracy is n/a.
TEST(Campaign, UnlabelledDataGivesTheLabelledOutcomes) {
  const std::string with = test::temp_dir("labelled");
  const std::string without = test::temp_dir("unlabelled");
  run_campaign(fmnist_config(with, 80), {});
  auto c = fmnist_config(without, 80);
  c.dataset.labels.clear();
  run_campaign(c, {});
  const auto a = trials_of(with);
  const auto b = trials_of(without);
  ASSERT_EQ(a.size(), 80u);
  ASSERT_EQ(b.size(), a.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_GE(a[i].label, 0);
    EXPECT_EQ(b[i].label, -1);
    EXPECT_EQ(b[i].input_index, a[i].input_index);
    EXPECT_EQ(b[i].golden_label, a[i].golden_label);
    EXPECT_EQ(b[i].faulty_label, a[i].faulty_label);
    EXPECT_EQ(b[i].outcome, a[i].outcome);
    seen.insert(a[i].outcome);
  }
  EXPECT_GE(seen.size(), 2u);  // masked and corrupted trials both compared
  const auto db = ResultsDb::open(results_db_path(without), true);
  const auto s = summarize(db);
  EXPECT_EQ(s.inputs, 64);
  EXPECT_EQ(s.top1_accuracy.n, 0);
  EXPECT_EQ(s.overall.sdc.k, summarize(ResultsDb::open(results_db_path(with), true)).overall.sdc.k);
  EXPECT_NE(format_summary(s).find("Top-1 accuracy (fault-free): n/a (64 inputs, none labelled)"),
            std::string::npos)
      << format_summary(s);
  for (const auto& in : db.inputs()) EXPECT_FALSE(in.correct);

  // Trials on correctly classified inputs need labels: refused before the golden pass.
  c.output = test::temp_dir("unlabelled_correct");
  c.only_correct = true;
  try {
    run_campaign(c, {});
    ADD_FAILURE() << "only_correct ran on unlabelled data";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dataset.only_correct needs labels"), std::string::npos)
        << e.what();
  }
}

// input_order: sequential gives trial group g input g mod n, so each input gets the same share.
TEST(Campaign, SequentialInputOrderGivesEveryInputTheSameShare) {
  const std::string dir = test::temp_dir("seq");
  auto c = fmnist_config(dir, 30, 5);
  c.trials_per_input = 3;
  c.sequential_inputs = true;
  c.threads = 2;
  run_campaign(c, {});
  const auto t = trials_of(dir);
  ASSERT_EQ(t.size(), 30u);
  std::map<std::int64_t, int> per_input;
  for (const auto& tr : t) {
    EXPECT_EQ(tr.input_index, tr.id / 3 % 5) << "trial " << tr.id;
    ++per_input[tr.input_index];
  }
  ASSERT_EQ(per_input.size(), 5u);
  for (const auto& [input, n] : per_input) EXPECT_EQ(n, 6) << "input " << input;
  EXPECT_TRUE(replay_trial(dir, 17).identical);
}

TEST(Campaign, ReplayIsBitExactAndShowsPropagation) {
  const std::string dir = test::temp_dir("replay");
  auto c = fmnist_config(dir, 200);
  c.faults.bit_lo = 30;  // exponent MSB: many SDCs
  c.faults.bit_hi = 30;
  run_campaign(c, {});
  const auto t = trials_of(dir);
  int sdc_checked = 0;
  for (const auto& tr : t) {
    if (tr.id % 20 != 0 && !(tr.outcome == "sdc" && sdc_checked == 0)) continue;
    const ReplayReport rep = replay_trial(dir, tr.id);
    EXPECT_TRUE(rep.identical) << "trial " << tr.id;
    if (tr.outcome == "sdc") {
      ++sdc_checked;
      EXPECT_NE(rep.replayed.faulty_label, rep.replayed.golden_label);
      ASSERT_FALSE(rep.trace.empty());
      EXPECT_TRUE(rep.trace.back().changed);  // the output changed
    }
  }
  EXPECT_GT(sdc_checked, 0);
  EXPECT_THROW(replay_trial(dir, 999999), InputError);
  auto r = test::run_cli("replay " + dir + " --trial " + std::to_string(t[0].id));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("matches the stored trial bit for bit: yes"), std::string::npos) << r.out;
}

// A TensorFI2 config runs unchanged; model and dataset come from flags.
TEST(Campaign, TensorFI2ConfigRunsUnchangedFromTheCli) {
  const std::string dir = test::temp_dir("tf2");
  std::ofstream(dir + "/tf2.yaml")
      << "Target: layer_outputs\nMode: single\nType: bitflips\nAmount: 1\nBit: 30\n";
  const auto r =
      test::run_cli("campaign " + dir + "/tf2.yaml --model " + kModel +
                    " --dataset-format idx --dataset " + kImages + " --labels " + kLabels +
                    " --samples 50 --trials 80 -o " + dir + "/out --progress-interval 0.1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SDC"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("trials/s"), std::string::npos) << r.err;  // plain progress lines in a pipe
  for (const auto& t : trials_of(dir + "/out")) {
    ASSERT_EQ(t.faults.size(), 1u);
    EXPECT_EQ(t.faults[0].bits, (std::vector<int>{30}));
  }
  // summary / export on the result.
  auto s = test::run_cli("summary " + dir + "/out");
  EXPECT_EQ(s.exit_code, 0) << s.err;
  auto e = test::run_cli("export " + dir + "/out --csv");
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_TRUE(fs::exists(dir + "/out/csv/trials.csv"));
}

// A Keras model (.h5) runs a campaign like an ONNX file; its fault sites are Keras layers (the
// layout helper nodes are never drawn), and its golden labels agree with TensorFlow.js's
// predictions for the same inputs (tests/keras/data, written by scripts/keras_fixtures).
TEST(Campaign, KerasModelWithKerasLayerSites) {
  const std::string data = std::string(DNNFI_SOURCE_DIR) + "/tests/keras/data/resnet";
  const std::string dir = test::temp_dir("keras");
  const Tensor x = load_npy(data + "/input_0.npy");
  const Tensor tfjs = load_npy(data + "/expected_0.npy");
  const auto tfjs_top1 = top1_per_row(tfjs);
  Tensor y(DType::kInt64, {static_cast<std::int64_t>(tfjs_top1.size())});
  for (std::size_t i = 0; i < tfjs_top1.size(); ++i) y.data<std::int64_t>()[i] = tfjs_top1[i];
  save_npy(dir + "/y.npy", y);
  CampaignConfig c;
  c.source = "test";
  c.model = data + "/model.h5";
  c.dataset.format = DatasetFormat::kNpy;
  c.dataset.paths = {data + "/input_0.npy"};
  c.dataset.labels = dir + "/y.npy";
  c.has_dataset = true;
  c.trials = 120;
  c.output = dir + "/out";
  run_campaign(c, {});
  const auto db = ResultsDb::open(results_db_path(c.output), true);
  for (const auto& in : db.inputs()) EXPECT_TRUE(in.correct) << "input " << in.index;
  EXPECT_EQ(db.inputs().size(), static_cast<std::size_t>(x.dim(0)));
  std::set<std::string> nodes;
  for (const auto& t : db.trials()) {
    ASSERT_EQ(t.faults.size(), 1u);
    nodes.insert(t.faults[0].node);
    EXPECT_EQ(t.faults[0].node.find('/'), std::string::npos) << t.faults[0].node;  // no helper
    EXPECT_EQ(t.faults[0].value, t.faults[0].node);  // the layer's output value has its name
  }
  EXPECT_TRUE(nodes.contains("block_add"));
  EXPECT_TRUE(nodes.contains("conv1_relu"));
}

TEST(Campaign, BadInputsAreOneLineErrors) {
  const std::string dir = test::temp_dir("bad");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  expect_one_line_error(test::run_cli("campaign " + write("a.yaml", "model: [x\n")), "a.yaml:");
  expect_one_line_error(test::run_cli("campaign " + write("b.yaml", "model: m.onnx\nsed: 3\n")),
                        "b.yaml:2: sed: unknown key");
  expect_one_line_error(test::run_cli("campaign " + dir + "/missing.yaml"), "missing.yaml");
  expect_one_line_error(test::run_cli("campaign " + config_file(dir, "") + " --model " + dir +
                                      "/nope.onnx -o " + dir + "/o1"),
                        "nope.onnx");
  // A dataset whose samples do not fit the model input.
  Tensor x(DType::kFloat32, {4, 3, 8, 8});
  save_npy(dir + "/x.npy", x);
  Tensor y(DType::kInt64, {4});
  save_npy(dir + "/y.npy", y);
  expect_one_line_error(
      test::run_cli("campaign --model " + kModel + " --dataset-format npy --dataset " + dir +
                    "/x.npy --labels " + dir + "/y.npy -o " + dir + "/o2"),
      "sample 0");
  // Labels out of range for the model's 10 classes.
  Tensor x2(DType::kFloat32, {4, 1, 28, 28});
  save_npy(dir + "/x2.npy", x2);
  Tensor y2(DType::kInt64, {4});
  y2.data<std::int64_t>()[2] = 12;
  save_npy(dir + "/y2.npy", y2);
  expect_one_line_error(
      test::run_cli("campaign --model " + kModel + " --dataset-format npy --dataset " + dir +
                    "/x2.npy --labels " + dir + "/y2.npy -o " + dir + "/o3"),
      "12");
  // An output "directory" that is a file.
  write("file", "x");
  expect_one_line_error(test::run_cli("campaign " + config_file(dir, "") + " -o " + dir + "/file"),
                        dir + "/file");
  // Existing results are not touched by a second, different campaign.
  const std::string out = dir + "/o4";
  ASSERT_EQ(
      test::run_cli("campaign " + config_file(dir, "trials: 30\n") + " -q -o " + out).exit_code, 0);
  const auto before = trials_of(out);
  expect_one_line_error(
      test::run_cli("campaign " + config_file(dir, "trials: 30\n") + " -o " + out), "--resume");
  expect_one_line_error(test::run_cli("campaign " + config_file(dir, "trials: 30\n") +
                                      " --seed 9 --resume -o " + out),
                        "different campaign");
  expect_same_trials(before, trials_of(out));
  expect_one_line_error(test::run_cli("replay " + out + " --trial 4000"), "trial 4000");
  expect_one_line_error(test::run_cli("summary " + dir + "/nothing"), "nothing");
}

}  // namespace
}  // namespace dnnfi
