#include "conformance/setup_error.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <string_view>

#include "core/error.h"

namespace dnnfi::conformance {

namespace {

// Until the loader throws a dedicated error type for unsupported features, the message decides.
// These are the phrases PrepareContext (allow_attributes, require_dtype, require_constant), the
// pending_*.cpp stubs, Session::create (op not in the table) and the loader use for "this engine
// does not do that". The loader says "is not a tensor" of sequence/optional/map inputs and
// "imports no ai.onnx opset" of models that use only other domains (ai.onnx.preview.training).
constexpr std::array<std::string_view, 5> kUnsupportedPhrases = {
    "not implemented",          "not supported", "unsupported", "is not a tensor",
    "imports no ai.onnx opset",
};

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool says_unsupported(const std::string& message) {
  const std::string lower = lowercase(message);
  return std::any_of(kUnsupportedPhrases.begin(), kUnsupportedPhrases.end(),
                     [&](std::string_view p) { return lower.find(p) != std::string::npos; });
}

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
  const bool setup_kind = dynamic_cast<const NodeError*>(&e) != nullptr ||
                          dynamic_cast<const LoadError*>(&e) != nullptr;
  out.unsupported = setup_kind && says_unsupported(out.message);

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
