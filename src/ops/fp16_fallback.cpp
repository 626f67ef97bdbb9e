#include "ops/fp16_fallback.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "ops/fp16_layout.h"
#include "ops/ops.h"
#include "ops/unary_common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dnnfi {

namespace {

constexpr std::size_t kAlignFloats = 16;  // 64 bytes, as Tensor storage
// Inputs and outputs a wrapped node may have: the kernel keeps its views on the stack.
constexpr std::size_t kMaxArity = 16;

std::size_t aligned_floats(std::int64_t n) {
  return (static_cast<std::size_t>(n) + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
}

// One per thread: the float32 copies of a wrapped node's inputs and outputs during its run.
class ScratchArena {
 public:
  float* reserve(std::size_t floats) {
    if (floats > capacity_) {
      void* p = std::aligned_alloc(64, floats * sizeof(float));
      if (p == nullptr) return nullptr;
      data_.reset(static_cast<float*>(p));
      capacity_ = floats;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t capacity_ = 0;
};

ScratchArena& thread_arena() {
  thread_local ScratchArena arena;
  return arena;
}

// float16 -> float32, exact and bit-identical to half_to_float: the F16C instruction where the CPU
// has it, except on blocks holding a NaN (the instruction quiets signalling NaNs, half_to_float
// keeps them as they are: a flipped bit must stay what it is until an op computes with it).
#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void widen_f16c(const std::uint16_t* x, float* y,
                                                    std::int64_t n) {
  const __m128i magnitude = _mm_set1_epi16(0x7fff);
  const __m128i inf = _mm_set1_epi16(0x7c00);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    if (_mm_movemask_epi8(_mm_cmpgt_epi16(_mm_and_si128(h, magnitude), inf)) != 0) {
      for (int j = 0; j < 8; ++j) y[i + j] = half_to_float(x[i + j]);
    } else {
      _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
  }
  for (; i < n; ++i) y[i] = half_to_float(x[i]);
}
#endif

void widen(const std::uint16_t* x, float* y, std::int64_t n) {
#if defined(__x86_64__)
  static const bool f16c = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  if (f16c) {
    widen_f16c(x, y, n);
    return;
  }
#endif
  unary::half_to_float_block(x, y, n);
}

// The same for either 16-bit float type the fallback wraps: float16 (above) or bfloat16, whose
// widening is a shift (exact, NaN payloads kept) and whose rounding is float_to_bfloat16's
// (nearest even, NaN kept NaN).
void widen(DType narrow, const std::uint16_t* x, float* y, std::int64_t n) {
  if (narrow == DType::kBFloat16) {
    unary::bfloat16_to_float_block(x, y, n);
  } else {
    widen(x, y, n);
  }
}

void round_to(DType narrow, const float* x, std::uint16_t* y, std::int64_t n) {
  if (narrow == DType::kBFloat16) {
    unary::float_to_bfloat16_block(x, y, n);
  } else {
    unary::float_to_half_block(x, y, n);
  }
}

class Fp16FallbackKernel final : public Kernel {
 public:
  Fp16FallbackKernel(std::unique_ptr<Kernel> inner, std::vector<TensorInfo> in_infos,
                     std::vector<Tensor> half_constants, std::vector<Tensor> float_constants,
                     std::vector<TensorInfo> out_infos, std::vector<bool> round_output,
                     bool relu_after_rounding, bool sum_after_rounding, bool sum_first,
                     DType narrow, bool conv_nhwc)
      : narrow_(narrow),
        relu_after_rounding_(relu_after_rounding),
        sum_after_rounding_(sum_after_rounding),
        sum_first_(sum_first),
        conv_nhwc_(conv_nhwc),
        inner_arity_(sum_after_rounding ? in_infos.size() - 1 : in_infos.size()),
        inner_(std::move(inner)),
        in_infos_(std::move(in_infos)),
        half_constants_(std::move(half_constants)),
        float_constants_(std::move(float_constants)),
        out_infos_(std::move(out_infos)),
        round_output_(std::move(round_output)) {
    for (std::size_t i = 0; i < inner_arity_; ++i) {
      if (in_infos_[i].dtype == narrow_) scratch_floats_ += aligned_floats(in_infos_[i].numel());
    }
    for (std::size_t o = 0; o < out_infos_.size(); ++o) {
      if (round_output_[o]) scratch_floats_ += aligned_floats(out_infos_[o].numel());
    }
  }

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    if (in.size() != in_infos_.size() || out.size() != out_infos_.size()) {
      return Status::error("float16 fallback: wrong number of inputs or outputs");
    }
    float* base = thread_arena().reserve(scratch_floats_);
    if (base == nullptr && scratch_floats_ > 0) {
      return Status::error("float16 fallback: out of memory for float32 copies");
    }
    std::array<Tensor, kMaxArity> in_views, out_views;
    std::array<const Tensor*, kMaxArity> in_ptrs;
    std::array<Tensor*, kMaxArity> out_ptrs;
    if (in.size() > kMaxArity || out.size() > kMaxArity) {
      return Status::error("float16 fallback: more than 16 inputs or outputs");
    }
    std::size_t offset = 0;
    // A fused summand (the last input) is not widened here: the rounding below reads it.
    const std::uint16_t* summand = nullptr;
    if (sum_after_rounding_) {
      const Tensor* t = in[inner_arity_];
      if (t == nullptr || t->dtype() != DType::kFloat16 || out[0] == nullptr ||
          t->shape() != out[0]->shape()) {
        return Status::error(
            "float16 fallback: the summand is not the float16 tensor prepared for");
      }
      summand = t->data<std::uint16_t>();
    }
    for (std::size_t i = 0; i < inner_arity_; ++i) {
      in_ptrs[i] = in[i];
      if (in[i] == nullptr || in_infos_[i].dtype != narrow_) continue;
      if (in[i]->dtype() != narrow_ || in[i]->shape() != in_infos_[i].shape) {
        return Status::error("float16 fallback: input " + std::to_string(i) +
                             " is not the float16 tensor prepared for");
      }
      if (!float_constants_[i].empty() && in[i]->raw() == half_constants_[i].raw()) {
        in_ptrs[i] = &float_constants_[i];  // the prepared constant: widened once at prepare
        continue;
      }
      float* f = base + offset;
      offset += aligned_floats(in_infos_[i].numel());
      const std::uint16_t* h = in[i]->data<std::uint16_t>();
      if (i == 0 && conv_nhwc_) {
        const Shape& d = in_infos_[0].shape;
        fp16::widen_nchw_to_nhwc(h, f, d[0], d[1], d[2] * d[3]);
      } else {
        unary::for_chunks(in[i]->numel(), [&](std::int64_t b, std::int64_t e) {
          widen(narrow_, h + b, f + b, e - b);
        });
      }
      in_views[i] = Tensor::wrap(DType::kFloat32, in_infos_[i].shape, f);
      in_ptrs[i] = &in_views[i];
    }
    for (std::size_t o = 0; o < out.size(); ++o) {
      out_ptrs[o] = out[o];
      if (out[o] == nullptr || !round_output_[o]) continue;
      float* f = base + offset;
      offset += aligned_floats(out_infos_[o].numel());
      out_views[o] = Tensor::wrap(DType::kFloat32, out_infos_[o].shape, f);
      out_ptrs[o] = &out_views[o];
    }
    DNNFI_RETURN_IF_ERROR(
        inner_->run({in_ptrs.data(), inner_arity_}, {out_ptrs.data(), out.size()}));
    // The fused post-ops (fused nodes have one output) in the same pass as the rounding: the
    // Add node a fused summand replaces (float16 inputs widened, added in float32 in the Add's
    // operand order, rounded), then the Relu on the bits. The operand order matters only for
    // NaN + NaN, which gives the first operand's payload on x86 (as far as the compiler keeps the
    // order written, here and in the Add kernel alike).
    for (std::size_t o = 0; o < out.size(); ++o) {
      if (out[o] == nullptr || !round_output_[o]) continue;
      const float* f = out_views[o].data<float>();
      std::uint16_t* h = out[o]->data<std::uint16_t>();
      fp16::RoundPost post;
      if (o == 0) {
        post.summand = summand;
        post.sum_first = sum_first_;
        post.relu = relu_after_rounding_;
      }
      if (o == 0 && conv_nhwc_) {
        const Shape& d = out_infos_[0].shape;
        fp16::round_nhwc_to_nchw(f, h, d[0], d[1], d[2] * d[3], post);
        continue;
      }
      unary::for_chunks(out_views[o].numel(), [&](std::int64_t b, std::int64_t e) {
        if (narrow_ != DType::kFloat16) {  // bfloat16: no fused post-ops (refused at prepare)
          round_to(narrow_, f + b, h + b, e - b);
          return;
        }
        fp16::RoundPost chunk = post;
        if (chunk.summand != nullptr) chunk.summand += b;
        fp16::round_with_post(f + b, h + b, e - b, chunk);
      });
    }
    return Status::ok();
  }

 private:
  DType narrow_;              // the 16-bit float type stored between nodes: float16 or bfloat16
  bool relu_after_rounding_;  // a fused Relu: applied to the rounded output, as the Relu node did
  bool sum_after_rounding_;   // a fused Add: the last input added to the rounded output, rounded
  bool sum_first_;            // ... as Add(summand, output) rather than Add(output, summand)
  // A 2-D convolution whose float32 kernel computes on NHWC (conv_picks_its_layouts): input 0 is
  // widened and output 0 rounded with the transpose fused in, instead of oneDNN reordering
  // float32 copies; the primitive, hence every value, is the one the NCHW kernel would run.
  bool conv_nhwc_;
  std::size_t inner_arity_;  // the inputs the float32 kernel takes (all but a fused summand)
  std::unique_ptr<Kernel> inner_;
  std::vector<TensorInfo> in_infos_;     // as the session sees them (float16 where it is)
  std::vector<Tensor> half_constants_;   // by input: the float16 constant seen at prepare
  std::vector<Tensor> float_constants_;  // by input: its float32 widening (empty if none)
  std::vector<TensorInfo> out_infos_;    // the float32 kernel's outputs
  std::vector<bool> round_output_;       // by output: float32 computed, float16 stored
  std::size_t scratch_floats_ = 0;
};

Tensor widen_tensor(const Tensor& half) {
  Tensor f(DType::kFloat32, half.shape());
  widen(half.dtype(), half.data<std::uint16_t>(), f.data<float>(), half.numel());
  return f;
}

// The post-ops of a FusedConv (a summand, then a Relu) or a BatchNormalizationRelu, the only
// kinds fusion makes on float16. On float16 data they apply after the rounding, each rounding as
// the node it replaces did: round(conv), then round(that + summand), then Relu on the bits. (A
// float32 Relu before the rounding would differ in the sign of zero: outputs in [-2^-25, 0) round
// to -0, which the Relu keeps; a float32 sum would skip a rounding.) `plain` is the node without
// them, what the float32 kernel computes.
struct Fp16PostOps {
  Node plain;
  bool sum = false, relu = false;
  bool sum_first = false;  // Add(summand, conv): the summand is the first operand
};

// Throws UnsupportedError for a float16 FusedConv it cannot run exactly.
std::optional<Fp16PostOps> fp16_post_ops(const Node& node) {
  if (node.domain != "dnnfi") return std::nullopt;
  Fp16PostOps p{node};
  if (node.op_type == "BatchNormalizationRelu") {
    p.plain.domain.clear();
    p.plain.op_type = "BatchNormalization";
    p.relu = true;
    return p;
  }
  if (node.op_type != "FusedConv") return std::nullopt;
  auto act = node.attributes.find("activation");
  // Anything else would run in float32 before the rounding, skipping a rounding point.
  if (act != node.attributes.end() && act->second.s != "Relu") {
    throw UnsupportedError("float16 FusedConv: only a Relu can be fused");
  }
  p.relu = act != node.attributes.end();
  p.sum = node.inputs.size() > 3 && node.inputs[3] != kNoValue;
  if (!p.relu && !p.sum) return std::nullopt;
  auto first = node.attributes.find("fp16_sum_first");
  p.sum_first = first != node.attributes.end() && first->second.i != 0;
  for (const char* a :
       {"activation", "activation_min", "activation_max", "sum_layout", "fp16_sum_first"}) {
    p.plain.attributes.erase(a);
  }
  if (p.sum) {
    // The summand is added elementwise to the output as stored: both must share a layout.
    auto layout = [&](const char* name) {
      auto it = node.attributes.find(name);
      return it == node.attributes.end() ? std::string("NCHW") : it->second.s;
    };
    if (layout("sum_layout") != layout("dst_layout")) {
      throw UnsupportedError("float16 FusedConv: the summand's layout is not the output's");
    }
    p.plain.inputs.resize(3);
  }
  return p;
}

// The float32 form of a convolution as a channels-last FusedConv, when the wrapper can widen its
// float16 NCHW input straight into NHWC and round its NHWC output straight into NCHW: a 2-D
// convolution on a run-time float16 input whose oneDNN primitive picks its own layouts, so that
// this form runs the very primitive the NCHW form would (conv_picks_its_layouts); nullopt
// otherwise.
std::optional<Node> channels_last_conv(const Node& plain, const PrepareContext& wide,
                                       const TensorInfo& x, const Tensor* x_constant) {
  const bool conv =
      (plain.domain.empty() && plain.op_type == "Conv") ||
      (plain.domain == "dnnfi" && plain.op_type == "FusedConv" &&
       plain.attributes.count("src_layout") == 0 && plain.attributes.count("dst_layout") == 0);
  if (!conv || wide.reference() || x.dtype != DType::kFloat16 || x.shape.size() != 4 ||
      x_constant != nullptr || !fp16::transposes_fast()) {
    return std::nullopt;
  }
  try {
    if (!conv_picks_its_layouts(wide)) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  Node n = plain;
  n.domain = "dnnfi";
  n.op_type = "FusedConv";
  Attribute nhwc;
  nhwc.kind = Attribute::Kind::kString;
  nhwc.s = "NHWC";
  n.attributes["src_layout"] = nhwc;
  n.attributes["dst_layout"] = nhwc;
  return n;
}

}  // namespace

bool fp16_fallback_keeps_float32(const Node& node, std::size_t output) {
  return node.domain.empty() && node.op_type == "LayerNormalization" && output > 0;
}

Prepared prepare_with_fp16_fallback(PrepareFn prepare, const Node& node, std::int64_t opset,
                                    std::string_view source, std::vector<TensorInfo> inputs,
                                    std::vector<const Tensor*> constants, bool reference) {
  // The 16-bit float type of the node's inputs (float16 or bfloat16), if any: the type the
  // wrapper widens and rounds to. Only ops that handle both natively (CastLike) may mix them.
  DType narrow = DType::kUndefined;
  bool mixed = false;
  for (const TensorInfo& info : inputs) {
    if (info.dtype != DType::kFloat16 && info.dtype != DType::kBFloat16) continue;
    mixed |= narrow != DType::kUndefined && narrow != info.dtype;
    narrow = info.dtype;
  }
  const bool has_half = narrow != DType::kUndefined;
  if (!has_half) {
    return prepare(
        PrepareContext(node, opset, source, std::move(inputs), std::move(constants), reference));
  }
  // float16 fused post-ops always take the wrapper (whose rounding they must follow).
  const std::optional<Fp16PostOps> post = fp16_post_ops(node);
  if (post && narrow != DType::kFloat16) {
    // Fusion makes them on float16 only; their post-ops round as float16 does.
    PrepareContext(node, opset, source, inputs, constants, reference)
        .unsupported("fused post-ops on bfloat16");
  }
  if (post && post->sum &&
      (inputs.size() != 4 || inputs[3].dtype != DType::kFloat16 || node.outputs.size() != 1)) {
    throw UnsupportedError("float16 FusedConv: the summand must be a float16 tensor");
  }
  if (!post) {
    try {
      return prepare(PrepareContext(node, opset, source, inputs, constants, reference));
    } catch (const UnsupportedError&) {
      if (inputs.size() > kMaxArity || node.outputs.size() > kMaxArity) throw;
    }
  }
  if (mixed) {
    PrepareContext(node, opset, source, inputs, constants, reference)
        .fail("float16 and bfloat16 inputs together (its type constraint takes one)");
  }
  {
    // The same node on float32, wrapped.
    std::vector<TensorInfo> wide_infos = inputs;
    std::vector<Tensor> half_consts(inputs.size()), wide_consts(inputs.size());
    std::vector<const Tensor*> wide_const_ptrs = constants;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype != narrow) continue;
      wide_infos[i].dtype = DType::kFloat32;
      if (constants[i] != nullptr) {
        half_consts[i] = *constants[i];
        wide_consts[i] = widen_tensor(*constants[i]);
        wide_const_ptrs[i] = &wide_consts[i];
      }
    }
    // If this fails too, its error says what the engine lacks besides a float16 kernel.
    const std::size_t inner_arity = post && post->sum ? 3 : inputs.size();
    const Node& plain = post ? post->plain : node;
    wide_infos.resize(inner_arity);
    wide_const_ptrs.resize(inner_arity);
    const PrepareContext wide_ctx(plain, opset, source, wide_infos, wide_const_ptrs, reference);
    Prepared wide;
    std::optional<Node> nhwc = channels_last_conv(plain, wide_ctx, inputs[0], constants[0]);
    if (nhwc) {
      try {
        wide =
            prepare(PrepareContext(*nhwc, opset, source, wide_infos, wide_const_ptrs, reference));
      } catch (const std::exception&) {
        nhwc.reset();  // e.g. no oneDNN convolution for it: the NCHW form decides
      }
    }
    if (!nhwc) wide = prepare(wide_ctx);
    if (post && post->sum && (wide.outputs.empty() || wide.outputs[0].shape != inputs[3].shape)) {
      throw UnsupportedError("float16 FusedConv: the summand's shape is not the output's");
    }
    // The session passes one output per node output; a prepare may describe more.
    if (wide.outputs.size() > node.outputs.size()) wide.outputs.resize(node.outputs.size());
    std::vector<bool> round(wide.outputs.size(), false);
    Prepared p;
    p.outputs = wide.outputs;
    for (std::size_t o = 0; o < wide.outputs.size(); ++o) {
      if (wide.outputs[o].dtype != DType::kFloat32 || fp16_fallback_keeps_float32(node, o))
        continue;
      round[o] = true;
      p.outputs[o].dtype = narrow;
    }
    p.kernel = std::make_unique<Fp16FallbackKernel>(
        std::move(wide.kernel), std::move(inputs), std::move(half_consts), std::move(wide_consts),
        std::move(wide.outputs), std::move(round), post && post->relu, post && post->sum,
        post && post->sum_first, narrow, nhwc.has_value());
    return p;
  }
}

}  // namespace dnnfi
