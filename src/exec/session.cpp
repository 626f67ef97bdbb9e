#include "exec/session.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/memory.h"
#include "exec/fusion.h"
#include "ops/fp16_fallback.h"
#include "ops/registry.h"

namespace dnnfi {

namespace {

std::string where(const Graph& g) { return g.source.empty() ? std::string() : g.source + ": "; }

// Input shapes after applying user overrides; symbolic dims default to 1.
Shape resolve_input_shape(const Graph& g, const Value& v, const SessionOptions& options) {
  auto it = options.input_shapes.find(v.name);
  if (it == options.input_shapes.end()) {
    Shape s = v.info.shape;
    for (auto& d : s) {
      if (d < 0) d = 1;
    }
    return s;
  }
  const Shape& given = it->second;
  if (given.size() != v.info.shape.size()) {
    throw InputError(where(g) + "input '" + v.name + "' has rank " +
                     std::to_string(v.info.shape.size()) + ", shape " + shape_to_string(given) +
                     " was given");
  }
  for (std::size_t i = 0; i < given.size(); ++i) {
    if (given[i] < 0 || (v.info.shape[i] >= 0 && v.info.shape[i] != given[i])) {
      throw InputError(where(g) + "input '" + v.name + "' expects shape " +
                       shape_to_string(v.info.shape) + ", " + shape_to_string(given) +
                       " was given");
    }
  }
  return given;
}

std::string bytes_text(double b) {
  const char* unit = "bytes";
  for (const char* u : {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}) {
    if (b < 1024) break;
    b /= 1024;
    unit = u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g %s", b, unit);
  return buf;
}

// Empty when a tensor of this info may be allocated; otherwise why not.
std::string oversize(const TensorInfo& info, const SessionOptions& options) {
  const std::size_t elem = dtype_size(info.dtype);
  const std::int64_t n = checked_numel(info.shape);
  double bytes = static_cast<double>(elem);
  for (std::int64_t d : info.shape) bytes *= static_cast<double>(d);
  if (n >= 0 && static_cast<std::size_t>(n) * elem <= options.max_tensor_bytes) return {};
  return "shape " + shape_to_string(info.shape) + " would take " + bytes_text(bytes) +
         ", over the " + bytes_text(static_cast<double>(options.max_tensor_bytes)) +
         " limit for one tensor";
}

// Lifetimes in run steps: a value is live from the step that produces it to the last step that
// reads it. Values are placed largest first, each at the lowest offset not used by a placed value
// whose lifetime overlaps its own (the greedy-by-size heuristic of TFLite's arena planner).
MemoryPlan plan_memory(const Graph& g, const std::vector<int>& run_order,
                       const std::vector<TensorInfo>& infos, const std::vector<bool>& constant) {
  const std::size_t nv = infos.size();
  MemoryPlan plan;
  plan.offset.assign(nv, MemoryPlan::kNotPlanned);
  std::vector<int> first(nv, -1), last(nv, -1);
  for (std::size_t step = 0; step < run_order.size(); ++step) {
    const Node& node = g.nodes[static_cast<std::size_t>(run_order[step])];
    const int i = static_cast<int>(step);
    for (int v : node.inputs) {
      if (v != kNoValue && !constant[v]) last[v] = std::max(last[v], i);
    }
    for (int v : node.outputs) {
      if (v == kNoValue || constant[v]) continue;
      first[v] = i;
      last[v] = std::max(last[v], i);
    }
  }
  std::vector<bool> own(nv, false);  // graph inputs and outputs keep their own buffers
  for (int v : g.inputs) own[v] = true;
  for (int v : g.outputs) own[v] = true;
  std::vector<int> values;
  for (std::size_t v = 0; v < nv; ++v) {
    if (first[v] >= 0 && !own[v] && infos[v].dtype != DType::kUndefined) {
      values.push_back(static_cast<int>(v));
    }
  }
  auto padded = [&](int v) { return (infos[v].nbytes() + 63) / 64 * 64 + 64; };
  std::stable_sort(values.begin(), values.end(),
                   [&](int a, int b) { return padded(a) > padded(b); });
  struct Placed {
    std::size_t begin, end;
    int first, last;
  };
  std::vector<Placed> placed;
  std::vector<std::pair<std::size_t, std::size_t>> busy;
  for (int v : values) {
    const std::size_t size = padded(v);
    plan.unplanned_bytes += size;
    busy.clear();
    for (const Placed& p : placed) {
      if (p.last >= first[v] && last[v] >= p.first) busy.emplace_back(p.begin, p.end);
    }
    std::sort(busy.begin(), busy.end());
    std::size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + size <= begin) break;
      offset = std::max(offset, end);
    }
    plan.offset[v] = offset;
    placed.push_back({offset, offset + size, first[v], last[v]});
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
  }
  return plan;
}

}  // namespace

