// MatMulInteger (int32 output) and QLinearMatMul (requantized int8 / uint8 output): numpy matmul
// of rank >= 2 operands with broadcast batch dims, a and b each int8 or uint8.
//
//   acc[.., i, j] = sum_k (a[.., i, k] - a_zero_point[i]) * (b[.., k, j] - b_zero_point[j])
//   MatMulInteger  y = acc                                                  (int32)
//   QLinearMatMul  y = saturate(round_half_even(float(acc) * M[i, j]) + y_zero_point),
//                  M = a_scale[i] * b_scale[j] / y_scale in fp32 (ONNX Runtime's order)
//
// a's parameters are per-tensor or one per row (M), b's per-tensor or one per column (N). The
// accumulator is int64 wrapped to int32 (ONNX Runtime's int32 arithmetic without UB). Reference
// kernel only (see qlinear_conv.cpp on oneDNN).
//
// QGemm (com.microsoft, what ONNX Runtime fuses DequantizeLinear -> Gemm -> QuantizeLinear into):
// 2-D A [M, K] (or transA), B [K, N] (or transB), optional int32 bias C (scalar, [N], [1, N] or
// [M, N]) added to the accumulator, M[j] = alpha * a_scale * b_scale[j] (/ y_scale). With
// y_zero_point the output is requantized like QLinearMatMul; without it (and without y_scale)
// the output is float32 acc * M[j] (ONNX Runtime's qgemm.cc).
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/int8_gemm.h"
#include "ops/ops.h"
#include "ops/quant_common.h"

