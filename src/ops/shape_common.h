// Helpers shared by the shape ops (concat_split.cpp, slice.cpp, reshape.cpp, transpose.cpp,
// pad.cpp, gather.cpp, constant.cpp, expand_tile.cpp): axis normalisation, reading shape-like
// inputs at prepare time, and the run-time re-checks of those inputs.
//
// Shape-like inputs (Reshape's shape, Slice's starts...) must be constant at prepare time, because
// output shapes are static. At run time the same tensors are passed again and may have been
// corrupted by an injected fault, so every kernel re-reads them through the checks below and
// returns an error naming the node instead of reading or writing out of bounds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ops/kernel.h"

namespace dnnfi {

// Rank limit of the ops that keep per-axis parameters on the stack at run time (Slice, Pad,
// Transpose, Expand, Tile). Checked at prepare time.
inline constexpr int kMaxShapeOpRank = 16;

// "node 'name' (Op)": prefix of every run-time error of a shape-op kernel.
std::string node_tag(const PrepareContext& ctx);

// Fails unless every dim of input i is known (>= 0).
void require_static_shape(const PrepareContext& ctx, std::size_t i);
// Fails when the rank is above kMaxShapeOpRank.
void require_rank_at_most_max(const PrepareContext& ctx, std::size_t rank);
// Fails when the output shape has a negative dim or its element count overflows.
void require_valid_shape(const PrepareContext& ctx, const Shape& shape, const std::string& what);

// Maps axis in [-rank, rank) to [0, rank); fails naming `what` otherwise.
std::int64_t normalize_axis(const PrepareContext& ctx, std::int64_t axis, std::int64_t rank,
                            const std::string& what);
// Run-time variant: false when out of range (no UB for any int64).
bool normalize_axis(std::int64_t& axis, std::int64_t rank);

// Fails unless input i is an int32 or int64 tensor of rank <= 1 (a scalar counts as one element).
void require_index_input(const PrepareContext& ctx, std::size_t i, const std::string& what);
// The values of constant integer input i (require_constant + require_index_input).
std::vector<std::int64_t> read_index_constant(const PrepareContext& ctx, std::size_t i,
                                              const std::string& what);

// Element i of an integer tensor as int64 (int32 / int64 fast; other dtypes converted).
std::int64_t index_value(const Tensor& t, std::int64_t i);

std::string dims_to_string(std::span<const std::int64_t> dims);

// "<tag>: <message>".
Status run_error(const std::string& tag, const std::string& message);
// Run-time check of a data input: present, with the dtype and shape it was prepared with.
Status check_data_input(const std::string& tag, std::span<const Tensor* const> in, std::size_t i,
                        const TensorInfo& expected);
// Run-time check of a shape-like input: present, integer, with `count` elements (the count it had
// at prepare time). Its values are then read with index_value and validated by the kernel.
Status check_index_input(const std::string& tag, std::span<const Tensor* const> in, std::size_t i,
                         const std::string& what, std::int64_t count);
// Run-time check of an output: present, with the prepared dtype and shape.
Status check_output(const std::string& tag, std::span<Tensor* const> out, std::size_t i,
                    const TensorInfo& expected);

}  // namespace dnnfi
