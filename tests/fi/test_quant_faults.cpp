// Fault injection in quantized models (tests/models/quant): bit flips in int8 / uint8 activations,
// int8 weights, float32 weight scales and uint8 zero points run without crashing, propagate
// (including through DequantizeLinear nodes folded at prepare time), give the same result under
// cone and full propagation, and are reproducible.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

const std::filesystem::path kQuantDir =
    std::filesystem::path(DNNFI_SOURCE_DIR) / "tests/models/quant/fmnist_resnet";

struct Loaded {
  std::shared_ptr<const Session> session;
  std::unique_ptr<Injector> injector;
  GoldenRun golden;
  std::vector<Tensor> golden_outputs;
};

Loaded load(const std::string& model) {
  Tensor input = load_npy((kQuantDir / "input.npy").string());
  Graph g = load_model((kQuantDir / model).string());
  SessionOptions opts;
  opts.input_shapes[g.values[static_cast<std::size_t>(g.inputs[0])].name] = input.shape();
  Loaded l;
  l.session = Session::create(std::move(g), opts);
  l.injector = std::make_unique<Injector>(l.session);
  l.golden = l.injector->golden({input});
  EXPECT_TRUE(l.session->run_once({&input, 1}, l.golden_outputs).is_ok());
  return l;
}

// The first value that `pred` accepts.
template <typename Pred>
int find_value(const Session& s, Pred pred) {
  const Graph& g = s.graph();
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    if (pred(g, static_cast<int>(v))) return static_cast<int>(v);
  }
  ADD_FAILURE() << "no such value";
  return -1;
}

Fault bit_flip(const Injector& inj, int value, std::int64_t index, int bit) {
  Fault f;
  f.site = inj.site_of_value(value, index);
  f.model = FaultModel{FaultModelKind::kBitFlip, {bit}};
  inj.validate(f);
  return f;
}

// Runs the fault with cone and full propagation, twice each: all four results must be equal.
TrialResult run_reproducibly(const Loaded& l, const Fault& f) {
  TrialOptions opt;
  opt.keep_outputs = true;
  TrialWorkspace ws;
  opt.strategy = Strategy::kCone;
  const TrialResult first = l.injector->run_trial(l.golden, {&f, 1}, opt, ws);
  for (Strategy s : {Strategy::kCone, Strategy::kFull, Strategy::kFull}) {
    opt.strategy = s;
    TrialWorkspace ws2;
    const TrialResult r = l.injector->run_trial(l.golden, {&f, 1}, opt, ws2);
    EXPECT_EQ(r.outcome, first.outcome) << strategy_name(s);
    EXPECT_EQ(r.outputs.size(), first.outputs.size());
    for (std::size_t i = 0; i < r.outputs.size() && i < first.outputs.size(); ++i) {
      EXPECT_TRUE(r.outputs[i].bit_equal(first.outputs[i])) << strategy_name(s);
    }
  }
  EXPECT_EQ(first.applied.size(), 1u);
  return first;
}

bool changes_output(const Loaded& l, const TrialResult& r) {
  return !r.outputs.empty() && !r.outputs[0].bit_equal(l.golden_outputs[0]);
}

TEST(QuantFaults, BitFlipInUint8ActivationOfQLinearConv) {
  const Loaded l = load("model_qop.onnx");
  const int v = find_value(*l.session, [](const Graph& g, int v) {
    const Value& val = g.values[static_cast<std::size_t>(v)];
    return val.producer >= 0 &&
           g.nodes[static_cast<std::size_t>(val.producer)].op_type == "QLinearConv" &&
           val.info.dtype == DType::kUInt8;
  });
  ASSERT_GE(v, 0);
  for (int bit : {0, 7}) {
    const TrialResult r = run_reproducibly(l, bit_flip(*l.injector, v, 5, bit));
    ASSERT_EQ(r.applied.size(), 1u);
    EXPECT_EQ(r.applied[0].dtype, DType::kUInt8);
    EXPECT_EQ(r.applied[0].bits_before ^ r.applied[0].bits_after, 1u << bit);
    EXPECT_NE(r.outcome, Outcome::kDUE) << r.error;
  }
}

TEST(QuantFaults, BitFlipInWeightScaleOfQLinearConv) {
  const Loaded l = load("model_qop.onnx");
  // w_scale (input 4) of the first QLinearConv: per output channel, float32.
  const Graph& g = l.session->graph();
  int w_scale = -1;
  for (const Node& n : g.nodes) {
    if (n.op_type == "QLinearConv") {
      w_scale = n.inputs[4];
      break;
    }
  }
  ASSERT_GE(w_scale, 0);
  ASSERT_EQ(l.session->info(w_scale).dtype, DType::kFloat32);
  // Bit 30 (exponent MSB) makes the scale ~1e38: the channel saturates.
  const TrialResult r = run_reproducibly(l, bit_flip(*l.injector, w_scale, 0, 30));
  EXPECT_EQ(r.applied[0].fault.site.kind, SiteKind::kWeight);
  EXPECT_NE(r.applied[0].value_before, r.applied[0].value_after);
  EXPECT_TRUE(changes_output(l, r));
  // The sign bit makes the scale negative: still data, never a crash.
  run_reproducibly(l, bit_flip(*l.injector, w_scale, 1, 31));
}