namespace dnnfi {

namespace {

struct QMatMulGeom {
  std::int64_t m = 0, k = 0, n = 0;
  // Element offsets of a's and b's matrix for each output batch index.
  std::vector<std::int64_t> a_offset, b_offset;
  DType a_dtype = DType::kUInt8, b_dtype = DType::kUInt8, y_dtype = DType::kInt32;
};

QMatMulGeom qmatmul_geometry(const PrepareContext& ctx, std::size_t ai, std::size_t bi, Shape& ys) {
  ctx.require_dtype(ai, {DType::kInt8, DType::kUInt8});
  ctx.require_dtype(bi, {DType::kInt8, DType::kUInt8});
  const Shape& as = ctx.input(ai).shape;
  const Shape& bs = ctx.input(bi).shape;
  if (as.size() < 2 || bs.size() < 2) {
    ctx.unsupported("operands of rank < 2 are not implemented: " + shape_to_string(as) + " x " +
                    shape_to_string(bs));
  }
  QMatMulGeom g;
  g.a_dtype = ctx.input(ai).dtype;
  g.b_dtype = ctx.input(bi).dtype;
  g.m = as[as.size() - 2];
  g.k = as.back();
  g.n = bs.back();
  if (bs[bs.size() - 2] != g.k) {
    ctx.fail("inner dims differ: " + shape_to_string(as) + " x " + shape_to_string(bs));
  }
  const std::size_t rank = std::max(as.size(), bs.size());
  Shape batch(rank - 2, 1), a_batch(rank - 2, 1), b_batch(rank - 2, 1);
  std::copy(as.begin(), as.end() - 2, a_batch.begin() + (rank - as.size()));
  std::copy(bs.begin(), bs.end() - 2, b_batch.begin() + (rank - bs.size()));
  for (std::size_t d = 0; d + 2 < rank; ++d) {
    if (a_batch[d] != b_batch[d] && a_batch[d] != 1 && b_batch[d] != 1) {
      ctx.fail("batch dims do not broadcast: " + shape_to_string(as) + " x " + shape_to_string(bs));
    }
    batch[d] = std::max(a_batch[d], b_batch[d]);
  }
  const std::int64_t batches = shape_numel(batch);
  for (std::int64_t b = 0; b < batches; ++b) {
    std::int64_t rem = b, a_idx = 0, b_idx = 0, a_stride = 1, b_stride = 1;
    for (std::size_t d = batch.size(); d-- > 0;) {
      const std::int64_t i = rem % batch[d];
      rem /= batch[d];
      a_idx += (a_batch[d] == 1 ? 0 : i) * a_stride;
      b_idx += (b_batch[d] == 1 ? 0 : i) * b_stride;
      a_stride *= a_batch[d];
      b_stride *= b_batch[d];
    }
    g.a_offset.push_back(a_idx * g.m * g.k);
    g.b_offset.push_back(b_idx * g.k * g.n);
  }
  ys = batch;
  ys.push_back(g.m);
  ys.push_back(g.n);
  return g;
}

// Checks an optional parameter input (scale or zero point) is per-tensor or has `len` values.
void require_vector_param(const PrepareContext& ctx, std::size_t i, std::int64_t len,
                          const char* name) {
  if (!ctx.has_input(i)) return;
  const TensorInfo& t = ctx.input(i);
  if (!quant::is_per_tensor(t) && t.shape != Shape{len}) {
    ctx.unsupported(std::string(name) + " " + shape_to_string(t.shape) +
                    " must be a scalar or 1-D of " + std::to_string(len));
  }
}

inline std::int32_t wrap_int32(std::int64_t v) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
}

template <typename A, typename B, typename Emit>
void matmul_integer(const QMatMulGeom& g, const A* a, const Tensor* azp, const B* b,
                    const Tensor* bzp, Emit&& emit) {
  const std::int64_t batches = static_cast<std::int64_t>(g.a_offset.size());
  for (std::int64_t bt = 0; bt < batches; ++bt) {
    const A* ab = a + g.a_offset[static_cast<std::size_t>(bt)];
    const B* bb = b + g.b_offset[static_cast<std::size_t>(bt)];
    for (std::int64_t i = 0; i < g.m; ++i) {
      const std::int32_t az = quant::zero_point_at(azp, i);
      for (std::int64_t j = 0; j < g.n; ++j) {
        const std::int32_t bz = quant::zero_point_at(bzp, j);
        std::int64_t acc = 0;
        for (std::int64_t k = 0; k < g.k; ++k) {
          acc += static_cast<std::int64_t>(static_cast<std::int32_t>(ab[i * g.k + k]) - az) *
                 (static_cast<std::int32_t>(bb[k * g.n + j]) - bz);
        }
        emit((bt * g.m + i) * g.n + j, i, j, wrap_int32(acc));
      }
    }
  }
}

template <typename A, typename B>
struct MatMulIntegerFn {
  static Status run(const QMatMulGeom& g, std::span<const Tensor* const> in,
                    std::span<Tensor* const> out) {
    std::int32_t* y = out[0]->data<std::int32_t>();
    matmul_integer(
        g, in[0]->data<A>(), in.size() > 2 ? in[2] : nullptr, in[1]->data<B>(),
        in.size() > 3 ? in[3] : nullptr,
        [&](std::int64_t o, std::int64_t, std::int64_t, std::int32_t acc) { y[o] = acc; });
    return Status::ok();
  }
};

template <typename A, typename B, typename Y>
Status run_qlinear_matmul(const QMatMulGeom& g, std::span<const Tensor* const> in,
                          std::span<Tensor* const> out) {
  Y* y = out[0]->data<Y>();
  const Tensor* a_scale = in[1];
  const Tensor* b_scale = in[4];
  const float y_scale = quant::scale_at(in[6], 0);
  const std::int32_t yzp = quant::zero_point_at(in[7], 0);
  matmul_integer(g, in[0]->data<A>(), in[2], in[3]->data<B>(), in[5],
                 [&](std::int64_t o, std::int64_t i, std::int64_t j, std::int32_t acc) {
                   const float multiplier =
                       quant::scale_at(a_scale, i) * quant::scale_at(b_scale, j) / y_scale;
                   y[o] = static_cast<Y>(
                       quant::round_saturate_to<Y>(static_cast<float>(acc) * multiplier, yzp));
                 });
  return Status::ok();
}

template <typename A, typename B>
struct QLinearMatMulFn {
  static Status run(const QMatMulGeom& g, std::span<const Tensor* const> in,
                    std::span<Tensor* const> out) {
    if (g.y_dtype == DType::kUInt8) return run_qlinear_matmul<A, B, std::uint8_t>(g, in, out);
    return run_qlinear_matmul<A, B, std::int8_t>(g, in, out);
  }
};

template <template <typename, typename> class F>
auto dispatch_ab(DType a, DType b) {
  if (a == DType::kUInt8) {
    return b == DType::kUInt8 ? &F<std::uint8_t, std::uint8_t>::run
                              : &F<std::uint8_t, std::int8_t>::run;
  }
  return b == DType::kUInt8 ? &F<std::int8_t, std::uint8_t>::run
                            : &F<std::int8_t, std::int8_t>::run;
}

struct QGemmGeom {
  std::int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f;
  // Bias C: 0 none, else its strides along M and N (0 = broadcast).
  bool has_bias = false;
  std::int64_t bias_stride_m = 0, bias_stride_n = 0;
  DType a_dtype = DType::kUInt8, b_dtype = DType::kInt8, y_dtype = DType::kFloat32;
  bool fast = false;  // the contiguous int32 loop may run (see run_qgemm)
};

template <typename A, typename B, typename Y>
Status run_qgemm(const QGemmGeom& g, std::span<const Tensor* const> in,
                 std::span<Tensor* const> out) {
  const A* a = in[0]->data<A>();
  const B* b = in[3]->data<B>();
  const std::int32_t az = quant::zero_point_at(in[2], 0);
  const float a_scale = quant::scale_at(in[1], 0);
  const Tensor* b_scale = in[4];
  const Tensor* bzp = in[5];
  const std::int32_t* bias = g.has_bias ? in[6]->data<std::int32_t>() : nullptr;
  const bool requant = !std::is_same_v<Y, float>;
  const float y_scale = requant ? quant::scale_at(in[7], 0) : 1.0f;
  const std::int32_t yzp = requant ? quant::zero_point_at(in[8], 0) : 0;
  Y* y = out[0]->data<Y>();
  // The optimised form (not in reference mode): A rows and B^T rows contiguous (a Gemm with
  // transB, as exporters write Linear layers) and K small enough that no int32 sum can overflow
  // (|(a - az) * (b - bz)| <= 255 * 255); the same exact sum, vectorised in int32.
  const bool contiguous = g.fast && !g.trans_a && g.trans_b;
  // uint8 A, int8 B on AVX-512 VNNI: vpdpbusd dot products of the raw bytes, zero points after.
  static const int8_gemm::Isa isa = int8_gemm::detect();
  const bool vnni = contiguous && std::is_same_v<A, std::uint8_t> &&
                    std::is_same_v<B, std::int8_t> && isa == int8_gemm::Isa::kAvx512Vnni &&
                    g.m <= 8;  // b_row_sum is recomputed per row of A
  std::int64_t a_row_sum[8] = {};
  if (vnni) {
    for (std::int64_t i = 0; i < g.m; ++i) {
      for (std::int64_t k = 0; k < g.k; ++k) a_row_sum[i] += a[i * g.k + k];
    }
  }
  auto b_row_sum = [&](std::int64_t j) {
    std::int64_t sum = 0;
    for (std::int64_t k = 0; k < g.k; ++k) sum += b[j * g.k + k];
    return sum;
  };
  for (std::int64_t i = 0; i < g.m; ++i) {
    for (std::int64_t j = 0; j < g.n; ++j) {
      const std::int32_t bz = quant::zero_point_at(bzp, j);
      std::int64_t acc = 0;
      if (contiguous && vnni) {
        // sum (a - az)(b - bz) = sum ab - bz sum a - az sum b + K az bz, all exact in int32.
        const auto* ar = reinterpret_cast<const std::uint8_t*>(a + i * g.k);
        const auto* br = reinterpret_cast<const std::int8_t*>(b + j * g.k);
        acc = static_cast<std::int64_t>(
                  int8_gemm::dot_u8s8(int8_gemm::Isa::kAvx512Vnni, ar, br, g.k)) -
              std::int64_t{bz} * a_row_sum[i] - std::int64_t{az} * b_row_sum(j) +
              g.k * std::int64_t{az} * bz;
      } else if (contiguous) {
        const A* ar = a + i * g.k;
        const B* br = b + j * g.k;
        std::int32_t sum = 0;
        for (std::int64_t k = 0; k < g.k; ++k) {
          sum += (static_cast<std::int32_t>(ar[k]) - az) * (static_cast<std::int32_t>(br[k]) - bz);
        }
        acc = sum;
      } else {
        for (std::int64_t k = 0; k < g.k; ++k) {
          const std::int32_t av = g.trans_a ? a[k * g.m + i] : a[i * g.k + k];
          const std::int32_t bv = g.trans_b ? b[j * g.k + k] : b[k * g.n + j];
          acc += static_cast<std::int64_t>(av - az) * (bv - bz);
        }
      }
      if (bias != nullptr) acc += bias[i * g.bias_stride_m + j * g.bias_stride_n];
      float multiplier = g.alpha * a_scale * quant::scale_at(b_scale, j);
      if (requant) multiplier /= y_scale;
      const float v = static_cast<float>(wrap_int32(acc)) * multiplier;
      if constexpr (std::is_same_v<Y, float>) {
        y[i * g.n + j] = v;
      } else {
        y[i * g.n + j] = static_cast<Y>(quant::round_saturate_to<Y>(v, yzp));
      }
    }
  }
  return Status::ok();
}

template <typename A, typename B>
struct QGemmFn {
  static Status run(const QGemmGeom& g, std::span<const Tensor* const> in,
                    std::span<Tensor* const> out) {
    if (g.y_dtype == DType::kUInt8) return run_qgemm<A, B, std::uint8_t>(g, in, out);
    if (g.y_dtype == DType::kInt8) return run_qgemm<A, B, std::int8_t>(g, in, out);
    return run_qgemm<A, B, float>(g, in, out);
  }
};

}  // namespace

