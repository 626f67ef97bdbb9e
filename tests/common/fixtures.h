// The PyTorch-exported architecture fixtures under tests/models/data (see its MANIFEST.md) and the
// bundled default model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fi/injector.h"

namespace dnnfi::test {

struct Fixture {
  std::string name;
  std::string model;     // path to model.onnx
  std::string input;     // input.npy
  std::string expected;  // expected.npy (PyTorch's output)
};

std::vector<Fixture> model_fixtures();
Fixture default_model_fixture();

// A fixture prepared for fault injection: session (for the input's shape), injector, golden run.
struct LoadedFixture {
  std::shared_ptr<const Session> session;
  std::unique_ptr<Injector> injector;
  GoldenRun golden;
};
LoadedFixture load_for_injection(const Fixture& f);

}  // namespace dnnfi::test
