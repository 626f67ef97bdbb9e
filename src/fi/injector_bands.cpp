// The cone's row bands (fi/row_regions.h): a corrupted value held as a band of rows, the nodes it
// reaches recomputed on that band only, in place where the kernel can (Kernel::run_rows) or on
// slabs by a variant prepared for the band's height.
#include <algorithm>

#include "core/memory.h"
#include "fi/injector.h"

namespace dnnfi {

bool Injector::partial(const TrialWorkspace& ws, int v) const {
  const auto i = static_cast<std::size_t>(v);
  return ws.banded_ && ws.state_[i] == 1 && regions_->row_value(v) &&
         (ws.rows_[i].lo > 0 || ws.rows_[i].hi < regions_->height(v));
}

void Injector::materialize(TrialWorkspace& ws, const GoldenRun& golden, int v) const {
  if (!partial(ws, v)) return;
  const auto i = static_cast<std::size_t>(v);
  const std::int64_t h = regions_->height(v);
  const RowLayout layout = regions_->layout(v);
  copy_rows(golden.store[v], layout, {0, ws.rows_[i].lo}, held(ws, v));
  copy_rows(golden.store[v], layout, {ws.rows_[i].hi, h}, held(ws, v));
  ws.rows_[i] = {0, h};
}

bool Injector::still_differs(TrialWorkspace& ws, const GoldenRun& golden, int v) const {
  const auto i = static_cast<std::size_t>(v);
  bool differs = false;
  if (ws.banded_ && regions_->row_value(v)) {
    const RowSpan d = diff_rows(*ws.table_[i], golden.store[v], regions_->layout(v), ws.rows_[i]);
    differs = !d.empty();
    if (differs) ws.rows_[i] = d;
  } else {
    differs = !ws.table_[i]->bit_equal(golden.store[v]);
  }
  if (!differs) {
    ws.table_[i] = &golden.store[v];  // masked here
    ws.state_[i] = 2;
  }
  return differs;
}

Tensor& Injector::slab(TrialWorkspace& ws, std::size_t i, DType dtype, Shape shape) const {
  // compute_band sized the vectors first: views handed out earlier in a node stay valid.
  const std::size_t bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
  if (ws.slabs_[i].nbytes() < bytes) {
    const MapSmallerBlocks populated;  // kept for the workspace's life
    ws.slabs_[i] = Tensor(DType::kUInt8, {static_cast<std::int64_t>(bytes)});
  }
  ws.slab_views_[i] = Tensor::wrap(dtype, std::move(shape), ws.slabs_[i].raw());
  return ws.slab_views_[i];
}

bool Injector::reach(int n, const TrialWorkspace& ws, RowSpan& out) const {
  const RowRule& rule = regions_->rule(n);
  if (rule.kind == RowRule::Kind::kNone) return false;
  const Node& node = session_->graph().nodes[static_cast<std::size_t>(n)];
  RowSpan in{rule.in_h, 0};
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    if (v == kNoValue || ws.state_[static_cast<std::size_t>(v)] != 1) continue;
    if (!rule.sliced[i]) return false;
    in.lo = std::min(in.lo, ws.rows_[static_cast<std::size_t>(v)].lo);
    in.hi = std::max(in.hi, ws.rows_[static_cast<std::size_t>(v)].hi);
  }
  if (in.empty()) return false;
  out = regions_->reached(n, in);
  return true;
}

bool Injector::compute_rows_in_place(int n, RowSpan out, TrialWorkspace& ws,
                                     const GoldenRun& golden) const {
  const RowRule& rule = regions_->rule(n);
  const Node& node = session_->graph().nodes[static_cast<std::size_t>(n)];
  const int ov = node.outputs[0];
  if (regions_->axis(ov) != 2) return false;  // RowInput rows are along axis 2
  // Channels-last values go to an ONNX elementwise kernel as [N, 1, H, W * C] views of their
  // bytes: rows of H then lie where run_rows looks for them. Other kernels reading NHWC data
  // (dnnfi-domain BatchNormalization, Concat) compute bands from slabs instead.
  const bool nhwc = session_->nhwc(ov);
  if (nhwc && !node.domain.empty()) return false;
  ws.row_views_.clear();
  ws.row_views_.reserve(2 * node.inputs.size() + 1);
  auto view = [&](const Tensor& t, int v) -> const Tensor* {
    if (session_->nhwc(v) != nhwc) return nullptr;
    if (!nhwc) return &t;
    const Shape& s = t.shape();
    ws.row_views_.push_back(
        Tensor::wrap(t.dtype(), {s[0], 1, s[2], s[1] * s[3]}, const_cast<void*>(t.raw())));
    return &ws.row_views_.back();
  };
  ws.row_in_.assign(node.inputs.size(), RowInput{});
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    if (v == kNoValue) continue;
    const auto vi = static_cast<std::size_t>(v);
    RowInput& in = ws.row_in_[i];
    if (rule.sliced[i] && ws.state_[vi] == 1) {
      if (regions_->axis(v) != 2) return false;
      in.rest = view(golden.store[v], v);
      in.band = view(held(ws, v), v);
      in.lo = ws.rows_[vi].lo;
      in.hi = ws.rows_[vi].hi;
      if (in.rest == nullptr || in.band == nullptr) return false;
    } else if (session_->nhwc(v)) {
      in.rest = view(*ws.table_[vi], v);
      if (in.rest == nullptr) return false;
    } else {
      in.rest = ws.table_[vi];
    }
  }
  Tensor& dst = scratch(ws, ov);
  if (nhwc) {
    const Shape& s = dst.shape();
    Tensor dst_rows = Tensor::wrap(dst.dtype(), {s[0], 1, s[2], s[1] * s[3]}, dst.raw());
    if (!session_->kernel(n).run_rows(ws.row_in_, dst_rows, out.lo, out.hi)) return false;
  } else if (!session_->kernel(n).run_rows(ws.row_in_, dst, out.lo, out.hi)) {
    return false;
  }
  hold_band(ws, ov, dst, out);
  return true;
}