TEST(QuantFaults, QdqWeightFaultsPropagateThroughFoldedDequantize) {
  const Loaded l = load("model.onnx");
  const Graph& g = l.session->graph();
  // The first DequantizeLinear of a weight: int8 data, float32 per-channel scale.
  const Node* dq = nullptr;
  for (const Node& n : g.nodes) {
    const Value& x = g.values[static_cast<std::size_t>(n.inputs[0])];
    if (n.op_type == "DequantizeLinear" && x.is_initializer && x.info.dtype == DType::kInt8) {
      dq = &n;
      break;
    }
  }
  ASSERT_NE(dq, nullptr);
  const TrialResult scale = run_reproducibly(l, bit_flip(*l.injector, dq->inputs[1], 0, 30));
  EXPECT_TRUE(changes_output(l, scale));
  const TrialResult weight = run_reproducibly(l, bit_flip(*l.injector, dq->inputs[0], 0, 7));
  EXPECT_EQ(weight.applied[0].dtype, DType::kInt8);
  EXPECT_EQ(weight.applied[0].bits_before ^ weight.applied[0].bits_after, 0x80u);
  // A uint8 activation zero point: every element of that activation shifts.
  const int zp = find_value(*l.session, [](const Graph& gr, int v) {
    const Value& val = gr.values[static_cast<std::size_t>(v)];
    return val.is_initializer && val.info.dtype == DType::kUInt8 && val.info.numel() == 1;
  });
  ASSERT_GE(zp, 0);
  run_reproducibly(l, bit_flip(*l.injector, zp, 0, 6));
}

// Random single and double faults over every site of both forms (uint8 / int8 activations and
// weights, int32 biases, float32 scales and activations, graph input), random bits of the site's
// width: cone, superlayer and full propagation give bit-identical outputs and outcomes.
TEST(QuantFaults, RandomFaultsConeSuperlayerFullAgree) {
  for (const char* model : {"model.onnx", "model_qop.onnx"}) {
    SCOPED_TRACE(model);
    const Loaded l = load(model);
    const Session& s = *l.session;
    const Graph& g = s.graph();
    std::vector<int> candidates;
    for (std::size_t v = 0; v < g.values.size(); ++v) {
      if (s.info(static_cast<int>(v)).numel() > 0) candidates.push_back(static_cast<int>(v));
    }
    std::mt19937_64 gen(99);
    auto random_fault = [&] {
      const int v = candidates[gen() % candidates.size()];
      const TensorInfo& info = s.info(v);
      const int width = static_cast<int>(dtype_size(info.dtype)) * 8;
      return bit_flip(*l.injector, v,
                      static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(info.numel())),
                      static_cast<int>(gen() % static_cast<std::uint64_t>(width)));
    };
    TrialOptions opt;
    opt.keep_outputs = true;
    TrialWorkspace ws_cone, ws_super, ws_full;
    std::size_t masked = 0, total = 0;
    for (int t = 0; t < 80; ++t) {
      std::vector<Fault> faults{random_fault()};
      if (t % 10 == 9) faults.push_back(random_fault());
      opt.strategy = Strategy::kCone;
      const TrialResult cone = l.injector->run_trial(l.golden, faults, opt, ws_cone);
      opt.strategy = Strategy::kSuperlayer;
      const TrialResult super = l.injector->run_trial(l.golden, faults, opt, ws_super);
      opt.strategy = Strategy::kFull;
      const TrialResult full = l.injector->run_trial(l.golden, faults, opt, ws_full);
      for (const TrialResult* r : {&cone, &super}) {
        ASSERT_EQ(r->outcome, full.outcome)
            << "trial " << t << " " << r->error << " site value "
            << g.values[static_cast<std::size_t>(faults[0].site.value)].name << " kind "
            << site_kind_name(faults[0].site.kind) << " index " << faults[0].site.flat_index
            << " bit " << faults[0].model.bits[0] << " dtype "
            << dtype_name(s.info(faults[0].site.value).dtype) << " applied " << r->applied.size()
            << "/" << faults.size() << " strategy " << (r == &cone ? "cone" : "super") << " nodes "
            << r->nodes_computed << "/" << full.nodes_computed;
        ASSERT_EQ(r->outputs.size(), full.outputs.size());
        for (std::size_t i = 0; i < full.outputs.size(); ++i) {
          ASSERT_TRUE(r->outputs[i].bit_equal(full.outputs[i])) << "trial " << t;
        }
      }
      masked += cone.outcome == Outcome::kMasked;
      ++total;
    }
    EXPECT_GT(masked, 0u);
    EXPECT_LT(masked, total);
  }
}

}  // namespace
}  // namespace dnnfi
