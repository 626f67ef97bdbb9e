// RNN, GRU and LSTM (ONNX opsets 7 and 14): one plain reference kernel for the family.
//
// Inputs: X, W, R, B, sequence_lens, initial_h (and initial_c, P for LSTM); outputs Y, Y_h (and
// Y_c), any of them omitted. Gate order is ONNX's: GRU z, r, h; LSTM i, o, f, c; peepholes i, o, f.
// layout 0: X [seq, batch, input], Y [seq, dirs, batch, hidden], states [dirs, batch, hidden];
// layout 1 (opset 14): X [batch, seq, input], Y [batch, seq, dirs, hidden], states
// [batch, dirs, hidden].
//
// Choices where the spec is silent (they match ONNX Runtime):
// - `clip` bounds every gate's pre-activation to [-clip, clip];
// - activation_alpha / activation_beta are consumed in order by the activations that take them;
//   when the list runs out an activation takes its operator's default;
// - a bidirectional node given only one direction's activations uses them for both;
// - LSTM input_forget couples the gates: f = 1 - i;
// - steps at or past a batch entry's sequence length give zeros in Y; Y_h / Y_c hold the state
//   after the last valid step (the initial state for a length of 0).
// sequence_lens is data: each value is checked against [0, seq_length] on every run.
// Sums are accumulated in double. Scratch lives in a thread_local buffer that only grows.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

enum class RnnKind { kRnn, kGru, kLstm };

enum class ActKind {
  kRelu,
  kTanh,
  kSigmoid,
  kAffine,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kHardSigmoid,
  kElu,
  kSoftsign,
  kSoftplus
};

struct Activation {
  ActKind kind = ActKind::kTanh;
  double alpha = 0;
  double beta = 0;

  double operator()(double x) const {
    switch (kind) {
      case ActKind::kRelu:
        return x > 0 ? x : 0;
      case ActKind::kTanh:
        return std::tanh(x);
      case ActKind::kSigmoid:
        return 1.0 / (1.0 + std::exp(-x));
      case ActKind::kAffine:
        return alpha * x + beta;
      case ActKind::kLeakyRelu:
        return x >= 0 ? x : alpha * x;
      case ActKind::kThresholdedRelu:
        return x > alpha ? x : 0;
      case ActKind::kScaledTanh:
        return alpha * std::tanh(beta * x);
      case ActKind::kHardSigmoid:
        return std::clamp(alpha * x + beta, 0.0, 1.0);
      case ActKind::kElu:
        return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
      case ActKind::kSoftsign:
        return x / (1.0 + std::fabs(x));
      case ActKind::kSoftplus:
        return std::log1p(std::exp(x));
    }
    return x;
  }
};

struct RnnConfig {
  RnnKind kind = RnnKind::kRnn;
  int gates = 1;  // RNN 1, GRU 3, LSTM 4
  std::int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1;
  bool reverse_only = false;  // direction == "reverse"
  bool layout1 = false;
  bool has_clip = false;
  double clip = 0;
  bool linear_before_reset = false;
  bool input_forget = false;
  std::vector<Activation> acts;  // per direction: acts_per_dir entries, forward first
  int acts_per_dir = 1;
  TensorInfo x, w, r, b, lens, h0, c0, p;
  bool has[8] = {};  // which inputs are present
};

class RnnKernel final : public Kernel {
 public:
  RnnKernel(std::string tag, RnnConfig cfg) : tag_(std::move(tag)), c_(std::move(cfg)) {}

