#include "fuzz_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "exec/session.h"
#include "targets.h"

namespace dnnfi::fuzz {

namespace fs = std::filesystem;

namespace {

struct Scratch {
  std::string path;
  Scratch() {
    std::string base = "/dev/shm";
    if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') base = t;
    if (!fs::is_directory(base)) base = fs::temp_directory_path().string();
    std::string tmpl = base + "/dnnfi-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot make " + tmpl);
    path = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

const std::string& scratch_dir() {
  static const Scratch scratch;
  return scratch.path;
}

void clear_scratch() {
  for (const auto& e : fs::directory_iterator(scratch_dir())) fs::remove_all(e.path());
}

std::string write_scratch(const std::string& name, std::string_view bytes) {
  const fs::path p = fs::path(scratch_dir()) / name;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
  return p.string();
}

std::vector<std::string_view> split_parts(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  std::size_t begin = 0;
  while (true) {
    const std::size_t at = all.find(kPartSeparator, begin);
    if (at == std::string_view::npos) break;
    parts.push_back(all.substr(begin, at - begin));
    begin = at + kPartSeparator.size();
  }
  parts.push_back(all.substr(begin));
  return parts;
}

namespace {

// Deterministic input values: small integers for integer dtypes (so that Gather indices and the
// like are sometimes valid), values in [-2, 2) for floats.
Tensor make_input(const TensorInfo& info) {
  Tensor t(info.dtype, info.shape);
  std::uint32_t state = 12345;
  auto next = [&state] { return state = state * 1664525u + 1013904223u; };
  const std::int64_t n = t.numel();
  switch (info.dtype) {
    case DType::kFloat32:
      for (std::int64_t i = 0; i < n; ++i) {
        t.data<float>()[i] = static_cast<float>(next() >> 8) / 4194304.0f - 2.0f;
      }
      break;
    case DType::kInt64:
      for (std::int64_t i = 0; i < n; ++i) t.data<std::int64_t>()[i] = next() >> 30;
      break;
    case DType::kInt32:
      for (std::int64_t i = 0; i < n; ++i) t.data<std::int32_t>()[i] = next() >> 30;
      break;
    default: {  // other dtypes: arbitrary bytes
      auto* b = static_cast<std::uint8_t*>(t.raw());
      for (std::size_t i = 0; i < t.nbytes(); ++i) b[i] = static_cast<std::uint8_t>(next() >> 24);
    }
  }
  return t;
}

void run_session(const Graph& graph, bool fused) {
  SessionOptions options;
  options.max_tensor_bytes = kMaxTensorBytes;
  options.fuse = fused;
  options.channels_last = fused;
  const auto session = Session::create(graph, options);
  std::size_t total = 0;
  for (std::size_t v = 0; v < session->graph().values.size(); ++v) {
    total += session->info(static_cast<int>(v)).nbytes();
  }
  if (total > kMaxRunBytes) return;
  std::vector<Tensor> inputs;
  for (int v : session->graph().inputs) inputs.push_back(make_input(session->info(v)));
  std::vector<Tensor> outputs;
  (void)session->run_once(inputs, outputs);  // a kernel error is a status, not a failure
}

}  // namespace

void prepare_and_run(const Graph& graph) {
  run_session(graph, false);
  run_session(graph, true);
}

void read_samples(const Dataset& dataset) {
  PreprocessConfig pre;
  pre.resize = {6, 5};
  pre.scale = 1.0 / 255;
  pre.mean = {0.5};
  pre.std = {0.25};
  const std::int64_t n = std::min<std::int64_t>(dataset.size(), 16);
  for (std::int64_t i = 0; i < n; ++i) {
    const RawSample s = dataset.get(i);
    if (s.is_image) (void)preprocess_sample(s, pre, Shape{1, 3, 6, 5}, "sample");
  }
  (void)dataset.describe();
  (void)dataset.num_classes();
}

}  // namespace dnnfi::fuzz
