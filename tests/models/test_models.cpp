// Every architecture fixture runs and matches PyTorch's output; the optimised kernels match the
// reference kernels on whole models.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "common/op_runner.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

std::shared_ptr<const Session> fixture_session(const test::Fixture& f, const Tensor& input,
                                               SessionOptions opts) {
  Graph g = load_model(f.model);
  opts.input_shapes[g.values[g.inputs[0]].name] = input.shape();
  return Session::create(std::move(g), opts);
}

std::vector<Tensor> run_fixture(const test::Fixture& f, bool reference, int threads = 1) {
  Tensor input = load_npy(f.input);
  SessionOptions opts;
  opts.reference_kernels = reference;
  opts.threads = threads;
  auto s = fixture_session(f, input, opts);
  std::vector<Tensor> out;
  const Status st = s->run_once({&input, 1}, out);
  EXPECT_TRUE(st.is_ok()) << f.name << ": " << st.message();
  return out;
}

// |a - e| <= rtol * max|e| + atol elementwise (PyTorch and dnnfi sum in different orders).
void expect_close(const Tensor& a, const Tensor& e, double rtol, const std::string& what) {
  ASSERT_EQ(a.shape(), e.shape()) << what;
  double scale = 0.0;
  for (std::int64_t i = 0; i < e.numel(); ++i)
    scale = std::max(scale, std::abs(e.get_as_double(i)));
  for (std::int64_t i = 0; i < e.numel(); ++i) {
    ASSERT_NEAR(a.get_as_double(i), e.get_as_double(i), rtol * scale + 1e-7)
        << what << " element " << i;
  }
}

TEST(Models, FixturesExist) { EXPECT_GE(test::model_fixtures().size(), 10u); }

TEST(Models, MatchPyTorch) {
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    auto out = run_fixture(f, false);
    ASSERT_FALSE(out.empty());
    Tensor expected = load_npy(f.expected);
    expect_close(out[0], expected, 1e-4, f.name);
    EXPECT_EQ(top1_per_row(out[0]), top1_per_row(expected)) << f.name;
  }
}

TEST(Models, ReferenceKernelsMatchPyTorch) {
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    auto out = run_fixture(f, true);
    ASSERT_FALSE(out.empty());
    expect_close(out[0], load_npy(f.expected), 1e-4, f.name);
  }
}

TEST(Models, TwoThreadsMatchOneThread) {
  for (const auto& f : test::model_fixtures()) {
    auto a = run_fixture(f, false, 1);
    auto b = run_fixture(f, false, 2);
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    expect_close(b[0], a[0], 1e-5, f.name);
  }
}

// A fused session (what `dnnfi run` uses) gives the unfused session's outputs bit for bit, so its
// output also matches PyTorch. Across the fixtures every fusion pattern occurs: Conv+Relu,
// Conv+Clip (MobileNetV2's ReLU6), Conv+Add (MobileNetV2's linear residual), Conv+Add+Relu
// (ResNet), including the depthwise kernel, BatchNormalization+Relu (DenseNet), and a zero Pad
// folded into the AveragePool after it (Inception-v3).
TEST(Models, FusedSessionEqualsUnfusedBitForBit) {
  std::map<std::string, int> patterns;
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    Tensor input = load_npy(f.input);
    SessionOptions fuse;
    fuse.fuse = true;
    auto fused = fixture_session(f, input, fuse);
    auto plain = fixture_session(f, input, {});
    for (int n : fused->run_order()) {
      const Node& node = fused->graph().nodes[static_cast<std::size_t>(n)];
      if (node.op_type == "BatchNormalizationRelu") ++patterns["BatchNormalizationRelu"];
      if (node.op_type != "FusedConv") continue;
      auto act = node.attributes.find("activation");
      std::string key = node.inputs.size() == 4 ? "Add" : "";
      if (act != node.attributes.end()) key += act->second.s;
      ++patterns[key];
    }
    EXPECT_LE(fused->run_order().size(), plain->run_order().size());
    for (int n : plain->run_order()) {
      patterns["Pad folded"] += plain->graph().nodes[static_cast<std::size_t>(n)].op_type == "Pad";
    }
    for (int n : fused->run_order()) {
      patterns["Pad folded"] -= fused->graph().nodes[static_cast<std::size_t>(n)].op_type == "Pad";
    }
    std::vector<Tensor> a, b;
    ASSERT_TRUE(fused->run_once({&input, 1}, a).is_ok());
    ValueStore full = plain->make_store();  // the golden-run path: every value its own buffer
    ASSERT_TRUE(plain->run(full, {&input, 1}).is_ok());
    b = plain->outputs(full);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].bit_equal(b[i])) << "output " << i;
  }
  EXPECT_GT(patterns["Relu"], 0);
  EXPECT_GT(patterns["Clip"], 0);
  EXPECT_GT(patterns["Add"], 0);
  EXPECT_GT(patterns["AddRelu"], 0);
  EXPECT_GT(patterns["BatchNormalizationRelu"], 0);
  EXPECT_GT(patterns["Pad folded"], 0);  // into a following AveragePool
}

