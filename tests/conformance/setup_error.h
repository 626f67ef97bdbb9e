// Sorting setup-time errors (load, prepare) of a conformance case into "the engine does not
// support this" (the case is skipped) and anything else (the case fails).
#pragma once

#include <exception>
#include <string>

namespace dnnfi::conformance {

struct SetupError {
  bool unsupported = false;
  std::string op;       // op type the error names ("domain.Op" outside ai.onnx), "" if none
  std::string message;  // what() without the model path prefix
  std::string reason;   // message without the node prefix either, for grouping by op
};

// Only dnnfi::NodeError and dnnfi::LoadError can mean "unsupported"; among those the message
// decides (see the .cpp). `model_path` is stripped from the message.
SetupError classify_setup_error(const std::exception& e, const std::string& model_path);

}  // namespace dnnfi::conformance
