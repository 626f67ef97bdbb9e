#include "ops/registry.h"

#include <algorithm>

#include "ops/ops.h"

namespace dnnfi {

namespace {

// THE list of supported ops: {domain, op_type, since_version, prepare}. A lookup takes the row
// with the highest since_version <= the model's opset for the domain. An op absent here is a
// load-time error. Version-dependent semantics (e.g. Softmax axis before/after opset 13) are
// handled inside the prepare function, which sees the opset.
const OpRow kOpTable[] = {
    {"", "Abs", 6, prepare_abs},
    {"", "Add", 7, prepare_add},
    {"", "ArgMax", 1, prepare_argmax},
    {"", "AveragePool", 7, prepare_average_pool},
    {"", "BatchNormalization", 7, prepare_batch_normalization},
    // made by inference sessions (exec/fusion.h)
    {"dnnfi", "BatchNormalizationRelu", 1, prepare_batch_normalization},
    {"dnnfi", "Concat", 1, prepare_concat},
    {"dnnfi", "MaxPool", 1, prepare_max_pool},
    {"dnnfi", "AveragePool", 1, prepare_average_pool},
    {"", "Cast", 6, prepare_cast},
    {"", "Clip", 6, prepare_clip},
    {"", "Concat", 4, prepare_concat},
    {"", "Constant", 1, prepare_constant},
    {"", "ConstantOfShape", 9, prepare_constant_of_shape},
    {"", "Conv", 1, prepare_conv},
    {"dnnfi", "FusedConv", 1, prepare_conv},  // made by inference sessions (exec/fusion.h)
    {"", "ConvTranspose", 1, prepare_conv_transpose},
    {"", "Div", 7, prepare_div},
    {"", "Dropout", 7, prepare_dropout},
    {"", "Elu", 6, prepare_elu},
    {"", "Equal", 7, prepare_equal},
    {"", "Erf", 9, prepare_erf},
    {"", "Exp", 6, prepare_exp},
    {"", "Expand", 8, prepare_expand},
    {"", "Flatten", 1, prepare_flatten},
    {"", "Gather", 1, prepare_gather},
    {"", "Gemm", 7, prepare_gemm},
    {"", "GlobalAveragePool", 1, prepare_global_average_pool},
    {"", "GlobalMaxPool", 1, prepare_global_max_pool},
    {"", "Greater", 7, prepare_greater},
    {"", "HardSigmoid", 6, prepare_hard_sigmoid},
    {"", "HardSwish", 14, prepare_hard_swish},
    {"", "Identity", 1, prepare_identity},
    {"", "InstanceNormalization", 6, prepare_instance_normalization},
    {"", "LRN", 1, prepare_lrn},
    {"", "LayerNormalization", 17, prepare_layer_normalization},
    {"", "LeakyRelu", 6, prepare_leaky_relu},
    {"", "Less", 7, prepare_less},
    {"", "Log", 6, prepare_log},
    {"", "LogSoftmax", 1, prepare_log_softmax},
    {"", "MatMul", 1, prepare_matmul},
    {"", "Max", 8, prepare_max},
    {"", "MaxPool", 1, prepare_max_pool},
    {"", "Mean", 8, prepare_mean},
    {"", "Min", 8, prepare_min},
    {"", "Mul", 7, prepare_mul},
    {"", "Neg", 6, prepare_neg},
    {"", "Not", 1, prepare_not},
    {"", "PRelu", 7, prepare_prelu},
    {"", "Pad", 2, prepare_pad},
    {"", "Pow", 7, prepare_pow},
    {"", "Range", 11, prepare_range},
    {"", "Reciprocal", 6, prepare_reciprocal},
    {"", "ReduceMax", 1, prepare_reduce_max},
    {"", "ReduceMean", 1, prepare_reduce_mean},
    {"", "ReduceSum", 1, prepare_reduce_sum},
    {"", "Relu", 6, prepare_relu},
    {"", "Reshape", 5, prepare_reshape},
    {"", "Resize", 10, prepare_resize},
    {"", "Selu", 6, prepare_selu},
    {"", "Shape", 1, prepare_shape},
    {"", "Sigmoid", 6, prepare_sigmoid},
    {"", "Slice", 1, prepare_slice},
    {"", "Softmax", 1, prepare_softmax},
    {"", "Softplus", 1, prepare_softplus},
    {"", "Split", 2, prepare_split},
    {"", "Sqrt", 6, prepare_sqrt},
    {"", "Squeeze", 1, prepare_squeeze},
    {"", "Sub", 7, prepare_sub},
    {"", "Sum", 8, prepare_sum},
    {"", "Tanh", 6, prepare_tanh},
    {"", "Tile", 6, prepare_tile},
    {"", "Transpose", 1, prepare_transpose},
    {"", "Unsqueeze", 1, prepare_unsqueeze},
    {"", "Upsample", 7, prepare_upsample},
    {"", "Where", 9, prepare_where},
    // indexing and layout ops (gather_scatter.cpp, one_hot.cpp, trilu.cpp, depth_space.cpp,
    // einsum.cpp, reverse_sequence.cpp, max_unpool.cpp)
    {"", "DepthToSpace", 1, prepare_depth_to_space},
    {"", "Einsum", 12, prepare_einsum},
    {"", "GatherElements", 11, prepare_gather_elements},
    {"", "GatherND", 11, prepare_gather_nd},
    {"", "GridSample", 16, prepare_grid_sample},
    {"", "MaxUnpool", 9, prepare_max_unpool},
    {"", "OneHot", 9, prepare_one_hot},
    {"", "ReverseSequence", 10, prepare_reverse_sequence},
    {"", "RoiAlign", 10, prepare_roi_align},
    {"", "Scatter", 9, prepare_scatter_elements},
    {"", "ScatterElements", 11, prepare_scatter_elements},
    {"", "ScatterND", 11, prepare_scatter_nd},
    {"", "SpaceToDepth", 1, prepare_depth_to_space},
    {"", "Trilu", 14, prepare_trilu},
    // data-dependent output shapes: rejected at load time with that reason (data_dependent.cpp)
    {"", "Compress", 9, prepare_data_dependent_shape},
    {"", "NonZero", 9, prepare_data_dependent_shape},
    {"", "Unique", 11, prepare_data_dependent_shape},
};

}  // namespace

std::span<const OpRow> op_table() { return kOpTable; }

const OpRow* find_op(std::string_view domain, std::string_view op_type, std::int64_t opset) {
  const std::string_view d = domain == "ai.onnx" ? std::string_view() : domain;
  const OpRow* best = nullptr;
  for (const OpRow& row : kOpTable) {
    if (row.domain != d || row.op_type != op_type || row.since_version > opset) continue;
    if (best == nullptr || row.since_version > best->since_version) best = &row;
  }
  return best;
}

}  // namespace dnnfi
