// MaxPool on int8 / uint8 tensors (ONNX opset 12+): what ONNX Runtime's QOperator models run
// between quantized convolutions (max commutes with a monotonic requantization, so the pool
// stays in the integer domain). prepare_max_pool (pool.cpp) hands 8-bit inputs here. The Indices
// output is a load-time error. Two kernels, equal on every input (max is exact in any order): the
// reference window loops, and a separable one that first takes the max over the window's rows
// (contiguous, vectorised) and then along each row.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "ops/conv_shape.h"
#include "ops/dnnl_util.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

template <typename T>
Status max_pool_8bit(std::int64_t planes, const Window3& q, const T* x, T* y) {
  const std::int64_t in_size = q.in_size(), out_size = q.out_size();
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * in_size;
    T* yp = y + p * out_size;
    for (std::int64_t od = 0; od < q.out[0]; ++od) {
      for (std::int64_t oh = 0; oh < q.out[1]; ++oh) {
        for (std::int64_t ow = 0; ow < q.out[2]; ++ow) {
          // Padding never wins (ONNX pads MaxPool with -inf); every window holds >= 1 input cell
          // (resolve_window guarantees it), so the lowest value is only a start.
          T best = std::numeric_limits<T>::lowest();
          for (std::int64_t kd = 0; kd < q.kernel[0]; ++kd) {
            const std::int64_t id = od * q.strides[0] - q.pad_begin[0] + kd * q.dilations[0];
            if (id < 0 || id >= q.in[0]) continue;
            for (std::int64_t kh = 0; kh < q.kernel[1]; ++kh) {
              const std::int64_t ih = oh * q.strides[1] - q.pad_begin[1] + kh * q.dilations[1];
              if (ih < 0 || ih >= q.in[1]) continue;
              for (std::int64_t kw = 0; kw < q.kernel[2]; ++kw) {
                const std::int64_t iw = ow * q.strides[2] - q.pad_begin[2] + kw * q.dilations[2];
                if (iw < 0 || iw >= q.in[2]) continue;
                best = std::max(best, xp[(id * q.in[1] + ih) * q.in[2] + iw]);
              }
            }
          }
          yp[(od * q.out[1] + oh) * q.out[2] + ow] = best;
        }
      }
    }
  }
  return Status::ok();
}

// The separable kernel: for each output row, rowmax[iw] = max over the window's (kd, kh) input
// rows (the valid ones; >= 1 exists, resolve_window guarantees it), then y[ow] = max over kw of
// rowmax at the valid columns. rowmax is caller scratch of q.in[2] elements.
template <typename T>
void max_pool_8bit_rows(std::int64_t planes, const Window3& q, const T* x, T* y, T* rowmax) {
  const std::int64_t in_size = q.in_size(), out_size = q.out_size(), width = q.in[2];
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * in_size;
    T* yp = y + p * out_size;
    for (std::int64_t od = 0; od < q.out[0]; ++od) {
      for (std::int64_t oh = 0; oh < q.out[1]; ++oh) {
        std::fill(rowmax, rowmax + width, std::numeric_limits<T>::lowest());
        for (std::int64_t kd = 0; kd < q.kernel[0]; ++kd) {
          const std::int64_t id = od * q.strides[0] - q.pad_begin[0] + kd * q.dilations[0];
          if (id < 0 || id >= q.in[0]) continue;
          for (std::int64_t kh = 0; kh < q.kernel[1]; ++kh) {
            const std::int64_t ih = oh * q.strides[1] - q.pad_begin[1] + kh * q.dilations[1];
            if (ih < 0 || ih >= q.in[1]) continue;
            const T* row = xp + (id * q.in[1] + ih) * width;
            for (std::int64_t iw = 0; iw < width; ++iw) rowmax[iw] = std::max(rowmax[iw], row[iw]);
          }
        }
        T* yr = yp + (od * q.out[1] + oh) * q.out[2];
        for (std::int64_t ow = 0; ow < q.out[2]; ++ow) {
          T best = std::numeric_limits<T>::lowest();
          for (std::int64_t kw = 0; kw < q.kernel[2]; ++kw) {
            const std::int64_t iw = ow * q.strides[2] - q.pad_begin[2] + kw * q.dilations[2];
            if (iw >= 0 && iw < width) best = std::max(best, rowmax[iw]);
          }
          yr[ow] = best;
        }
      }
    }
  }
}

}  // namespace

Prepared prepare_max_pool_8bit(const PrepareContext& ctx) {
  // storage_order only affects the Indices output, which is not implemented here.
  ctx.allow_attributes(
      {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kInt8, DType::kUInt8});
  if (ctx.opset() < 12) ctx.fail("MaxPool takes int8 / uint8 inputs from opset 12");
  if (ctx.num_outputs() > 1) ctx.unsupported("the Indices output of an 8-bit MaxPool");
  const Shape& xs = ctx.input(0).shape;
  if (xs.size() < 3 || xs.size() > 5) {
    ctx.fail("input X must have rank 3, 4 or 5 (N, C, spatial...), got " + shape_to_string(xs));
  }
  if (!ctx.has_attr("kernel_shape")) ctx.fail("attribute 'kernel_shape' is required");
  const std::int64_t ceil_mode = ctx.attr_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) ctx.fail("ceil_mode must be 0 or 1");
  const Window w = resolve_window(ctx, Shape(xs.begin() + 2, xs.end()),
                                  ctx.attr_ints("kernel_shape"), ceil_mode == 1, true);
  const Window3 q = to_window3(w);
  Shape ys{xs[0], xs[1]};
  ys.insert(ys.end(), w.out.begin(), w.out.end());
  const DType t = ctx.input(0).dtype;
  const std::int64_t planes = xs[0] * xs[1];
  Prepared p;
  p.outputs = {{t, ys}};
  const bool reference = ctx.reference();
  p.kernel = make_kernel(
      [t, q, planes, reference](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
        void* rowmax = reference ? nullptr
                                 : dnnl_util::thread_scratch(dnnl_util::Scratch::kPad,
                                                             static_cast<std::size_t>(q.in[2]));
        if (t == DType::kInt8) {
          const auto* x = in[0]->data<std::int8_t>();
          auto* y = out[0]->data<std::int8_t>();
          if (rowmax == nullptr) return max_pool_8bit(planes, q, x, y);
          max_pool_8bit_rows(planes, q, x, y, static_cast<std::int8_t*>(rowmax));
          return Status::ok();
        }
        const auto* x = in[0]->data<std::uint8_t>();
        auto* y = out[0]->data<std::uint8_t>();
        if (rowmax == nullptr) return max_pool_8bit(planes, q, x, y);
        max_pool_8bit_rows(planes, q, x, y, static_cast<std::uint8_t*>(rowmax));
        return Status::ok();
      });
  return p;
}

}  // namespace dnnfi
