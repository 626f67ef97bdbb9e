#include "conformance/setup_error.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <string_view>

#include "core/error.h"

namespace dnnfi::conformance {

namespace {

// Drops the model path prefix; a leading path to another file (a .pb) is shortened to its name.
std::string strip_path(std::string message, const std::string& model_path) {
  const std::string prefix = model_path + ": ";
  if (message.starts_with(prefix)) return message.erase(0, prefix.size());
  const std::size_t colon = message.find(": ");
  if (message.starts_with("/") && colon != std::string::npos) {
    const std::size_t slash = message.rfind('/', colon);
    message.erase(0, slash + 1);
  }
  return message;
}

}  // namespace

SetupError classify_setup_error(const std::exception& e, const std::string& model_path) {
  SetupError out;
  out.message = strip_path(e.what(), model_path);
  out.reason = out.message;
  // Exactly the errors the engine raises for valid ONNX it does not implement.
  out.unsupported = dynamic_cast<const UnsupportedError*>(&e) != nullptr;

  // PrepareContext::fail: "node '<name>' (<domain.>Op opset <n>): <message>"; the loader:
  // "node '<name>' (<Op>): <message>".
  static const std::regex kNodePrefix(R"(node '[^']*' \(([A-Za-z0-9_.]+)(?: opset -?\d+)?\): )");
  // Session::create for an op missing from the table: "node '<name>': unsupported op <Op> (...".
  static const std::regex kUnsupportedOp(R"(node '[^']*': unsupported op ([A-Za-z0-9_.]+)(.*))");
  std::smatch m;
  if (std::regex_search(out.reason, m, kNodePrefix)) {
    out.op = m[1].str();
    out.reason = m.suffix().str();
  } else if (std::regex_search(out.reason, m, kUnsupportedOp)) {
    out.op = m[1].str();
    out.reason = "unsupported op" + m[2].str();
  }
  return out;
}

}  // namespace dnnfi::conformance