std::unique_ptr<Kernel> Session::prepare_variant(int n, const Node& node,
                                                 std::vector<TensorInfo> inputs,
                                                 std::vector<TensorInfo>& outputs) const {
  const Node& original = graph_.nodes.at(static_cast<std::size_t>(n));
  if (inputs.size() != original.inputs.size() || node.inputs != original.inputs) {
    throw InputError(where(graph_) + "node '" + original.name + "': variant inputs differ");
  }
  // The session's own dnnfi-domain nodes (exec/fusion.h) were prepared with the ONNX opset.
  const bool internal = node.domain == "dnnfi";
  const std::int64_t opset = graph_.opset(internal ? "" : node.domain);
  const OpRow* row = find_op(node.domain, node.op_type, internal ? 1 : opset);
  if (row == nullptr) {
    throw UnsupportedError(where(graph_) + "node '" + node.name + "': unsupported op " +
                           node.op_type);
  }
  std::vector<const Tensor*> consts;
  for (int v : node.inputs) {
    consts.push_back(v != kNoValue && constant_[static_cast<std::size_t>(v)]
                         ? &constants_[static_cast<std::size_t>(v)]
                         : nullptr);
  }
  Prepared p =
      prepare_with_fp16_fallback(row->prepare, node, opset, graph_.source, std::move(inputs),
                                 std::move(consts), options_.reference_kernels);
  if (!p.kernel || p.outputs.size() < node.outputs.size()) {
    throw InputError(where(graph_) + "node '" + node.name + "': variant has no kernel");
  }
  outputs = std::move(p.outputs);
  return std::move(p.kernel);
}

