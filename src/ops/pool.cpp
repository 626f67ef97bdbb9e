// MaxPool (kernel_shape, strides, pads, auto_pad, ceil_mode, dilations, optional Indices output
// with storage_order 0 or 1), AveragePool (count_include_pad, ceil_mode, auto_pad, dilations),
// GlobalAveragePool, GlobalMaxPool; float32, 1-D to 3-D.
//
// Reference kernels: plain loops over each window's taps in order (average in double). MaxPool
// propagates NaN; a window with no input element gives the lowest float (max) or NaN (average
// without padding), as ONNX Runtime does. Optimised windowed kernels: 1-D and 2-D pools run a
// direct AVX-512 NCHW kernel with the reference's semantics (pool_direct.h); 3-D pools (or a CPU
// without AVX-512) a oneDNN pooling primitive on the NCHW tensors, except where its semantics
// would differ: a window lying entirely in padding, count_include_pad with a ceil_mode window
// running past the explicit padding (oneDNN would divide by the full kernel size). MaxPool's
// Indices output always runs the reference. The optimised global pools are vectorised loops (a
// fixed summation order, so results repeat).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "ops/conv_shape.h"
#include "ops/dnnl_util.h"
#include "ops/ops.h"
#include "ops/pool_direct.h"

namespace dnnfi {

namespace {

using dnnl_util::memory;
using dnnl_util::Scratch;
using dnnl_util::Tag;

enum class PoolKind { kMax, kAverage };

struct PoolGeom {
  PoolKind kind = PoolKind::kMax;
  std::int64_t batch = 0, channels = 0;
  Window window;
  Window3 w3;
  bool count_include_pad = false;
  bool indices = false;       // MaxPool's second output requested
  bool column_major = false;  // storage_order = 1 for Indices
  std::string node;
};

void pool_reference(const PoolGeom& g, const float* x, float* y, std::int64_t* indices) {
  const Window3& q = g.w3;
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  const std::int64_t planes = g.batch * g.channels;
  // Flat spatial index of (d, h, w) in the Indices output's storage order.
  const std::int64_t sd = g.column_major ? 1 : q.in[1] * q.in[2];
  const std::int64_t sh = g.column_major ? q.in[0] : q.in[2];
  const std::int64_t sw = g.column_major ? q.in[0] * q.in[1] : 1;
#pragma omp parallel for schedule(static) if (planes * out_size > 20000)
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    const float* xp = x + plane * in_size;
    float* yp = y + plane * out_size;
    for (std::int64_t od = 0; od < q.out[0]; ++od) {
      for (std::int64_t oh = 0; oh < q.out[1]; ++oh) {
        for (std::int64_t ow = 0; ow < q.out[2]; ++ow) {
          const std::int64_t o[3] = {od, oh, ow};
          std::int64_t start[3];
          for (int a = 0; a < 3; ++a) start[a] = o[a] * q.strides[a] - q.pad_begin[a];
          float best = std::numeric_limits<float>::lowest();
          std::int64_t best_at = -1;
          double sum = 0.0;
          std::int64_t valid = 0, in_padded = 0;
          for (std::int64_t kd = 0; kd < q.kernel[0]; ++kd) {
            const std::int64_t id = start[0] + kd * q.dilations[0];
            for (std::int64_t kh = 0; kh < q.kernel[1]; ++kh) {
              const std::int64_t ih = start[1] + kh * q.dilations[1];
              for (std::int64_t kw = 0; kw < q.kernel[2]; ++kw) {
                const std::int64_t iw = start[2] + kw * q.dilations[2];
                if (id >= -q.pad_begin[0] && id < q.in[0] + q.pad_end[0] && ih >= -q.pad_begin[1] &&
                    ih < q.in[1] + q.pad_end[1] && iw >= -q.pad_begin[2] &&
                    iw < q.in[2] + q.pad_end[2]) {
                  ++in_padded;
                }
                if (id < 0 || id >= q.in[0] || ih < 0 || ih >= q.in[1] || iw < 0 || iw >= q.in[2]) {
                  continue;
                }
                const float v = xp[(id * q.in[1] + ih) * q.in[2] + iw];
                ++valid;
                sum += v;
                // The first maximum wins; the first NaN wins over everything.
                if (best_at < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
                  best = v;
                  best_at = id * sd + ih * sh + iw * sw;
                }
              }
            }
          }
          const std::int64_t out_index = (od * q.out[1] + oh) * q.out[2] + ow;
          if (g.kind == PoolKind::kMax) {
            yp[out_index] = best;
            if (indices != nullptr) {
              indices[plane * out_size + out_index] = best_at < 0 ? -1 : plane * in_size + best_at;
            }
          } else {
            const std::int64_t count = g.count_include_pad ? in_padded : valid;
            yp[out_index] = count == 0 ? std::numeric_limits<float>::quiet_NaN()
                                       : static_cast<float>(sum / static_cast<double>(count));
          }
        }
      }
    }
  }
}

class ReferencePoolKernel final : public Kernel {
 public:
  explicit ReferencePoolKernel(PoolGeom g) : g_(std::move(g)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    std::int64_t* indices = nullptr;
    if (g_.indices && out.size() > 1 && out[1] != nullptr) indices = out[1]->data<std::int64_t>();
    pool_reference(g_, in[0]->data<float>(), out[0]->data<float>(), indices);
    return Status::ok();
  }

