#include "py_model.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/fault_model.h"
#include "fi/injector.h"
#include "numpy_tensor.h"

namespace py = pybind11;

namespace dnnfi::python {

namespace {

// A Python callable as a tensor callback. The lambda holding it is copied inside
// Injector::run_trial without the GIL, so it holds the object through a shared_ptr (no Python
// reference counting there) whose last owner drops the object under the GIL.
struct PyCallable {
  py::object fn;
  explicit PyCallable(py::object f) : fn(std::move(f)) {}
  ~PyCallable() {
    py::gil_scoped_acquire gil;
    fn = py::object();
  }
};

// The sessions of one set of input shapes, fused (inference, as `dnnfi run`) or not (golden runs
// and fault injection, as `dnnfi run --golden` and `dnnfi inject`).
struct SessionEntry {
  std::shared_ptr<const Session> session;
  std::shared_ptr<const Injector> injector;  // unfused sessions only
  bool fused = false;

  // Idle stores for run(), so repeated calls do not re-allocate every activation.
  std::mutex mu;
  std::vector<ValueStore> idle;

  ValueStore take_store() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        ValueStore s = std::move(idle.back());
        idle.pop_back();
        return s;
      }
    }
    return fused ? session->make_planned_store() : session->make_store();
  }
  void give_back(ValueStore store) {
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < 8) idle.push_back(std::move(store));
  }
};

class Model;

// A golden (fault-free) run of one input, kept to evaluate many faults against it.
struct Golden {
  const Model* model = nullptr;
  std::shared_ptr<const Injector> injector;
  GoldenRun run;
};

class Model {
 public:
  Model(std::string path, int threads, bool reference) : path_(std::move(path)) {
    if (threads < 1) throw InputError("threads must be >= 1");
    base_.threads = threads;
    base_.reference_kernels = reference;
    graph_ = load_model(path_);
    // Prepare the unfused session now: an unsupported op is an error at load, as in the CLI.
    default_ = &entry(false, {});
  }

  const std::string& path() const { return path_; }
  int threads() const { return base_.threads; }

  // (name, dtype, shape with None for symbolic dims, dim names) per graph input/output.
  py::list value_specs(const std::vector<int>& ids, bool prepared) const {
    py::list out;
    const Session& s = *default_->session;
    for (int v : ids) {
      const Value& val = graph_.values[static_cast<std::size_t>(v)];
      const TensorInfo& info = prepared ? s.info(v) : val.info;
      py::list shape;
      for (std::int64_t d : info.shape) {
        shape.append(d < 0 ? py::object(py::none()) : py::object(py::int_(d)));
      }
      out.append(py::make_tuple(val.name, std::string(dtype_name(info.dtype)), py::tuple(shape),
                                val.dim_names));
    }
    return out;
  }
  py::list inputs() const { return value_specs(graph_.inputs, false); }
  py::list outputs() const { return value_specs(default_->session->graph().outputs, true); }

  // (name, op_type, [(output value, dtype, shape)], fault_site) per node, in topological order,
  // shapes as prepared for the default input shapes.
  py::list nodes() const {
    const Session& s = *default_->session;
    const Graph& g = s.graph();
    py::list out;
    for (const Node& n : g.nodes) {
      py::list outs;
      for (int v : n.outputs) {
        if (v == kNoValue) continue;
        const TensorInfo& info = s.info(v);
        outs.append(py::make_tuple(g.values[static_cast<std::size_t>(v)].name,
                                   std::string(dtype_name(info.dtype)),
                                   py::tuple(py::cast(info.shape))));
      }
      out.append(py::make_tuple(n.name, n.op_type, outs, n.fault_site));
    }
    return out;
  }

