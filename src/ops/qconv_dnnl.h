// QLinearConv / ConvInteger internals shared by qlinear_conv.cpp (the op, dnnfi's own int8
// kernels) and qconv_dnnl.cpp (oneDNN's integer convolution where it is exact).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/conv_dnnl.h"
#include "ops/conv_shape.h"
#include "ops/int8_gemm.h"

namespace dnnfi::qconv {

struct QConvGeom {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  Window win;
  Window3 w3;
  DType x_dtype = DType::kUInt8, w_dtype = DType::kInt8, y_dtype = DType::kUInt8;
  bool has_bias = false;
  // Inference sessions only (exec/fusion.h): X / Y held NHWC (dnnfi-domain QLinearConv).
  bool src_nhwc = false, dst_nhwc = false;
  bool fast = false;  // the im2col kernel (no overflow possible; not reference mode)
  int8_gemm::Isa isa = int8_gemm::Isa::kNone;  // SIMD GEMM for the im2col kernel, if any
};

// oneDNN's integer convolution: acc = sum (x - x_zero_point) * w in int32, x uint8 or int8, w
// int8 with zero points 0. Used only where the implementation oneDNN picks multiplies with VNNI or
// AMX (exact int32 sums; see the top of qlinear_conv.cpp). x is copied channels-last into a buffer
// whose border holds x_zero_point, and the convolution runs without padding and without a zero
// point (oneDNN's zero-point convolutions are its slower non-brgemm kernels): raw = sum x * w, then
// acc = raw - x_zero_point * sum_k w[m, k], both exact. A plan per thread count; constant weights
// packed once (a weight fault hands the kernel a corrupted copy, packed per run).
class DnnlIntConv {
 public:
  struct Plan {
    std::unique_ptr<ConvPlan> conv;
    dnnl::reorder pad_r;  // NCHW x into the interior of the padded channels-last buffer
    dnnl_util::memory::desc user_src_md, interior_md, padded_md;
  };

  // Null when oneDNN has no exact implementation for this node.
  static std::unique_ptr<DnnlIntConv> make(const QConvGeom& g, const Tensor* const_weights);

  const Plan* plan() const {
    return plans_.get(dnnl_util::current_threads(), [this](int) { return build(); });
  }

  std::string impl() const {
    const Plan* p = plan();
    return p == nullptr ? std::string() : p->conv->impl;
  }

  // raw[n, m, pixel] = sum x * w (NCHW int32), x_zero_point in the padding.
  Status run(const Plan& p, const void* x, std::int32_t xzp, const void* w, std::int32_t* raw,
             const char* op) const noexcept;

  // sum_k w[m, k] of output channel m (precomputed for the constant weights).
  std::int32_t weight_sum(const std::int8_t* w, std::int64_t m) const;

 private:
  DnnlIntConv(const QConvGeom& g, const Tensor* const_weights);

  std::unique_ptr<Plan> build() const;

  QConvGeom g_;
  bool padded_ = false;
  Tensor weights_;  // the constant weights (aliased), empty when W is computed at run time
  std::vector<std::int32_t> wsum_;  // weight_sum of the constant weights
  mutable PackedWeights packed_;    // written only under plans_'s lock
  dnnl_util::PlanCache<Plan> plans_;
};

// The oneDNN path applies to this run: a plan at this thread count and every w zero point 0 (a
// fault may have changed one).
const DnnlIntConv::Plan* dnnl_plan(const DnnlIntConv* dn, const Tensor* wzp,
                                   std::int64_t out_channels);

}  // namespace dnnfi::qconv