 private:
  PoolGeom g_;
};

struct PoolPlan {
  dnnl::primitive prim;
  memory::desc scratch_md;
};

// oneDNN pooling on NCHW data (3-D pools, or CPUs without AVX-512): the primitive reads and writes
// the plain layout directly; blocked + reorders measured no faster for memory-bound pools.
class DnnlPoolKernel final : public Kernel {
 public:
  // nhwc: rank-4 tensors whose bytes are channels-last (inference sessions, exec/fusion.h).
  DnnlPoolKernel(PoolGeom g, bool nhwc) : g_(std::move(g)) {
    const std::size_t rank = g_.window.rank + 2;
    Shape src{g_.batch, g_.channels}, dst{g_.batch, g_.channels};
    for (std::size_t i = 0; i < g_.window.rank; ++i) {
      src.push_back(g_.window.in[i]);
      dst.push_back(g_.window.out[i]);
    }
    const Tag tag = nhwc ? Tag::nhwc : dnnl_util::plain_tag(rank);
    user_src_ = memory::desc(dnnl_util::to_dims(src), memory::data_type::f32, tag);
    user_dst_ = memory::desc(dnnl_util::to_dims(dst), memory::data_type::f32, tag);
  }

  bool ready() const { return plan() != nullptr; }

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const PoolPlan* p = plan();
    if (p == nullptr) {
      pool_reference(g_, x, y, nullptr);
      return Status::ok();
    }
    try {
      dnnl::engine& eng = dnnl_util::cpu_engine();
      dnnl::stream& strm = dnnl_util::thread_stream();
      memory src(user_src_, eng, const_cast<float*>(x));
      memory dst(user_dst_, eng, y);
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
      if (p->scratch_md.get_size() > 0) {
        void* pad = dnnl_util::thread_scratch(Scratch::kPad, p->scratch_md.get_size());
        if (pad == nullptr) return Status::error("node '" + g_.node + "': out of memory");
        args.emplace(DNNL_ARG_SCRATCHPAD, memory(p->scratch_md, eng, pad));
      }
      p->prim.execute(strm, args);
      strm.wait();
      return Status::ok();
    } catch (const dnnl::error& e) {
      return Status::error(dnnl_util::error_message(g_.node, "Pool", e.what()));
    } catch (const std::exception& e) {
      return Status::error("node '" + g_.node + "' (Pool): " + e.what());
    }
  }

 private:
  const PoolPlan* plan() const noexcept {
    return plans_.get(dnnl_util::current_threads(), [this](int) { return build(); });
  }

  std::unique_ptr<PoolPlan> build() const {
    const Window& w = g_.window;
    memory::dims strides, kernel, dilations, pad_l, pad_r;
    for (std::size_t i = 0; i < w.rank; ++i) {
      strides.push_back(w.strides[i]);
      kernel.push_back(w.kernel[i]);
      dilations.push_back(w.dilations[i] - 1);
      pad_l.push_back(w.pad_begin[i]);
      // Right padding that makes oneDNN's floor-mode size equal ours: more than the explicit
      // pad with ceil_mode; never less than zero.
      pad_r.push_back(std::max<std::int64_t>(
          w.pad_end[i], (w.out[i] - 1) * w.strides[i] + w.extent(i) - w.in[i] - w.pad_begin[i]));
    }
    dnnl::algorithm alg = dnnl::algorithm::pooling_max;
    if (g_.kind == PoolKind::kAverage) {
      alg = g_.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                 : dnnl::algorithm::pooling_avg_exclude_padding;
    }
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, user_src_,
                                        user_dst_, strides, kernel, dilations, pad_l, pad_r);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, dnnl_util::cpu_engine());
    auto plan = std::make_unique<PoolPlan>();
    plan->prim = dnnl::pooling_v2_forward(pd);
    plan->scratch_md = pd.scratchpad_desc();
    return plan;
  }

  PoolGeom g_;
  memory::desc user_src_, user_dst_;
  dnnl_util::PlanCache<PoolPlan> plans_;
};

