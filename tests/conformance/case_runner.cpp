#include "conformance/case_runner.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <vector>

#include "conformance/compare.h"
#include "conformance/setup_error.h"
#include "core/error.h"
#include "exec/session.h"
#include "onnx/loader.h"

namespace dnnfi::conformance {

namespace fs = std::filesystem;

namespace {

CaseResult failed(std::string op, std::string message) {
  CaseResult r;
  r.outcome = Outcome::kFailed;
  r.op = std::move(op);
  r.message = std::move(message);
  return r;
}

// A setup step threw: skipped when it is about an unsupported feature, failed otherwise.
CaseResult from_setup_error(const std::exception& e, const std::string& model_path,
                            const std::string& model_op, const std::string& step) {
  const SetupError s = classify_setup_error(e, model_path);
  CaseResult r;
  r.op = s.op.empty() ? model_op : s.op;
  if (s.unsupported) {
    r.outcome = Outcome::kSkipped;
    r.message = s.message;
    r.reason = s.reason;
  } else {
    r.outcome = Outcome::kFailed;
    r.message = step + " threw: " + s.message;
  }
  return r;
}

// "Add", "Conv+Relu", or "model(N op types)" for larger models; Constant is left out unless it
// is the only op.
std::string op_label(const Graph& graph) {
  std::vector<std::string> ops;
  for (const Node& node : graph.nodes) {
    std::string op = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
    if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(std::move(op));
  }
  if (ops.size() > 1) std::erase(ops, std::string("Constant"));
  if (ops.empty()) return "(no nodes)";
  if (ops.size() > 3) return "model(" + std::to_string(ops.size()) + " op types)";
  std::string label = ops[0];
  for (std::size_t i = 1; i < ops.size(); ++i) label += "+" + ops[i];
  return label;
}

// test_data_set_0, test_data_set_1, ... in numeric order.
std::vector<fs::path> data_set_dirs(const fs::path& case_dir) {
  std::vector<std::pair<long, fs::path>> sets;
  const std::string prefix = "test_data_set_";
  for (const fs::directory_entry& entry : fs::directory_iterator(case_dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || !name.starts_with(prefix)) continue;
    sets.emplace_back(std::strtol(name.c_str() + prefix.size(), nullptr, 10), entry.path());
  }
  std::sort(sets.begin(), sets.end());
  std::vector<fs::path> dirs;
  for (auto& s : sets) dirs.push_back(std::move(s.second));
  return dirs;
}

// <dir>/<stem>0.pb, <stem>1.pb, ... up to the first missing one.
std::vector<Tensor> load_numbered(const fs::path& dir, const std::string& stem) {
  std::vector<Tensor> tensors;
  for (int k = 0;; ++k) {
    const fs::path file = dir / (stem + std::to_string(k) + ".pb");
    if (!fs::exists(file)) break;
    tensors.push_back(load_tensor_pb(file.string()));
  }
  return tensors;
}

// The suite's own data must agree with the model's declared inputs (dtype, rank, static dims);
// a few cases of ONNX 1.12 do not (bfloat16 data stored as uint16, CastLike's 'like' as [1]).
// Returns "" when it agrees, else which input does not.
std::string data_mismatch(const Graph& graph, const std::vector<Tensor>& inputs) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Value& value = graph.values[static_cast<std::size_t>(graph.inputs[i])];
    const TensorInfo& declared = value.info;
    const Shape& given = inputs[i].shape();
    bool ok = declared.dtype == inputs[i].dtype() && declared.shape.size() == given.size();
    for (std::size_t d = 0; ok && d < given.size(); ++d) {
      ok = declared.shape[d] < 0 || declared.shape[d] == given[d];
    }
    if (!ok) {
      return "input_" + std::to_string(i) + ".pb is " + std::string(dtype_name(inputs[i].dtype())) +
             " " + shape_to_string(given) + " but the model declares '" + value.name + "' as " +
             std::string(dtype_name(declared.dtype)) + " " + shape_to_string(declared.shape);
    }
  }
  return "";
}

// The element type the model file declares for each graph output (ONNX code; 0 when not given,
// -1 when the output is not a tensor). The Graph does not keep declared output types.
std::vector<int> declared_output_types(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  onnx::ModelProto model;
  std::vector<int> types;
  if (!in || !model.ParseFromIstream(&in)) return types;
  for (const onnx::ValueInfoProto& out : model.graph().output()) {
    if (!out.has_type()) {
      types.push_back(0);
    } else if (!out.type().has_tensor_type()) {
      types.push_back(-1);
    } else {
      types.push_back(out.type().tensor_type().elem_type());
    }
  }
  return types;
}

// The position in graph.inputs of the graph input that a "must be known at load time" error
// (PrepareContext::require_constant) is about, or -1 when the error is another one.
int input_needed_constant(const std::exception& e, const Graph& graph) {
  if (dynamic_cast<const NodeError*>(&e) == nullptr) return -1;
  static const std::regex kNeedsConstant(
      R"(node '([^']*)' \([^)]*\): input (\d+) must be known at load time)");
  std::cmatch m;
  if (!std::regex_search(e.what(), m, kNeedsConstant)) return -1;
  const int n = graph.find_node(m[1].str());
  const std::size_t k = std::stoul(m[2].str());
  if (n < 0 || k >= graph.nodes[static_cast<std::size_t>(n)].inputs.size()) return -1;
  const int value = graph.nodes[static_cast<std::size_t>(n)].inputs[k];
  const auto it = std::find(graph.inputs.begin(), graph.inputs.end(), value);
  return it == graph.inputs.end() ? -1 : static_cast<int>(it - graph.inputs.begin());
}

