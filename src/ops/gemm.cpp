// Gemm (transA, transB, alpha, beta, optional C broadcast to [M, N]) and MatMul (numpy semantics:
// N-D batches with broadcast batch dims, 1-D operands promoted and their axis removed), float32.
//
// Reference kernels: one double accumulator per output element, summed over k in order. Optimised
// kernels: one oneDNN matmul primitive (batched with broadcast for MatMul; transposes expressed as
// strides, so nothing is copied), with a constant B reordered once at prepare into the layout the
// primitive prefers. Gemm's C is the primitive's bias when alpha = beta = 1, otherwise it is
// broadcast into Y first and added by a sum post-op scaled by beta (alpha is the output scale).
#include <omp.h>

#include <algorithm>

#include "ops/broadcast.h"
#include "ops/dnnl_util.h"
#include "ops/ops.h"

namespace dnnfi {

namespace {

using dnnl_util::memory;
using dnnl_util::Scratch;
using dnnl_util::Tag;

struct MatmulPlan {
  dnnl::matmul prim;
  memory::desc src_md, weights_md, bias_md, dst_md, scratch_md;
  std::shared_ptr<void> weights;  // constant B in weights_md; null when B is an input
};

// One oneDNN matmul: dst = alpha * (src x weights) [+ bias] [+ beta * dst].
class DnnlMatmul {
 public:
  DnnlMatmul(memory::desc src, memory::desc weights, memory::desc bias, memory::desc dst,
             float alpha, float sum_beta, bool use_sum, const Tensor* const_weights)
      : src_(src),
        weights_(weights),
        bias_(bias),
        dst_(dst),
        alpha_(alpha),
        beta_(sum_beta),
        use_sum_(use_sum) {
    if (const_weights != nullptr) const_weights_ = *const_weights;
  }

  // The plan for the calling thread's thread count, or nullptr when oneDNN cannot do it.
  const MatmulPlan* plan() const noexcept {
    return plans_.get(dnnl_util::current_threads(), [this](int) { return build(); });
  }

  Status run(const MatmulPlan& plan, const float* a, const float* b, const float* bias, float* y,
             const std::string& node, const char* op) const noexcept {
    try {
      dnnl::engine& eng = dnnl_util::cpu_engine();
      dnnl::stream& strm = dnnl_util::thread_stream();
      void* weights = plan.weights ? plan.weights.get() : const_cast<float*>(b);
      if (plan.weights && b != const_weights_.raw()) {
        // A weight fault passed a corrupted copy of B: pack it for this run.
        void* buf = dnnl_util::thread_scratch(Scratch::kWeights, plan.weights_md.get_size());
        if (buf == nullptr) return Status::error("node '" + node + "': out of memory");
        memory user(weights_, eng, const_cast<float*>(b));
        memory packed(plan.weights_md, eng, buf);
        dnnl::reorder(user, packed).execute(strm, user, packed);
        weights = buf;
      }
      std::unordered_map<int, memory> args = {
          {DNNL_ARG_SRC, memory(plan.src_md, eng, const_cast<float*>(a))},
          {DNNL_ARG_WEIGHTS, memory(plan.weights_md, eng, weights)},
          {DNNL_ARG_DST, memory(plan.dst_md, eng, y)}};
      if (bias != nullptr) {
        args.emplace(DNNL_ARG_BIAS, memory(plan.bias_md, eng, const_cast<float*>(bias)));
      }
      if (plan.scratch_md.get_size() > 0) {
        void* pad = dnnl_util::thread_scratch(Scratch::kPad, plan.scratch_md.get_size());
        if (pad == nullptr) return Status::error("node '" + node + "': out of memory");
        args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan.scratch_md, eng, pad));
      }
      plan.prim.execute(strm, args);
      strm.wait();
      return Status::ok();
    } catch (const dnnl::error& e) {
      return Status::error(dnnl_util::error_message(node, op, e.what()));
    } catch (const std::exception& e) {
      return Status::error("node '" + node + "' (" + op + "): " + e.what());
    }
  }

