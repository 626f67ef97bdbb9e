// QDQ fusion for inference-only sessions (SessionOptions::fuse, called by fuse_for_inference):
// rewrites the DequantizeLinear -> op -> QuantizeLinear groups of a QDQ model into the
// QOperator nodes that ONNX Runtime's QDQ transformers make of them, so that `dnnfi run` computes
// what ORT computes (its int8 kernels, not fp32 between a DQ and a Q) at the speed of our int8
// kernels:
//
// - Relu -> Q whose zero point is the type's lowest value, and Clip -> Q whose range covers the
//   Q's range (within FLT_EPSILON), lose the Relu / Clip (ORT's ReluQuantFusion /
//   ClipQuantFusion): the Q's saturation does their work;
// - DQ(x), DQ(w), DQ(bias) -> Conv -> Q becomes QLinearConv, -> Gemm -> Q com.microsoft QGemm,
//   DQ(a), DQ(b) -> MatMul -> Q QLinearMatMul, -> Add / Mul -> Q com.microsoft QLinearAdd /
//   QLinearMul, DQ -> GlobalAveragePool -> Q com.microsoft QLinearGlobalAveragePool;
// - DQ -> MaxPool / Flatten / Reshape / Transpose / Squeeze / Unsqueeze -> Q with the same scale
//   and zero point runs that op on the 8-bit data (ORT's DropQDQNodes).
//
// Conditions (a group that does not meet them stays as written): activation scales and zero
// points are constant scalars; x, y (and a, b of Add / Mul) have the same 8-bit type, except a
// Conv's y (int8 x needs int8 weights); weights are 8-bit tensors behind a DQ with constant
// parameters, per tensor or per output channel on the DQ's axis the QOperator node reads per
// channel, and constant except a Conv's (ORT fuses a Conv whose weight is computed at run time); a
// bias is a constant int32 tensor behind a DQ with zero points 0 and scale x_scale * w_scale
// (within 1e-6 relative: ORT does not check it, but with any other scale the QOperator node would
// compute something else); the op's output is read by the Q alone and is no graph output. A DQ read
// by several nodes serves each of them (ORT duplicates it, EnsureUniqueDQForNodeUnit); it leaves
// the session once nothing reads it any more. The rewritten nodes are prepared through the op
// registry, so they get the optimised int8 kernels; a node that cannot be prepared leaves its group
// unfused.
#pragma once

#include <memory>
#include <vector>

#include "core/tensor.h"
#include "graph/graph.h"
#include "ops/kernel.h"

namespace dnnfi {

// Rewrites the prepared graph in place, as fuse_for_inference does (same arguments): a fused
// op's node becomes the QOperator node producing its Q's output; the absorbed Q, Relu, Clip and
// no longer read DQ nodes leave run_order. Returns the number of nodes absorbed.
int fuse_qdq_groups(Graph& g, std::vector<int>& run_order,
                    std::vector<std::unique_ptr<Kernel>>& kernels,
                    const std::vector<TensorInfo>& infos, const std::vector<bool>& constant,
                    const std::vector<Tensor>& constants, bool reference_kernels);

}  // namespace dnnfi