  std::vector<py::array> run(py::list arrays, bool golden) {
    std::vector<py::array> keep;
    std::vector<Tensor> in = wrap_inputs(arrays, keep);
    std::vector<Tensor> outs;
    {
      py::gil_scoped_release nogil;
      SessionEntry& e = entry(!golden, shapes_of(in));
      e.session->check_inputs(in);
      ValueStore store = e.take_store();
      const Status st = e.session->run(store, in);
      if (!st.is_ok()) throw InputError(path_ + ": " + st.message());
      const Graph& g = e.session->graph();
      for (std::size_t i = 0; i < g.outputs.size(); ++i) outs.push_back(take_output(e, store, i));
      e.give_back(std::move(store));
    }
    std::vector<py::array> result;
    for (const Tensor& t : outs) result.push_back(tensor_to_array(t));
    return result;
  }

  std::shared_ptr<Golden> golden(py::list arrays) {
    std::vector<py::array> keep;
    std::vector<Tensor> in = wrap_inputs(arrays, keep);
    auto g = std::make_shared<Golden>();
    g->model = this;
    {
      py::gil_scoped_release nogil;
      SessionEntry& e = entry(false, shapes_of(in));
      g->injector = e.injector;
      g->run = e.injector->golden(std::move(in));
      // The wrapped arrays may go away: keep the store's copies of the inputs instead.
      const Graph& graph = e.session->graph();
      for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
        g->run.inputs[i] = g->run.store[graph.inputs[i]];
      }
    }
    return g;
  }

  // The site a Python FaultSite names: by value name when given, else by node name (or any name
  // `dnnfi inject --node` takes) and output index.
  FaultSite resolve_site(const Injector& injector, const std::string& node,
                         const std::string& value, int output, std::int64_t flat_index) const {
    const Graph& g = injector.session().graph();
    if (value.empty()) {
      FaultSite site = injector.site_by_name(node, flat_index);
      if (output == 0) return site;
      const int n = g.find_node(node);
      if (n < 0)
        throw InputError("output " + std::to_string(output) + " of '" + node + "': '" + node +
                         "' is not a node in " + g.source);
      const auto& outs = g.nodes[static_cast<std::size_t>(n)].outputs;
      if (output < 0 || output >= static_cast<int>(outs.size()) ||
          outs[static_cast<std::size_t>(output)] == kNoValue) {
        throw InputError("node '" + node + "' has no output " + std::to_string(output));
      }
      return injector.site_by_name(
          g.values[static_cast<std::size_t>(outs[static_cast<std::size_t>(output)])].name,
          flat_index);
    }
    const int v = g.find_value(value);
    if (v < 0) throw InputError("no node or value named '" + value + "' in " + g.source);
    return injector.site_of_value(v, flat_index);
  }

  py::dict site_dict(const Injector& injector, const FaultSite& site) const {
    const Graph& g = injector.session().graph();
    const TensorInfo& info = injector.session().info(site.value);
    py::dict d;
    d["kind"] = site_kind_name(site.kind);
    d["node"] = site.node >= 0 ? g.nodes[static_cast<std::size_t>(site.node)].name : std::string();
    d["op_type"] =
        site.node >= 0 ? g.nodes[static_cast<std::size_t>(site.node)].op_type : std::string();
    d["output"] = site.output;
    d["value"] = g.values[static_cast<std::size_t>(site.value)].name;
    d["flat_index"] = site.flat_index;
    d["dtype"] = std::string(dtype_name(info.dtype));
    d["shape"] = py::tuple(py::cast(info.shape));
    return d;
  }

  py::dict site(const std::string& node, const std::string& value, int output,
                std::int64_t flat_index) const {
    const Injector& inj = *default_->injector;
    return site_dict(inj, resolve_site(inj, node, value, output, flat_index));
  }

  // faults: tuples (node, value, output, flat_index, kind, bits, value, lo, hi, seed, callable).
  py::dict inject(std::shared_ptr<Golden> golden, py::list faults, const std::string& strategy,
                  bool trace) {
    if (golden->model != this) throw InputError("this golden run belongs to another model");
    const Injector& inj = *golden->injector;
    std::vector<Fault> fs;
    for (py::handle h : faults) {
      auto t = h.cast<py::tuple>();
      if (t.size() != 11) throw InputError("a fault is (site fields..., model fields...)");
      Fault f;
      f.site = resolve_site(inj, t[0].cast<std::string>(), t[1].cast<std::string>(),
                            t[2].cast<int>(), t[3].cast<std::int64_t>());
      const auto kind = t[4].cast<std::string>();
      if (kind == "tensor_callback") {
        f.model.kind = FaultModelKind::kTensorCallback;
        if (t[10].is_none()) throw InputError("fault model tensor_callback needs a callable");
        auto fn = std::make_shared<PyCallable>(py::reinterpret_borrow<py::object>(t[10]));
        f.model.tensor_callback = [fn](Tensor& x) {
          py::gil_scoped_acquire gil;
          fn->fn(tensor_to_array(x));
        };
      } else {
        f.model.kind = parse_fault_model_kind(kind);
      }
      f.model.bits = t[5].cast<std::vector<int>>();
      f.model.value = t[6].cast<double>();
      f.model.lo = t[7].cast<double>();
      f.model.hi = t[8].cast<double>();
      f.model.seed = t[9].cast<std::uint64_t>();
      inj.validate(f);
      fs.push_back(std::move(f));
    }
    TrialOptions topt;
    topt.strategy = parse_strategy(strategy);
    topt.keep_outputs = true;
    topt.trace = trace;
    TrialResult r;
    {
      py::gil_scoped_release nogil;
      TrialWorkspace ws;
      r = inj.run_trial(golden->run, fs, topt, ws);
    }
    const Graph& g = inj.session().graph();
    py::dict d;
    d["outcome"] = outcome_name(r.outcome);
    d["error"] = r.error;
    d["golden_top1"] = golden->run.top1;
    d["faulty_top1"] = r.faulty_top1;
    d["golden_in_top5"] = r.golden_in_top5;
    d["nodes_computed"] = r.nodes_computed;
    py::list outs;
    for (const Tensor& t : r.outputs) outs.append(tensor_to_array(t));
    d["outputs"] = outs;
    py::list applied;
    for (const AppliedFault& a : r.applied) {
      py::dict x;
      x["index"] = a.index;
      x["site"] = site_dict(inj, a.fault.site);
      x["dtype"] = std::string(dtype_name(a.dtype));
      x["bits_before"] = a.bits_before;
      x["bits_after"] = a.bits_after;
      x["value_before"] = a.value_before;
      x["value_after"] = a.value_after;
      applied.append(x);
    }
    d["applied"] = applied;
    py::list tr;
    for (const NodeChange& c : r.trace) {
      const Node& n = g.nodes[static_cast<std::size_t>(c.node)];
      tr.append(py::make_tuple(n.name, n.op_type, c.changed, c.max_abs_error));
    }
    d["trace"] = tr;
    fs.clear();  // drops the callables (PyCallable takes the GIL, which this thread holds)
    return d;
  }

 private:
  using Shapes = std::vector<Shape>;

  static Shapes shapes_of(const std::vector<Tensor>& in) {
    Shapes s;
    for (const Tensor& t : in) s.push_back(t.shape());
    return s;
  }

  // Inputs as tensors over the arrays' memory; checks their number and ranks as `dnnfi run` does.
  std::vector<Tensor> wrap_inputs(py::list arrays, std::vector<py::array>& keep) const {
    if (arrays.size() != graph_.inputs.size()) {
      throw InputError(path_ + ": model has " + std::to_string(graph_.inputs.size()) + " inputs, " +
                       std::to_string(arrays.size()) + " given");
    }
    std::vector<Tensor> in;
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      const Value& v = graph_.values[static_cast<std::size_t>(graph_.inputs[i])];
      keep.push_back(arrays[i].cast<py::array>());
      in.push_back(wrap_array(keep.back(), "input '" + v.name + "'"));
      if (in.back().rank() != v.info.shape.size()) {
        throw InputError("input '" + v.name + "': shape " + shape_to_string(in.back().shape()) +
                         " does not fit the model's " + shape_to_string(v.info.shape));
      }
    }
    return in;
  }

  // The session for these input shapes (made on first use, as the CLI makes it for an input of
  // these shapes). Called without the GIL.
  SessionEntry& entry(bool fused, const Shapes& shapes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair(fused, shapes);
    auto it = sessions_.find(key);
    if (it != sessions_.end()) return *it->second;
    SessionOptions opts = base_;
    opts.fuse = fused;
    opts.channels_last = fused;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      opts.input_shapes[graph_.values[static_cast<std::size_t>(graph_.inputs[i])].name] = shapes[i];
    }
    auto e = std::make_unique<SessionEntry>();
    e->fused = fused;
    e->session = Session::create(graph_, opts);
    if (!fused) e->injector = std::make_shared<Injector>(e->session);
    return *sessions_.emplace(key, std::move(e)).first->second;
  }

  // Output i of a finished run, handed out without a copy where the store gives the buffer up:
  // the store gets a fresh buffer for its next run. Constants, arena values and graph inputs are
  // copied.
  static Tensor take_output(SessionEntry& e, ValueStore& store, std::size_t i) {
    const Session& s = *e.session;
    const Graph& g = s.graph();
    const int v = g.outputs[i];
    bool own = !s.is_constant(v);
    if (e.fused && s.memory_plan().offset.size() > static_cast<std::size_t>(v) &&
        s.memory_plan().offset[static_cast<std::size_t>(v)] != MemoryPlan::kNotPlanned) {
      own = false;
    }
    for (int in : g.inputs) own &= in != v;
    for (std::size_t j = 0; j < i; ++j) own &= g.outputs[j] != v;
    if (!own) return store[v].clone();
    Tensor t = store[v];
    store[v] = Tensor(t.dtype(), t.shape());
    return t;
  }

  std::string path_;
  Graph graph_;
  SessionOptions base_;
  std::mutex mu_;
  std::map<std::pair<bool, Shapes>, std::unique_ptr<SessionEntry>> sessions_;
  SessionEntry* default_ = nullptr;
};

}  // namespace

