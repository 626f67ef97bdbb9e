// Conv (1-D/2-D/3-D, groups, dilations, strides, pads, auto_pad, optional bias), float32, and
// dnnfi.FusedConv, the Conv with post-ops and channels-last data that inference sessions make
// (exec/fusion.h; see prepare_conv).
//
// Two kernels chosen at prepare: a plain-loop reference (double accumulation, one output element
// summed in a fixed order) and an optimised one:
//  - depthwise 3x3/5x5 2-D convolutions: a direct AVX-512 kernel on NCHW (conv_depthwise.h);
//  - everything else: a oneDNN convolution whose constant weights are reordered once at prepare
//    into the layout the primitive asks for, with a data layout chosen per layer from measurements
//    at batch 1 (choose_layout): plain NCHW (gemm-based) for large 1x1 layers, blocked with
//    reorders in and out otherwise.
// No Winograd: it would halve 3x3 stride-1 layers (measured ~2x on VGG/ResNet 3x3 at >= 28x28),
// but its transforms mix the inputs of a whole tile, so fault propagation would no longer match
// PyTorch / ONNX Runtime: measured with one input set to 1e30 in a 256-channel 56x56 layer,
// oneDNN's F(4x4,3x3) kernel changed 2816 outputs outside that input's receptive field, and with
// an Inf input its F(2x2,3x3) kernel produced NaN where a direct convolution gives +-Inf.
// Shapes oneDNN cannot do run the reference.
#include <omp.h>

#include <algorithm>
#include <limits>

#include "ops/conv_depthwise.h"
#include "ops/conv_dnnl.h"
#include "ops/conv_shape.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

using dnnl_util::memory;
using dnnl_util::Tag;

struct ConvGeom {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  Window window;  // spatial geometry
  Window3 w3;     // the same padded to 3-D for the reference loops
  bool has_bias = false;
  ConvPostOps post;  // FusedConv only
  // FusedConv only: tensors held channels-last (NHWC) by an inference session (exec/fusion.h).
  bool src_nhwc = false, dst_nhwc = false, sum_nhwc = false;
  // A band of rows of a larger Conv (fi/row_regions.h sets the internal attribute
  // "dnnfi_band_of": the whole output's height): kernel choices follow the whole node's.
  std::int64_t whole_out_h = 0;
  std::string node;
};

// Output indices o in [0, out_len) whose input index o*stride + offset lies in [0, in_len).
inline void valid_range(std::int64_t out_len, std::int64_t in_len, std::int64_t stride,
                        std::int64_t offset, std::int64_t& lo, std::int64_t& hi) {
  // o*stride + offset >= 0  <=>  o >= ceil(-offset / stride)
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // o*stride + offset <= in_len - 1  <=>  o <= floor((in_len - 1 - offset) / stride)
  const std::int64_t top = in_len - 1 - offset;
  hi = top < 0 ? 0 : std::min(out_len, top / stride + 1);
  lo = std::min(lo, hi);
}

