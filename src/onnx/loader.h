// ONNX model file -> Graph, with Debian's libonnx protobuf classes. Supports IR versions 3..9 and
// ai.onnx opsets 1..17 (an op whose registry rows start after the model's opset is a load error),
// initializers (raw_data, typed fields, external data files), Constant nodes, graph inputs that are
// also initializers, symbolic dims.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/tensor.h"
#include "graph/graph.h"

namespace onnx {
class TensorProto;
}

namespace dnnfi {

inline constexpr std::int64_t kMinOnnxOpset = 1;
inline constexpr std::int64_t kMaxOnnxOpset = 17;

// Throws LoadError naming the file (and node/value) on any problem.
Graph load_onnx(const std::string& path);

// A TensorProto as a Tensor. base_dir resolves external data locations; `what` names the tensor
// in error messages. raw_data, when given, is the tensor's raw_data field read in place from the
// model file (proto then lacks it). Throws LoadError.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir,
                         const std::string& what,
                         std::optional<std::string_view> raw_data = std::nullopt);
// Reads a serialized TensorProto file (the conformance suite's input_N.pb / output_N.pb).
Tensor load_tensor_pb(const std::string& path);

}  // namespace dnnfi
