// The PyTorch-exported architecture fixtures under tests/models/data (see its MANIFEST.md) and the
// bundled default model.
#pragma once

#include <memory>
#include <random>
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

// A fault at a random element of a random float32 value of the session (node outputs, folded
// ones included, weights, graph inputs); its model is left to the caller, which draws it from
// `gen` next.
Fault random_fp32_site_fault(const Session& s, std::mt19937_64& gen);

}  // namespace dnnfi::test
