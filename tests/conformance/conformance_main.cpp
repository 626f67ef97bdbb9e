// ONNX backend conformance suite (Debian's libonnx-testdata) against this engine.
//
//   test_conformance [DATA_DIR] [--filter SUBSTR] [--verbose] [--list-skips] [--reference]
//                    [--no-bind]
//
// DATA_DIR (default /usr/share/libonnx-testdata/data) holds node/, pytorch-converted/,
// pytorch-operator/ and simple/, one directory per case. A case whose model uses an op,
// attribute, opset or dtype this engine does not support is skipped with the reason; every other
// case must match the expected outputs with the ONNX runner's tolerances. A graph input that the
// engine needs at load time (a shape) is bound to its data-set value unless --no-bind; the summary
// counts those passes. There is no allow-list:
// a failing case is a bug in the engine. Prints one line per failed case, the skip reasons grouped
// by op, the failures grouped by op, and last "N passed, N failed, N skipped". Exits 1 if any
// case failed, 2 on bad usage, else 0.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/case_runner.h"

namespace fs = std::filesystem;
using dnnfi::conformance::CaseOptions;
using dnnfi::conformance::CaseResult;
using dnnfi::conformance::Outcome;

namespace {

constexpr std::string_view kDefaultDataDir = "/usr/share/libonnx-testdata/data";
// The runner's model-test kinds that ship model.onnx files ("real" needs downloads).
constexpr std::string_view kKinds[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

struct Args {
  fs::path data_dir{std::string(kDefaultDataDir)};
  std::string filter;
  bool verbose = false;
  bool list_skips = false;
  int min_passed = 0;
  CaseOptions case_options;
};

void print_usage() {
  std::printf(
      "usage: test_conformance [DATA_DIR] [--filter SUBSTR] [--verbose] [--list-skips] "
      "[--reference] [--no-bind] [--min-passed N]\n"
      "  DATA_DIR      libonnx-testdata data directory (default %s)\n"
      "  --filter S    run only cases whose name (e.g. node/test_abs) contains S\n"
      "  --verbose     print every case with its outcome\n"
      "  --list-skips  print every skipped case with its reason\n"
      "  --reference   use the plain reference kernels everywhere\n"
      "  --no-bind     skip cases whose shape-like inputs are graph inputs instead of binding\n"
      "                them to the data set's values as initializers\n"
      "  --min-passed N  fail unless at least N cases pass (catches passes turning into skips)\n",
      std::string(kDefaultDataDir).c_str());
}

// Returns false on bad usage.
bool parse_args(int argc, char** argv, Args& args) {
  bool have_dir = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--filter") {
      if (++i >= argc) return false;
      args.filter = argv[i];
    } else if (a == "--verbose" || a == "-v") {
      args.verbose = true;
    } else if (a == "--list-skips") {
      args.list_skips = true;
    } else if (a == "--reference") {
      args.case_options.reference_kernels = true;
    } else if (a == "--min-passed") {
      if (++i >= argc) return false;
      try {
        args.min_passed = std::stoi(argv[i]);
      } catch (const std::exception&) {
        return false;
      }
    } else if (a == "--no-bind") {
      args.case_options.bind_shape_inputs = false;
    } else if (a.starts_with("-") || have_dir) {
      return false;
    } else {
      args.data_dir = argv[i];
      have_dir = true;
    }
  }
  return true;
}