void Injector::hold_band(TrialWorkspace& ws, int v, Tensor& held, RowSpan rows) const {
  const auto i = static_cast<std::size_t>(v);
  ws.table_[i] = &held;
  if (ws.state_[i] == 0) ws.touched_.push_back(v);
  ws.state_[i] = 1;
  ws.rows_[i] = rows;
}

bool Injector::compute_band(int n, TrialWorkspace& ws, const GoldenRun& golden, Status& status,
                            TrialResult& r) const {
  RowSpan out;
  if (!reach(n, ws, out)) return false;
  const RowRule& rule = regions_->rule(n);
  const Node& node = session_->graph().nodes[static_cast<std::size_t>(n)];
  if (ws.slabs_.size() < node.inputs.size() + 1) {  // one slab per input and the output
    ws.slabs_.resize(node.inputs.size() + 1);
    ws.slab_views_.resize(node.inputs.size() + 1);
  }
  if (out.empty()) return true;  // a stride skips every corrupted row: the output stays golden
  // Kernels that compute rows in place need neither slabs nor variants, nor rounded heights.
  if (compute_rows_in_place(n, out, ws, golden)) {
    ++r.nodes_in_place;
    return true;
  }
  const int ov = node.outputs[0];
  const TensorInfo& out_info = session_->info(ov);
  // Band heights 1, 2, 3, 4, 6, 8, 12, 16, 24...: at most a third more rows than reached.
  auto next = [](std::int64_t r) {
    return r < 2 ? r + 1 : ((r & (r - 1)) == 0 ? r / 2 * 3 : r / 3 * 4);
  };
  std::int64_t rows = 1;
  while (rows < out.size()) rows = next(rows);
  for (; rows * 4 <= rule.out_h * 3; rows = next(rows)) {  // past 3/4, the whole is cheaper
    RowSpan band{out.lo, out.lo + rows};
    if (band.hi > rule.out_h) band = {rule.out_h - rows, rule.out_h};
    std::int64_t pad_top = 0, pad_bottom = 0;
    const RowSpan need = regions_->needed(n, band, pad_top, pad_bottom);
    bool busy = false;
    RowVariant* variant = regions_->variant(n, rows, pad_top, pad_bottom, &busy);
    if (busy) return false;  // being prepared by another thread: the whole node, not a larger band
    if (variant == nullptr || variant->verified.load() == 2) continue;
    ws.slab_in_.assign(node.inputs.size(), nullptr);
    auto gather = [&](bool golden_only) {
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        const int v = node.inputs[i];
        if (v == kNoValue) continue;
        const auto vi = static_cast<std::size_t>(v);
        if (!rule.sliced[i]) {
          ws.slab_in_[i] = golden_only ? &golden.store[v] : ws.table_[vi];
          continue;
        }
        Shape shape = session_->info(v).shape;
        shape[static_cast<std::size_t>(regions_->axis(v))] = need.size();
        Tensor& t = slab(ws, i, session_->info(v).dtype, std::move(shape));
        const bool dirty = !golden_only && ws.state_[vi] == 1;
        gather_rows(golden.store[v], dirty ? &held(ws, v) : nullptr, regions_->layout(v),
                    ws.rows_[vi], need, t.raw());
        ws.slab_in_[i] = &t;
      }
    };
    Shape out_shape = out_info.shape;
    out_shape[static_cast<std::size_t>(regions_->axis(ov))] = rows;
    Tensor* outs[1] = {&slab(ws, node.inputs.size(), out_info.dtype, std::move(out_shape))};
    if (variant->verified.load() == 0) {
      // First use: the variant must reproduce the golden rows from the golden slabs.
      gather(true);
      const Status st = variant->kernel->run(ws.slab_in_, outs);
      const bool same = st.is_ok() && slab_equals_rows(outs[0]->raw(), golden.store[ov],
                                                       regions_->layout(ov), band);
      variant->verified.store(same ? 1 : 2);
      if (!same) continue;
    }
    gather(false);
    status = variant->kernel->run(ws.slab_in_, outs);
    Tensor& dst = scratch(ws, ov);
    if (status.is_ok()) scatter_rows(outs[0]->raw(), regions_->layout(ov), band, dst);
    // Outside the rows its inputs reach, the band (rounded up) equals golden.
    hold_band(ws, ov, dst, out);
    return true;
  }
  return false;
}

}  // namespace dnnfi