// The reference: y[n, m, o] = b[m] + sum over (c in m's group, kd, kh, kw) of x * w, summed in
// that order in double precision. Output planes are independent, so the OpenMP split over them
// does not change any result.
void conv_reference(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const Window3& q = g.w3;
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::int64_t ksize = q.kernel[0] * q.kernel[1] * q.kernel[2];
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  const std::int64_t planes = g.batch * g.out_channels;
  constexpr std::int64_t kChunk = 64;
#pragma omp parallel for schedule(static) if (planes * out_size * cg * ksize > 100000)
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    const std::int64_t n = plane / g.out_channels, m = plane % g.out_channels;
    const float* xg = x + (n * g.in_channels + (m / mg) * cg) * in_size;
    const float* wm = w + m * cg * ksize;
    float* yp = y + plane * out_size;
    for (std::int64_t od = 0; od < q.out[0]; ++od) {
      for (std::int64_t oh = 0; oh < q.out[1]; ++oh) {
        for (std::int64_t ow0 = 0; ow0 < q.out[2]; ow0 += kChunk) {
          const std::int64_t len = std::min(kChunk, q.out[2] - ow0);
          double acc[kChunk] = {};
          for (std::int64_t c = 0; c < cg; ++c) {
            for (std::int64_t kd = 0; kd < q.kernel[0]; ++kd) {
              const std::int64_t id = od * q.strides[0] - q.pad_begin[0] + kd * q.dilations[0];
              if (id < 0 || id >= q.in[0]) continue;
              for (std::int64_t kh = 0; kh < q.kernel[1]; ++kh) {
                const std::int64_t ih = oh * q.strides[1] - q.pad_begin[1] + kh * q.dilations[1];
                if (ih < 0 || ih >= q.in[1]) continue;
                const float* xrow = xg + c * in_size + (id * q.in[1] + ih) * q.in[2];
                for (std::int64_t kw = 0; kw < q.kernel[2]; ++kw) {
                  const double wv =
                      wm[((c * q.kernel[0] + kd) * q.kernel[1] + kh) * q.kernel[2] + kw];
                  const std::int64_t offset =
                      ow0 * q.strides[2] - q.pad_begin[2] + kw * q.dilations[2];
                  std::int64_t lo, hi;
                  valid_range(len, q.in[2], q.strides[2], offset, lo, hi);
                  for (std::int64_t j = lo; j < hi; ++j) {
                    acc[j] += static_cast<double>(xrow[j * q.strides[2] + offset]) * wv;
                  }
                }
              }
            }
          }
          float* yrow = yp + (od * q.out[1] + oh) * q.out[2] + ow0;
          const double bias = b != nullptr ? b[m] : 0.0;
          for (std::int64_t j = 0; j < len; ++j) yrow[j] = static_cast<float>(acc[j] + bias);
        }
      }
    }
  }
}

class ReferenceConvKernel final : public Kernel {
 public:
  explicit ReferenceConvKernel(ConvGeom g) : g_(std::move(g)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* b = g_.has_bias ? in[2]->data<float>() : nullptr;
    conv_reference(g_, in[0]->data<float>(), in[1]->data<float>(), b, out[0]->data<float>());
    if (g_.post.any()) {
      g_.post.apply(out[0]->data<float>(), g_.post.sum ? in[3]->data<float>() : nullptr,
                    out[0]->numel());
    }
    return Status::ok();
  }

 private:
  ConvGeom g_;
};

// Depthwise 3x3/5x5 convolutions straight on NCHW (see conv_depthwise.h).
class DepthwiseConvKernel final : public Kernel {
 public:
  DepthwiseConvKernel(std::unique_ptr<DepthwiseConv> conv, bool has_bias, ConvPostOps post)
      : conv_(std::move(conv)), has_bias_(has_bias), post_(post) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* b = has_bias_ ? in[2]->data<float>() : nullptr;
    const float* sum = post_.sum ? in[3]->data<float>() : nullptr;
    conv_->run(in[0]->data<float>(), in[1]->data<float>(), b, out[0]->data<float>(), &post_, sum);
    return Status::ok();
  }
  // Without post-ops: rows of the output straight from the input's rows, in place.
  bool run_rows(std::span<const RowInput> in, Tensor& out, std::int64_t lo,
                std::int64_t hi) const override {
    if (post_.any() || in.size() < 2 || in[0].rest == nullptr || in[1].rest == nullptr) {
      return false;
    }
    const RowInput& x = in[0];
    if (x.band != nullptr && x.band->numel() != x.rest->numel()) return false;
    const float* b =
        has_bias_ && in.size() > 2 && in[2].rest != nullptr ? in[2].rest->data<float>() : nullptr;
    if (has_bias_ && b == nullptr) return false;
    conv_->run_rows(x.rest->data<float>(), x.band != nullptr ? x.band->data<float>() : nullptr,
                    x.lo, x.hi, in[1].rest->data<float>(), b, out.data<float>(), lo, hi);
    return true;
  }

 private:
  std::unique_ptr<DepthwiseConv> conv_;
  bool has_bias_;
  ConvPostOps post_;
};