  Status run(std::span<const Tensor* const> in, std::span<Tensor* const> out) const override {
    const TensorInfo* infos[8] = {&c_.x, &c_.w, &c_.r, &c_.b, &c_.lens, &c_.h0, &c_.c0, &c_.p};
    for (std::size_t i = 0; i < 8; ++i) {
      if (c_.has[i]) DNNFI_RETURN_IF_ERROR(check_data_input(tag_, in, i, *infos[i]));
    }
    const std::int64_t S = c_.seq, N = c_.batch, I = c_.input, H = c_.hidden;
    if (c_.has[4]) {
      for (std::int64_t n = 0; n < N; ++n) {
        const std::int64_t len = index_value(*in[4], n);
        if (len < 0 || len > S) {
          return run_error(tag_, "sequence length " + std::to_string(len) + " of batch entry " +
                                     std::to_string(n) + " is outside [0, " + std::to_string(S) +
                                     "]");
        }
      }
    }
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* r = in[2]->data<float>();
    const float* bias = c_.has[3] ? in[3]->data<float>() : nullptr;
    const float* h0 = c_.has[5] ? in[5]->data<float>() : nullptr;
    const float* c0 = c_.has[6] ? in[6]->data<float>() : nullptr;
    const float* peep = c_.has[7] ? in[7]->data<float>() : nullptr;
    float* y = out.size() > 0 && out[0] != nullptr ? out[0]->data<float>() : nullptr;
    float* yh = out.size() > 1 && out[1] != nullptr ? out[1]->data<float>() : nullptr;
    float* yc = out.size() > 2 && out[2] != nullptr ? out[2]->data<float>() : nullptr;
    if (y != nullptr) std::fill(y, y + out[0]->numel(), 0.0f);

    // Scratch: h, c, new h, and gate values (G * H).
    thread_local std::vector<double> scratch;
    const std::size_t need = static_cast<std::size_t>((3 + c_.gates) * H);
    if (scratch.size() < need) scratch.resize(need);
    double* h = scratch.data();
    double* c = h + H;
    double* hn = c + H;
    double* g = hn + H;

    const std::int64_t GH = c_.gates * H;
    for (std::int64_t d = 0; d < c_.dirs; ++d) {
      const bool backward = c_.reverse_only || d == 1;
      const float* wd = w + d * GH * I;
      const float* rd = r + d * GH * H;
      const float* wb = bias ? bias + d * 2 * GH : nullptr;
      const float* rb = bias ? wb + GH : nullptr;
      const float* pd = peep ? peep + d * 3 * H : nullptr;
      const Activation* act = &c_.acts[static_cast<std::size_t>(d * c_.acts_per_dir)];
      for (std::int64_t n = 0; n < N; ++n) {
        const std::int64_t state_off = c_.layout1 ? (n * c_.dirs + d) * H : (d * N + n) * H;
        for (std::int64_t j = 0; j < H; ++j) {
          h[j] = h0 ? h0[state_off + j] : 0.0;
          c[j] = c0 ? c0[state_off + j] : 0.0;
        }
        const std::int64_t len = c_.has[4] ? index_value(*in[4], n) : S;
        for (std::int64_t s = 0; s < len; ++s) {
          const std::int64_t t = backward ? len - 1 - s : s;
          const float* xt = x + (c_.layout1 ? (n * S + t) * I : (t * N + n) * I);
          step(xt, wd, rd, wb, rb, pd, act, h, c, hn, g);
          if (y != nullptr) {
            float* yt = y + (c_.layout1 ? ((n * S + t) * c_.dirs + d) * H
                                        : ((t * c_.dirs + d) * N + n) * H);
            for (std::int64_t j = 0; j < H; ++j) yt[j] = static_cast<float>(h[j]);
          }
        }
        for (std::int64_t j = 0; j < H; ++j) {
          if (yh != nullptr) yh[state_off + j] = static_cast<float>(h[j]);
          if (yc != nullptr) yc[state_off + j] = static_cast<float>(c[j]);
        }
      }
    }
    return Status::ok();
  }

 private:
  double clipped(double v) const { return c_.has_clip ? std::clamp(v, -c_.clip, c_.clip) : v; }

  // Row `row` of W times x plus row `row` of R times h.
  double w_dot(const float* wd, std::int64_t row, const float* xt) const {
    double acc = 0;
    const float* wr = wd + row * c_.input;
    for (std::int64_t k = 0; k < c_.input; ++k) acc += double(wr[k]) * xt[k];
    return acc;
  }
  double r_dot(const float* rd, std::int64_t row, const double* v) const {
    double acc = 0;
    const float* rr = rd + row * c_.hidden;
    for (std::int64_t k = 0; k < c_.hidden; ++k) acc += double(rr[k]) * v[k];
    return acc;
  }

