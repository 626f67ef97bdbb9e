// Prepare functions of every supported op, one per op; ops/registry.cpp is the table that maps
// (domain, op_type, since_version) to them. The file implementing each group is named above it.
#pragma once

#include "ops/kernel.h"

namespace dnnfi {

// unary.cpp (elementwise unary, activations)
Prepared prepare_relu(const PrepareContext& ctx);
Prepared prepare_leaky_relu(const PrepareContext& ctx);
Prepared prepare_clip(const PrepareContext& ctx);
Prepared prepare_sigmoid(const PrepareContext& ctx);
Prepared prepare_tanh(const PrepareContext& ctx);
Prepared prepare_hard_sigmoid(const PrepareContext& ctx);
Prepared prepare_hard_swish(const PrepareContext& ctx);
Prepared prepare_elu(const PrepareContext& ctx);
Prepared prepare_selu(const PrepareContext& ctx);
Prepared prepare_softplus(const PrepareContext& ctx);
Prepared prepare_sqrt(const PrepareContext& ctx);
Prepared prepare_exp(const PrepareContext& ctx);
Prepared prepare_log(const PrepareContext& ctx);
Prepared prepare_neg(const PrepareContext& ctx);
Prepared prepare_abs(const PrepareContext& ctx);
Prepared prepare_erf(const PrepareContext& ctx);
Prepared prepare_reciprocal(const PrepareContext& ctx);
Prepared prepare_not(const PrepareContext& ctx);
Prepared prepare_identity(const PrepareContext& ctx);
Prepared prepare_dropout(const PrepareContext& ctx);
Prepared prepare_cast(const PrepareContext& ctx);

// binary.cpp (numpy-broadcasting elementwise)
Prepared prepare_add(const PrepareContext& ctx);
Prepared prepare_sub(const PrepareContext& ctx);
Prepared prepare_mul(const PrepareContext& ctx);
Prepared prepare_div(const PrepareContext& ctx);
Prepared prepare_pow(const PrepareContext& ctx);
Prepared prepare_min(const PrepareContext& ctx);
Prepared prepare_max(const PrepareContext& ctx);
Prepared prepare_sum(const PrepareContext& ctx);
Prepared prepare_mean(const PrepareContext& ctx);
Prepared prepare_equal(const PrepareContext& ctx);
Prepared prepare_less(const PrepareContext& ctx);
Prepared prepare_greater(const PrepareContext& ctx);
Prepared prepare_where(const PrepareContext& ctx);
Prepared prepare_prelu(const PrepareContext& ctx);

// shape ops (concat_split.cpp, gather.cpp, pad.cpp, reshape.cpp, slice.cpp...)
Prepared prepare_concat(const PrepareContext& ctx);
Prepared prepare_split(const PrepareContext& ctx);
Prepared prepare_slice(const PrepareContext& ctx);
Prepared prepare_flatten(const PrepareContext& ctx);
Prepared prepare_reshape(const PrepareContext& ctx);
Prepared prepare_transpose(const PrepareContext& ctx);
Prepared prepare_squeeze(const PrepareContext& ctx);
Prepared prepare_unsqueeze(const PrepareContext& ctx);
Prepared prepare_pad(const PrepareContext& ctx);
Prepared prepare_shape(const PrepareContext& ctx);
Prepared prepare_gather(const PrepareContext& ctx);
Prepared prepare_constant(const PrepareContext& ctx);
Prepared prepare_constant_of_shape(const PrepareContext& ctx);
Prepared prepare_expand(const PrepareContext& ctx);
Prepared prepare_range(const PrepareContext& ctx);
Prepared prepare_tile(const PrepareContext& ctx);

// conv.cpp, gemm.cpp, pool.cpp (oneDNN + reference)
Prepared prepare_conv(const PrepareContext& ctx);
// Whether a Conv/FusedConv node's optimised kernel computes on NCHW directly (the gemm-based
// kernel of large 1x1 layers), so channels-last neighbours would cost it reorders. Throws like
// prepare_conv on an invalid node.
bool conv_reads_nchw_directly(const PrepareContext& ctx);
Prepared prepare_conv_transpose(const PrepareContext& ctx);
Prepared prepare_gemm(const PrepareContext& ctx);
Prepared prepare_matmul(const PrepareContext& ctx);
Prepared prepare_max_pool(const PrepareContext& ctx);
Prepared prepare_average_pool(const PrepareContext& ctx);
Prepared prepare_global_average_pool(const PrepareContext& ctx);
Prepared prepare_global_max_pool(const PrepareContext& ctx);

// norm.cpp, softmax.cpp, reduce.cpp, resize.cpp
Prepared prepare_batch_normalization(const PrepareContext& ctx);
Prepared prepare_lrn(const PrepareContext& ctx);
Prepared prepare_softmax(const PrepareContext& ctx);
Prepared prepare_log_softmax(const PrepareContext& ctx);
Prepared prepare_reduce_mean(const PrepareContext& ctx);
Prepared prepare_reduce_sum(const PrepareContext& ctx);
Prepared prepare_reduce_max(const PrepareContext& ctx);
Prepared prepare_resize(const PrepareContext& ctx);
Prepared prepare_upsample(const PrepareContext& ctx);
Prepared prepare_argmax(const PrepareContext& ctx);
Prepared prepare_layer_normalization(const PrepareContext& ctx);
Prepared prepare_instance_normalization(const PrepareContext& ctx);

// indexing and layout ops (gather_scatter.cpp, one_hot.cpp, trilu.cpp, depth_space.cpp,
// einsum.cpp, reverse_sequence.cpp, max_unpool.cpp)
Prepared prepare_gather_elements(const PrepareContext& ctx);
Prepared prepare_scatter_elements(const PrepareContext& ctx);  // also Scatter (opset 9-10)
Prepared prepare_gather_nd(const PrepareContext& ctx);
Prepared prepare_scatter_nd(const PrepareContext& ctx);
Prepared prepare_one_hot(const PrepareContext& ctx);
Prepared prepare_trilu(const PrepareContext& ctx);
Prepared prepare_depth_to_space(const PrepareContext& ctx);  // also SpaceToDepth
Prepared prepare_einsum(const PrepareContext& ctx);
Prepared prepare_reverse_sequence(const PrepareContext& ctx);
Prepared prepare_max_unpool(const PrepareContext& ctx);   // max_unpool.cpp
Prepared prepare_grid_sample(const PrepareContext& ctx);  // grid_sample.cpp
Prepared prepare_roi_align(const PrepareContext& ctx);    // roi_align.cpp
// data_dependent.cpp: NonZero, Compress, Unique always throw UnsupportedError saying why.
Prepared prepare_data_dependent_shape(const PrepareContext& ctx);

}  // namespace dnnfi
