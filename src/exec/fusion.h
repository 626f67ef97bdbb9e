// Node fusion for inference-only sessions (SessionOptions::fuse): a Conv followed by an Add of a
// same-shape tensor (a residual connection) and/or a Relu or Clip becomes one FusedConv node whose
// post-ops oneDNN applies while the output is still in registers, a BatchNormalization followed
// by a Relu becomes one BatchNormalizationRelu, and a zero Pad of the spatial axes followed by an
// AveragePool without padding becomes that AveragePool with pads and count_include_pad, each
// saving a full pass over memory per absorbed node. In a QDQ model, DequantizeLinear -> op ->
// QuantizeLinear groups first become the QOperator nodes ONNX Runtime makes of them
// (exec/qdq_fusion.h). The outputs of the absorbed nodes are never
// computed, so a fused session cannot be used for fault injection (the injectors refuse it); `dnnfi
// run` fuses, campaigns do not.
#pragma once

#include <memory>
#include <vector>

#include "core/tensor.h"
#include "graph/graph.h"
#include "ops/kernel.h"

namespace dnnfi {

// Rewrites the prepared graph in place: each fused Conv node becomes a "FusedConv" (domain
// "dnnfi"), each fused BatchNormalization a "BatchNormalizationRelu", producing the last absorbed
// node's output, with a new kernel; absorbed nodes leave
// run_order (they stay in g.nodes, never run). constants holds the folded value of every value
// with constant[v] (Clip bounds are read from it). A group whose FusedConv cannot be prepared is
// left unfused. Returns the number of nodes absorbed (QDQ groups' included).
int fuse_for_inference(Graph& g, std::vector<int>& run_order,
                       std::vector<std::unique_ptr<Kernel>>& kernels,
                       const std::vector<TensorInfo>& infos, const std::vector<bool>& constant,
                       const std::vector<Tensor>& constants, bool reference_kernels);

// Channels-last activations (SessionOptions::channels_last). A value is
// held NHWC, the layout oneDNN's AVX-512 kernels compute in, when its producer and every reader
// can take NHWC data: 2-D convolutions (depthwise included; data or fused summand), 2-D
// MaxPool/AveragePool that oneDNN computes as the reference does, Concat along channels,
// BatchNormalization, float32 elementwise ops whose non-scalar operands all have the
// output's shape (they run unchanged on NHWC bytes; their tensors change layout together), a Pad
// whose pads are all zero (a copy: elementwise too) and one that pads H and W with zeros
// (dnnfi.Pad with layout = NHWC).
// Pools and Concats take all their tensors NHWC or none; so do convolutions that compute on
// NCHW directly (gemm 1x1, the direct depthwise kernel), which would otherwise trade that for
// reorders. Changed nodes become FusedConv with src_layout/dst_layout/sum_layout attributes, or
// dnnfi-domain MaxPool/AveragePool/Concat with layout = NHWC. All or nothing: if one changed
// node cannot be prepared, nothing changes. Call after fuse_for_inference. Returns the number of
// channels-last values; `nhwc`, if given, gets which values they are (by value id).
int assign_channels_last(Graph& g, const std::vector<int>& run_order,
                         std::vector<std::unique_ptr<Kernel>>& kernels,
                         const std::vector<TensorInfo>& infos, const std::vector<bool>& constant,
                         const std::vector<Tensor>& constants, std::vector<bool>* nhwc = nullptr);

}  // namespace dnnfi
