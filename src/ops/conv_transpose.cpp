// ConvTranspose (1-D/2-D/3-D, groups, strides, dilations, pads, output_padding, output_shape,
// auto_pad, optional bias), float32.
//
// The reference gathers, for each output element, every (input channel, kernel tap) that lands on
// it, in a fixed order with double accumulation. The optimised kernel is a oneDNN deconvolution
// (the same operation: the data gradient of a convolution) in its preferred layouts, with
// constant weights reordered once; geometries oneDNN rejects (e.g. output_shape larger than the
// natural size, which makes a pad negative) run the reference.
#include <omp.h>

#include <algorithm>

#include "ops/conv_dnnl.h"
#include "ops/conv_shape.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

using dnnl_util::memory;
using dnnl_util::Tag;

struct DeconvGeom {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  Window window;
  Window3 w3;
  bool has_bias = false;
  std::string node;
};

// y[n, m, o] = b[m] + sum over input channels c of m's group and kernel taps k with
// i * stride - pad_begin + k * dilation == o of x[n, c, i] * w[c, m mod (M/G), k].
void conv_transpose_reference(const DeconvGeom& g, const float* x, const float* w, const float* b,
                              float* y) {
  const Window3& q = g.w3;
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::int64_t ksize = q.kernel[0] * q.kernel[1] * q.kernel[2];
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  const std::int64_t planes = g.batch * g.out_channels;
  // The input index along one axis for output o and tap k, or -1 when none lands there.
  auto source = [](std::int64_t o, std::int64_t k, std::int64_t stride, std::int64_t pad,
                   std::int64_t dilation, std::int64_t in) -> std::int64_t {
    const std::int64_t t = o + pad - k * dilation;
    if (t < 0 || t % stride != 0) return -1;
    const std::int64_t i = t / stride;
    return i < in ? i : -1;
  };
#pragma omp parallel for schedule(static) if (planes * out_size * cg * ksize > 100000)
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    const std::int64_t n = plane / g.out_channels, m = plane % g.out_channels;
    const std::int64_t grp = m / mg, mm = m % mg;
    const float* xg = x + (n * g.in_channels + grp * cg) * in_size;
    const float* wg = w + (grp * cg * mg + mm) * ksize;  // w[grp*cg + c][mm][k]
    float* yp = y + plane * out_size;
    for (std::int64_t od = 0; od < q.out[0]; ++od) {
      for (std::int64_t oh = 0; oh < q.out[1]; ++oh) {
        for (std::int64_t ow = 0; ow < q.out[2]; ++ow) {
          double acc = 0.0;
          for (std::int64_t c = 0; c < cg; ++c) {
            const float* xc = xg + c * in_size;
            const float* wc = wg + c * mg * ksize;
            for (std::int64_t kd = 0; kd < q.kernel[0]; ++kd) {
              const std::int64_t id =
                  source(od, kd, q.strides[0], q.pad_begin[0], q.dilations[0], q.in[0]);
              if (id < 0) continue;
              for (std::int64_t kh = 0; kh < q.kernel[1]; ++kh) {
                const std::int64_t ih =
                    source(oh, kh, q.strides[1], q.pad_begin[1], q.dilations[1], q.in[1]);
                if (ih < 0) continue;
                for (std::int64_t kw = 0; kw < q.kernel[2]; ++kw) {
                  const std::int64_t iw =
                      source(ow, kw, q.strides[2], q.pad_begin[2], q.dilations[2], q.in[2]);
                  if (iw < 0) continue;
                  acc += static_cast<double>(xc[(id * q.in[1] + ih) * q.in[2] + iw]) *
                         wc[(kd * q.kernel[1] + kh) * q.kernel[2] + kw];
                }
              }
            }
          }
          yp[(od * q.out[1] + oh) * q.out[2] + ow] =
              static_cast<float>(acc + (b != nullptr ? b[m] : 0.0));
        }
      }
    }
  }
}

class ReferenceConvTransposeKernel final : public Kernel {
 public:
  explicit ReferenceConvTransposeKernel(DeconvGeom g) : g_(std::move(g)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* b = g_.has_bias ? in[2]->data<float>() : nullptr;
    conv_transpose_reference(g_, in[0]->data<float>(), in[1]->data<float>(), b,
                             out[0]->data<float>());
    return Status::ok();
  }

 private:
  DeconvGeom g_;
};

