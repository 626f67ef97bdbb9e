// Setup-time errors (load, shape inference, prepare, config parsing). Each carries one line that
// names what is at fault: the file, node, op type/opset or config key. The CLI prints what() and
// exits with code 2; the library never exits.
#pragma once

#include <stdexcept>
#include <string>

namespace dnnfi {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The model file cannot be read or is not a valid model.
class LoadError : public Error {
 public:
  using Error::Error;
};

// A node is invalid or unsupported (op, attribute, dtype, shape).
class NodeError : public Error {
 public:
  using Error::Error;
};

// The model uses something this engine does not implement (op, opset, attribute value, dtype,
// data-dependent shape). Distinct from a malformed model so that test suites can skip exactly
// these.
class UnsupportedError : public NodeError {
 public:
  using NodeError::NodeError;
};

// Bad user input to run/inject (input file, shapes, options).
class InputError : public Error {
 public:
  using Error::Error;
};

}  // namespace dnnfi
