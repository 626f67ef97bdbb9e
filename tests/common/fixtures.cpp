#include "common/fixtures.h"

#include <algorithm>
#include <filesystem>

#include "core/npy.h"
#include "exec/model_file.h"

namespace dnnfi::test {

std::vector<Fixture> model_fixtures() {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(DNNFI_SOURCE_DIR) / "tests/models/data";
  std::vector<Fixture> out;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory() || !fs::exists(entry.path() / "model.onnx")) continue;
    out.push_back({entry.path().filename().string(), (entry.path() / "model.onnx").string(),
                   (entry.path() / "input.npy").string(),
                   (entry.path() / "expected.npy").string()});
  }
  std::sort(out.begin(), out.end(),
            [](const Fixture& a, const Fixture& b) { return a.name < b.name; });
  return out;
}

Fixture default_model_fixture() {
  const std::string root = std::string(DNNFI_SOURCE_DIR) + "/models/";
  return {"fmnist_resnet", root + "fmnist_resnet.onnx", root + "fmnist_sample_input.npy",
          root + "fmnist_sample_expected.npy"};
}

LoadedFixture load_for_injection(const Fixture& f) {
  Tensor input = load_npy(f.input);
  Graph g = load_model(f.model);
  SessionOptions opts;
  opts.input_shapes[g.values[g.inputs[0]].name] = input.shape();
  LoadedFixture l;
  l.session = Session::create(std::move(g), opts);
  l.injector = std::make_unique<Injector>(l.session);
  l.golden = l.injector->golden({input});
  return l;
}

Fault random_fp32_site_fault(const Session& s, std::mt19937_64& gen) {
  const Graph& g = s.graph();
  std::vector<int> candidates;
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const TensorInfo& info = s.info(static_cast<int>(v));
    if (info.dtype == DType::kFloat32 && info.numel() > 0)
      candidates.push_back(static_cast<int>(v));
  }
  Fault f;
  const int v = candidates[gen() % candidates.size()];
  const Value& val = g.values[static_cast<std::size_t>(v)];
  f.site.value = v;
  f.site.node = val.producer;
  f.site.kind = val.producer >= 0
                    ? SiteKind::kNodeOutput
                    : (val.is_initializer ? SiteKind::kWeight : SiteKind::kGraphInput);
  f.site.flat_index =
      static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(s.info(v).numel()));
  return f;
}

}  // namespace dnnfi::test
