// A prepared, immutable model: every node validated and given a kernel, every value's dtype and
// static shape inferred for the chosen input shapes, constant subgraphs (shape arithmetic) folded.
// Runs from any number of threads at once, each with its own ValueStore.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "ops/kernel.h"

namespace dnnfi {

struct SessionOptions {
  int threads = 1;  // intra-op threads used by run() on the calling thread
  // Shapes for graph inputs by name; a symbolic dim not given here becomes 1 (batch 1).
  std::map<std::string, Shape> input_shapes;
  bool reference_kernels = false;  // use the plain reference kernels everywhere
  // Inference only: fuse Conv with a following residual Add and Relu/Clip (exec/fusion.h), and
  // rewrite a QDQ model's DequantizeLinear -> op -> QuantizeLinear groups into int8 QOperator
  // nodes as ONNX Runtime does (exec/qdq_fusion.h; results then equal ORT's, and may differ from
  // the graph as written by a quantization step). The absorbed nodes' outputs are never
  // computed, so fault injection refuses a fused session.
  bool fuse = false;
  // Activations passed between convolutions, pools, channel Concats, BatchNormalizations and
  // same-shape elementwise ops stay channels-last (exec/fusion.h), saving the layout reorders
  // around each oneDNN convolution. The kernels then chosen may sum in a different order, so
  // outputs can differ from a session without it in the last bits. Without fuse this is a
  // channels-last fault-injection session: every node output is still kept, some of them in
  // NHWC bytes (Session::nhwc); fault sites keep naming elements in ONNX (NCHW) order.
  bool channels_last = false;
  // The largest tensor (bytes) a graph input or node output may have; a model whose shapes
  // (from the file, or inferred from its attributes and constants) exceed it is refused at
  // prepare time with an error naming the value, instead of failing to allocate.
  std::size_t max_tensor_bytes = std::size_t{8} << 30;
};

// One tensor per value id: the graph inputs, every node output, and (aliased, read-only) the
// constants. A full store (make_store) keeps every node's output after a run: that is the golden
// activation cache. A planned store (make_planned_store) shares one arena between values whose
// lifetimes do not overlap, so after a run only the graph inputs and outputs are meaningful.
class ValueStore {
 public:
  Tensor& operator[](int id) { return values_[static_cast<std::size_t>(id)]; }
  const Tensor& operator[](int id) const { return values_[static_cast<std::size_t>(id)]; }
  std::size_t size() const { return values_.size(); }
  // True for a store from make_planned_store: intermediate values are overwritten during a run.
  bool planned() const { return arena_ != nullptr; }

 private:
  friend class Session;
  std::vector<Tensor> values_;
  std::shared_ptr<void> arena_;  // the planned store's shared buffer
};

// Where each intermediate value lives in a planned store's arena.
struct MemoryPlan {
  std::size_t arena_bytes = 0;      // the arena's size
  std::size_t unplanned_bytes = 0;  // what the same values take in a full store
  std::vector<std::size_t> offset;  // by value id; kNotPlanned for values with their own buffer
  static constexpr std::size_t kNotPlanned = static_cast<std::size_t>(-1);
};

class Session {
 public:
  // Validates and prepares; throws dnnfi::Error subclasses naming the node at fault.
  static std::shared_ptr<const Session> create(Graph graph, const SessionOptions& options = {});

  const Graph& graph() const { return graph_; }
  const SessionOptions& options() const { return options_; }
  const TensorInfo& info(int value_id) const { return infos_[static_cast<std::size_t>(value_id)]; }
  // True for initializers and values folded at prepare time; they are never recomputed by run().
  bool is_constant(int value_id) const { return constant_[static_cast<std::size_t>(value_id)]; }
  // Node indices that run() executes, in topological order (folded nodes excluded).
  const std::vector<int>& run_order() const { return run_order_; }
  const Kernel& kernel(int node) const { return *kernels_[static_cast<std::size_t>(node)]; }
  // True when value v (an intermediate rank-4 value of shape [N, C, H, W]) is held in NHWC bytes
  // (SessionOptions::channels_last): element (n, c, h, w) at ((n * H + h) * W + w) * C + c.
  bool nhwc(int value_id) const {
    return !nhwc_.empty() && nhwc_[static_cast<std::size_t>(value_id)];
  }
  // Where element `flat_index` (ONNX order) of value v lies in its tensor's bytes, in elements.
  std::int64_t storage_index(int value_id, std::int64_t flat_index) const;

  // A store with every non-constant value allocated with its prepared shape.
  ValueStore make_store() const;
  // The same store (every non-constant value zero-filled) made from the buffers of `used`, a
  // full store of this session nobody reads any more, where they fit and no other tensor shares
  // them: fresh allocations are page faults, which cost more than the run on some VMs.
  ValueStore make_store(ValueStore used) const;
  // A store for run() whose intermediate values share one arena (see memory_plan()): far less
  // memory, and the buffers a node writes are usually still in cache. Only run() may use it, and
  // after a run only graph inputs and outputs hold their values.
  ValueStore make_planned_store() const;
  // The planned store's layout: each intermediate value (not a graph input or output) lives from
  // the step that produces it to the last step that reads it, and values whose lifetimes overlap
  // never share bytes, so no kernel's output aliases one of its inputs.
  const MemoryPlan& memory_plan() const { return plan_; }
  // Checks inputs against the prepared input infos; throws InputError naming the input.
  void check_inputs(std::span<const Tensor> inputs) const;
  // Copies the inputs (graph input order) into the store and runs every node of run_order().
  Status run(ValueStore& store, std::span<const Tensor> inputs) const;
  // The same, calling after_node(n) once node n of run_order() has run (before the next one
  // runs, so in a planned store every value node n reads or writes is still intact then).
  Status run(ValueStore& store, std::span<const Tensor> inputs,
             const std::function<void(int)>& after_node) const;
  // Runs one node, reading its inputs from and writing its outputs to the store.
  Status run_node(int node, ValueStore& store) const;
  // Runs node n with its inputs looked up in `table` (value id -> tensor, e.g. a mix of golden and
  // faulty tensors) and its outputs written to `outputs` (one per node output, null if omitted).
  Status run_node_with(int n, std::span<const Tensor* const> table,
                       std::span<Tensor* const> outputs) const;
  // A kernel for a variant of node n: `node` (n's inputs and outputs, possibly other attribute
  // values) prepared for input infos `inputs` (one per node input), with n's constant inputs
  // passed as constants. Fault propagation uses it to recompute a band of rows (fi/row_regions.h).
  // The output infos go to `outputs`. Throws dnnfi::Error when the variant is not valid.
  std::unique_ptr<Kernel> prepare_variant(int n, const Node& node, std::vector<TensorInfo> inputs,
                                          std::vector<TensorInfo>& outputs) const;
  // Copies of the graph outputs in the store.
  std::vector<Tensor> outputs(const ValueStore& store) const;

  // One-shot convenience: make_store + run + outputs. Throws InputError on bad inputs; a kernel
  // error is returned as a non-OK status.
  Status run_once(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) const;

 private:
  Session() = default;
  Graph graph_;
  SessionOptions options_;
  std::vector<TensorInfo> infos_;
  std::vector<bool> constant_;
  std::vector<Tensor> constants_;                 // by value id; empty where not constant
  std::vector<std::unique_ptr<Kernel>> kernels_;  // by node index; null for folded nodes
  std::vector<int> run_order_;
  std::vector<bool> nhwc_;  // by value id; empty when no value is channels-last
  MemoryPlan plan_;
};

}  // namespace dnnfi
