// `mpirun -n N dnnfi campaign` against a one-process run of the same campaign (the library's
// run_campaign with the same seed): the same trials and inputs, bit for bit, and the same
// summary, for N = 1, 2 and 4 ranks; a worker rank killed mid-run (mpirun --enable-recovery)
// loses only its chunks in flight, which the other ranks redo, so every trial is committed
// exactly once; a whole job killed with SIGKILL resumes to the same result.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "campaign/campaign.h"
#include "common/onnx_builder.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(DNNFI_SOURCE_DIR) + "/models/fmnist_resnet.onnx";
const std::string kImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
const std::string kLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
// OpenMPI's own allocations outlive MPI_Finalize; LeakSanitizer (sanitizer builds) must not
// count them as dnnfi's.
const std::string kLsanSuppressions = std::string(DNNFI_SOURCE_DIR) + "/tests/mpi/lsan.supp";

// The campaign every test runs: 300 inputs, `trials` trials, one thread per rank.
std::string write_config(const std::string& dir, std::int64_t trials) {
  const std::string path = dir + "/c.yaml";
  std::ofstream(path) << "model: " << kModel << "\ndataset:\n  format: idx\n  path: " << kImages
                      << "\n  labels: " << kLabels
                      << "\n  samples: 300\npreprocess:\n  scale: 0.00392156862745098\n  mean: "
                         "[0.286]\n  std: [0.353]\ntrials: "
                      << trials << "\nseed: 11\nthreads: 1\n";
  return path;
}

// The one-process run, through the library.
std::string reference_run(const std::string& cfg, const std::string& dir) {
  CampaignConfig c = load_campaign_config(cfg);
  c.output = dir + "/reference";
  run_campaign(c, {});
  return c.output;
}

std::string mpirun_args(int ranks, bool recovery) {
  return std::string(DNNFI_MPIEXEC) + " --oversubscribe " + (recovery ? "--enable-recovery " : "") +
         "-n " + std::to_string(ranks) + " " + DNNFI_CLI_PATH;
}

struct ShellRun {
  int exit_code = -1;
  std::string out;
};

ShellRun run_shell(const std::string& cmd, const std::string& dir) {
  const std::string out = dir + "/stdout.txt";
  const int status =
      std::system((cmd + " >" + out + " 2>" + dir + "/stderr.txt </dev/null").c_str());
  ShellRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  std::ifstream err(dir + "/stderr.txt");
  std::stringstream es;
  es << err.rdbuf();
  r.out += es.str();
  return r;
}