// What `dnnfi run` runs: fused, channels-last between convolutions. Its arithmetic may differ
// from the unfused session's in the last bits (other oneDNN kernels), so it is held to PyTorch
// like the plain session, and the fixtures must exercise channels-last values: convolution
// outputs, fused summands, pools and Concats.
TEST(Models, ChannelsLastSessionMatchesPyTorch) {
  int channels_last = 0, summands = 0, pools_and_concats = 0;
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    Tensor input = load_npy(f.input);
    SessionOptions opts;
    opts.fuse = true;
    opts.channels_last = true;
    auto s = fixture_session(f, input, opts);
    for (int n : s->run_order()) {
      const auto& attrs = s->graph().nodes[static_cast<std::size_t>(n)].attributes;
      channels_last += attrs.count("dst_layout");
      summands += attrs.count("sum_layout");
      pools_and_concats += attrs.count("layout");
    }
    for (int threads : {1, 2}) {
      SessionOptions t = opts;
      t.threads = threads;
      std::vector<Tensor> out;
      ASSERT_TRUE(fixture_session(f, input, t)->run_once({&input, 1}, out).is_ok());
      expect_close(out[0], load_npy(f.expected), 1e-4, f.name);
      EXPECT_EQ(top1_per_row(out[0]), top1_per_row(load_npy(f.expected))) << f.name;
    }
  }
  EXPECT_GT(channels_last, 5);
  EXPECT_GT(summands, 0);
  EXPECT_GT(pools_and_concats, 0);
}

// Only a zero Pad of the spatial axes is folded into the AveragePool after it: a Pad with a
// non-zero value, a reflect Pad, or one padding channels stays, and every output still equals the
// unfused session's bit for bit.
TEST(Models, OnlyZeroSpatialPadsFoldIntoAveragePool) {
  test::OnnxBuilder b;
  b.input("x", {1, 4, 6, 6}).output("y0").output("y1").output("y2").output("y3");
  b.initializer_i64("spatial", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  b.initializer_i64("channels", {8}, {0, 1, 1, 1, 0, 0, 1, 1});
  b.initializer("one", {}, {1.0f});
  b.node("Pad", {"x", "spatial"}, {"p0"});
  b.node("Pad", {"x", "spatial", "one"}, {"p1"});
  onnx::NodeProto& reflect = b.node("Pad", {"x", "spatial"}, {"p2"});
  onnx::AttributeProto* mode = reflect.add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("reflect");
  b.node("Pad", {"x", "channels"}, {"p3"});
  for (int i = 0; i < 4; ++i) {
    onnx::NodeProto& pool =
        b.node("AveragePool", {"p" + std::to_string(i)}, {"y" + std::to_string(i)});
    test::OnnxBuilder::set_ints(pool, "kernel_shape", {3, 3});
  }
  const std::string path = b.save(test::temp_dir("pad_fold") + "/pad.onnx");
  SessionOptions fuse;
  fuse.fuse = true;
  auto fused = Session::create(load_model(path), fuse);
  auto plain = Session::create(load_model(path), {});
  int pads = 0;
  for (int n : fused->run_order()) {
    pads += fused->graph().nodes[static_cast<std::size_t>(n)].op_type == "Pad";
  }
  EXPECT_EQ(pads, 3);
  const Tensor x = test::random_tensor({1, 4, 6, 6}, 3);
  std::vector<Tensor> a, e;
  ASSERT_TRUE(fused->run_once({&x, 1}, a).is_ok());
  ASSERT_TRUE(plain->run_once({&x, 1}, e).is_ok());
  ASSERT_EQ(a.size(), 4u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].bit_equal(e[i])) << "y" << i;
}