std::unique_ptr<DepthwiseConv> make_depthwise(const ConvGeom& g) {
  const Window& w = g.window;
  if (w.rank != 2 || g.group != g.in_channels || g.batch < 1) return nullptr;
  const DepthwiseGeom d{g.batch,        g.in_channels,  g.out_channels / g.in_channels,
                        w.in[0],        w.in[1],        w.out[0],
                        w.out[1],       w.kernel[0],    w.kernel[1],
                        w.strides[0],   w.strides[1],   w.dilations[0],
                        w.dilations[1], w.pad_begin[0], w.pad_begin[1]};
  return DepthwiseConv::create(d);
}

// How the oneDNN kernel runs a layer.
enum class Layout {
  kPlain,     // NCHW in and out: no reorders, gemm-based kernel
  kBlocked,   // the primitive's preferred (blocked) layouts, reorders in and out
  kPlainSrc,  // NCHW source read directly, blocked destination reordered out (few input channels)
};

// Measured on one core (Sapphire Rapids, AVX-512) at batch 1, ResNet-50 and MobileNetV2 layers:
// for 1x1 stride-1 convolutions over >= 14x14 outputs the gemm-based NCHW kernel beats the blocked
// kernel plus its two reorders (256->64 at 56x56: 0.78 ms vs 0.75 + 0.47 ms; 384->64 at 14x14:
// 0.06 vs 0.29 ms); at 7x7 blocked wins (960->320: 0.27 vs 0.35 ms), as it does for strided or
// larger kernels (3x3 64->64 at 56x56: 1.69 vs 4.0 ms).
// A first layer with 3 input channels is fastest reading NCHW directly (7x7/2 3->64: 1.8 vs
// 2.3 ms blocked).
Layout choose_layout(const ConvGeom& g) {
  if (g.src_nhwc || g.dst_nhwc) return Layout::kBlocked;  // the primitive picks; reorders if needed
  const Window& w = g.window;
  bool pointwise = g.group == 1;
  std::int64_t out_spatial = 1;
  for (std::size_t i = 0; i < w.rank; ++i) {
    pointwise = pointwise && w.kernel[i] == 1 && w.strides[i] == 1 && w.pad_begin[i] == 0 &&
                w.pad_end[i] == 0;
    out_spatial *= i == 0 && g.whole_out_h > 0 ? g.whole_out_h : w.out[i];
  }
  if (pointwise && out_spatial >= 14 * 14) return Layout::kPlain;
  if (g.group == 1 && g.in_channels < 8) return Layout::kPlainSrc;
  return Layout::kBlocked;
}

class DnnlConvKernel final : public Kernel {
 public:
  DnnlConvKernel(ConvGeom g, Layout layout, const Tensor* weights)
      : g_(std::move(g)), layout_(layout) {
    if (weights != nullptr) weights_ = *weights;
    const std::size_t rank = g_.window.rank + 2;
    Shape src{g_.batch, g_.in_channels}, dst{g_.batch, g_.out_channels}, wd;
    for (std::size_t i = 0; i < g_.window.rank; ++i) {
      src.push_back(g_.window.in[i]);
      dst.push_back(g_.window.out[i]);
    }
    if (g_.group > 1) {
      wd = {g_.group, g_.out_channels / g_.group, g_.in_channels / g_.group};
    } else {
      wd = {g_.out_channels, g_.in_channels};
    }
    for (std::int64_t k : g_.window.kernel) wd.push_back(k);
    const Tag plain = dnnl_util::plain_tag(rank);
    user_src_ = memory::desc(dnnl_util::to_dims(src), memory::data_type::f32,
                             g_.src_nhwc ? Tag::nhwc : plain);
    user_dst_ = memory::desc(dnnl_util::to_dims(dst), memory::data_type::f32,
                             g_.dst_nhwc ? Tag::nhwc : plain);
    if (g_.post.sum) {
      user_sum_ = memory::desc(dnnl_util::to_dims(dst), memory::data_type::f32,
                               g_.sum_nhwc ? Tag::nhwc : plain);
    }
    user_weights_ = memory::desc(dnnl_util::to_dims(wd), memory::data_type::f32,
                                 dnnl_util::weights_tag(g_.window.rank, g_.group > 1, false));
  }