 private:
  std::unique_ptr<MatmulPlan> build() const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
    if (use_sum_) {
      dnnl::post_ops ops;
      ops.append_sum(beta_);
      attr.set_post_ops(ops);
    }
    const bool pack = !const_weights_.empty();
    const memory::desc weights =
        pack ? memory::desc(weights_.dims(), memory::data_type::f32, Tag::any) : weights_;
    dnnl::matmul::desc desc(src_, weights, bias_, dst_);
    dnnl::matmul::primitive_desc pd(desc, attr, dnnl_util::cpu_engine());
    auto plan = std::make_unique<MatmulPlan>();
    plan->prim = dnnl::matmul(pd);
    plan->src_md = pd.src_desc();
    plan->weights_md = pd.weights_desc();
    plan->bias_md = pd.bias_desc();
    plan->dst_md = pd.dst_desc();
    plan->scratch_md = pd.scratchpad_desc();
    if (pack) {
      if (packed_.data != nullptr && packed_.md == plan->weights_md) {
        plan->weights = packed_.data;
      } else {
        plan->weights = dnnl_util::reorder_to_new(weights_, const_weights_.raw(), plan->weights_md);
        if (packed_.data == nullptr) packed_ = {plan->weights_md, plan->weights};
      }
    }
    return plan;
  }

  struct Packed {
    memory::desc md;
    std::shared_ptr<void> data;
  };
  memory::desc src_, weights_, bias_, dst_;
  float alpha_, beta_;
  bool use_sum_;
  Tensor const_weights_;
  mutable Packed packed_;  // written only under plans_'s lock
  dnnl_util::PlanCache<MatmulPlan> plans_;
};

// A 2-D matrix view given by its row and column strides (in elements).
memory::desc matrix_md(std::int64_t rows, std::int64_t cols, bool transposed) {
  return memory::desc({rows, cols}, memory::data_type::f32,
                      transposed ? memory::dims{1, rows} : memory::dims{cols, 1});
}

// ---------------------------------------------------------------------------------------------
// Gemm

struct GemmGeom {
  std::int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
  bool has_c = false;                   // C present and beta != 0
  std::int64_t c_rows = 1, c_cols = 1;  // C's extent along M and N (1 = broadcast)
  std::string node;

  float c_at(const float* c, std::int64_t i, std::int64_t j) const {
    return c[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
  }
};

void gemm_reference(const GemmGeom& g, const float* a, const float* b, const float* c, float* y) {
  const std::int64_t total = g.m * g.n;
#pragma omp parallel for schedule(static) if (total * g.k > 100000)
  for (std::int64_t idx = 0; idx < total; ++idx) {
    const std::int64_t i = idx / g.n, j = idx % g.n;
    double acc = 0.0;
    for (std::int64_t p = 0; p < g.k; ++p) {
      const float av = g.trans_a ? a[p * g.m + i] : a[i * g.k + p];
      const float bv = g.trans_b ? b[j * g.k + p] : b[p * g.n + j];
      acc += static_cast<double>(av) * bv;
    }
    double v = static_cast<double>(g.alpha) * acc;
    if (g.has_c) v += static_cast<double>(g.beta) * g.c_at(c, i, j);
    y[idx] = static_cast<float>(v);
  }
}

class ReferenceGemmKernel final : public Kernel {
 public:
  explicit ReferenceGemmKernel(GemmGeom g) : g_(std::move(g)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    gemm_reference(g_, in[0]->data<float>(), in[1]->data<float>(),
                   g_.has_c ? in[2]->data<float>() : nullptr, out[0]->data<float>());
    return Status::ok();
  }

 private:
  GemmGeom g_;
};

class DnnlGemmKernel final : public Kernel {
 public:
  // C goes in as the bias (alpha = beta = 1) or through a sum post-op after filling Y with it.
  DnnlGemmKernel(GemmGeom g, const Tensor* const_b, const Tensor* /*const_c*/)
      : g_(std::move(g)),
        c_as_bias_(g_.has_c && g_.alpha == 1.0f && g_.beta == 1.0f),
        mm_(matrix_md(g_.m, g_.k, g_.trans_a), matrix_md(g_.k, g_.n, g_.trans_b),
            c_as_bias_ ? memory::desc({g_.c_rows, g_.c_cols}, memory::data_type::f32, Tag::ab)
                       : memory::desc(),
            memory::desc({g_.m, g_.n}, memory::data_type::f32, Tag::ab), g_.alpha, g_.beta,
            g_.has_c && !c_as_bias_, const_b) {}

  bool ready() const { return mm_.plan() != nullptr; }

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* a = in[0]->data<float>();
    const float* b = in[1]->data<float>();
    const float* c = g_.has_c ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const MatmulPlan* plan = mm_.plan();
    if (plan == nullptr) {
      gemm_reference(g_, a, b, c, y);
      return Status::ok();
    }
    if (g_.has_c && !c_as_bias_) {
      for (std::int64_t i = 0; i < g_.m; ++i) {
        for (std::int64_t j = 0; j < g_.n; ++j) y[i * g_.n + j] = g_.c_at(c, i, j);
      }
    }
    return mm_.run(*plan, a, b, c_as_bias_ ? c : nullptr, y, g_.node, "Gemm");
  }

 private:
  GemmGeom g_;
  bool c_as_bias_;
  DnnlMatmul mm_;
};

}  // namespace