// Turns graph input `pos` into an initializer holding its data-set value; returns its name.
std::string bind_input(Graph& graph, std::vector<Tensor>& inputs, std::size_t pos) {
  Value& value = graph.values[static_cast<std::size_t>(graph.inputs[pos])];
  value.is_initializer = true;
  value.initializer = inputs[pos];
  value.info = inputs[pos].info();
  graph.inputs.erase(graph.inputs.begin() + static_cast<std::ptrdiff_t>(pos));
  inputs.erase(inputs.begin() + static_cast<std::ptrdiff_t>(pos));
  return value.name;
}

CaseResult skipped_bad_data(std::string op, const std::string& message) {
  CaseResult r;
  r.outcome = Outcome::kSkipped;
  r.op = std::move(op);
  r.message = "suite data disagrees with the model: " + message;
  r.reason = "suite data disagrees with the model's declared types";
  return r;
}

}  // namespace

CaseResult run_case(const fs::path& case_dir, const CaseOptions& options) {
  const fs::path model_file = case_dir / "model.onnx";
  const std::string model_path = model_file.string();
  if (!fs::exists(model_file)) {
    CaseResult r;
    r.outcome = Outcome::kSkipped;
    r.message = r.reason = "no model.onnx (a download-only case)";
    return r;
  }

  Graph graph;
  try {
    graph = load_onnx(model_path);
  } catch (const std::exception& e) {
    return from_setup_error(e, model_path, "", "load_onnx");
  }
  const std::string op = op_label(graph);

  const std::vector<fs::path> sets = data_set_dirs(case_dir);
  if (sets.empty()) return failed(op, "no test_data_set_* directory");
  std::set<std::string> bound;  // graph inputs bound as initializers in some data set

  for (const fs::path& set : sets) {
    const std::string where = set.filename().string() + ": ";
    std::vector<Tensor> inputs;
    try {
      inputs = load_numbered(set, "input_");
    } catch (const std::exception& e) {
      return from_setup_error(e, model_path, op, where + "load_tensor_pb");
    }
    if (inputs.size() != graph.inputs.size()) {
      return failed(op, where + std::to_string(inputs.size()) + " input files for " +
                            std::to_string(graph.inputs.size()) + " graph inputs");
    }
    if (std::string bad = data_mismatch(graph, inputs); !bad.empty()) {
      return skipped_bad_data(op, where + bad);
    }

    // A shape-like input (Reshape's shape, Slice's starts...) must be known at load time in this
    // engine; the node tests feed it as a graph input. Binding the data set's value as an
    // initializer gives the model an exporter would have written, and tests the op.
    Graph bound_graph = graph;
    std::vector<Tensor> run_inputs = inputs;
    std::shared_ptr<const Session> session;
    while (session == nullptr) {
      SessionOptions session_options;
      session_options.reference_kernels = options.reference_kernels;
      for (std::size_t i = 0; i < run_inputs.size(); ++i) {
        const Value& value = bound_graph.values[static_cast<std::size_t>(bound_graph.inputs[i])];
        session_options.input_shapes[value.name] = run_inputs[i].shape();
      }
      try {
        session = Session::create(bound_graph, session_options);
      } catch (const std::exception& e) {
        const int pos = options.bind_shape_inputs ? input_needed_constant(e, bound_graph) : -1;
        if (pos < 0) return from_setup_error(e, model_path, op, where + "Session::create");
        bound.insert(bind_input(bound_graph, run_inputs, static_cast<std::size_t>(pos)));
      }
    }

    // After Session::create: an output of a type the engine rejects (sequence, optional, string)
    // is reported by the op that makes it, not by a parse of its .pb file as a TensorProto.
    const std::vector<int> declared = declared_output_types(model_path);
    for (std::size_t i = 0; i < declared.size(); ++i) {
      if (declared[i] < 0) {
        return failed(op, where + "Session::create accepted a model whose output " +
                              std::to_string(i) + " is not a tensor");
      }
    }
    std::vector<Tensor> expected;
    try {
      expected = load_numbered(set, "output_");
    } catch (const std::exception& e) {
      return from_setup_error(e, model_path, op, where + "load_tensor_pb");
    }
    for (std::size_t i = 0; i < expected.size() && i < declared.size(); ++i) {
      const DType want = dtype_from_onnx(declared[i]);
      if (declared[i] != 0 && want != DType::kUndefined && want != expected[i].dtype()) {
        return skipped_bad_data(op, where + "output_" + std::to_string(i) + ".pb is " +
                                        std::string(dtype_name(expected[i].dtype())) +
                                        " but the model declares " + std::string(dtype_name(want)));
      }
    }

    std::vector<Tensor> outputs;
    try {
      const Status status = session->run_once(run_inputs, outputs);
      if (!status.is_ok()) return failed(op, where + "run failed: " + status.message());
    } catch (const std::exception& e) {
      return failed(op, where + "run threw: " + std::string(e.what()));
    }

    if (outputs.size() != expected.size()) {
      return failed(op, where + std::to_string(outputs.size()) + " outputs, expected " +
                            std::to_string(expected.size()));
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const std::string mismatch = compare_outputs(outputs[i], expected[i]);
      if (!mismatch.empty()) {
        const std::string name = i < graph.outputs.size()
                                     ? graph.values[static_cast<std::size_t>(graph.outputs[i])].name
                                     : std::string();
        return failed(op, where + "output " + std::to_string(i) + " '" + name + "': " + mismatch);
      }
    }
  }

  CaseResult passed;
  passed.op = op;
  passed.bound_inputs.assign(bound.begin(), bound.end());
  return passed;
}

}  // namespace dnnfi::conformance