  // Builds the plan for the calling thread's thread count; throws if oneDNN cannot do this node.
  const ConvPlan* prepare_plan() const {
    const ConvPlan* plan =
        plans_.get(dnnl_util::current_threads(), [this](int) { return build(); });
    if (plan == nullptr) throw std::runtime_error("no oneDNN convolution for this node");
    return plan;
  }

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* b = g_.has_bias ? in[2]->data<float>() : nullptr;
    const float* sum = g_.post.sum ? in[3]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    if (out[0]->numel() == 0) return Status::ok();
    const ConvPlan* plan =
        plans_.get(dnnl_util::current_threads(), [this](int) { return build(); });
    if (plan == nullptr) {
      if (g_.src_nhwc || g_.dst_nhwc || g_.sum_nhwc) {
        return Status::error("no oneDNN convolution at this thread count for channels-last data");
      }
      conv_reference(g_, x, w, b, y);
      g_.post.apply(y, sum, out[0]->numel());
      return Status::ok();
    }
    return run_conv_plan(*plan, x, w, b, sum, y, g_.node, "Conv", &g_.post);
  }

 private:
  // The preferred layout, or blocked when the NCHW source is not read by a direct kernel.
  std::unique_ptr<ConvPlan> build() const {
    std::unique_ptr<ConvPlan> plan = build(layout_);
    if (layout_ == Layout::kPlainSrc && plan->impl.find("gemm") != std::string::npos) {
      plan = build(Layout::kBlocked);
    }
    return plan;
  }

  // Post-ops run inside oneDNN's primitive only where that gives the unfused result bit for bit
  // and is fast; otherwise the kernel applies them itself right after the primitive:
  //  - the gemm-based convolution applies post-ops in a slow generic pass;
  //  - the older jit kernels (jit:avx512_core, picked for few channels) treat a sum's summand as
  //    the accumulator's starting value, adding the bias after it, which rounds differently from
  //    Conv then Add. The brgemm-based kernels add the bias first, as the unfused Conv does.
  //  - oneDNN has no implementation with these post-ops.
  std::unique_ptr<ConvPlan> build(Layout layout) const {
    if (!g_.post.any()) return build(layout, false);
    std::unique_ptr<ConvPlan> plan;
    try {
      plan = build(layout, true);
    } catch (const dnnl::error&) {
      return build(layout, false);
    }
    const bool gemm = plan->impl.find("gemm") != std::string::npos;
    const bool brgemm = plan->impl.rfind("brg", 0) == 0;
    if (gemm || (g_.post.sum && !brgemm)) plan = build(layout, false);
    return plan;
  }

  std::unique_ptr<ConvPlan> build(Layout layout, bool post_ops) const {
    const Window& win = g_.window;
    memory::dims strides, dilations, pad_l, pad_r;
    for (std::size_t i = 0; i < win.rank; ++i) {
      strides.push_back(win.strides[i]);
      dilations.push_back(win.dilations[i] - 1);  // oneDNN counts dilation from 0
      pad_l.push_back(win.pad_begin[i]);
      pad_r.push_back(win.pad_end[i]);
    }
    auto any = [](const memory::desc& md) {
      return memory::desc(md.dims(), memory::data_type::f32, Tag::any);
    };
    const memory::desc src = layout == Layout::kBlocked ? any(user_src_) : user_src_;
    const memory::desc dst = layout == Layout::kPlain ? user_dst_ : any(user_dst_);
    memory::desc bias_md;
    if (g_.has_bias) {
      bias_md = memory::desc({g_.out_channels}, memory::data_type::f32, Tag::x);
    }
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
        any(user_weights_), bias_md, dst, strides, dilations, pad_l, pad_r);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (post_ops) {
      dnnl::post_ops post;
      if (g_.post.sum) post.append_sum(1.0f);
      if (g_.post.activation == ConvPostOps::Activation::kRelu) {
        post.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      } else if (g_.post.activation == ConvPostOps::Activation::kClip) {
        post.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, g_.post.lo, g_.post.hi);
      }
      attr.set_post_ops(post);
    }
    dnnl::convolution_forward::primitive_desc pd(desc, attr, dnnl_util::cpu_engine());
    return finish_conv_plan(pd, dnnl::convolution_forward(pd), user_src_, user_weights_, user_dst_,
                            weights_.empty() ? nullptr : &weights_, &packed_, user_sum_,
                            g_.post.any() && !post_ops);
  }

  ConvGeom g_;
  Layout layout_;
  Tensor weights_;  // the constant weights (aliased), empty when W is computed at run time
  memory::desc user_src_, user_dst_, user_weights_, user_sum_;
  mutable PackedWeights packed_;  // written only under plans_'s lock
  dnnl_util::PlanCache<ConvPlan> plans_;
};