class DnnlConvTransposeKernel final : public Kernel {
 public:
  DnnlConvTransposeKernel(DeconvGeom g, const Tensor* weights) : g_(std::move(g)) {
    if (weights != nullptr) weights_ = *weights;
    const std::size_t rank = g_.window.rank + 2;
    Shape src{g_.batch, g_.in_channels}, dst{g_.batch, g_.out_channels}, wd;
    for (std::size_t i = 0; i < g_.window.rank; ++i) {
      src.push_back(g_.window.in[i]);
      dst.push_back(g_.window.out[i]);
    }
    // oneDNN's logical weight order is (g, out, in, k...); ONNX stores (g, in, out, k...).
    if (g_.group > 1) {
      wd = {g_.group, g_.out_channels / g_.group, g_.in_channels / g_.group};
    } else {
      wd = {g_.out_channels, g_.in_channels};
    }
    for (std::int64_t k : g_.window.kernel) wd.push_back(k);
    user_src_ =
        memory::desc(dnnl_util::to_dims(src), memory::data_type::f32, dnnl_util::plain_tag(rank));
    user_dst_ =
        memory::desc(dnnl_util::to_dims(dst), memory::data_type::f32, dnnl_util::plain_tag(rank));
    user_weights_ = memory::desc(dnnl_util::to_dims(wd), memory::data_type::f32,
                                 dnnl_util::weights_tag(g_.window.rank, g_.group > 1, true));
  }

  void prepare_plan() const {
    if (plans_.get(dnnl_util::current_threads(), [this](int) { return build(); }) == nullptr) {
      throw std::runtime_error("no oneDNN deconvolution for this node");
    }
  }

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* b = g_.has_bias ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    if (out[0]->numel() == 0) return Status::ok();
    const ConvPlan* plan =
        plans_.get(dnnl_util::current_threads(), [this](int) { return build(); });
    if (plan == nullptr) {
      conv_transpose_reference(g_, x, w, b, y);
      return Status::ok();
    }
    return run_conv_plan(*plan, x, w, b, nullptr, y, g_.node, "ConvTranspose");
  }

 private:
  std::unique_ptr<ConvPlan> build() const {
    const Window& win = g_.window;
    memory::dims strides, dilations, pad_l, pad_r;
    for (std::size_t i = 0; i < win.rank; ++i) {
      strides.push_back(win.strides[i]);
      dilations.push_back(win.dilations[i] - 1);
      pad_l.push_back(win.pad_begin[i]);
      // output_padding extends the end of the output: for oneDNN it is less padding there.
      pad_r.push_back(win.pad_end[i] - win.output_padding[i]);
    }
    for (std::size_t i = 0; i < win.rank; ++i) {
      if (pad_l[i] < 0 || pad_r[i] < 0) throw std::runtime_error("negative padding");
    }
    auto any = [](const memory::desc& md) {
      return memory::desc(md.dims(), memory::data_type::f32, Tag::any);
    };
    memory::desc bias_md;
    if (g_.has_bias) bias_md = memory::desc({g_.out_channels}, memory::data_type::f32, Tag::x);
    dnnl::deconvolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, any(user_src_),
        any(user_weights_), bias_md, any(user_dst_), strides, dilations, pad_l, pad_r);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::deconvolution_forward::primitive_desc pd(desc, attr, dnnl_util::cpu_engine());
    return finish_conv_plan(pd, dnnl::deconvolution_forward(pd), user_src_, user_weights_,
                            user_dst_, weights_.empty() ? nullptr : &weights_, &packed_);
  }

  DeconvGeom g_;
  Tensor weights_;
  memory::desc user_src_, user_dst_, user_weights_;
  mutable PackedWeights packed_;  // written only under plans_'s lock
  dnnl_util::PlanCache<ConvPlan> plans_;
};

}  // namespace

Prepared prepare_conv_transpose(const PrepareContext& ctx) {
  ctx.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "output_padding",
                        "output_shape", "pads", "strides"});
  ctx.require_inputs(2, 3);
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
  DeconvGeom g;
  g.node = ctx.node().name;
  g.batch = xs[0];
  g.in_channels = xs[1];
  g.group = ctx.attr_int("group", 1);
  if (g.group < 1) ctx.fail("group must be >= 1");
  if (ws[0] != g.in_channels || g.in_channels % g.group != 0) {
    ctx.fail("weights W " + shape_to_string(ws) + " do not match input channels " +
             std::to_string(g.in_channels) + " with group " + std::to_string(g.group));
  }
  g.out_channels = ws[1] * g.group;
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
  g.window = resolve_transpose_window(ctx, Shape(xs.begin() + 2, xs.end()), kernel);
  g.w3 = to_window3(g.window);
  Shape ys{g.batch, g.out_channels};
  ys.insert(ys.end(), g.window.out.begin(), g.window.out.end());

  Prepared p;
  p.outputs = {TensorInfo{DType::kFloat32, ys}};
  if (!ctx.reference() && g.batch > 0 && g.out_channels > 0 && g.in_channels > 0) {
    auto kernel_ptr = std::make_unique<DnnlConvTransposeKernel>(g, ctx.constant(1));
    try {
      kernel_ptr->prepare_plan();
      p.kernel = std::move(kernel_ptr);
      return p;
    } catch (const std::exception&) {
      // oneDNN cannot do this geometry: the reference kernel runs it.
    }
  }
  p.kernel = std::make_unique<ReferenceConvTransposeKernel>(std::move(g));
  return p;
}

}  // namespace dnnfi