std::shared_ptr<const Session> Session::create(Graph graph, const SessionOptions& options) {
  std::shared_ptr<Session> s(new Session());
  s->graph_ = std::move(graph);
  s->options_ = options;
  Graph& g = s->graph_;
  const std::size_t nv = g.values.size();
  s->infos_.resize(nv);
  s->constant_.assign(nv, false);
  s->constants_.resize(nv);
  s->kernels_.resize(g.nodes.size());

  for (const auto& [name, shape] : options.input_shapes) {
    const int id = g.find_value(name);
    bool is_input = false;
    for (int v : g.inputs) is_input |= v == id;
    if (!is_input) throw InputError(where(g) + "no graph input named '" + name + "'");
  }
  for (std::size_t v = 0; v < nv; ++v) {
    if (g.values[v].is_initializer) {
      s->constant_[v] = true;
      s->constants_[v] = g.values[v].initializer;
      s->infos_[v] = g.values[v].initializer.info();
    }
  }
  for (int v : g.inputs) {
    s->infos_[v] = TensorInfo{g.values[v].info.dtype, resolve_input_shape(g, g.values[v], options)};
    if (const std::string why = oversize(s->infos_[v], options); !why.empty()) {
      throw InputError(where(g) + "input '" + g.values[v].name + "': " + why);
    }
  }

  const std::int64_t default_opset = g.opset("");
  for (std::size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    const std::int64_t opset = g.opset(node.domain);
    const OpRow* row = find_op(node.domain, node.op_type, opset);
    if (row == nullptr) {
      throw UnsupportedError(where(g) + "node '" + node.name + "': unsupported op " +
                             (node.domain.empty() ? "" : node.domain + ".") + node.op_type +
                             " (opset " +
                             std::to_string(node.domain.empty() ? default_opset : opset) + ")");
    }
    std::vector<TensorInfo> in_infos;
    std::vector<const Tensor*> in_consts;
    // Shape's output depends only on its input's static shape, which is fixed here.
    const bool shape_only = node.domain.empty() && node.op_type == "Shape";
    bool all_constant = true;
    for (int v : node.inputs) {
      if (v == kNoValue) {
        in_infos.emplace_back();
        in_consts.push_back(nullptr);
        continue;
      }
      in_infos.push_back(s->infos_[v]);
      in_consts.push_back(s->constant_[v] ? &s->constants_[v] : nullptr);
      all_constant &= s->constant_[v] || shape_only;
    }
    PrepareContext ctx(node, opset, g.source, in_infos, in_consts, options.reference_kernels);
    Prepared p =
        prepare_with_fp16_fallback(row->prepare, node, opset, g.source, std::move(in_infos),
                                   std::move(in_consts), options.reference_kernels);
    if (p.outputs.size() < node.outputs.size() || !p.kernel) {
      ctx.fail("prepare produced " + std::to_string(p.outputs.size()) + " outputs, node has " +
               std::to_string(node.outputs.size()));
    }
    for (std::size_t o = 0; o < node.outputs.size(); ++o) {
      const int v = node.outputs[o];
      if (v == kNoValue) continue;
      const TensorInfo& info = p.outputs[o];
      if (info.dtype == DType::kUndefined)
        ctx.fail("output " + std::to_string(o) + " has no dtype");
      for (std::int64_t d : info.shape) {
        if (d < 0) ctx.fail("output " + std::to_string(o) + " has an unknown dimension");
      }
      if (const std::string why = oversize(info, options); !why.empty()) {
        ctx.fail("output '" + g.values[v].name + "': " + why);
      }
      s->infos_[v] = info;
      g.values[v].info = info;
    }
    s->kernels_[n] = std::move(p.kernel);
    if (all_constant) {
      // Fold now: the result never changes between runs. The kernel is kept so that a fault in
      // this node's output can be recomputed downstream.
      std::vector<Tensor> shape_views;  // zero-filled stand-ins: Shape reads only the shape
      shape_views.reserve(node.inputs.size());
      std::vector<const Tensor*> ins;
      for (int v : node.inputs) {
        if (v == kNoValue) {
          ins.push_back(nullptr);
        } else if (s->constant_[v]) {
          ins.push_back(&s->constants_[v]);
        } else {
          shape_views.emplace_back(s->infos_[v].dtype, s->infos_[v].shape);
          ins.push_back(&shape_views.back());
        }
      }
      std::vector<Tensor> outs;
      std::vector<Tensor*> out_ptrs;
      outs.reserve(node.outputs.size());
      for (int v : node.outputs) {
        outs.push_back(v == kNoValue ? Tensor() : Tensor(s->infos_[v].dtype, s->infos_[v].shape));
      }
      for (std::size_t o = 0; o < outs.size(); ++o) {
        out_ptrs.push_back(node.outputs[o] == kNoValue ? nullptr : &outs[o]);
      }
      const Status st = s->kernels_[n]->run(ins, out_ptrs);
      if (!st.is_ok()) ctx.fail("constant folding failed: " + st.message());
      for (std::size_t o = 0; o < node.outputs.size(); ++o) {
        const int v = node.outputs[o];
        if (v == kNoValue) continue;
        s->constant_[v] = true;
        s->constants_[v] = std::move(outs[o]);
      }
    } else {
      s->run_order_.push_back(static_cast<int>(n));
    }
  }
  if (options.fuse) {
    fuse_for_inference(g, s->run_order_, s->kernels_, s->infos_, s->constant_, s->constants_,
                       options.reference_kernels);
  }
  if (options.channels_last && !options.reference_kernels) {
    if (assign_channels_last(g, s->run_order_, s->kernels_, s->infos_, s->constant_, s->constants_,
                             &s->nhwc_) == 0) {
      s->nhwc_.clear();
    }
  }
  s->plan_ = plan_memory(g, s->run_order_, s->infos_, s->constant_);
  return s;
}