Prepared prepare_qgemm(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", "transA", "transB"});
  ctx.require_inputs(6, 9);
  ctx.require_dtype(0, {DType::kInt8, DType::kUInt8});
  ctx.require_dtype(3, {DType::kInt8, DType::kUInt8});
  QGemmGeom g;
  g.a_dtype = ctx.input(0).dtype;
  g.b_dtype = ctx.input(3).dtype;
  g.trans_a = ctx.attr_int("transA", 0) != 0;
  g.trans_b = ctx.attr_int("transB", 0) != 0;
  g.alpha = ctx.attr_float("alpha", 1.0f);
  const Shape& as = ctx.input(0).shape;
  const Shape& bs = ctx.input(3).shape;
  if (as.size() != 2 || bs.size() != 2) {
    ctx.fail("A " + shape_to_string(as) + " and B " + shape_to_string(bs) + " must be 2-D");
  }
  g.m = g.trans_a ? as[1] : as[0];
  g.k = g.trans_a ? as[0] : as[1];
  g.n = g.trans_b ? bs[0] : bs[1];
  if ((g.trans_b ? bs[1] : bs[0]) != g.k) {
    ctx.fail("inner dims differ: " + shape_to_string(as) + " x " + shape_to_string(bs));
  }
  quant::require_scalar_scale(ctx, 1, "a_scale");
  quant::require_scalar_zero_point(ctx, 2, g.a_dtype, "a_zero_point");
  ctx.require_dtype(4, {DType::kFloat32});
  require_vector_param(ctx, 4, g.n, "b_scale");
  if (ctx.input(5).dtype != g.b_dtype) ctx.fail("b_zero_point must have the dtype of B");
  require_vector_param(ctx, 5, g.n, "b_zero_point");
  if (ctx.has_input(6)) {
    ctx.require_dtype(6, {DType::kInt32});
    const Shape& cs = ctx.input(6).shape;
    g.has_bias = true;
    if (shape_numel(cs) == 1) {
      g.bias_stride_m = g.bias_stride_n = 0;
    } else if (cs == Shape{g.n} || cs == Shape{1, g.n}) {
      g.bias_stride_n = 1;
    } else if (cs == Shape{g.m, g.n}) {
      g.bias_stride_m = g.n;
      g.bias_stride_n = 1;
    } else {
      ctx.unsupported("bias C " + shape_to_string(cs) + " (scalar, [N], [1, N] or [M, N])");
    }
  }
  const bool has_y_scale = ctx.has_input(7), has_y_zp = ctx.has_input(8);
  if (has_y_scale != has_y_zp) ctx.unsupported("y_scale and y_zero_point must come together");
  if (has_y_zp) {
    quant::require_scalar_scale(ctx, 7, "y_scale");
    ctx.require_dtype(8, {DType::kInt8, DType::kUInt8});
    quant::require_scalar_zero_point(ctx, 8, ctx.input(8).dtype, "y_zero_point");
    g.y_dtype = ctx.input(8).dtype;
  }
  g.fast = !ctx.reference() && g.k <= 32768;
  const auto fn = dispatch_ab<QGemmFn>(g.a_dtype, g.b_dtype);
  Prepared p;
  p.outputs = {{g.y_dtype, {g.m, g.n}}};
  p.kernel = make_kernel([g, fn](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    return fn(g, in, out);
  });
  return p;
}

