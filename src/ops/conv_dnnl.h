// Execution of a oneDNN convolution or deconvolution on dense NCHW tensors: a "plan" holds the
// primitive for one thread count plus the reorders between the caller's plain layout and the
// layouts the primitive prefers (blocked nChw16c, or pre-reordered constant weights). Shared by
// Conv and ConvTranspose.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "ops/conv_post_ops.h"
#include "ops/dnnl_util.h"

namespace dnnfi {

struct ConvPlan {
  dnnl::primitive prim;
  dnnl_util::memory::desc src_md, weights_md, bias_md, dst_md;        // as the primitive wants them
  dnnl_util::memory::desc user_src_md, user_weights_md, user_dst_md;  // plain ONNX layouts
  bool src_reorder = false, weights_reorder = false, dst_reorder = false;
  dnnl::reorder src_r, weights_r, dst_r;
  dnnl_util::memory::desc prim_scratch_md, src_scratch_md, weights_scratch_md, dst_scratch_md;
  // Fused post-ops (ops/conv_post_ops.h). With oneDNN's sum post-op the summand is copied into
  // dst (reordered when its layout differs) before the primitive runs; with post_after the
  // kernel applies the post-ops itself on the primitive's dst, the summand brought into that
  // layout, before dst is reordered out. Elementwise work is layout-independent, so either way
  // each element gets act(conv + summand).
  bool sum = false;                     // oneDNN applies a sum post-op
  bool post_after = false;              // the kernel applies the post-ops after the primitive
  dnnl_util::memory::desc user_sum_md;  // the summand as the caller holds it
  bool sum_reorder = false;             // user_sum_md differs from dst_md
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
// user_sum_md describes the summand of fused post-ops (empty when there is none); post_after
// says the kernel applies its post-ops itself (the primitive was built without them).
std::unique_ptr<ConvPlan> finish_conv_plan(const dnnl::primitive_desc& pd, dnnl::primitive prim,
                                           const dnnl_util::memory::desc& user_src_md,
                                           const dnnl_util::memory::desc& user_weights_md,
                                           const dnnl_util::memory::desc& user_dst_md,
                                           const Tensor* const_weights, PackedWeights* packed,
                                           const dnnl_util::memory::desc& user_sum_md = {},
                                           bool post_after = false);

// Runs the plan on the caller's tensors, in the data types of the plan's memory descriptors (f32
// for Conv/ConvTranspose; u8/s8 -> s32 for the integer convolutions); bias may be null when the
// primitive has none; sum is the summand when the fused post-ops have one (f32); post is applied
// after the primitive when plan.post_after; src_zero_point is the run-time value of a primitive
// built with a src zero point attribute. Never throws.
Status run_conv_plan(const ConvPlan& plan, const void* src, const void* weights, const void* bias,
                     const float* sum, void* dst, const std::string& node, const std::string& op,
                     const ConvPostOps* post = nullptr,
                     const std::int32_t* src_zero_point = nullptr) noexcept;

}  // namespace dnnfi