// The planned store's arena: two values whose lifetimes (producing step to last reading step)
// overlap never share a byte, graph inputs and outputs keep their own buffers, and the arena is
// smaller than one buffer per value.
TEST(Models, MemoryPlanNeverOverlapsLiveValues) {
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    Tensor input = load_npy(f.input);
    for (bool fuse : {false, true}) {
      SessionOptions opts;
      opts.fuse = fuse;
      opts.channels_last = fuse;
      auto s = fixture_session(f, input, opts);
      const Graph& g = s->graph();
      const MemoryPlan& plan = s->memory_plan();
      std::map<int, std::pair<int, int>> life;  // planned value -> [first, last] step
      const auto& order = s->run_order();
      for (std::size_t step = 0; step < order.size(); ++step) {
        const Node& node = g.nodes[static_cast<std::size_t>(order[step])];
        for (int v : node.outputs) {
          if (v != kNoValue && plan.offset[v] != MemoryPlan::kNotPlanned) {
            life[v] = {static_cast<int>(step), static_cast<int>(step)};
          }
        }
        for (int v : node.inputs) {
          if (v == kNoValue || plan.offset[v] == MemoryPlan::kNotPlanned) continue;
          ASSERT_TRUE(life.count(v)) << "value " << g.values[v].name << " read before written";
          life[v].second = static_cast<int>(step);
        }
      }
      for (int v : g.inputs) EXPECT_EQ(plan.offset[v], MemoryPlan::kNotPlanned);
      for (int v : g.outputs) EXPECT_EQ(plan.offset[v], MemoryPlan::kNotPlanned);
      for (auto i = life.begin(); i != life.end(); ++i) {
        const std::size_t a0 = plan.offset[i->first], a1 = a0 + s->info(i->first).nbytes();
        EXPECT_LE(a1, plan.arena_bytes);
        for (auto j = std::next(i); j != life.end(); ++j) {
          const bool live_together =
              i->second.first <= j->second.second && j->second.first <= i->second.second;
          const std::size_t b0 = plan.offset[j->first], b1 = b0 + s->info(j->first).nbytes();
          const bool share = a0 < b1 && b0 < a1;
          EXPECT_FALSE(live_together && share)
              << g.values[i->first].name << " and " << g.values[j->first].name;
        }
      }
      EXPECT_LT(plan.arena_bytes, plan.unplanned_bytes);
    }
  }
}

TEST(Models, FaultInjectionRefusesFusedSession) {
  const auto f = test::default_model_fixture();
  Tensor input = load_npy(f.input);
  SessionOptions opts;
  opts.fuse = true;
  auto s = fixture_session(f, input, opts);
  EXPECT_THROW(Injector{s}, InputError);
}

TEST(Models, DefaultModelMatchesPyTorch) {
  const auto f = test::default_model_fixture();
  auto out = run_fixture(f, false);
  ASSERT_FALSE(out.empty());
  expect_close(out[0], load_npy(f.expected), 1e-4, f.name);
  // models/fmnist_sample_label.txt: the sample is an ankle boot (9), and the model says so.
  EXPECT_EQ(top1_per_row(out[0]), std::vector<std::int64_t>{9});
}

}  // namespace
}  // namespace dnnfi