// Gemm-1 and Gemm-6 differ from Gemm-7 only in `broadcast`: C is broadcast to [M, N] only when it
// is 1; otherwise C must already be [M, N] (Gemm-7 always broadcasts).
Prepared prepare_gemm(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha", "beta", "transA", "transB", ctx.opset() < 7 ? "broadcast" : ""});
  ctx.require_inputs(ctx.opset() >= 11 ? 2 : 3, 3);
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i)) ctx.require_dtype(i, {DType::kFloat32});
  }
  const Shape& as = ctx.input(0).shape;
  const Shape& bs = ctx.input(1).shape;
  if (as.size() != 2 || bs.size() != 2) {
    ctx.fail("A " + shape_to_string(as) + " and B " + shape_to_string(bs) + " must be 2-D");
  }
  GemmGeom g;
  g.node = ctx.node().name;
  const std::int64_t trans_a = ctx.attr_int("transA", 0), trans_b = ctx.attr_int("transB", 0);
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) {
    ctx.fail("transA and transB must be 0 or 1");
  }
  g.trans_a = trans_a == 1;
  g.trans_b = trans_b == 1;
  g.alpha = ctx.attr_float("alpha", 1.0f);
  g.beta = ctx.attr_float("beta", 1.0f);
  g.m = g.trans_a ? as[1] : as[0];
  g.k = g.trans_a ? as[0] : as[1];
  const std::int64_t kb = g.trans_b ? bs[1] : bs[0];
  g.n = g.trans_b ? bs[0] : bs[1];
  if (kb != g.k) {
    ctx.fail("inner dimensions differ: A " + shape_to_string(as) +
             (g.trans_a ? " (transposed)" : "") + ", B " + shape_to_string(bs) +
             (g.trans_b ? " (transposed)" : ""));
  }
  if (ctx.has_input(2)) {
    const Shape& cs = ctx.input(2).shape;
    // Unidirectional broadcast of C to [M, N].
    if (cs.size() > 2) ctx.fail("C " + shape_to_string(cs) + " must have rank <= 2");
    if (ctx.opset() < 7 && ctx.attr_int("broadcast", 0) == 0 && cs != Shape{g.m, g.n}) {
      ctx.fail("C " + shape_to_string(cs) + " must be [" + std::to_string(g.m) + "," +
               std::to_string(g.n) + "] when attribute broadcast is not set (opset < 7)");
    }
    const std::int64_t rows = cs.size() == 2 ? cs[0] : 1;
    const std::int64_t cols = cs.empty() ? 1 : cs.back();
    if ((rows != 1 && rows != g.m) || (cols != 1 && cols != g.n)) {
      ctx.fail("C " + shape_to_string(cs) + " cannot be broadcast to [" + std::to_string(g.m) +
               "," + std::to_string(g.n) + "]");
    }
    g.c_rows = rows;
    g.c_cols = cols;
    g.has_c = g.beta != 0.0f;
  }
  Prepared p;
  p.outputs = {TensorInfo{DType::kFloat32, {g.m, g.n}}};
  if (!ctx.reference() && g.m > 0 && g.n > 0 && g.k > 0) {
    auto kernel =
        std::make_unique<DnnlGemmKernel>(g, ctx.constant(1), g.has_c ? ctx.constant(2) : nullptr);
    if (kernel->ready()) {
      p.kernel = std::move(kernel);
      return p;
    }
  }
  p.kernel = std::make_unique<ReferenceGemmKernel>(std::move(g));
  return p;
}

// ---------------------------------------------------------------------------------------------
// MatMul

namespace {

struct MatMulGeom {
  std::int64_t m = 0, n = 0, k = 0;
  Shape batch;                                                 // broadcast batch dims of the output
  std::vector<std::int64_t> a_batch_strides, b_batch_strides;  // in matrices, 0 when broadcast
  std::int64_t batch_count = 1;
  std::string node;
};

void matmul_reference(const MatMulGeom& g, const float* a, const float* b, float* y) {
  const std::int64_t per = g.m * g.n, total = g.batch_count * per;
#pragma omp parallel for schedule(static) if (total * g.k > 100000)
  for (std::int64_t idx = 0; idx < total; ++idx) {
    // Batch offsets of A and B for output matrix idx / per.
    std::int64_t rest = idx / per, a_off = 0, b_off = 0;
    for (std::size_t ax = g.batch.size(); ax-- > 0;) {
      const std::int64_t i = rest % g.batch[ax];
      rest /= g.batch[ax];
      a_off += i * g.a_batch_strides[ax];
      b_off += i * g.b_batch_strides[ax];
    }
    const float* am = a + a_off * g.m * g.k;
    const float* bm = b + b_off * g.k * g.n;
    const std::int64_t i = (idx % per) / g.n, j = idx % g.n;
    double acc = 0.0;
    for (std::int64_t p = 0; p < g.k; ++p)
      acc += static_cast<double>(am[i * g.k + p]) * bm[p * g.n + j];
    y[idx] = static_cast<float>(acc);
  }
}

class ReferenceMatMulKernel final : public Kernel {
 public:
  explicit ReferenceMatMulKernel(MatMulGeom g) : g_(std::move(g)) {}
  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    matmul_reference(g_, in[0]->data<float>(), in[1]->data<float>(), out[0]->data<float>());
    return Status::ok();
  }

