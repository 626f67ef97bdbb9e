// Einsum: a general reference implementation over the equation. Every subscript (a letter, or one
// dim of the broadcast '...') is a loop label; the output labels are the explicit right-hand side,
// or in implicit mode the '...' dims then the letters used exactly once, in ASCII order. The
// kernel loops over the output labels and, for each output element, over the summed labels,
// reading every input through per-label strides: a label repeated within one input (a diagonal)
// adds its strides, and a dim of size 1 against a larger label size (broadcasting) has stride 0.
// Transposes, contractions, diagonals, reductions and batch products are all this one loop. Shapes
// and strides are fixed at prepare time and nothing is read from tensor data but the values.
#include <algorithm>
#include <array>
#include <type_traits>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

constexpr int kMaxEinsumInputs = 8;
constexpr int kLetters = 52;                            // a-z, A-Z
constexpr int kMaxLabels = kLetters + kMaxShapeOpRank;  // letters + '...' dims

struct EinsumPlan {
  int inputs = 0;
  int out_labels = 0;  // loop labels [0, out_labels) index the output
  int labels = 0;      // [out_labels, labels) are summed
  std::array<std::int64_t, kMaxLabels> sizes{};
  std::array<std::array<std::int64_t, kMaxLabels>, kMaxEinsumInputs> strides{};
};

int letter_id(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

// One term's subscripts: label ids of its dims in order, with the '...' dims expanded once the
// broadcast rank is known. `ellipsis_at` is the position of '...' among the letters, or -1.
struct Term {
  std::vector<int> letters;
  int ellipsis_at = -1;
};

Term parse_term(const PrepareContext& ctx, const std::string& text) {
  Term t;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "...") == 0) {
      if (t.ellipsis_at >= 0) ctx.fail("term '" + text + "' has more than one '...'");
      t.ellipsis_at = static_cast<int>(t.letters.size());
      i += 2;
      continue;
    }
    const int id = letter_id(text[i]);
    if (id < 0) ctx.fail("term '" + text + "' has an invalid subscript '" + text[i] + "'");
    t.letters.push_back(id);
  }
  return t;
}

// Label ids of a term's dims; the '...' dims of a term that has `ellipsis_rank` of them map to the
// last of the broadcast labels (right-aligned, like numpy broadcasting).
std::vector<int> expand_term(const Term& t, std::int64_t ellipsis_rank,
                             std::int64_t broadcast_rank) {
  std::vector<int> ids;
  for (std::size_t i = 0; i <= t.letters.size(); ++i) {
    if (static_cast<int>(i) == t.ellipsis_at) {
      for (std::int64_t e = broadcast_rank - ellipsis_rank; e < broadcast_rank; ++e) {
        ids.push_back(kLetters + static_cast<int>(e));
      }
    }
    if (i < t.letters.size()) ids.push_back(t.letters[i]);
  }
  return ids;
}

template <typename T>
T einsum_acc_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}
template <typename T>
T einsum_acc_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

// Advances the odometer over labels [first, last); offsets of every input follow it.
inline void einsum_step(const EinsumPlan& p, int first, int last, std::int64_t* coord,
                        std::int64_t* off) {
  for (int d = last - 1; d >= first; --d) {
    for (int i = 0; i < p.inputs; ++i) off[i] += p.strides[static_cast<std::size_t>(i)][d];
    if (++coord[d] < p.sizes[static_cast<std::size_t>(d)]) return;
    for (int i = 0; i < p.inputs; ++i) {
      off[i] -= p.sizes[static_cast<std::size_t>(d)] * p.strides[static_cast<std::size_t>(i)][d];
    }
    coord[d] = 0;
  }
}