// `sh -c cmd` in a process group of its own, output to `log`.
pid_t spawn(const std::string& cmd, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >" + log + " 2>&1 </dev/null").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

int wait_exit(pid_t pid, double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Committed trials, read as another process would (0 while the database does not exist yet).
std::int64_t committed(const std::string& dir) {
  const std::string path = results_db_path(dir);
  if (!fs::exists(path)) return 0;
  sqlite3* db = nullptr;
  std::int64_t n = 0;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 1000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM trials", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

std::int64_t wait_for_trials(const std::string& dir, std::int64_t at_least, double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t n = 0;
  while ((n = committed(dir)) < at_least &&
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return n;
}

// Processes whose parent is `parent`, with their MPI rank (OMPI_COMM_WORLD_RANK).
std::vector<std::pair<pid_t, int>> ranks_of(pid_t parent) {
  std::vector<std::pair<pid_t, int>> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    std::ifstream env(e.path() / "environ");
    std::string var;
    while (std::getline(env, var, '\0')) {
      if (var.rfind("OMPI_COMM_WORLD_RANK=", 0) == 0) {
        out.emplace_back(static_cast<pid_t>(std::stol(name)), std::stoi(var.substr(21)));
      }
    }
  }
  return out;
}

void expect_same_campaign(const std::string& dir, const std::string& reference) {
  const ResultsDb a = ResultsDb::open(results_db_path(dir), true);
  const ResultsDb b = ResultsDb::open(results_db_path(reference), true);
  EXPECT_EQ(a.inputs(), b.inputs());
  const auto ta = a.trials();
  const auto tb = b.trials();
  ASSERT_EQ(ta.size(), tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    ASSERT_TRUE(ta[i].same_result(tb[i])) << "trial " << ta[i].id << " vs " << tb[i].id;
  }
}

// `dnnfi summary --json` without what differs between two runs of one campaign: where and when
// it ran, and how fast.
nlohmann::json summary_json(const std::string& dir) {
  const test::CliResult r = test::run_cli("summary --json " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (auto& [key, value] : j.items()) {
    if (key.find("per_s") != std::string::npos) value = nullptr;
  }
  nlohmann::json& c = j["campaign"];
  for (const char* k : {"machine", "started_at", "dnnfi_version"}) c.erase(k);
  std::string yaml = c["config_yaml"];
  const auto at = yaml.find("\noutput: ");
  if (at != std::string::npos) yaml.erase(at, yaml.find('\n', at + 1) - at);
  c["config_yaml"] = yaml;
  return j;
}

class Mpi : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);  // CI containers run as root
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    // Sanitizer builds: OpenMPI's plugins stay loaded so LeakSanitizer can name them, and the
    // slow unwinder gives whole stacks through the uninstrumented MPI libraries.
    setenv("LSAN_OPTIONS",
           ("suppressions=" + kLsanSuppressions + ":fast_unwind_on_malloc=0").c_str(), 1);
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 1);
    dir_ = test::temp_dir("mpi");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Mpi, SameTrialsAndSummaryAtAnyRankCount) {
  const std::string cfg = write_config(dir_, 1500);
  const std::string ref = reference_run(cfg, dir_);
  const nlohmann::json ref_summary = summary_json(ref);
  for (const int n : {1, 2, 4}) {
    SCOPED_TRACE("ranks: " + std::to_string(n));
    const std::string out = dir_ + "/n" + std::to_string(n);
    const ShellRun r = run_shell(mpirun_args(n, false) + " campaign " + cfg + " -o " + out, dir_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("MPI: " + std::to_string(n) + " ranks"), std::string::npos) << r.out;
    expect_same_campaign(out, ref);
    EXPECT_EQ(summary_json(out), ref_summary);
  }
}

// With every input eligible, an input with at most 4 trials has them streamed in its golden-pass
// run, on whichever rank computes that run: the same trials as one process, counted as committed.
TEST_F(Mpi, GoldenPassStreamsTrialsAsOneProcessDoes) {
  const std::string cfg = write_config(dir_, 450);  // 300 inputs: most get at most 4 trials
  CampaignConfig c = load_campaign_config(cfg);
  c.output = dir_ + "/reference";
  const CampaignRunResult ref = run_campaign(c, {});
  ASSERT_GT(ref.golden_pass_trials, 0);
  ASSERT_LT(ref.golden_pass_trials, 450);  // inputs with more trials run them in the trial phase
  const std::string out = dir_ + "/n3";
  const ShellRun r = run_shell(mpirun_args(3, false) + " campaign " + cfg + " -o " + out, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(
      r.out.find("(" + std::to_string(ref.golden_pass_trials) + " trials streamed in its runs)"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" of 450 trials run by other ranks"), std::string::npos) << r.out;
  expect_same_campaign(out, c.output);
}

TEST_F(Mpi, KilledWorkerRankLosesNoTrial) {
  // Long enough that rank 0 notices the death (1 s of silence) before the work runs out.
  const std::int64_t trials = 100000;
  const std::string cfg = write_config(dir_, trials);
  const std::string ref = reference_run(cfg, dir_);
  const std::string out = dir_ + "/killed";
  const pid_t job =
      spawn(mpirun_args(3, true) + " campaign " + cfg + " -o " + out + " --mpi-timeout 2",
            dir_ + "/job.txt");
  ASSERT_GT(wait_for_trials(out, 1, 120), 0);
  // Rank 0 commits trials on its own threads: on a loaded machine rank 2 may start later.
  pid_t victim = 0;
  for (int tries = 0; victim == 0 && tries < 600; ++tries) {
    for (const auto& [pid, rank] : ranks_of(job)) {
      if (rank == 2) victim = pid;
    }
    if (victim == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(victim, 0) << "rank 2 not found among mpirun's children within 60 s";
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_LT(committed(out), trials) << "the campaign ended before the kill: nothing was tested";
  EXPECT_EQ(wait_exit(job, 300), 0);
  std::ifstream in(dir_ + "/job.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  // Rank 2's death is reported. On a loaded machine (the ASan suite on 2 cores) a live rank may
  // also stay silent past the 2 s timeout and be given up: its chunks are handed out again, which
  // must lose no trial either, so the count of lost ranks is at least 1, not exactly 1.
  EXPECT_NE(ss.str().find("MPI rank 2 was silent"), std::string::npos) << ss.str();
  EXPECT_TRUE(std::regex_search(ss.str(), std::regex("[1-9][0-9]* ranks? lost"))) << ss.str();
  expect_same_campaign(out, ref);
}

TEST_F(Mpi, KilledJobResumesToTheSameResult) {
  const std::int64_t trials = 6000;
  const std::string cfg = write_config(dir_, trials);
  const std::string ref = reference_run(cfg, dir_);
  const std::string out = dir_ + "/resumed";
  const pid_t job =
      spawn(mpirun_args(2, false) + " campaign " + cfg + " -o " + out, dir_ + "/job.txt");
  ASSERT_GT(wait_for_trials(out, 1, 120), 0);
  for (const auto& [pid, rank] : ranks_of(job)) kill(pid, SIGKILL);
  kill(-job, SIGKILL);
  wait_exit(job, 60);
  const std::int64_t before = committed(out);
  ASSERT_LT(before, trials) << "the campaign ended before the kill: nothing was tested";
  const ShellRun r =
      run_shell(mpirun_args(2, false) + " campaign " + cfg + " -o " + out + " --resume", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_same_campaign(out, ref);
}

// Errors under mpirun: rank 0 prints the one line a one-process run would, every rank stops (no
// rank left waiting for work), and the job's exit status is 2.
TEST_F(Mpi, ErrorsStopEveryRankWithOneLine) {
  const std::string bad = dir_ + "/bad.yaml";
  std::ofstream(bad) << "model: " << kModel << "\ndataset: {format: idx, path: /nonexistent.gz}\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" campaign " + bad + " -o " + dir_ + "/out", "/nonexistent.gz: no such file"},
      {" campaign " + dir_ + "/missing.yaml", "missing.yaml: cannot open config file"},
      {" inspect " + kModel, "only `dnnfi campaign` runs on several MPI ranks"},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    const pid_t job = spawn(mpirun_args(3, false) + args, dir_ + "/job.txt");
    EXPECT_EQ(wait_exit(job, 120), 2);  // -1: a rank hung and the job was killed
    std::ifstream in(dir_ + "/job.txt");
    std::string line;
    std::vector<std::string> errors;
    while (std::getline(in, line)) {
      if (line.rfind("dnnfi: error:", 0) == 0) errors.push_back(line);
    }
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find(message), std::string::npos) << errors[0];
  }
}

}  // namespace
}  // namespace dnnfi
