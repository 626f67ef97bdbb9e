// Execution of a oneDNN convolution or deconvolution on dense NCHW tensors: a "plan" holds the
// primitive for one thread count plus the reorders between the caller's plain layout and the
// layouts the primitive prefers (blocked nChw16c, or pre-reordered constant weights). Shared by
// Conv and ConvTranspose.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "ops/dnnl_util.h"

namespace dnnfi {

struct ConvPlan {
  dnnl::primitive prim;
  dnnl_util::memory::desc src_md, weights_md, bias_md, dst_md;        // as the primitive wants them
  dnnl_util::memory::desc user_src_md, user_weights_md, user_dst_md;  // plain ONNX layouts
  bool src_reorder = false, weights_reorder = false, dst_reorder = false;
  dnnl::reorder src_r, weights_r, dst_r;
  dnnl_util::memory::desc prim_scratch_md, src_scratch_md, weights_scratch_md, dst_scratch_md;
  // A fused sum post-op reads the summand from dst: it is copied there (reordered when dst is
  // blocked) before the primitive runs.
  bool sum = false;
  bool post_after = false;  // the kernel applies its post-ops after the primitive, not oneDNN
  dnnl::reorder sum_r;
  dnnl_util::memory::desc sum_scratch_md;
  std::size_t scratch_bytes = 0;  // max over the primitive and the reorders
  std::shared_ptr<void> weights;  // constant weights already in weights_md; null otherwise
  // The constant the packed weights came from. They are used only while the run-time weights are
  // that tensor; a weight fault hands the kernel a corrupted copy, reordered per run instead.
  const void* weights_source = nullptr;
  std::string impl;  // oneDNN implementation name (for tests and benchmarks)
};

// Constant weights reordered once into the layout a primitive asked for.
struct PackedWeights {
  dnnl_util::memory::desc md;
  std::shared_ptr<void> data;
};

// Completes a plan around a created primitive descriptor: reorders for src/dst when the
// primitive's layout differs from the user's, and for weights either the packed constant weights
// (reused when `packed` has the same layout, reordered anew from `const_weights` otherwise) or a
// per-run reorder when the weights are not constant (const_weights == nullptr). Throws
// dnnl::error.
std::unique_ptr<ConvPlan> finish_conv_plan(const dnnl::primitive_desc& pd, dnnl::primitive prim,
                                           const dnnl_util::memory::desc& user_src_md,
                                           const dnnl_util::memory::desc& user_weights_md,
                                           const dnnl_util::memory::desc& user_dst_md,
                                           const void* const_weights, PackedWeights* packed);

// Runs the plan on the caller's plain tensors; bias may be null when the primitive has none, sum
// (the summand of a fused sum post-op, dst's shape) must be given exactly when plan.sum. Never
// throws.
Status run_conv_plan(const ConvPlan& plan, const float* src, const float* weights,
                     const float* bias, const float* sum, float* dst, const std::string& node,
                     const std::string& op) noexcept;

}  // namespace dnnfi