// The direct NCHW kernel for 1-D and 2-D windows (treated as 2-D with one row); null if none.
std::unique_ptr<DirectPool> make_direct_pool(const PoolGeom& g) {
  if (g.indices || g.window.rank > 2) return nullptr;
  const Window3& q = g.w3;  // 1-D and 2-D geometry sits in the last two axes
  DirectPoolGeom d;
  d.max = g.kind == PoolKind::kMax;
  d.count_include_pad = g.count_include_pad;
  d.planes = g.batch * g.channels;
  d.in_h = q.in[1];
  d.in_w = q.in[2];
  d.out_h = q.out[1];
  d.out_w = q.out[2];
  d.kernel_h = q.kernel[1];
  d.kernel_w = q.kernel[2];
  d.stride_h = q.strides[1];
  d.stride_w = q.strides[2];
  d.dilation_h = q.dilations[1];
  d.dilation_w = q.dilations[2];
  d.pad_top = q.pad_begin[1];
  d.pad_left = q.pad_begin[2];
  d.pad_bottom = q.pad_end[1];
  d.pad_right = q.pad_end[2];
  return DirectPool::create(d);
}

class DirectPoolKernel final : public Kernel {
 public:
  explicit DirectPoolKernel(std::unique_ptr<DirectPool> pool) : pool_(std::move(pool)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    pool_->run(in[0]->data<float>(), out[0]->data<float>());
    return Status::ok();
  }

 private:
  std::unique_ptr<DirectPool> pool_;
};

// True when oneDNN computes exactly what the reference does for this geometry.
bool dnnl_pool_matches(const PoolGeom& g) {
  if (g.indices) return false;
  const Window& w = g.window;
  for (std::size_t i = 0; i < w.rank; ++i) {
    for (std::int64_t o = 0; o < w.out[i]; ++o) {
      // Some tap of every window must land inside the input.
      const std::int64_t start = o * w.strides[i] - w.pad_begin[i];
      bool any = false;
      for (std::int64_t k = 0; k < w.kernel[i] && !any; ++k) {
        const std::int64_t t = start + k * w.dilations[i];
        any = t >= 0 && t < w.in[i];
      }
      if (!any) return false;
    }
    // With count_include_pad the divisor must be the full kernel: no window may run past the
    // explicit padding.
    const std::int64_t last_end = (w.out[i] - 1) * w.strides[i] + w.extent(i);
    if (g.kind == PoolKind::kAverage && g.count_include_pad &&
        last_end > w.in[i] + w.pad_begin[i] + w.pad_end[i]) {
      return false;
    }
  }
  return true;
}

