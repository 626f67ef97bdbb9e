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

}  // namespace dnnfi::test