  // One time step: updates h (and c for LSTM) in place. hn and g are scratch.
  void step(const float* xt, const float* wd, const float* rd, const float* wb, const float* rb,
            const float* pd, const Activation* act, double* h, double* c, double* hn,
            double* g) const {
    const std::int64_t H = c_.hidden;
    auto bias = [&](std::int64_t row) { return wb ? double(wb[row]) + double(rb[row]) : 0.0; };
    switch (c_.kind) {
      case RnnKind::kRnn:
        for (std::int64_t j = 0; j < H; ++j) {
          hn[j] = act[0](clipped(w_dot(wd, j, xt) + r_dot(rd, j, h) + bias(j)));
        }
        std::copy(hn, hn + H, h);
        break;
      case RnnKind::kGru: {
        double* z = g;
        double* rg = g + H;
        double* rh = g + 2 * H;  // r (.) h, for linear_before_reset = 0
        for (std::int64_t j = 0; j < H; ++j) {
          z[j] = act[0](clipped(w_dot(wd, j, xt) + r_dot(rd, j, h) + bias(j)));
          rg[j] = act[0](clipped(w_dot(wd, H + j, xt) + r_dot(rd, H + j, h) + bias(H + j)));
          rh[j] = rg[j] * h[j];
        }
        for (std::int64_t j = 0; j < H; ++j) {
          const std::int64_t row = 2 * H + j;
          const double wbh = wb ? double(wb[row]) : 0.0;
          const double rbh = rb ? double(rb[row]) : 0.0;
          const double pre = c_.linear_before_reset
                                 ? w_dot(wd, row, xt) + wbh + rg[j] * (r_dot(rd, row, h) + rbh)
                                 : w_dot(wd, row, xt) + r_dot(rd, row, rh) + rbh + wbh;
          const double ht = act[1](clipped(pre));
          hn[j] = (1.0 - z[j]) * ht + z[j] * h[j];
        }
        std::copy(hn, hn + H, h);
        break;
      }
      case RnnKind::kLstm: {
        double* cn = g;
        for (std::int64_t j = 0; j < H; ++j) {
          const double pi = pd ? double(pd[j]) : 0.0;
          const double po = pd ? double(pd[H + j]) : 0.0;
          const double pf = pd ? double(pd[2 * H + j]) : 0.0;
          const double it =
              act[0](clipped(w_dot(wd, j, xt) + r_dot(rd, j, h) + pi * c[j] + bias(j)));
          const double ft =
              c_.input_forget ? 1.0 - it
                              : act[0](clipped(w_dot(wd, 2 * H + j, xt) + r_dot(rd, 2 * H + j, h) +
                                               pf * c[j] + bias(2 * H + j)));
          const double ct =
              act[1](clipped(w_dot(wd, 3 * H + j, xt) + r_dot(rd, 3 * H + j, h) + bias(3 * H + j)));
          cn[j] = ft * c[j] + it * ct;
          const double ot = act[0](
              clipped(w_dot(wd, H + j, xt) + r_dot(rd, H + j, h) + po * cn[j] + bias(H + j)));
          hn[j] = ot * act[2](cn[j]);
        }
        std::copy(hn, hn + H, h);
        std::copy(cn, cn + H, c);
        break;
      }
    }
  }