std::int64_t Session::storage_index(int value_id, std::int64_t flat_index) const {
  if (!nhwc(value_id)) return flat_index;
  const Shape& s = info(value_id).shape;
  const std::int64_t c = s[1], h = s[2], w = s[3];
  const std::int64_t x = flat_index % w, y = flat_index / w % h, ch = flat_index / (w * h) % c,
                     n = flat_index / (w * h * c);
  return ((n * h + y) * w + x) * c + ch;
}

ValueStore Session::make_store() const { return make_store(ValueStore()); }

ValueStore Session::make_store(ValueStore used) const {
  const bool reuse = used.values_.size() == infos_.size() && !used.planned();
  const MapSmallerBlocks populated;  // fresh buffers: one mapping each, pages populated at once
  ValueStore store;
  store.values_.resize(infos_.size());
  for (std::size_t v = 0; v < infos_.size(); ++v) {
    if (constant_[v]) {
      store.values_[v] = constants_[v];
    } else if (infos_[v].dtype == DType::kUndefined) {
      continue;
    } else if (reuse && used.values_[v].info() == infos_[v] && used.values_[v].sole_owner()) {
      Tensor& old = used.values_[v];
      if (old.nbytes()) std::memset(old.raw(), 0, old.nbytes());
      store.values_[v] = std::move(old);
    } else {
      store.values_[v] = Tensor(infos_[v].dtype, infos_[v].shape);
    }
  }
  return store;
}

ValueStore Session::make_planned_store() const {
  ValueStore store;
  store.values_.resize(infos_.size());
  const std::size_t bytes = plan_.arena_bytes + 64;
  void* arena = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (arena == nullptr) throw std::bad_alloc();
  // Not zeroed: a kernel must write every element of its outputs. All-ones bytes (NaN) make one
  // that does not show up in tests, where a zeroed buffer could hide it.
  std::memset(arena, 0xff, bytes);
  store.arena_ = std::shared_ptr<void>(arena, [](void* p) { std::free(p); });
  char* base = static_cast<char*>(arena);
  // Graph inputs and outputs get their own buffers. Every other value the run writes is planned;
  // the rest are outputs of nodes a fused session absorbed, which nothing reads: no buffer.
  std::vector<bool> own(infos_.size(), false);
  for (int v : graph_.inputs) own[static_cast<std::size_t>(v)] = true;
  for (int v : graph_.outputs) own[static_cast<std::size_t>(v)] = true;
  for (std::size_t v = 0; v < infos_.size(); ++v) {
    if (constant_[v]) {
      store.values_[v] = constants_[v];
    } else if (plan_.offset[v] != MemoryPlan::kNotPlanned) {
      store.values_[v] = Tensor::wrap(infos_[v].dtype, infos_[v].shape, base + plan_.offset[v]);
    } else if (infos_[v].dtype != DType::kUndefined && own[v]) {
      store.values_[v] = Tensor(infos_[v].dtype, infos_[v].shape);
    }
  }
  return store;
}

void Session::check_inputs(std::span<const Tensor> inputs) const {
  const std::string w = where(graph_);
  if (inputs.size() != graph_.inputs.size()) {
    throw InputError(w + "model expects " + std::to_string(graph_.inputs.size()) + " inputs, " +
                     std::to_string(inputs.size()) + " given");
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const int v = graph_.inputs[i];
    const TensorInfo& want = infos_[v];
    if (inputs[i].dtype() != want.dtype) {
      throw InputError(w + "input '" + graph_.values[v].name + "' expects " +
                       std::string(dtype_name(want.dtype)) + ", got " +
                       std::string(dtype_name(inputs[i].dtype())));
    }
    if (inputs[i].shape() != want.shape) {
      throw InputError(w + "input '" + graph_.values[v].name + "' expects shape " +
                       shape_to_string(want.shape) + ", got " + shape_to_string(inputs[i].shape()));
    }
  }
}