Prepared prepare_matmul_integer(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(2, 4);
  Shape ys;
  QMatMulGeom g = qmatmul_geometry(ctx, 0, 1, ys);
  if (ctx.has_input(2) && ctx.input(2).dtype != g.a_dtype) {
    ctx.fail("a_zero_point must have the dtype of A");
  }
  if (ctx.has_input(3) && ctx.input(3).dtype != g.b_dtype) {
    ctx.fail("b_zero_point must have the dtype of B");
  }
  require_vector_param(ctx, 2, g.m, "a_zero_point");
  require_vector_param(ctx, 3, g.n, "b_zero_point");
  const auto fn = dispatch_ab<MatMulIntegerFn>(g.a_dtype, g.b_dtype);
  Prepared p;
  p.outputs = {{DType::kInt32, ys}};
  p.kernel =
      make_kernel([g = std::move(g), fn](std::span<const Tensor* const> in,
                                         std::span<Tensor* const> out) { return fn(g, in, out); });
  return p;
}

Prepared prepare_qlinear_matmul(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(8, 8);
  Shape ys;
  QMatMulGeom g = qmatmul_geometry(ctx, 0, 3, ys);
  for (std::size_t i : {1, 4, 6}) ctx.require_dtype(i, {DType::kFloat32});
  if (ctx.input(2).dtype != g.a_dtype) ctx.fail("a_zero_point must have the dtype of a");
  if (ctx.input(5).dtype != g.b_dtype) ctx.fail("b_zero_point must have the dtype of b");
  ctx.require_dtype(7, {DType::kInt8, DType::kUInt8});
  g.y_dtype = ctx.input(7).dtype;
  require_vector_param(ctx, 1, g.m, "a_scale");
  require_vector_param(ctx, 2, g.m, "a_zero_point");
  require_vector_param(ctx, 4, g.n, "b_scale");
  require_vector_param(ctx, 5, g.n, "b_zero_point");
  quant::require_scalar_scale(ctx, 6, "y_scale");
  quant::require_scalar_zero_point(ctx, 7, g.y_dtype, "y_zero_point");
  const auto fn = dispatch_ab<QLinearMatMulFn>(g.a_dtype, g.b_dtype);
  Prepared p;
  p.outputs = {{g.y_dtype, ys}};
  p.kernel =
      make_kernel([g = std::move(g), fn](std::span<const Tensor* const> in,
                                         std::span<Tensor* const> out) { return fn(g, in, out); });
  return p;
}

}  // namespace dnnfi