// Case names "<kind>/<case dir>", sorted.
std::vector<std::string> discover_cases(const fs::path& data_dir) {
  std::vector<std::string> names;
  for (std::string_view kind : kKinds) {
    const fs::path kind_dir = data_dir / kind;
    if (!fs::is_directory(kind_dir)) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(kind_dir)) {
      if (entry.is_directory()) {
        names.push_back(std::string(kind) + "/" + entry.path().filename().string());
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Kernels must never crash, but if one does, say which case it was before dying.
char g_current_case[512];

void on_fatal_signal(int sig) {
  const char head[] = "\nCRASH (fatal signal) in conformance case ";
  ssize_t ignored = write(STDERR_FILENO, head, sizeof head - 1);
  ignored = write(STDERR_FILENO, g_current_case, strnlen(g_current_case, sizeof g_current_case));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_crash_reporter() {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_fatal_signal);
}

CaseResult run_case_guarded(const fs::path& dir, const CaseOptions& options) {
  try {
    return dnnfi::conformance::run_case(dir, options);
  } catch (const std::exception& e) {
    CaseResult r;
    r.outcome = Outcome::kFailed;
    r.message = std::string("uncaught exception: ") + e.what();
    return r;
  } catch (...) {
    CaseResult r;
    r.outcome = Outcome::kFailed;
    r.message = "uncaught non-standard exception";
    return r;
  }
}

template <typename Map>
std::vector<typename Map::const_iterator> by_count_desc(const Map& m,
                                                        auto count /* (const value&) -> int */) {
  std::vector<typename Map::const_iterator> its;
  for (auto it = m.begin(); it != m.end(); ++it) its.push_back(it);
  std::stable_sort(its.begin(), its.end(),
                   [&](auto a, auto b) { return count(a->second) > count(b->second); });
  return its;
}

// op -> reason -> count
using SkipTable = std::map<std::string, std::map<std::string, int>>;

void print_skip_summary(const SkipTable& skips, int skipped) {
  if (skipped == 0) return;
  constexpr int kMaxReasonsPerOp = 4;
  fmt::print("\nSkipped {} cases ({} ops), by op:\n", skipped, skips.size());
  auto op_total = [](const std::map<std::string, int>& reasons) {
    int n = 0;
    for (const auto& [reason, count] : reasons) n += count;
    return n;
  };
  for (auto op_it : by_count_desc(skips, op_total)) {
    const auto& [op, reasons] = *op_it;
    const std::string name = op.empty() ? "(model)" : op;
    const auto sorted = by_count_desc(reasons, [](int n) { return n; });
    if (sorted.size() == 1) {
      fmt::print("  {:<28} {:>4}  {}\n", name, op_total(reasons), sorted[0]->first);
      continue;
    }
    fmt::print("  {:<28} {:>4}\n", name, op_total(reasons));
    for (std::size_t i = 0; i < sorted.size() && i < kMaxReasonsPerOp; ++i) {
      fmt::print("  {:<28} {:>4}    {}\n", "", sorted[i]->second, sorted[i]->first);
    }
    if (sorted.size() > kMaxReasonsPerOp) {
      fmt::print("  {:<28}         ... {} more reasons\n", "", sorted.size() - kMaxReasonsPerOp);
    }
  }
}

void print_failure_summary(const std::map<std::string, std::vector<std::string>>& failures,
                           int failed) {
  if (failed == 0) return;
  fmt::print("\nFailed {} cases, by op:\n", failed);
  for (auto it :
       by_count_desc(failures, [](const auto& v) { return static_cast<int>(v.size()); })) {
    const auto& [op, cases] = *it;
    std::string list;
    for (const std::string& c : cases) list += (list.empty() ? "" : ", ") + c;
    fmt::print("  {:<28} {:>4}  {}\n", op.empty() ? "(model did not load)" : op, cases.size(),
               list);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    print_usage();
    return 2;
  }
  if (!fs::is_directory(args.data_dir)) {
    std::fprintf(stderr, "test_conformance: %s is not a directory (install libonnx-testdata)\n",
                 args.data_dir.c_str());
    return 2;
  }
  install_crash_reporter();

  int passed = 0;
  int failed = 0;
  int skipped = 0;
  int passed_bound = 0;  // passed with shape-like graph inputs bound as initializers
  SkipTable skips;
  std::map<std::string, std::vector<std::string>> failures;  // op -> case names
  const auto start = std::chrono::steady_clock::now();

  for (const std::string& name : discover_cases(args.data_dir)) {
    if (!args.filter.empty() && name.find(args.filter) == std::string::npos) continue;
    std::snprintf(g_current_case, sizeof g_current_case, "%s", name.c_str());
    const auto t0 = std::chrono::steady_clock::now();
    const CaseResult r = run_case_guarded(args.data_dir / name, args.case_options);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    switch (r.outcome) {
      case Outcome::kPassed:
        ++passed;
        if (!r.bound_inputs.empty()) ++passed_bound;
        if (args.verbose) {
          std::string bound;
          for (const std::string& b : r.bound_inputs) bound += (bound.empty() ? "" : ", ") + b;
          fmt::print("PASS {} ({:.0f} ms){}\n", name, ms,
                     bound.empty() ? "" : " with inputs bound as initializers: " + bound);
        }
        break;
      case Outcome::kFailed:
        ++failed;
        failures[r.op].push_back(name);
        fmt::print("FAIL {} [{}]: {}\n", name, r.op, r.message);
        break;
      case Outcome::kSkipped:
        ++skipped;
        ++skips[r.op][r.reason];
        if (args.verbose || args.list_skips) fmt::print("SKIP {}: {}\n", name, r.message);
        break;
    }
    std::fflush(stdout);
  }

  print_skip_summary(skips, skipped);
  print_failure_summary(failures, failed);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(
      "\n({:.1f} s, {} kernels; {} of the passes with shape-like graph inputs bound as "
      "initializers)\n",
      seconds, args.case_options.reference_kernels ? "reference" : "optimised", passed_bound);
  fmt::print("{} passed, {} failed, {} skipped\n", passed, failed, skipped);
  if (passed < args.min_passed) {
    fmt::print("FAIL: {} passed, below the committed floor of {} (--min-passed)\n", passed,
               args.min_passed);
    return 1;
  }
  return failed > 0 ? 1 : 0;
}