// Conv, and FusedConv: a Conv with post-ops that only inference sessions create (exec/fusion.h):
// attributes "activation" ("Relu" or "Clip") with "activation_min"/"activation_max", and an
// optional 4th input added to the output before the activation.
// Validates the node and resolves its geometry; ys receives the output shape.
ConvGeom conv_geometry(const PrepareContext& ctx, Shape& ys) {
  const bool fused = ctx.node().op_type == "FusedConv";
  if (fused) {
    ctx.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                          "activation", "activation_min", "activation_max", "src_layout",
                          "dst_layout", "sum_layout", "dnnfi_band_of"});
    ctx.require_inputs(2, 4);
  } else {
    ctx.allow_attributes(
        {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "dnnfi_band_of"});
    ctx.require_inputs(2, 3);
  }
  ctx.require_dtype(0, {DType::kFloat32});
  ctx.require_dtype(1, {DType::kFloat32});
  const Shape& xs = ctx.input(0).shape;
  const Shape& ws = ctx.input(1).shape;
  if (xs.size() < 3 || xs.size() > 5) {
    ctx.fail("input X must have rank 3, 4 or 5 (N, C, spatial...), got " + shape_to_string(xs));
  }
  if (ws.size() != xs.size()) {
    ctx.fail("weights W " + shape_to_string(ws) + " must have the rank of X " +
             shape_to_string(xs));
  }
  ConvGeom g;
  g.node = ctx.node().name;
  g.batch = xs[0];
  g.in_channels = xs[1];
  g.out_channels = ws[0];
  g.group = ctx.attr_int("group", 1);
  if (g.group < 1) ctx.fail("group must be >= 1");
  if (g.in_channels % g.group != 0 || g.out_channels % g.group != 0 ||
      ws[1] * g.group != g.in_channels) {
    ctx.fail("weights W " + shape_to_string(ws) + " do not match input channels " +
             std::to_string(g.in_channels) + " with group " + std::to_string(g.group));
  }
  std::vector<std::int64_t> kernel(ws.begin() + 2, ws.end());
  if (ctx.has_attr("kernel_shape") && ctx.attr_ints("kernel_shape") != kernel) {
    ctx.fail("attribute 'kernel_shape' does not match the weights " + shape_to_string(ws));
  }
  if (ctx.has_input(2)) {
    ctx.require_dtype(2, {DType::kFloat32});
    if (ctx.input(2).shape != Shape{g.out_channels}) {
      ctx.fail("bias B " + shape_to_string(ctx.input(2).shape) + " must have shape [" +
               std::to_string(g.out_channels) + "]");
    }
    g.has_bias = true;
  }
  g.window = resolve_window(ctx, Shape(xs.begin() + 2, xs.end()), kernel, false, true);
  g.whole_out_h = ctx.attr_int("dnnfi_band_of", 0);
  g.w3 = to_window3(g.window);
  ys = {g.batch, g.out_channels};
  ys.insert(ys.end(), g.window.out.begin(), g.window.out.end());
  if (fused) {
    const std::string act = ctx.attr_string("activation", "");
    if (act == "Relu") {
      g.post.activation = ConvPostOps::Activation::kRelu;
    } else if (act == "Clip") {
      g.post.activation = ConvPostOps::Activation::kClip;
      g.post.lo = ctx.attr_float("activation_min", std::numeric_limits<float>::lowest());
      g.post.hi = ctx.attr_float("activation_max", std::numeric_limits<float>::max());
    } else if (!act.empty()) {
      ctx.unsupported("activation '" + act + "' cannot be fused");
    }
    auto channels_last = [&](const char* name) {
      const std::string layout = ctx.attr_string(name, "NCHW");
      if (layout != "NCHW" && layout != "NHWC")
        ctx.fail(std::string(name) + " must be NCHW or NHWC");
      return layout == "NHWC";
    };
    g.src_nhwc = channels_last("src_layout");
    g.dst_nhwc = channels_last("dst_layout");
    g.sum_nhwc = channels_last("sum_layout");
    if ((g.src_nhwc || g.dst_nhwc || g.sum_nhwc) && (xs.size() != 4 || ctx.reference())) {
      ctx.unsupported("channels-last data needs a 2-D oneDNN convolution");
    }
    if (ctx.has_input(3)) {
      ctx.require_dtype(3, {DType::kFloat32});
      if (ctx.input(3).shape != ys) {
        ctx.fail("summand " + shape_to_string(ctx.input(3).shape) + " must have the output shape " +
                 shape_to_string(ys));
      }
      g.post.sum = true;
    }
  }

  return g;
}

}  // namespace

