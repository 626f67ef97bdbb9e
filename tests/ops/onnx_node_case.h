// Test helper (header-only, shared by the op tests of one group): runs an ONNX backend node test
// case from Debian's libonnx-testdata directly through run_op — the single node of model.onnx, its
// attributes and the tensors of test_data_set_0 — so an op's conformance is checked even before
// the whole-model path exists.
#pragma once

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/dtype.h"

namespace dnnfi::test {

inline const char* kOnnxNodeTestDir = "/usr/share/libonnx-testdata/data/node";

inline bool read_proto(const std::filesystem::path& path, google::protobuf::Message& msg) {
  std::ifstream f(path, std::ios::binary);
  return f && msg.ParseFromIstream(&f);
}

inline Tensor tensor_from_proto(const onnx::TensorProto& t) {
  Shape shape(t.dims().begin(), t.dims().end());
  const DType dtype = dtype_from_onnx(t.data_type());
  Tensor out(dtype, shape);
  if (!t.raw_data().empty()) {
    std::memcpy(out.raw(), t.raw_data().data(), std::min(out.nbytes(), t.raw_data().size()));
  } else if (dtype == DType::kFloat32) {
    for (int i = 0; i < t.float_data_size() && i < out.numel(); ++i) {
      out.data<float>()[i] = t.float_data(i);
    }
  } else if (dtype == DType::kInt64) {
    for (int i = 0; i < t.int64_data_size() && i < out.numel(); ++i) {
      out.data<std::int64_t>()[i] = t.int64_data(i);
    }
  }
  return out;
}

struct NodeCase {
  OpCall call;
  std::vector<Tensor> expected;
};

// Loads case `name` (e.g. "test_conv_with_strides_padding"); nullopt when it is not installed.
// Inputs after the first are treated as constants, like weights in a real model.
inline std::optional<NodeCase> load_node_case(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(kOnnxNodeTestDir) / name;
  onnx::ModelProto model;
  if (!read_proto(dir / "model.onnx", model) || model.graph().node_size() != 1) return std::nullopt;
  const onnx::NodeProto& node = model.graph().node(0);
  NodeCase c;
  c.call.op_type = node.op_type();
  for (const auto& imp : model.opset_import()) {
    if (imp.domain().empty() || imp.domain() == "ai.onnx") c.call.opset = imp.version();
  }
  for (const onnx::AttributeProto& a : node.attribute()) {
    switch (a.type()) {
      case onnx::AttributeProto::INT:
        c.call.attributes[a.name()] = attr_int(a.i());
        break;
      case onnx::AttributeProto::FLOAT:
        c.call.attributes[a.name()] = attr_float(a.f());
        break;
      case onnx::AttributeProto::STRING:
        c.call.attributes[a.name()] = attr_string(a.s());
        break;
      case onnx::AttributeProto::INTS:
        c.call.attributes[a.name()] = attr_ints({a.ints().begin(), a.ints().end()});
        break;
      case onnx::AttributeProto::FLOATS:
        c.call.attributes[a.name()] = attr_floats({a.floats().begin(), a.floats().end()});
        break;
      default:
        return std::nullopt;
    }
  }
  const std::filesystem::path data = dir / "test_data_set_0";
  std::size_t file = 0;
  for (const std::string& in : node.input()) {
    if (in.empty()) {
      c.call.inputs.push_back(std::nullopt);
      continue;
    }
    onnx::TensorProto t;
    if (!read_proto(data / ("input_" + std::to_string(file++) + ".pb"), t)) return std::nullopt;
    c.call.inputs.push_back(tensor_from_proto(t));
  }
  c.call.num_outputs = static_cast<std::size_t>(node.output_size());
  for (int i = 0; i < node.output_size(); ++i) {
    onnx::TensorProto t;
    if (!read_proto(data / ("output_" + std::to_string(i) + ".pb"), t)) return std::nullopt;
    c.expected.push_back(tensor_from_proto(t));
  }
  return c;
}

// Runs the named case with the reference and with the optimised kernels and compares every output
// with the case's expected tensors (relative and absolute tolerance `tol`). A missing case fails:
// libonnx-testdata is a test dependency.
inline void expect_node_case(const std::string& name, double tol = 1e-5) {
  std::optional<NodeCase> c = load_node_case(name);
  ASSERT_TRUE(c) << name << " not installed (libonnx-testdata)";
  for (bool reference : {true, false}) {
    c->call.reference = reference;
    OpResult r = run_op(c->call);
    ASSERT_TRUE(r.status.is_ok()) << name << ": " << r.status.message();
    ASSERT_EQ(r.outputs.size(), c->expected.size()) << name;
    for (std::size_t i = 0; i < r.outputs.size(); ++i) {
      EXPECT_EQ(compare_close(r.outputs[i], c->expected[i], tol, tol), "")
          << name << " output " << i << " reference=" << reference;
    }
  }
}

}  // namespace dnnfi::test