Status Session::run_node(int n, ValueStore& store) const {
  const Node& node = graph_.nodes[static_cast<std::size_t>(n)];
  constexpr std::size_t kInline = 16;
  std::array<const Tensor*, kInline> in_buf;
  std::array<Tensor*, kInline> out_buf;
  std::vector<const Tensor*> in_vec;
  std::vector<Tensor*> out_vec;
  std::span<const Tensor*> ins;
  std::span<Tensor*> outs;
  if (node.inputs.size() <= kInline) {
    ins = std::span<const Tensor*>(in_buf.data(), node.inputs.size());
  } else {
    in_vec.resize(node.inputs.size());
    ins = in_vec;
  }
  if (node.outputs.size() <= kInline) {
    outs = std::span<Tensor*>(out_buf.data(), node.outputs.size());
  } else {
    out_vec.resize(node.outputs.size());
    outs = out_vec;
  }
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    ins[i] = node.inputs[i] == kNoValue ? nullptr : &store[node.inputs[i]];
  }
  for (std::size_t i = 0; i < node.outputs.size(); ++i) {
    outs[i] = node.outputs[i] == kNoValue ? nullptr : &store[node.outputs[i]];
  }
  // Omitted optional outputs are null; kernels check before writing them.
  Status st = kernels_[static_cast<std::size_t>(n)]->run(ins, outs);
  if (!st.is_ok()) {
    return Status::error("node '" + node.name + "' (" + node.op_type + "): " + st.message());
  }
  return st;
}

Status Session::run_node_with(int n, std::span<const Tensor* const> table,
                              std::span<Tensor* const> outputs) const {
  const Node& node = graph_.nodes[static_cast<std::size_t>(n)];
  constexpr std::size_t kInline = 16;
  std::array<const Tensor*, kInline> in_buf;
  std::vector<const Tensor*> in_vec;
  std::span<const Tensor*> ins;
  if (node.inputs.size() <= kInline) {
    ins = std::span<const Tensor*>(in_buf.data(), node.inputs.size());
  } else {
    in_vec.resize(node.inputs.size());
    ins = in_vec;
  }
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    ins[i] = node.inputs[i] == kNoValue ? nullptr : table[static_cast<std::size_t>(node.inputs[i])];
  }
  Status st = kernels_[static_cast<std::size_t>(n)]->run(ins, outputs);
  if (!st.is_ok()) {
    return Status::error("node '" + node.name + "' (" + node.op_type + "): " + st.message());
  }
  return st;
}

Status Session::run(ValueStore& store, std::span<const Tensor> inputs) const {
  return run(store, inputs, nullptr);
}

Status Session::run(ValueStore& store, std::span<const Tensor> inputs,
                    const std::function<void(int)>& after_node) const {
  if (inputs.size() != graph_.inputs.size()) return Status::error("wrong number of inputs");
  omp_set_num_threads(options_.threads);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor& dst = store[graph_.inputs[i]];
    if (dst.info() != inputs[i].info()) return Status::error("input shape or dtype mismatch");
    if (dst.nbytes()) std::memcpy(dst.raw(), inputs[i].raw(), dst.nbytes());
  }
  for (int n : run_order_) {
    DNNFI_RETURN_IF_ERROR(run_node(n, store));
    if (after_node) after_node(n);
  }
  return Status::ok();
}

std::vector<Tensor> Session::outputs(const ValueStore& store) const {
  std::vector<Tensor> out;
  for (int v : graph_.outputs) out.push_back(store[v].clone());
  return out;
}

Status Session::run_once(std::span<const Tensor> inputs, std::vector<Tensor>& outputs_out) const {
  check_inputs(inputs);
  ValueStore store = make_planned_store();
  DNNFI_RETURN_IF_ERROR(run(store, inputs));
  outputs_out = outputs(store);
  return Status::ok();
}

}  // namespace dnnfi