template <typename T>
void einsum_loop(const EinsumPlan& p, std::span<const Tensor* const> in, Tensor* out) {
  // Floats accumulate in double (one rounding per output element); integers wrap.
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  std::array<const T*, kMaxEinsumInputs> x{};
  for (int i = 0; i < p.inputs; ++i) x[static_cast<std::size_t>(i)] = in[i]->data<T>();
  T* y = out->data<T>();
  std::int64_t out_count = 1, sum_count = 1;
  for (int d = 0; d < p.out_labels; ++d) out_count *= p.sizes[static_cast<std::size_t>(d)];
  for (int d = p.out_labels; d < p.labels; ++d) sum_count *= p.sizes[static_cast<std::size_t>(d)];
  std::int64_t coord[kMaxLabels] = {};
  std::int64_t base[kMaxEinsumInputs] = {};
  for (std::int64_t o = 0; o < out_count; ++o) {
    std::int64_t off[kMaxEinsumInputs];
    std::copy(base, base + p.inputs, off);
    Acc acc = 0;
    for (std::int64_t s = 0; s < sum_count; ++s) {
      Acc prod = 1;
      for (int i = 0; i < p.inputs; ++i) {
        prod = einsum_acc_mul(prod, static_cast<Acc>(x[static_cast<std::size_t>(i)][off[i]]));
      }
      acc = einsum_acc_add(acc, prod);
      einsum_step(p, p.out_labels, p.labels, coord, off);
    }
    y[o] = static_cast<T>(acc);
    einsum_step(p, 0, p.out_labels, coord, base);
  }
}

class EinsumKernel final : public Kernel {
 public:
  EinsumKernel(std::string tag, std::vector<TensorInfo> inputs, TensorInfo output,
               const EinsumPlan& plan)
      : tag_(std::move(tag)), inputs_(std::move(inputs)), output_(std::move(output)), plan_(plan) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, i, inputs_[i]));
    }
    DNNFI_RETURN_IF_ERROR(check_output(tag_, out, 0, output_));
    switch (output_.dtype) {
      case DType::kFloat32:
        einsum_loop<float>(plan_, in, out[0]);
        break;
      case DType::kFloat64:
        einsum_loop<double>(plan_, in, out[0]);
        break;
      case DType::kInt32:
        einsum_loop<std::int32_t>(plan_, in, out[0]);
        break;
      default:
        einsum_loop<std::int64_t>(plan_, in, out[0]);
        break;
    }
    return Status::ok();
  }

 private:
  std::string tag_;
  std::vector<TensorInfo> inputs_;
  TensorInfo output_;
  EinsumPlan plan_;
};

}  // namespace