  std::string tag_;
  RnnConfig c_;
};

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Parses the activations attribute (with its alpha / beta lists) into one entry per activation
// slot of every direction.
std::vector<Activation> parse_activations(const PrepareContext& ctx, RnnKind kind,
                                          std::int64_t dirs) {
  std::vector<std::string> defaults;
  switch (kind) {
    case RnnKind::kRnn:
      defaults = {"Tanh"};
      break;
    case RnnKind::kGru:
      defaults = {"Sigmoid", "Tanh"};
      break;
    case RnnKind::kLstm:
      defaults = {"Sigmoid", "Tanh", "Tanh"};
      break;
  }
  std::vector<std::string> names;
  if (ctx.has_attr("activations")) {
    // Attribute kind STRINGS: read through the node's attribute directly.
    const Attribute& a = ctx.node().attributes.at("activations");
    names = a.strings;
  }
  const std::size_t per = defaults.size();
  if (names.empty()) {
    for (std::int64_t d = 0; d < dirs; ++d)
      names.insert(names.end(), defaults.begin(), defaults.end());
  } else if (names.size() == per && dirs == 2) {
    const std::vector<std::string> one = names;
    names.insert(names.end(), one.begin(), one.end());
  } else if (names.size() != per * static_cast<std::size_t>(dirs)) {
    ctx.fail("activations has " + std::to_string(names.size()) + " entries, expected " +
             std::to_string(per * static_cast<std::size_t>(dirs)));
  }
  const std::vector<float> alphas = ctx.attr_floats("activation_alpha");
  const std::vector<float> betas = ctx.attr_floats("activation_beta");
  std::size_t ai = 0, bi = 0;
  auto next_alpha = [&](double fallback) { return ai < alphas.size() ? alphas[ai++] : fallback; };
  auto next_beta = [&](double fallback) { return bi < betas.size() ? betas[bi++] : fallback; };
  std::vector<Activation> acts;
  for (const std::string& name : names) {
    const std::string n = lower(name);
    Activation a;
    if (n == "relu") {
      a.kind = ActKind::kRelu;
    } else if (n == "tanh") {
      a.kind = ActKind::kTanh;
    } else if (n == "sigmoid") {
      a.kind = ActKind::kSigmoid;
    } else if (n == "affine") {
      a.kind = ActKind::kAffine;
      a.alpha = next_alpha(1.0);
      a.beta = next_beta(0.0);
    } else if (n == "leakyrelu") {
      a.kind = ActKind::kLeakyRelu;
      a.alpha = next_alpha(0.01);
    } else if (n == "thresholdedrelu") {
      a.kind = ActKind::kThresholdedRelu;
      a.alpha = next_alpha(1.0);
    } else if (n == "scaledtanh") {
      a.kind = ActKind::kScaledTanh;
      a.alpha = next_alpha(1.0);
      a.beta = next_beta(1.0);
    } else if (n == "hardsigmoid") {
      a.kind = ActKind::kHardSigmoid;
      a.alpha = next_alpha(0.2);
      a.beta = next_beta(0.5);
    } else if (n == "elu") {
      a.kind = ActKind::kElu;
      a.alpha = next_alpha(1.0);
    } else if (n == "softsign") {
      a.kind = ActKind::kSoftsign;
    } else if (n == "softplus") {
      a.kind = ActKind::kSoftplus;
    } else {
      ctx.unsupported("activation '" + name + "' is not supported");
    }
    acts.push_back(a);
  }
  return acts;
}

