// Kernel interface. Each op has a prepare function (listed in ops/registry.cpp) that validates the
// node once — attributes, arity, dtypes, shapes — computes its output TensorInfos and builds an
// immutable Kernel. Kernel::run is const, allocates nothing it keeps, never throws, and
// bounds-checks every index, shape or divisor read from tensor data (faults will corrupt them).
// See ops/TEMPLATE.cpp and docs/adding_an_op.md.
//
// Constants and faults: a kernel may precompute from a constant input at prepare time (packed
// weights, folded BatchNorm scale) only for runs in which that input is the very tensor seen at
// prepare (same data pointer). A weight fault passes a corrupted copy instead, and the kernel must
// then compute from the tensor it is given.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace dnnfi {

// One input of Kernel::run_rows: a tensor of the input's prepared shape whose rows [lo, hi) of
// axis 2 are those of `band` and whose other rows are those of `rest` (in fault propagation, a
// trial's corrupted rows and the golden value). Without a band every row comes from `rest`, as
// for inputs that are not split into rows (weights, bounds).
struct RowInput {
  const Tensor* rest = nullptr;
  const Tensor* band = nullptr;
  std::int64_t lo = 0, hi = 0;
  bool in_band(std::int64_t row) const { return band != nullptr && row >= lo && row < hi; }
  // The tensor holding `row`.
  const Tensor& at(std::int64_t row) const { return in_band(row) ? *band : *rest; }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // inputs: one per node input, nullptr where an optional input is omitted. outputs: allocated by
  // the caller with the TensorInfos prepare returned (contents undefined). Safe to call from many
  // threads at once.
  [[nodiscard]] virtual Status run(std::span<const Tensor* const> inputs,
                                   std::span<Tensor* const> outputs) const = 0;
  // Optional, for fault propagation (fi/row_regions.h): writes rows [lo, hi) of axis 2 of the
  // rank-4 output 0 into `out` (a tensor of its prepared shape; other rows left untouched), each
  // element bit-identical to what run() writes there, reading the inputs in place (one RowInput
  // per node input; `rest` null where an optional input is omitted). Returns false, writing
  // nothing, when the kernel does not compute rows for these inputs; the caller then computes
  // another way. Kernels that can (elementwise, depthwise convolution) override it.
  [[nodiscard]] virtual bool run_rows(std::span<const RowInput> inputs, Tensor& out,
                                      std::int64_t lo, std::int64_t hi) const {
    return false;
  }
};

class PrepareContext {
 public:
  PrepareContext(const Node& node, std::int64_t opset, std::string_view source,
                 std::vector<TensorInfo> inputs, std::vector<const Tensor*> constants,
                 bool reference);

  const Node& node() const { return node_; }
  std::int64_t opset() const { return opset_; }
  // True when prepare should build the plain reference implementation instead of the optimised one.
  bool reference() const { return reference_; }

  std::size_t num_inputs() const { return inputs_.size(); }
  std::size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(std::size_t i) const;
  // Throws if input i is omitted or out of range.
  const TensorInfo& input(std::size_t i) const;
  // The value of input i when it is known at prepare time (initializer, Constant, or folded), else
  // nullptr. Shape-like inputs (Reshape's shape, Slice's starts...) must be constant in this
  // engine: use require_constant.
  const Tensor* constant(std::size_t i) const;
  const Tensor& require_constant(std::size_t i) const;

  // Attributes. Each throws a NodeError naming the node when the attribute has the wrong kind.
  bool has_attr(const std::string& name) const;
  std::int64_t attr_int(const std::string& name, std::int64_t fallback) const;
  float attr_float(const std::string& name, float fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;
  std::vector<std::int64_t> attr_ints(const std::string& name,
                                      std::vector<std::int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& name, std::vector<float> fallback = {}) const;
  const Tensor* attr_tensor(const std::string& name) const;

  // Every prepare function calls this first: an attribute it does not implement is an error.
  void allow_attributes(std::initializer_list<std::string_view> names) const;
  // Checks the input count is within [min, max].
  void require_inputs(std::size_t min, std::size_t max) const;
  // Checks input i has one of the dtypes.
  void require_dtype(std::size_t i, std::initializer_list<DType> allowed) const;

  // Throws NodeError: "<source>: node '<name>' (<op> opset <n>): <message>".
  [[noreturn]] void fail(const std::string& message) const;
  // Same message, thrown as UnsupportedError: the node is valid ONNX this engine does not
  // implement.
  [[noreturn]] void unsupported(const std::string& message) const;

 private:
  const Node& node_;
  std::int64_t opset_;
  std::string_view source_;
  std::vector<TensorInfo> inputs_;
  std::vector<const Tensor*> constants_;
  bool reference_;
};

struct Prepared {
  std::unique_ptr<Kernel> kernel;
  std::vector<TensorInfo> outputs;  // one per node output
};

using PrepareFn = Prepared (*)(const PrepareContext&);

// Convenience: a kernel from a lambda-like callable `Status(inputs, outputs)` held by value.
template <typename F>
class FnKernel final : public Kernel {
 public:
  explicit FnKernel(F f) : f_(std::move(f)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    return f_(in, out);
  }

 private:
  F f_;
};
template <typename F>
std::unique_ptr<Kernel> make_kernel(F f) {
  return std::make_unique<FnKernel<F>>(std::move(f));
}

}  // namespace dnnfi
