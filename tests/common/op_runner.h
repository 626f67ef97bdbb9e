// Test helper: prepare and run one op without a graph (tflite-micro KernelRunner style).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "ops/kernel.h"

namespace dnnfi::test {

Attribute attr_int(std::int64_t v);
Attribute attr_float(float v);
Attribute attr_string(std::string v);
Attribute attr_ints(std::vector<std::int64_t> v);
Attribute attr_floats(std::vector<float> v);
Attribute attr_tensor(Tensor t);

struct OpCall {
  std::string op_type;
  std::vector<std::optional<Tensor>> inputs;  // nullopt = omitted optional input
  std::map<std::string, Attribute> attributes;
  std::int64_t opset = 13;
  bool reference = false;      // build the reference implementation
  std::vector<bool> constant;  // inputs known at prepare time (default: all but input 0)
  std::size_t num_outputs = 1;
  std::string domain;  // "" = ai.onnx
};

struct OpResult {
  Status status;
  std::vector<Tensor> outputs;
};

// An op prepared from an OpCall: a node named "test_<op>" whose inputs are value ids 0.. and
// outputs 100.., constants per OpCall.constant. Kept so that its kernel can run many times, on
// other inputs too (run-time corruption, determinism and thread-safety tests). Throws NodeError
// like the loader would.
class PreparedOp {
 public:
  explicit PreparedOp(const OpCall& call);
  const std::vector<TensorInfo>& outputs() const { return prepared_.outputs; }
  const Kernel& kernel() const { return *prepared_.kernel; }
  // Runs on freshly allocated outputs.
  OpResult run(const std::vector<std::optional<Tensor>>& inputs) const;

 private:
  Node node_;
  Prepared prepared_;
};

// Looks the op up in the registry, prepares it (throws NodeError like the loader would) and runs
// it on freshly allocated outputs.
OpResult run_op(const OpCall& call);

// A float32 NCHW tensor's bytes in NHWC order, keeping the NCHW shape (what channels-last kernels
// of inference sessions read and write), and back.
Tensor to_nhwc(const Tensor& nchw);
Tensor from_nhwc(const Tensor& nhwc_bytes);

// Fills a tensor with deterministic pseudo-random values in [lo, hi).
Tensor random_tensor(Shape shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// Max |a-b| / (atol + rtol*|b|) style check; returns a message on the first mismatch, "" if close.
std::string compare_close(const Tensor& actual, const Tensor& expected, double rtol, double atol);

}  // namespace dnnfi::test