// dnnfi.MaxPool / dnnfi.AveragePool (inference sessions, exec/fusion.h) may carry layout =
// "NHWC": 2-D pools on channels-last bytes, run by oneDNN where it computes what the reference
// does (dnnl_pool_matches), an unsupported-op error otherwise.
Prepared prepare_window_pool(const PrepareContext& ctx, PoolKind kind) {
  const bool is_max = kind == PoolKind::kMax;
  const bool internal = ctx.node().domain == "dnnfi";
  if (is_max) {
    ctx.allow_attributes({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                          "storage_order", "strides", internal ? "layout" : ""});
  } else {
    ctx.allow_attributes({"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape",
                          "pads", "strides", internal ? "layout" : ""});
  }
  const std::string layout = internal ? ctx.attr_string("layout", "NCHW") : "NCHW";
  if (layout != "NCHW" && layout != "NHWC") ctx.fail("layout must be NCHW or NHWC");
  const bool nhwc = layout == "NHWC";
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32});
  const Shape& xs = ctx.input(0).shape;
  if (xs.size() < 3 || xs.size() > 5) {
    ctx.fail("input X must have rank 3, 4 or 5 (N, C, spatial...), got " + shape_to_string(xs));
  }
  if (!ctx.has_attr("kernel_shape")) ctx.fail("attribute 'kernel_shape' is required");
  PoolGeom g;
  g.kind = kind;
  g.node = ctx.node().name;
  g.batch = xs[0];
  g.channels = xs[1];
  const std::int64_t ceil_mode = ctx.attr_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) ctx.fail("ceil_mode must be 0 or 1");
  const std::int64_t include_pad = ctx.attr_int("count_include_pad", 0);
  if (include_pad != 0 && include_pad != 1) ctx.fail("count_include_pad must be 0 or 1");
  g.count_include_pad = include_pad == 1;
  const std::int64_t storage_order = ctx.attr_int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1) ctx.fail("storage_order must be 0 or 1");
  g.column_major = storage_order == 1;
  g.window = resolve_window(ctx, Shape(xs.begin() + 2, xs.end()), ctx.attr_ints("kernel_shape"),
                            ceil_mode == 1, /*allow_dilations=*/true);
  g.w3 = to_window3(g.window);
  if (ctx.num_outputs() > 2 || (!is_max && ctx.num_outputs() > 1)) {
    ctx.fail("too many outputs");
  }
  g.indices = is_max && ctx.num_outputs() == 2 && ctx.node().outputs[1] != kNoValue;

  Shape ys{g.batch, g.channels};
  ys.insert(ys.end(), g.window.out.begin(), g.window.out.end());
  Prepared p;
  p.outputs = {TensorInfo{DType::kFloat32, ys}};
  if (is_max && ctx.num_outputs() == 2) p.outputs.push_back(TensorInfo{DType::kInt64, ys});
  if (nhwc) {
    if (xs.size() != 4 || ctx.reference() || shape_numel(ys) == 0 || !dnnl_pool_matches(g)) {
      ctx.unsupported("no oneDNN pooling computes this node on channels-last data");
    }
    auto kernel = std::make_unique<DnnlPoolKernel>(g, true);
    if (!kernel->ready()) ctx.unsupported("no oneDNN pooling for channels-last data");
    p.kernel = std::move(kernel);
    return p;
  }
  if (!ctx.reference() && shape_numel(ys) > 0) {
    if (auto direct = make_direct_pool(g)) {
      p.kernel = std::make_unique<DirectPoolKernel>(std::move(direct));
      return p;
    }
  }
  if (!ctx.reference() && shape_numel(ys) > 0 && dnnl_pool_matches(g)) {
    auto kernel = std::make_unique<DnnlPoolKernel>(g, false);
    if (kernel->ready()) {
      p.kernel = std::move(kernel);
      return p;
    }
  }
  p.kernel = std::make_unique<ReferencePoolKernel>(std::move(g));
  return p;
}

// ---------------------------------------------------------------------------------------------
// Global pools: one output per (n, c) plane.

struct GlobalGeom {
  PoolKind kind;
  std::int64_t planes, plane_size;
};

void global_pool_reference(const GlobalGeom& g, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (g.planes * g.plane_size > 100000)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* xp = x + p * g.plane_size;
    if (g.kind == PoolKind::kMax) {
      float best = std::numeric_limits<float>::lowest();
      for (std::int64_t i = 0; i < g.plane_size; ++i) {
        if (xp[i] > best || std::isnan(xp[i])) {
          best = xp[i];
          if (std::isnan(best)) break;
        }
      }
      y[p] = best;
    } else {
      double sum = 0.0;
      for (std::int64_t i = 0; i < g.plane_size; ++i) sum += xp[i];
      y[p] = static_cast<float>(sum / static_cast<double>(g.plane_size));
    }
  }
}

// 16 interleaved partial results per plane (a fixed order, vectorised by the compiler).
void global_pool_fast(const GlobalGeom& g, const float* x, float* y) {
  constexpr std::int64_t kLanes = 16;
#pragma omp parallel for schedule(static) if (g.planes * g.plane_size > 100000)
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* xp = x + p * g.plane_size;
    const std::int64_t body = g.plane_size / kLanes * kLanes;
    if (g.kind == PoolKind::kMax) {
      float lanes[kLanes];
      bool nan = false;
      for (std::int64_t j = 0; j < kLanes; ++j) lanes[j] = std::numeric_limits<float>::lowest();
      for (std::int64_t i = 0; i < body; i += kLanes) {
        for (std::int64_t j = 0; j < kLanes; ++j) {
          const float v = xp[i + j];
          nan |= v != v;
          lanes[j] = v > lanes[j] ? v : lanes[j];
        }
      }
      float best = std::numeric_limits<float>::lowest();
      for (std::int64_t j = 0; j < kLanes; ++j) best = lanes[j] > best ? lanes[j] : best;
      for (std::int64_t i = body; i < g.plane_size; ++i) {
        nan |= xp[i] != xp[i];
        best = xp[i] > best ? xp[i] : best;
      }
      y[p] = nan ? std::numeric_limits<float>::quiet_NaN() : best;
    } else {
      float lanes[kLanes] = {};
      for (std::int64_t i = 0; i < body; i += kLanes) {
        for (std::int64_t j = 0; j < kLanes; ++j) lanes[j] += xp[i + j];
      }
      float sum = 0.0f;
      for (std::int64_t j = 0; j < kLanes; ++j) sum += lanes[j];
      for (std::int64_t i = body; i < g.plane_size; ++i) sum += xp[i];
      y[p] = sum / static_cast<float>(g.plane_size);
    }
  }
}

