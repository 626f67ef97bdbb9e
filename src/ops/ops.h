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
// Whether a 2-D Conv/FusedConv node's optimised kernel is a oneDNN primitive that picks its own
// source and destination layouts, so that handing it NHWC tensors instead of NCHW ones changes
// only the reorders around the primitive, not the primitive or any value it computes (the float16
// fallback then widens straight into NHWC). Throws like prepare_conv on an invalid node.
bool conv_picks_its_layouts(const PrepareContext& ctx);
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

// Reductions, losses, scans (conf-reduce): reduce.cpp (Reduce*, ArgMin), hardmax.cpp, cumsum.cpp,
// topk.cpp, loss.cpp, mvn.cpp, det.cpp, window.cpp
Prepared prepare_reduce_min(const PrepareContext& ctx);
Prepared prepare_reduce_prod(const PrepareContext& ctx);
Prepared prepare_reduce_l1(const PrepareContext& ctx);
Prepared prepare_reduce_l2(const PrepareContext& ctx);
Prepared prepare_reduce_sum_square(const PrepareContext& ctx);
Prepared prepare_reduce_log_sum(const PrepareContext& ctx);
Prepared prepare_reduce_log_sum_exp(const PrepareContext& ctx);
Prepared prepare_argmin(const PrepareContext& ctx);
Prepared prepare_hardmax(const PrepareContext& ctx);
Prepared prepare_cumsum(const PrepareContext& ctx);
Prepared prepare_topk(const PrepareContext& ctx);
Prepared prepare_negative_log_likelihood_loss(const PrepareContext& ctx);
Prepared prepare_softmax_cross_entropy_loss(const PrepareContext& ctx);
Prepared prepare_mean_variance_normalization(const PrepareContext& ctx);
Prepared prepare_det(const PrepareContext& ctx);
Prepared prepare_hann_window(const PrepareContext& ctx);
Prepared prepare_hamming_window(const PrepareContext& ctx);
Prepared prepare_blackman_window(const PrepareContext& ctx);
// Elementwise and logical ops (conf-elem): unary_math.cpp, binary.cpp (Mod, BitShift),
// compare.cpp (LessOrEqual, GreaterOrEqual, And, Or, Xor), constant.cpp (Size, EyeLike),
// cast.cpp (CastLike)
Prepared prepare_sin(const PrepareContext& ctx);
Prepared prepare_cos(const PrepareContext& ctx);
Prepared prepare_tan(const PrepareContext& ctx);
Prepared prepare_asin(const PrepareContext& ctx);
Prepared prepare_acos(const PrepareContext& ctx);
Prepared prepare_atan(const PrepareContext& ctx);
Prepared prepare_sinh(const PrepareContext& ctx);
Prepared prepare_cosh(const PrepareContext& ctx);
Prepared prepare_asinh(const PrepareContext& ctx);
Prepared prepare_acosh(const PrepareContext& ctx);
Prepared prepare_atanh(const PrepareContext& ctx);
Prepared prepare_sign(const PrepareContext& ctx);
Prepared prepare_floor(const PrepareContext& ctx);
Prepared prepare_ceil(const PrepareContext& ctx);
Prepared prepare_round(const PrepareContext& ctx);
Prepared prepare_celu(const PrepareContext& ctx);
Prepared prepare_thresholded_relu(const PrepareContext& ctx);
Prepared prepare_shrink(const PrepareContext& ctx);
Prepared prepare_is_nan(const PrepareContext& ctx);
Prepared prepare_is_inf(const PrepareContext& ctx);
Prepared prepare_mod(const PrepareContext& ctx);
Prepared prepare_bit_shift(const PrepareContext& ctx);
Prepared prepare_less_or_equal(const PrepareContext& ctx);
Prepared prepare_greater_or_equal(const PrepareContext& ctx);
Prepared prepare_and(const PrepareContext& ctx);
Prepared prepare_or(const PrepareContext& ctx);
Prepared prepare_xor(const PrepareContext& ctx);
Prepared prepare_size(const PrepareContext& ctx);
Prepared prepare_eye_like(const PrepareContext& ctx);
Prepared prepare_cast_like(const PrepareContext& ctx);
// Quantization (quantize.cpp, qlinear_conv.cpp, qlinear_matmul.cpp, qlinear_contrib.cpp):
// int8 / uint8 models, QDQ and QOperator formats (docs/quantized.md)
Prepared prepare_quantize_linear(const PrepareContext& ctx);
Prepared prepare_dequantize_linear(const PrepareContext& ctx);
Prepared prepare_requantize(const PrepareContext& ctx);  // dnnfi.Requantize (inference sessions)
Prepared prepare_dynamic_quantize_linear(const PrepareContext& ctx);
Prepared prepare_conv_integer(const PrepareContext& ctx);
Prepared prepare_qlinear_conv(const PrepareContext& ctx);
// The oneDNN implementation a ConvInteger/QLinearConv kernel runs on (e.g.
// "brgconv:avx512_core_amx_int8"), empty when it runs on dnnfi's own int8 kernels.
std::string qconv_implementation(const Kernel& kernel);
Prepared prepare_matmul_integer(const PrepareContext& ctx);
Prepared prepare_qlinear_matmul(const PrepareContext& ctx);
Prepared prepare_qlinear_add(const PrepareContext& ctx);
Prepared prepare_qlinear_mul(const PrepareContext& ctx);
Prepared prepare_qlinear_global_average_pool(const PrepareContext& ctx);
Prepared prepare_qgemm(const PrepareContext& ctx);
// MaxPool on int8 / uint8 (quant_pool.cpp); prepare_max_pool calls it for 8-bit inputs.
Prepared prepare_max_pool_8bit(const PrepareContext& ctx);
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
// recurrent and spectral ops: RNN, GRU, LSTM (rnn.cpp, opsets 7 and 14), Softsign (softsign.cpp)
Prepared prepare_rnn(const PrepareContext& ctx);
Prepared prepare_gru(const PrepareContext& ctx);
Prepared prepare_lstm(const PrepareContext& ctx);
Prepared prepare_softsign(const PrepareContext& ctx);
// spectral.cpp (opset 17)
Prepared prepare_dft(const PrepareContext& ctx);
Prepared prepare_stft(const PrepareContext& ctx);
Prepared prepare_mel_weight_matrix(const PrepareContext& ctx);
// data_dependent.cpp: NonZero, Compress, Unique always throw UnsupportedError saying why.
Prepared prepare_data_dependent_shape(const PrepareContext& ctx);

}  // namespace dnnfi
