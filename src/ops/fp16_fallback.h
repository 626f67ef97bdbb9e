// float16 models on ops without a float16 kernel. ONNX Runtime's CPU provider runs such an op by
// inserting Cast(float16 -> float) before it and Cast(float -> float16) after it; this engine does
// the same in one place, at prepare time, for every op: when a node has a float16 input and its
// prepare function refuses float16 (UnsupportedError), the node is prepared again as if its
// float16 inputs were float32, and wrapped in a kernel that
//   - widens each float16 input to float32 (exact),
//   - runs the op's float32 kernel,
//   - rounds each float32 output to float16 (round to nearest even; Inf/NaN kept).
// Values between nodes therefore stay float16 (the golden cache, fault sites and bit flips are
// on float16 storage, bits 0..15), and the result equals ONNX Runtime's Cast-wrapped node when
// the float32 kernels agree. Ops that handle float16 themselves (Cast, data movement, the
// elementwise unary ops...) are prepared natively and never wrapped.
//
// bfloat16 models take the same path with bfloat16 in place of float16: widening is exact (a
// shift), rounding is float_to_bfloat16's (nearest even, NaN kept NaN), values between nodes are
// bfloat16 and bit flips hit bits 0..15 of bfloat16 storage. Fusion makes no bfloat16 nodes, so
// fused post-ops are float16 only; a node mixing float16 and bfloat16 inputs is refused.
//
// Constant float16 inputs (weights) are widened once at prepare; the op's kernel may pack them as
// usual. A run that passes a different tensor for such an input (a weight fault's corrupted copy)
// widens that tensor instead. The per-run float32 copies live in a per-thread buffer that grows to
// the largest node seen and is then reused; only the small tensor headers are made per run.
//
// A 2-D convolution whose oneDNN primitive picks its own data layouts (channels-last on AVX-512
// machines) is prepared as a channels-last FusedConv: its float16 NCHW input is widened straight
// into NHWC and its NHWC output rounded straight into NCHW (ops/fp16_layout.h), where oneDNN would
// otherwise reorder the float32 copies. The primitive is the one the NCHW form runs, so every
// value is too. Fused post-ops are applied in the same pass as the rounding. (float16 only:
// bfloat16 convolutions keep oneDNN's reorders.)
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "ops/kernel.h"

namespace dnnfi {

// Prepares `node` with `prepare`, falling back to float32 compute around float16 values as
// described above. When the float32 form fails too, throws its error (the reason the node cannot
// run, e.g. an unsupported attribute).
Prepared prepare_with_fp16_fallback(PrepareFn prepare, const Node& node, std::int64_t opset,
                                    std::string_view source, std::vector<TensorInfo> inputs,
                                    std::vector<const Tensor*> constants, bool reference);

// True when a node output is float32 whatever its inputs' type (ONNX fixes its type), so the
// fallback keeps it float32 instead of rounding it to float16: LayerNormalization's Mean and
// InvStdDev (stash_type float).
bool fp16_fallback_keeps_float32(const Node& node, std::size_t output);

}  // namespace dnnfi