// GlobalAveragePool of a channels-last rank-4 X (inference sessions, exec/fusion.h): per image,
// the channels' sums in double side by side over the pixels, then / H*W. Y [N, C, 1, 1] has the
// same bytes in both layouts. The sums run in another order than the NCHW kernels' partials, so
// the last bits can differ (as channels-last convolutions' do).
Status global_average_pool_nhwc(std::int64_t batch, std::int64_t channels, std::int64_t pixels,
                                const float* x, float* y) {
  auto* sums = static_cast<double*>(dnnl_util::thread_scratch(
      dnnl_util::Scratch::kPad, static_cast<std::size_t>(channels) * sizeof(double)));
  if (sums == nullptr) return Status::error("out of memory");
  for (std::int64_t n = 0; n < batch; ++n) {
    std::fill(sums, sums + channels, 0.0);
    const float* xn = x + n * pixels * channels;
    for (std::int64_t q = 0; q < pixels; ++q) {
      const float* xq = xn + q * channels;
      for (std::int64_t c = 0; c < channels; ++c) sums[c] += xq[c];
    }
    for (std::int64_t c = 0; c < channels; ++c) {
      y[n * channels + c] = static_cast<float>(sums[c] / static_cast<double>(pixels));
    }
  }
  return Status::ok();
}

Prepared prepare_global_pool(const PrepareContext& ctx, PoolKind kind) {
  const bool dnnfi_node = ctx.node().domain == "dnnfi";
  ctx.allow_attributes({dnnfi_node ? "layout" : ""});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32});
  const Shape& xs = ctx.input(0).shape;
  if (xs.size() < 3) {
    ctx.fail("input X must have rank >= 3 (N, C, spatial...), got " + shape_to_string(xs));
  }
  GlobalGeom g{kind, xs[0] * xs[1], 1};
  Shape ys{xs[0], xs[1]};
  for (std::size_t i = 2; i < xs.size(); ++i) {
    g.plane_size *= xs[i];
    ys.push_back(1);
  }
  if (g.plane_size == 0) ctx.fail("empty spatial extent " + shape_to_string(xs));
  Prepared p;
  p.outputs = {TensorInfo{DType::kFloat32, ys}};
  const std::string layout = ctx.attr_string("layout", "NCHW");
  if (layout != "NCHW" && layout != "NHWC") ctx.fail("layout must be NCHW or NHWC");
  if (layout == "NHWC") {
    if (xs.size() != 4 || kind != PoolKind::kAverage || ctx.reference()) {
      ctx.unsupported("channels-last global pooling: GlobalAveragePool of rank 4 only");
    }
    const std::int64_t batch = xs[0], channels = xs[1], pixels = xs[2] * xs[3];
    p.kernel = make_kernel(
        [batch, channels, pixels](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
          return global_average_pool_nhwc(batch, channels, pixels, in[0]->data<float>(),
                                          out[0]->data<float>());
        });
    return p;
  }
  const bool reference = ctx.reference();
  p.kernel =
      make_kernel([g, reference](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
        if (reference) {
          global_pool_reference(g, in[0]->data<float>(), out[0]->data<float>());
        } else {
          global_pool_fast(g, in[0]->data<float>(), out[0]->data<float>());
        }
        return Status::ok();
      });
  return p;
}

}  // namespace

Prepared prepare_max_pool(const PrepareContext& ctx) {
  // int8 / uint8 (quantized models): quant_pool.cpp.
  if (ctx.node().domain.empty() && ctx.has_input(0) &&
      (ctx.input(0).dtype == DType::kInt8 || ctx.input(0).dtype == DType::kUInt8)) {
    return prepare_max_pool_8bit(ctx);
  }
  return prepare_window_pool(ctx, PoolKind::kMax);
}
Prepared prepare_average_pool(const PrepareContext& ctx) {
  return prepare_window_pool(ctx, PoolKind::kAverage);
}
Prepared prepare_global_average_pool(const PrepareContext& ctx) {
  return prepare_global_pool(ctx, PoolKind::kAverage);
}
Prepared prepare_global_max_pool(const PrepareContext& ctx) {
  return prepare_global_pool(ctx, PoolKind::kMax);
}

}  // namespace dnnfi