bool conv_reads_nchw_directly(const PrepareContext& ctx) {
  Shape ys;
  const ConvGeom g = conv_geometry(ctx, ys);
  if (ctx.reference()) return false;
  return make_depthwise(g) != nullptr || choose_layout(g) == Layout::kPlain;
}

bool conv_picks_its_layouts(const PrepareContext& ctx) {
  Shape ys;
  const ConvGeom g = conv_geometry(ctx, ys);
  if (ctx.reference() || g.window.rank != 2 || g.batch < 1 || g.in_channels < 1 ||
      g.out_channels < 1) {
    return false;
  }
  // Either layout gives the same primitive: both ask oneDNN for `any` source and destination.
  return make_depthwise(g) == nullptr && choose_layout(g) == Layout::kBlocked;
}

Prepared prepare_conv(const PrepareContext& ctx) {
  Shape ys;
  ConvGeom g = conv_geometry(ctx, ys);
  Prepared p;
  p.outputs = {TensorInfo{DType::kFloat32, ys}};
  if (!ctx.reference() && g.batch > 0 && g.out_channels > 0 && g.in_channels > 0) {
    // The direct depthwise kernel computes on NCHW; channels-last data goes to oneDNN.
    const bool channels_last = g.src_nhwc || g.dst_nhwc || g.sum_nhwc;
    if (auto depthwise = channels_last ? nullptr : make_depthwise(g)) {
      p.kernel = std::make_unique<DepthwiseConvKernel>(std::move(depthwise), g.has_bias, g.post);
      return p;
    }
    auto kernel_ptr = std::make_unique<DnnlConvKernel>(g, choose_layout(g), ctx.constant(1));
    try {
      kernel_ptr->prepare_plan();
      p.kernel = std::move(kernel_ptr);
      return p;
    } catch (const std::exception&) {
      // oneDNN has no implementation for this node: the reference kernel runs it.
    }
  }
  if (g.src_nhwc || g.dst_nhwc || g.sum_nhwc) {
    ctx.unsupported("no oneDNN convolution for this node's channels-last data");
  }
  p.kernel = std::make_unique<ReferenceConvKernel>(std::move(g));
  return p;
}

}  // namespace dnnfi