Prepared prepare_einsum(const PrepareContext& ctx) {
  ctx.allow_attributes({"equation"});
  ctx.require_inputs(1, kMaxEinsumInputs);
  if (!ctx.has_attr("equation")) ctx.fail("attribute equation is required");
  std::string eq;
  for (char c : ctx.attr_string("equation", "")) {
    if (c != ' ') eq += c;
  }
  const std::size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<Term> terms;
  for (std::size_t start = 0;;) {
    const std::size_t comma = lhs.find(',', start);
    terms.push_back(parse_term(ctx, lhs.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ctx.num_inputs()) {
    ctx.fail("equation '" + eq + "' has " + std::to_string(terms.size()) + " terms for " +
             std::to_string(ctx.num_inputs()) + " inputs");
  }
  const DType dtype = ctx.input(0).dtype;
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64 && dtype != DType::kInt32 &&
      dtype != DType::kInt64) {
    ctx.unsupported("Einsum on " + std::string(dtype_name(dtype)) +
                    " is not implemented (float32, float64, int32, int64 are)");
  }
  // The broadcast rank of '...' and each input's own.
  std::vector<std::int64_t> ellipsis_ranks;
  std::int64_t broadcast_rank = 0;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    require_static_shape(ctx, i);
    if (ctx.input(i).dtype != dtype) ctx.fail("inputs must share one dtype");
    const auto rank = static_cast<std::int64_t>(ctx.input(i).shape.size());
    const auto letters = static_cast<std::int64_t>(terms[i].letters.size());
    const std::int64_t e = terms[i].ellipsis_at >= 0 ? rank - letters : 0;
    if (e < 0 || (terms[i].ellipsis_at < 0 && rank != letters)) {
      ctx.fail("term " + std::to_string(i) + " of '" + eq + "' does not match input rank " +
               std::to_string(rank));
    }
    if (e > kMaxShapeOpRank) ctx.fail("'...' covers more than 16 dims");
    ellipsis_ranks.push_back(e);
    broadcast_rank = std::max(broadcast_rank, e);
  }
  // Label sizes: every use agrees, or is 1 (broadcast).
  std::array<std::int64_t, kMaxLabels> size;
  size.fill(-1);
  std::array<int, kMaxLabels> uses{};
  std::vector<std::vector<int>> ids(terms.size());
  for (std::size_t i = 0; i < terms.size(); ++i) {
    ids[i] = expand_term(terms[i], ellipsis_ranks[i], broadcast_rank);
    const Shape& shape = ctx.input(i).shape;
    for (std::size_t d = 0; d < ids[i].size(); ++d) {
      const auto l = static_cast<std::size_t>(ids[i][d]);
      ++uses[l];
      if (size[l] == -1 || size[l] == 1) {
        size[l] = size[l] == 1 && shape[d] == 1 ? 1 : std::max(size[l], shape[d]);
      } else if (shape[d] != size[l] && shape[d] != 1) {
        ctx.fail("subscript sizes disagree in '" + eq + "' (" + std::to_string(shape[d]) + " vs " +
                 std::to_string(size[l]) + ")");
      }
    }
  }
  // Output labels.
  std::vector<int> out_ids;
  if (arrow != std::string::npos) {
    const Term out = parse_term(ctx, eq.substr(arrow + 2));
    if (out.ellipsis_at < 0 && broadcast_rank > 0) {
      ctx.fail("equation '" + eq + "' has '...' in its inputs but not in its output");
    }
    out_ids = expand_term(out, broadcast_rank, broadcast_rank);
    for (int id : out.letters) {
      if (uses[static_cast<std::size_t>(id)] == 0) {
        ctx.fail("output subscript of '" + eq + "' is in no input");
      }
    }
  } else {
    for (std::int64_t e = 0; e < broadcast_rank; ++e)
      out_ids.push_back(kLetters + static_cast<int>(e));
    std::vector<std::pair<char, int>> once;  // ASCII order: upper case before lower case
    for (int id = 0; id < kLetters; ++id) {
      if (uses[static_cast<std::size_t>(id)] == 1) {
        once.emplace_back(static_cast<char>(id < 26 ? 'a' + id : 'A' + id - 26), id);
      }
    }
    std::sort(once.begin(), once.end());
    for (const auto& [c, id] : once) out_ids.push_back(id);
  }
  // Loop order: output labels, then every other used label (summed).
  std::vector<int> loop = out_ids;
  for (std::size_t a = 0; a < loop.size(); ++a) {
    for (std::size_t b = a + 1; b < loop.size(); ++b) {
      if (loop[a] == loop[b]) ctx.fail("output of '" + eq + "' repeats a subscript");
    }
  }
  for (int l = 0; l < kMaxLabels; ++l) {
    if (uses[static_cast<std::size_t>(l)] > 0 &&
        std::find(loop.begin(), loop.end(), l) == loop.end()) {
      loop.push_back(l);
    }
  }
  EinsumPlan plan;
  plan.inputs = static_cast<int>(terms.size());
  plan.out_labels = static_cast<int>(out_ids.size());
  plan.labels = static_cast<int>(loop.size());
  Shape out_shape;
  for (std::size_t k = 0; k < loop.size(); ++k) {
    plan.sizes[k] = size[static_cast<std::size_t>(loop[k])];
    if (static_cast<int>(k) < plan.out_labels) out_shape.push_back(plan.sizes[k]);
  }
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const Shape& shape = ctx.input(i).shape;
    const std::vector<std::int64_t> strides = shape_strides(shape);
    for (std::size_t d = 0; d < ids[i].size(); ++d) {
      const auto k =
          static_cast<std::size_t>(std::find(loop.begin(), loop.end(), ids[i][d]) - loop.begin());
      // A size-1 dim broadcast against a larger label size stays on its one element.
      if (shape[d] == plan.sizes[k]) plan.strides[i][k] += strides[d];
    }
  }
  require_valid_shape(ctx, out_shape, "output shape");
  std::vector<TensorInfo> infos;
  for (std::size_t i = 0; i < terms.size(); ++i) infos.push_back(ctx.input(i));
  Prepared p;
  p.outputs = {TensorInfo{dtype, out_shape}};
  p.kernel = std::make_unique<EinsumKernel>(node_tag(ctx), std::move(infos), p.outputs[0], plan);
  return p;
}

}  // namespace dnnfi
