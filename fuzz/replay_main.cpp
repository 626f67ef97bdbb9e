// dnnfi_fuzz_replay TARGET PATH...: runs each file (or each file in each folder) through a fuzz
// target in an ordinary build, as the libFuzzer executable would, and reports inputs that break
// the target's contract (fuzz/targets.h). Exit status: 0 when every input passed, 1 otherwise,
// 2 on bad arguments. The replay tests run it over the seed corpora and fuzz/regressions/.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "targets.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: dnnfi_fuzz_replay TARGET PATH...\n");
    return 2;
  }
  const std::string name = argv[1];
  const auto* target =
      std::find_if(std::begin(dnnfi::fuzz::kTargets), std::end(dnnfi::fuzz::kTargets),
                   [&](const auto& t) { return t.name == name; });
  if (target == std::end(dnnfi::fuzz::kTargets)) {
    std::fprintf(stderr, "dnnfi_fuzz_replay: no fuzz target '%s'\n", name.c_str());
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 2; i < argc; ++i) {
    const fs::path p = argv[i];
    if (fs::is_directory(p)) {
      for (const auto& e : fs::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "dnnfi_fuzz_replay: %s: no such file or folder\n", p.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  int failed = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      target->fn(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s: escaped the target: %s\n", name.c_str(), f.c_str(), e.what());
      ++failed;
    }
  }
  std::printf("%s: %zu inputs replayed, %d failed\n", name.c_str(), files.size(), failed);
  return failed == 0 ? 0 : 1;
}