Prepared prepare_recurrent(const PrepareContext& ctx, RnnKind kind) {
  if (kind == RnnKind::kRnn) {
    ctx.allow_attributes({"activation_alpha", "activation_beta", "activations", "clip", "direction",
                          "hidden_size", "layout"});
  } else if (kind == RnnKind::kGru) {
    ctx.allow_attributes({"activation_alpha", "activation_beta", "activations", "clip", "direction",
                          "hidden_size", "layout", "linear_before_reset"});
  } else {
    ctx.allow_attributes({"activation_alpha", "activation_beta", "activations", "clip", "direction",
                          "hidden_size", "layout", "input_forget"});
  }
  const std::size_t max_inputs = kind == RnnKind::kLstm ? 8 : 6;
  ctx.require_inputs(3, max_inputs);
  RnnConfig cfg;
  cfg.kind = kind;
  cfg.gates = kind == RnnKind::kRnn ? 1 : kind == RnnKind::kGru ? 3 : 4;
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    cfg.has[i] = true;
    require_static_shape(ctx, i);
    if (i == 4) {
      ctx.require_dtype(i, {DType::kInt32, DType::kInt64});
    } else {
      ctx.require_dtype(i, {DType::kFloat32});
    }
  }
  if (!cfg.has[0] || !cfg.has[1] || !cfg.has[2]) ctx.fail("X, W and R are required");
  const std::string direction = ctx.attr_string("direction", "forward");
  if (direction == "forward") {
    cfg.dirs = 1;
  } else if (direction == "reverse") {
    cfg.dirs = 1;
    cfg.reverse_only = true;
  } else if (direction == "bidirectional") {
    cfg.dirs = 2;
  } else {
    ctx.fail("direction must be forward, reverse or bidirectional, is '" + direction + "'");
  }
  const std::int64_t layout = ctx.opset() >= 14 ? ctx.attr_int("layout", 0) : 0;
  if (ctx.opset() < 14 && ctx.has_attr("layout")) ctx.fail("layout needs opset 14");
  if (layout != 0 && layout != 1) ctx.fail("layout must be 0 or 1, is " + std::to_string(layout));
  cfg.layout1 = layout == 1;
  if (ctx.has_attr("clip")) {
    cfg.has_clip = true;
    cfg.clip = ctx.attr_float("clip", 0.0f);
    if (!(cfg.clip >= 0)) ctx.fail("clip must be >= 0");
  }
  cfg.linear_before_reset = kind == RnnKind::kGru && ctx.attr_int("linear_before_reset", 0) != 0;
  cfg.input_forget = kind == RnnKind::kLstm && ctx.attr_int("input_forget", 0) != 0;

  cfg.x = ctx.input(0);
  cfg.w = ctx.input(1);
  cfg.r = ctx.input(2);
  if (cfg.x.shape.size() != 3) ctx.fail("X must be 3-D, is " + shape_to_string(cfg.x.shape));
  cfg.seq = cfg.x.shape[cfg.layout1 ? 1 : 0];
  cfg.batch = cfg.x.shape[cfg.layout1 ? 0 : 1];
  cfg.input = cfg.x.shape[2];
  if (cfg.r.shape.size() != 3) ctx.fail("R must be 3-D, is " + shape_to_string(cfg.r.shape));
  cfg.hidden = ctx.attr_int("hidden_size", cfg.r.shape[2]);
  const std::int64_t D = cfg.dirs, H = cfg.hidden, G = cfg.gates;
  if (H <= 0) ctx.fail("hidden_size must be positive, is " + std::to_string(H));
  auto expect_shape = [&](const TensorInfo& t, const Shape& want, const char* what) {
    if (t.shape != want) {
      ctx.fail(std::string(what) + " has shape " + shape_to_string(t.shape) + ", expected " +
               shape_to_string(want));
    }
  };
  expect_shape(cfg.w, {D, G * H, cfg.input}, "W");
  expect_shape(cfg.r, {D, G * H, H}, "R");
  const Shape state = cfg.layout1 ? Shape{cfg.batch, D, H} : Shape{D, cfg.batch, H};
  if (cfg.has[3]) {
    cfg.b = ctx.input(3);
    expect_shape(cfg.b, {D, 2 * G * H}, "B");
  }
  if (cfg.has[4]) {
    cfg.lens = ctx.input(4);
    expect_shape(cfg.lens, {cfg.batch}, "sequence_lens");
  }
  if (cfg.has[5]) {
    cfg.h0 = ctx.input(5);
    expect_shape(cfg.h0, state, "initial_h");
  }
  if (cfg.has[6]) {
    cfg.c0 = ctx.input(6);
    expect_shape(cfg.c0, state, "initial_c");
  }
  if (cfg.has[7]) {
    cfg.p = ctx.input(7);
    expect_shape(cfg.p, {D, 3 * H}, "P");
  }
  cfg.acts = parse_activations(ctx, kind, D);
  cfg.acts_per_dir = static_cast<int>(cfg.acts.size() / static_cast<std::size_t>(D));

  const std::size_t max_outputs = kind == RnnKind::kLstm ? 3 : 2;
  if (ctx.num_outputs() > max_outputs) {
    ctx.fail("expects at most " + std::to_string(max_outputs) + " outputs");
  }
  const Shape y_shape =
      cfg.layout1 ? Shape{cfg.batch, cfg.seq, D, H} : Shape{cfg.seq, D, cfg.batch, H};
  Prepared p;
  for (std::size_t o = 0; o < ctx.num_outputs(); ++o) {
    p.outputs.push_back(TensorInfo{DType::kFloat32, o == 0 ? y_shape : state});
  }
  p.kernel = std::make_unique<RnnKernel>(node_tag(ctx), std::move(cfg));
  return p;
}

}  // namespace

Prepared prepare_rnn(const PrepareContext& ctx) { return prepare_recurrent(ctx, RnnKind::kRnn); }
Prepared prepare_gru(const PrepareContext& ctx) { return prepare_recurrent(ctx, RnnKind::kGru); }
Prepared prepare_lstm(const PrepareContext& ctx) { return prepare_recurrent(ctx, RnnKind::kLstm); }

}  // namespace dnnfi