void bind_model(py::module_& m) {
  py::class_<Golden, std::shared_ptr<Golden>>(m, "Golden")
      .def_property_readonly("top1", [](const Golden& g) { return g.run.top1; })
      .def_property_readonly("outputs", [](const Golden& g) {
        // Read-only views of the golden cache: writing them would corrupt later trials.
        std::vector<py::array> out;
        for (int v : g.injector->session().graph().outputs) {
          out.push_back(tensor_to_array(g.run.store[v], false));
        }
        return out;
      });

  py::class_<Model>(m, "Model")
      .def(py::init([](const std::string& path, int threads, bool reference) {
             py::gil_scoped_release nogil;
             return std::make_unique<Model>(path, threads, reference);
           }),
           py::arg("path"), py::arg("threads") = 1, py::arg("reference_kernels") = false)
      .def_property_readonly("path", &Model::path)
      .def_property_readonly("threads", &Model::threads)
      .def_property_readonly("inputs", &Model::inputs)
      .def_property_readonly("outputs", &Model::outputs)
      .def_property_readonly("nodes", &Model::nodes)
      .def("run", &Model::run, py::arg("inputs"), py::arg("golden") = false)
      .def("golden", &Model::golden, py::arg("inputs"))
      .def("site", &Model::site, py::arg("node"), py::arg("value"), py::arg("output"),
           py::arg("flat_index"))
      .def("inject", &Model::inject, py::arg("golden"), py::arg("faults"),
           py::arg("strategy") = "cone", py::arg("trace") = false);
}

}  // namespace dnnfi::python
