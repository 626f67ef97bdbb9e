// The PyTorch-exported architecture fixtures under tests/models/data (see its MANIFEST.md) and the
// bundled default model.
#pragma once

#include <string>
#include <vector>

namespace dnnfi::test {

struct Fixture {
  std::string name;
  std::string model;     // path to model.onnx
  std::string input;     // input.npy
  std::string expected;  // expected.npy (PyTorch's output)
};

std::vector<Fixture> model_fixtures();
Fixture default_model_fixture();

}  // namespace dnnfi::test