 private:
  MatMulGeom g_;
};

class DnnlMatMulKernel final : public Kernel {
 public:
  DnnlMatMulKernel(MatMulGeom g, memory::desc a, memory::desc b, memory::desc y,
                   const Tensor* const_b)
      : g_(std::move(g)), mm_(a, b, memory::desc(), y, 1.0f, 0.0f, false, const_b) {}

  bool ready() const { return mm_.plan() != nullptr; }

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const float* a = in[0]->data<float>();
    const float* b = in[1]->data<float>();
    float* y = out[0]->data<float>();
    const MatmulPlan* plan = mm_.plan();
    if (plan == nullptr) {
      matmul_reference(g_, a, b, y);
      return Status::ok();
    }
    return mm_.run(*plan, a, b, nullptr, y, g_.node, "MatMul");
  }

 private:
  MatMulGeom g_;
  DnnlMatmul mm_;
};

}  // namespace

Prepared prepare_matmul(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  ctx.require_inputs(2, 2);
  ctx.require_dtype(0, {DType::kFloat32});
  ctx.require_dtype(1, {DType::kFloat32});
  Shape as = ctx.input(0).shape, bs = ctx.input(1).shape;
  if (as.empty() || bs.empty()) ctx.fail("MatMul operands must have rank >= 1");
  const bool a_vector = as.size() == 1, b_vector = bs.size() == 1;
  if (a_vector) as.insert(as.begin(), 1);  // [K] -> [1, K]
  if (b_vector) bs.push_back(1);           // [K] -> [K, 1]
  MatMulGeom g;
  g.node = ctx.node().name;
  g.m = as[as.size() - 2];
  g.k = as.back();
  g.n = bs.back();
  if (bs[bs.size() - 2] != g.k) {
    ctx.fail("inner dimensions differ: " + shape_to_string(ctx.input(0).shape) + " x " +
             shape_to_string(ctx.input(1).shape));
  }
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const std::optional<Shape> batch = broadcast_shapes(a_batch, b_batch);
  if (!batch) {
    ctx.fail("batch dims cannot be broadcast: " + shape_to_string(ctx.input(0).shape) + " x " +
             shape_to_string(ctx.input(1).shape));
  }
  g.batch = *batch;
  g.batch_count = shape_numel(g.batch);
  // Batch strides in whole matrices, with the batch dims of each operand right-aligned.
  auto strides = [&](const Shape& own) {
    std::vector<std::int64_t> s(g.batch.size(), 0);
    std::int64_t step = 1;
    for (std::size_t i = own.size(); i-- > 0;) {
      s[g.batch.size() - own.size() + i] = own[i] == 1 ? 0 : step;
      step *= own[i];
    }
    return s;
  };
  g.a_batch_strides = strides(a_batch);
  g.b_batch_strides = strides(b_batch);

  Shape ys = g.batch;
  if (!a_vector) ys.push_back(g.m);
  if (!b_vector) ys.push_back(g.n);
  Prepared p;
  p.outputs = {TensorInfo{DType::kFloat32, ys}};
  const std::size_t rank = g.batch.size() + 2;
  if (!ctx.reference() && g.m > 0 && g.n > 0 && g.k > 0 && g.batch_count > 0 && rank <= 12) {
    // Every operand at the full rank, batch dims padded with leading 1s (oneDNN broadcasts them).
    auto plain = [&](const Shape& own_batch, std::int64_t rows, std::int64_t cols) {
      memory::dims d(g.batch.size() - own_batch.size(), 1);
      d.insert(d.end(), own_batch.begin(), own_batch.end());
      d.push_back(rows);
      d.push_back(cols);
      memory::dims strides(d.size(), 1);
      for (std::size_t i = d.size() - 1; i-- > 0;) strides[i] = strides[i + 1] * d[i + 1];
      return memory::desc(d, memory::data_type::f32, strides);
    };
    auto kernel =
        std::make_unique<DnnlMatMulKernel>(g, plain(a_batch, g.m, g.k), plain(b_batch, g.k, g.n),
                                           plain(g.batch, g.m, g.n), ctx.constant(1));
    if (kernel->ready()) {
      p.kernel = std::move(kernel);
      return p;
    }
  }
  p.kernel = std::make_unique<ReferenceMatMulKernel>(std::move(g));
  return p;
}

}  // namespace dnnfi
