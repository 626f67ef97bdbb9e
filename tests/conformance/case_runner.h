// Runs one ONNX backend conformance case: <case>/model.onnx and every
// <case>/test_data_set_N/{input_K,output_K}.pb (serialized TensorProtos).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace dnnfi::conformance {

enum class Outcome { kPassed, kFailed, kSkipped };

struct CaseResult {
  Outcome outcome = Outcome::kPassed;
  // The op the result is about: for a skip, the op its reason names; otherwise the model's op
  // types ("Add", "Conv+Relu", "model(12 op types)"). "" if the model did not load.
  std::string op;
  std::string message;  // failed or skipped: one line saying why
  std::string reason;   // skipped: the message without node names, to group skips by op
  // Graph inputs that had to be bound as initializers (see CaseOptions::bind_shape_inputs).
  std::vector<std::string> bound_inputs;
};

struct CaseOptions {
  bool reference_kernels = false;  // SessionOptions::reference_kernels
  // This engine needs shape-like inputs (Reshape's shape, Slice's starts, Resize's sizes...) at
  // load time; most node tests feed them as graph inputs. When true, such a graph input is made
  // an initializer holding the data set's value, as an exporter would have written the model,
  // so the op is still tested. When false those cases are skipped.
  bool bind_shape_inputs = true;
};

// Never throws: a setup error that says the engine does not support something skips the case,
// any other error or a mismatch fails it.
CaseResult run_case(const std::filesystem::path& case_dir, const CaseOptions& options);

}  // namespace dnnfi::conformance
