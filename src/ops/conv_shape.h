// Spatial window geometry shared by Conv, ConvTranspose and the pooling ops: the ONNX attributes
// kernel_shape, strides, dilations, pads, auto_pad (and ceil_mode, output_padding, output_shape)
// resolved once at prepare time into explicit per-axis sizes and pads.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "ops/kernel.h"

namespace dnnfi {

struct Window {
  std::size_t rank = 0;  // number of spatial axes (1..3)
  std::vector<std::int64_t> in, out, kernel, strides, dilations, pad_begin, pad_end;
  // ConvTranspose only: extra cells added at the end of each output axis.
  std::vector<std::int64_t> output_padding;

  // Distance covered by the dilated kernel along axis i.
  std::int64_t extent(std::size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
};

// The same geometry padded to three spatial axes (leading unused axes have size 1, kernel 1,
// stride 1, dilation 1, no padding) so that the reference loops need only one form.
struct Window3 {
  std::array<std::int64_t, 3> in, out, kernel, strides, dilations, pad_begin, pad_end;
  std::int64_t in_size() const { return in[0] * in[1] * in[2]; }
  std::int64_t out_size() const { return out[0] * out[1] * out[2]; }
};
Window3 to_window3(const Window& w);

// Conv and the pooling ops. Reads strides, dilations (when allow_dilations), pads and auto_pad,
// checks them against `kernel` (taken from the weights or kernel_shape) and the input spatial
// dims, and computes the output size (floor, or ceil when ceil_mode) and explicit pads. With
// ceil_mode the last window must start inside the input or its left padding. Fails with a
// NodeError on a bad attribute or an empty output.
Window resolve_window(const PrepareContext& ctx, const Shape& in_spatial,
                      const std::vector<std::int64_t>& kernel, bool ceil_mode,
                      bool allow_dilations);

// ConvTranspose: strides, dilations, pads, auto_pad, output_padding, output_shape. The output is
// strides*(in-1) + output_padding + extent - pad_begin - pad_end per axis; when output_shape is
// given (or auto_pad is SAME_*) the pads are derived from it as the ONNX spec says.
Window resolve_transpose_window(const PrepareContext& ctx, const Shape& in_spatial,
                                const std::vector<std::int64_t>& kernel);

}  // namespace dnnfi
