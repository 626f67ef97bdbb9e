// Region-limited propagation (fi/row_regions.h): the row rules against hand-computed receptive
// fields and a brute-force one, and the cone on bands of rows against whole-node recomputation
// and the full strategy, bit for bit, on a graph with every kind of row rule. The graphs are
// small, so bands are allowed on values of any size (min_band_bytes 0).
#include <gtest/gtest.h>

#include <bit>
#include <filesystem>
#include <iterator>
#include <limits>
#include <random>

#include "common/fixtures.h"
#include "common/onnx_builder.h"
#include "exec/model_file.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

Tensor random_tensor(Shape shape, std::uint64_t seed) {
  Tensor t(DType::kFloat32, std::move(shape));
  const auto v = random_values(static_cast<std::size_t>(t.numel()), seed, 1.0f);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

// The models' common end: x -> GlobalAveragePool -> Flatten -> Gemm(wg, transB) -> y, the
// graph's output; saved to `path` and prepared (channels-last if asked).
std::shared_ptr<const Session> finish_model(test::OnnxBuilder& b, const std::string& x,
                                            const std::string& path, bool channels_last) {
  b.node("GlobalAveragePool", {x}, {"gap"}, "gap");
  b.node("Flatten", {"gap"}, {"flat"}, "flatten");
  auto& gm = b.node("Gemm", {"flat", "wg"}, {"y"}, "gemm");
  test::OnnxBuilder::set_int(gm, "transB", 1);
  b.output("y");
  SessionOptions opts;
  opts.channels_last = channels_last;
  return Session::create(load_model(b.save(path)), opts);
}

// x [1,3,23,17] -> Conv 3x3 pad 1 -> Relu -> Conv 3x3 stride 2 dilation 2 pad 2 -> Sigmoid
//   -> MaxPool 3x3 stride 2 ceil_mode -> AveragePool 2x2 stride 1 pads (1,0,1,0) -> conv1x1 (a)
//   and Conv 5x1 stride 1 pads (2,0,2,0) (b) -> Concat(a, b) axis 1 -> BatchNormalization
//   -> Add(bn, bias [C,1,1]) -> GlobalAveragePool -> Flatten -> Gemm -> y [1,5].
// Output heights: 23, 12, 6, 6 (+1 from padding: 7), 7, 7.
std::shared_ptr<const Session> band_model(const std::string& dir, bool channels_last = false) {
  test::OnnxBuilder b;
  b.input("x", {1, 3, 23, 17});
  b.initializer("w1", {6, 3, 3, 3}, random_values(6 * 3 * 9, 1, 0.5f));
  b.initializer("b1", {6}, random_values(6, 2, 0.1f));
  b.initializer("w2", {8, 6, 3, 3}, random_values(8 * 6 * 9, 3, 0.4f));
  b.initializer("w3", {4, 8, 1, 1}, random_values(4 * 8, 4, 0.5f));
  b.initializer("w4", {4, 8, 5, 1}, random_values(4 * 8 * 5, 5, 0.3f));
  b.initializer("scale", {8}, random_values(8, 6, 1.0f));
  b.initializer("shift", {8}, random_values(8, 7, 0.2f));
  b.initializer("mean", {8}, random_values(8, 8, 0.1f));
  b.initializer("var", {8}, std::vector<float>(8, 0.7f));
  b.initializer("bias", {8, 1, 1}, random_values(8, 9, 0.3f));
  b.initializer("wg", {5, 8}, random_values(40, 10, 0.6f));
  using B = test::OnnxBuilder;
  auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  B::set_ints(c1, "pads", {1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto& c2 = b.node("Conv", {"r1", "w2"}, {"c2"}, "conv2");
  B::set_ints(c2, "strides", {2, 2});
  B::set_ints(c2, "dilations", {2, 2});
  B::set_ints(c2, "pads", {2, 2, 2, 2});
  b.node("Sigmoid", {"c2"}, {"s2"}, "sigmoid");
  auto& mp = b.node("MaxPool", {"s2"}, {"p1"}, "maxpool");
  B::set_ints(mp, "kernel_shape", {3, 3});
  B::set_ints(mp, "strides", {2, 2});
  B::set_int(mp, "ceil_mode", 1);
  auto& ap = b.node("AveragePool", {"p1"}, {"p2"}, "avgpool");
  B::set_ints(ap, "kernel_shape", {2, 2});
  B::set_ints(ap, "pads", {1, 0, 1, 0});
  B::set_int(ap, "count_include_pad", 1);
  b.node("Conv", {"p2", "w3"}, {"a"}, "conv_a");
  auto& cb = b.node("Conv", {"p2", "w4"}, {"bb"}, "conv_b");
  B::set_ints(cb, "pads", {2, 0, 2, 0});
  auto& cat = b.node("Concat", {"a", "bb"}, {"cat"}, "concat");
  B::set_int(cat, "axis", 1);
  b.node("BatchNormalization", {"cat", "scale", "shift", "mean", "var"}, {"bn"}, "bn");
  b.node("Add", {"bn", "bias"}, {"sum"}, "add");
  return finish_model(b, "sum", dir + "/bands.onnx", channels_last);
}

int node_index(const Session& s, const std::string& name) { return s.graph().find_node(name); }

TEST(RowRegions, RulesMatchHandComputedReceptiveFields) {
  const std::string dir = test::temp_dir("bands");
  auto s = band_model(dir);
  RowRegions regions(s, 0);  // every rank-4 value, however small
  const int conv1 = node_index(*s, "conv1"), conv2 = node_index(*s, "conv2");
  const int relu = node_index(*s, "relu1"), gap = node_index(*s, "gap");
  const int maxpool = node_index(*s, "maxpool"), avgpool = node_index(*s, "avgpool");
  EXPECT_EQ(regions.rule(relu).kind, RowRule::Kind::kPointwise);
  EXPECT_EQ(regions.rule(conv2).kind, RowRule::Kind::kWindow);
  EXPECT_EQ(regions.rule(gap).kind, RowRule::Kind::kNone);
  EXPECT_EQ(regions.rule(node_index(*s, "concat")).kind, RowRule::Kind::kPointwise);
  EXPECT_EQ(regions.rule(node_index(*s, "add")).kind, RowRule::Kind::kPointwise);
  // 3x3, stride 1, pad 1: input row 4 is read by output rows 3, 4, 5.
  RowSpan r = regions.reached(conv1, {4, 5});
  EXPECT_EQ(r.lo, 3);
  EXPECT_EQ(r.hi, 6);
  // Row 0 by output rows 0 and 1 only (row -1 does not exist).
  r = regions.reached(conv1, {0, 1});
  EXPECT_EQ(r.lo, 0);
  EXPECT_EQ(r.hi, 2);
  // Output rows [0, 2) read input rows [-1, 3): rows [0, 3) and one row of top padding.
  std::int64_t pt = -1, pb = -1;
  RowSpan in = regions.needed(conv1, {0, 2}, pt, pb);
  EXPECT_EQ(in.lo, 0);
  EXPECT_EQ(in.hi, 3);
  EXPECT_EQ(pt, 1);
  EXPECT_EQ(pb, 0);
  // Dilated stride-2 conv2 (extent 5, pad 2): output o reads rows 2o-2 .. 2o+2.
  r = regions.reached(conv2, {7, 8});  // 2o-2 <= 7 <= 2o+2  <=>  o in {3, 4}
  EXPECT_EQ(r.lo, 3);
  EXPECT_EQ(r.hi, 5);
  in = regions.needed(conv2, {11, 12}, pt, pb);  // the last row reads 20..24 of 23 rows
  EXPECT_EQ(in.lo, 20);
  EXPECT_EQ(in.hi, 23);
  EXPECT_EQ(pt, 0);
  EXPECT_EQ(pb, 2);
  // MaxPool 3x3 stride 2 over 12 rows, ceil_mode: 6 rows, the last reading rows 10..12.
  r = regions.reached(maxpool, {11, 12});
  EXPECT_EQ(r.lo, 5);
  EXPECT_EQ(r.hi, 6);
  in = regions.needed(maxpool, {5, 6}, pt, pb);
  EXPECT_EQ(pb, 1);  // past the node's own padding (none): no band variant for it
  EXPECT_EQ(regions.variant(maxpool, 1, pt, pb), nullptr);
  // AveragePool 2x2 pads (1, 1) along H over 6 rows: 7 rows, output o reads o-1 and o.
  r = regions.reached(avgpool, {2, 3});
  EXPECT_EQ(r.lo, 2);
  EXPECT_EQ(r.hi, 4);
  std::filesystem::remove_all(dir);
}

// Brute force from the definition: output o reads rows o*s - pad + k*d for k < kernel.
TEST(RowRegions, WindowRuleCoversEveryReadingRow) {
  const std::string dir = test::temp_dir("bands");
  auto s = band_model(dir);
  RowRegions regions(s, 0);  // every rank-4 value, however small
  struct Geometry {
    const char* node;
    std::int64_t kernel, stride, dilation, pad;
  };
  for (const Geometry& geo : {Geometry{"conv1", 3, 1, 1, 1}, Geometry{"conv2", 3, 2, 2, 2},
                              Geometry{"maxpool", 3, 2, 1, 0}, Geometry{"avgpool", 2, 1, 1, 1},
                              Geometry{"conv_b", 5, 1, 1, 2}}) {
    SCOPED_TRACE(geo.node);
    const int n = node_index(*s, geo.node);
    const RowRule& rule = regions.rule(n);
    for (std::int64_t row = 0; row < rule.in_h; ++row) {
      std::int64_t lo = rule.out_h, hi = 0;
      for (std::int64_t o = 0; o < rule.out_h; ++o) {
        for (std::int64_t k = 0; k < geo.kernel; ++k) {
          if (o * geo.stride - geo.pad + k * geo.dilation == row) {
            lo = std::min(lo, o);
            hi = std::max(hi, o + 1);
          }
        }
      }
      const RowSpan r = regions.reached(n, {row, row + 1});
      if (hi > lo) {
        EXPECT_LE(r.lo, lo) << row;
        EXPECT_GE(r.hi, hi) << row;
      }
      // Dilation leaves holes the band may cover; without it the band is exact.
      if (geo.dilation == 1) {
        EXPECT_EQ(r.size(), std::max<std::int64_t>(hi - lo, 0)) << row;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

// `trials` trials of random faults on every float32 value (weights and the graph input included;
// two faults in every `pair_every`-th trial; bit 30 in every third, so that faults survive to the
// output): the cone on bands, the cone on whole nodes and the full strategy give the same outcome
// and outputs, bit for bit. Counts go to `tally`.
struct ConeTally {
  std::size_t banded = 0, in_place = 0, changed = 0;
};

void check_cone_equals_whole_and_full(const Injector& inj, const GoldenRun& golden,
                                      std::uint64_t seed, int trials, int pair_every,
                                      TrialWorkspace& ws_band, ConeTally& tally) {
  const Session& s = inj.session();
  std::mt19937_64 gen(seed);
  TrialWorkspace ws_whole, ws_full;
  TrialOptions band, whole, full;
  band.keep_outputs = whole.keep_outputs = full.keep_outputs = true;
  whole.row_regions = false;
  full.strategy = Strategy::kFull;
  for (int t = 0; t < trials; ++t) {
    std::vector<Fault> faults;
    for (int k = 0; k < (t % pair_every == pair_every - 1 ? 2 : 1); ++k) {
      Fault f = test::random_fp32_site_fault(s, gen);
      f.model =
          FaultModel{FaultModelKind::kBitFlip, {t % 3 == 0 ? 30 : static_cast<int>(gen() % 32)}};
      faults.push_back(f);
    }
    const TrialResult a = inj.run_trial(golden, faults, band, ws_band);
    const TrialResult b = inj.run_trial(golden, faults, whole, ws_whole);
    const TrialResult c = inj.run_trial(golden, faults, full, ws_full);
    ASSERT_EQ(a.outcome, c.outcome) << t;
    ASSERT_EQ(b.outcome, c.outcome) << t;
    ASSERT_EQ(a.outputs.size(), 1u);
    ASSERT_TRUE(a.outputs[0].bit_equal(c.outputs[0])) << t;
    ASSERT_TRUE(b.outputs[0].bit_equal(c.outputs[0])) << t;
    EXPECT_EQ(b.nodes_banded, 0u);
    EXPECT_EQ(b.nodes_in_place, 0u);
    EXPECT_LE(a.nodes_in_place, a.nodes_banded);
    tally.banded += a.nodes_banded;
    tally.in_place += a.nodes_in_place;
    tally.changed += a.outcome != Outcome::kMasked;
  }
}

TEST(RowRegions, BandsEqualWholeNodesAndFullRecomputation) {
  const std::string dir = test::temp_dir("bands");
  auto s = band_model(dir);
  Injector inj(s, 0);
  GoldenRun golden = inj.golden({random_tensor({1, 3, 23, 17}, 11)});
  TrialWorkspace ws_band;
  ConeTally tally;
  check_cone_equals_whole_and_full(inj, golden, 99, 600, 7, ws_band, tally);
  if (HasFatalFailure()) return;
  EXPECT_GT(tally.banded, 600u);  // most trials recompute some nodes on bands
  EXPECT_GT(tally.changed, 100u);
  // The workspaces left the golden cache as it was.
  TrialResult none = inj.run_trial(golden, {}, TrialOptions{}, ws_band);
  EXPECT_EQ(none.outcome, Outcome::kMasked);
  std::filesystem::remove_all(dir);
}

// A Keras-style channels-last graph: each convolution between two Transposes, the bias add and
// the activations on NHWC values (rows on axis 1).
TEST(RowRegions, ChannelsLastRowsFollowTransposes) {
  const std::string dir = test::temp_dir("bands");
  test::OnnxBuilder b;
  using B = test::OnnxBuilder;
  b.input("x", {1, 19, 13, 3});
  b.initializer("w1", {5, 3, 3, 3}, random_values(5 * 27, 21, 0.5f));
  b.initializer("bias1", {5}, random_values(5, 22, 0.2f));
  b.initializer("w2", {4, 5, 3, 3}, random_values(4 * 45, 23, 0.4f));
  b.initializer("wg", {3, 4}, random_values(12, 24, 0.6f));
  auto& t1 = b.node("Transpose", {"x"}, {"x_nchw"}, "to_nchw1");
  B::set_ints(t1, "perm", {0, 3, 1, 2});
  auto& c1 = b.node("Conv", {"x_nchw", "w1"}, {"c1"}, "conv1");
  B::set_ints(c1, "pads", {1, 1, 1, 1});
  auto& t2 = b.node("Transpose", {"c1"}, {"c1_nhwc"}, "to_nhwc1");
  B::set_ints(t2, "perm", {0, 2, 3, 1});
  b.node("Add", {"c1_nhwc", "bias1"}, {"biased"}, "bias_add");
  b.node("Relu", {"biased"}, {"r1"}, "relu1");
  auto& t3 = b.node("Transpose", {"r1"}, {"r1_nchw"}, "to_nchw2");
  B::set_ints(t3, "perm", {0, 3, 1, 2});
  auto& c2 = b.node("Conv", {"r1_nchw", "w2"}, {"c2"}, "conv2");
  B::set_ints(c2, "strides", {2, 2});
  auto& t4 = b.node("Transpose", {"c2"}, {"c2_nhwc"}, "to_nhwc2");
  B::set_ints(t4, "perm", {0, 2, 3, 1});
  b.node("Sigmoid", {"c2_nhwc"}, {"s2"}, "sigmoid");
  auto& mean = b.node("ReduceMean", {"s2"}, {"pooled"}, "gap");
  B::set_ints(mean, "axes", {1, 2});
  B::set_int(mean, "keepdims", 0);
  auto& gm = b.node("Gemm", {"pooled", "wg"}, {"y"}, "dense");
  B::set_int(gm, "transB", 1);
  b.output("y");
  auto s = Session::create(load_model(b.save(dir + "/nhwc.onnx")));
  RowRegions regions(s, 0);  // every rank-4 value, however small
  const Graph& g = s->graph();
  EXPECT_EQ(regions.axis(g.find_value("x")), 1);
  EXPECT_EQ(regions.axis(g.find_value("x_nchw")), 2);
  EXPECT_EQ(regions.axis(g.find_value("biased")), 1);
  EXPECT_EQ(regions.axis(g.find_value("r1")), 1);
  EXPECT_EQ(regions.rule(g.find_node("to_nchw2")).kind, RowRule::Kind::kPointwise);
  EXPECT_EQ(regions.rule(g.find_node("bias_add")).kind, RowRule::Kind::kPointwise);
  // Element (0, h=7, w=2, c=1) of r1 lies in row 7.
  EXPECT_EQ(regions.row_of(g.find_value("r1"), (7 * 13 + 2) * 5 + 1), 7);

  Injector inj(s, 0);
  GoldenRun golden = inj.golden({random_tensor({1, 19, 13, 3}, 25)});
  std::mt19937_64 gen(7);
  TrialWorkspace ws_band, ws_full;
  TrialOptions band, full;
  band.keep_outputs = full.keep_outputs = true;
  full.strategy = Strategy::kFull;
  std::size_t banded = 0;
  for (int t = 0; t < 300; ++t) {
    Fault f = test::random_fp32_site_fault(*s, gen);
    f.model =
        FaultModel{FaultModelKind::kBitFlip, {t % 2 == 0 ? 30 : static_cast<int>(gen() % 32)}};
    const TrialResult a = inj.run_trial(golden, {&f, 1}, band, ws_band);
    const TrialResult c = inj.run_trial(golden, {&f, 1}, full, ws_full);
    ASSERT_EQ(a.outcome, c.outcome) << t;
    ASSERT_TRUE(a.outputs[0].bit_equal(c.outputs[0])) << t;
    banded += a.nodes_banded;
  }
  EXPECT_GT(banded, 300u);
  std::filesystem::remove_all(dir);
}

// x [1,6,20,18] -> depthwise Conv 3x3 pad 1 (+bias) -> BatchNormalization -> Clip [0, 6]
//   -> depthwise 3x3 stride 2 pad 1 (d2) and depthwise 5x5 stride 2 pad 2 (d3)
//   -> Add(d2, d3) -> Mul(., d2) -> Sub(., d3) -> Div(., d2) -> Relu -> Concat(., d3) on channels
//   -> GlobalAveragePool -> Flatten -> Gemm -> y [1,4]. Every node up to the Concat has a kernel
//   that computes rows in place
// (Kernel::run_rows; the depthwise ones where the CPU has AVX-512), and the binary ops meet
// corrupted inputs with different bands.
std::shared_ptr<const Session> in_place_model(const std::string& dir) {
  test::OnnxBuilder b;
  using B = test::OnnxBuilder;
  b.input("x", {1, 6, 20, 18});
  b.initializer("wd1", {6, 1, 3, 3}, random_values(54, 31, 0.6f));
  b.initializer("bd1", {6}, random_values(6, 32, 0.2f));
  b.initializer("scale", {6}, random_values(6, 33, 1.0f));
  b.initializer("shift", {6}, random_values(6, 34, 0.2f));
  b.initializer("mean", {6}, random_values(6, 35, 0.1f));
  b.initializer("var", {6}, std::vector<float>(6, 0.8f));
  b.initializer("lo", {}, {0.0f});
  b.initializer("hi", {}, {6.0f});
  b.initializer("wd2", {6, 1, 3, 3}, random_values(54, 36, 0.5f));
  b.initializer("wd3", {6, 1, 5, 5}, random_values(150, 37, 0.3f));
  b.initializer("wg", {4, 12}, random_values(48, 38, 0.6f));
  auto& d1 = b.node("Conv", {"x", "wd1", "bd1"}, {"d1"}, "dw1");
  B::set_ints(d1, "pads", {1, 1, 1, 1});
  B::set_int(d1, "group", 6);
  b.node("BatchNormalization", {"d1", "scale", "shift", "mean", "var"}, {"n1"}, "bn");
  b.node("Clip", {"n1", "lo", "hi"}, {"c1"}, "clip");
  auto& d2 = b.node("Conv", {"c1", "wd2"}, {"d2"}, "dw2");
  B::set_ints(d2, "pads", {1, 1, 1, 1});
  B::set_ints(d2, "strides", {2, 2});
  B::set_int(d2, "group", 6);
  auto& d3 = b.node("Conv", {"c1", "wd3"}, {"d3"}, "dw3");
  B::set_ints(d3, "pads", {2, 2, 2, 2});
  B::set_ints(d3, "strides", {2, 2});
  B::set_int(d3, "group", 6);
  b.node("Add", {"d2", "d3"}, {"a"}, "add");
  b.node("Mul", {"a", "d2"}, {"m"}, "mul");
  b.node("Sub", {"m", "d3"}, {"s"}, "sub");
  b.node("Div", {"s", "d2"}, {"q"}, "div");
  b.node("Relu", {"q"}, {"r"}, "relu");
  auto& cat = b.node("Concat", {"r", "d3"}, {"cat"}, "concat");
  B::set_int(cat, "axis", 1);
  return finish_model(b, "cat", dir + "/in_place.onnx", false);
}

// Each kernel's rows against its whole run, on inputs whose band rows hold NaN, infinities,
// signed zeros and subnormals: rows [lo, hi) equal run() on the input the rows describe, bit for
// bit, and every other row of the output is left as it was.
TEST(RowRegions, KernelRowsEqualTheWholeKernel) {
  const std::string dir = test::temp_dir("bands");
  auto s = in_place_model(dir);
  Injector inj(s, 0);
  const GoldenRun golden = inj.golden({random_tensor({1, 6, 20, 18}, 41)});
  const Graph& g = s->graph();
  std::mt19937_64 gen(5);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            -0.0f,
                            0.0f,
                            1e-40f,
                            -3e-39f,
                            6.0f,
                            7.5f};
  int kernels_with_rows = 0;
  for (int n : s->run_order()) {
    const Node& node = g.nodes[static_cast<std::size_t>(n)];
    const Shape& out_shape = s->info(node.outputs[0]).shape;
    if (out_shape.size() != 4 || node.op_type == "GlobalAveragePool") continue;
    SCOPED_TRACE(node.name);
    bool computed = false;
    for (int t = 0; t < 40; ++t) {
      // Input 0 (and input 1 of a binary op) gets a band of corrupted rows.
      std::vector<Tensor> bands, composed;
      std::vector<RowInput> rows(node.inputs.size());
      std::vector<const Tensor*> whole(node.inputs.size());
      const std::size_t sliced = node.op_type == "Add" || node.op_type == "Mul" ||
                                         node.op_type == "Sub" || node.op_type == "Div" ||
                                         node.op_type == "Concat"
                                     ? 2
                                     : 1;
      bands.reserve(sliced);
      composed.reserve(sliced);
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        const Tensor& gt = golden.store[node.inputs[i]];
        rows[i].rest = &gt;
        whole[i] = &gt;
        if (i >= sliced) continue;
        const std::int64_t h = gt.shape()[2];
        const std::int64_t lo = static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(h));
        const std::int64_t hi =
            lo + 1 + static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(h - lo));
        Tensor band = gt.clone();
        Tensor full = gt.clone();
        const std::int64_t w = gt.shape()[3], planes = gt.shape()[0] * gt.shape()[1];
        for (std::int64_t p = 0; p < planes; ++p) {
          for (std::int64_t r = 0; r < h; ++r) {
            for (std::int64_t c = 0; c < w; ++c) {
              const std::int64_t k = (p * h + r) * w + c;
              float v = band.data<float>()[k] * 3.0f - 0.5f;
              if (gen() % 5 == 0) v = specials[gen() % std::size(specials)];
              band.data<float>()[k] = v;
              if (r >= lo && r < hi) full.data<float>()[k] = v;
              // Outside its band a band tensor is stale: garbage the kernel must not read.
              if (r < lo || r >= hi) band.data<float>()[k] = 12345.0f;
            }
          }
        }
        bands.push_back(std::move(band));
        composed.push_back(std::move(full));
        rows[i].band = &bands.back();
        rows[i].lo = lo;
        rows[i].hi = hi;
        whole[i] = &composed.back();
      }
      Tensor expected(s->info(node.outputs[0]).dtype, out_shape);
      Tensor* outs[1] = {&expected};
      ASSERT_TRUE(s->kernel(n).run(whole, outs).is_ok());
      const std::int64_t oh = out_shape[2];
      const std::int64_t lo = static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(oh));
      const std::int64_t hi =
          lo + 1 + static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(oh - lo));
      Tensor got(s->info(node.outputs[0]).dtype, out_shape);
      for (std::int64_t k = 0; k < got.numel(); ++k) got.data<float>()[k] = -777.0f;
      if (!s->kernel(n).run_rows(rows, got, lo, hi)) break;
      computed = true;
      const std::int64_t ow = out_shape[3];
      for (std::int64_t k = 0; k < got.numel(); ++k) {
        const std::int64_t r = (k / ow) % oh;
        const float want = r >= lo && r < hi ? expected.data<float>()[k] : -777.0f;
        ASSERT_EQ(std::bit_cast<std::uint32_t>(got.data<float>()[k]),
                  std::bit_cast<std::uint32_t>(want))
            << "trial " << t << " element " << k << " row " << r << " rows [" << lo << ", " << hi
            << ")";
      }
    }
    kernels_with_rows += computed;
  }
  // BatchNormalization, Clip, Add, Mul, Sub, Div, Relu and Concat at least (the depthwise
  // convolutions too with AVX-512).
  EXPECT_GE(kernels_with_rows, 8);
  std::filesystem::remove_all(dir);
}

// The cone with kernels computing rows in place against whole nodes and the full strategy, bit
// for bit, faults on every value (weights included: a corrupted BatchNormalization parameter
// or Clip bound is read from its corrupted copy, in place or not).
TEST(RowRegions, InPlaceRowsEqualWholeNodesAndFullRecomputation) {
  const std::string dir = test::temp_dir("bands");
  auto s = in_place_model(dir);
  Injector inj(s, 0);
  GoldenRun golden = inj.golden({random_tensor({1, 6, 20, 18}, 43)});
  TrialWorkspace ws_band;
  ConeTally tally;
  check_cone_equals_whole_and_full(inj, golden, 17, 600, 5, ws_band, tally);
  if (HasFatalFailure()) return;
  EXPECT_GT(tally.in_place, 1000u);
  EXPECT_GT(tally.changed, 60u);
  std::filesystem::remove_all(dir);
}

// x [1,3,21,19] -> Conv 3x3 pad 1 -> Relu -> depthwise 3x3 stride 2 pad 1 -> Clip [0, 6]
//   -> Conv 1x1 (a) and MaxPool 3x3 pad 1 (p) -> Concat(a, p) on channels -> BatchNormalization
//   -> Relu -> Add(., concat) -> Conv 3x3 -> Pad (all pads 0) -> AveragePool 2x2 stride 2
//   (torchvision's DenseNet transition) -> Pad (H 1, 1; W 2, 0) -> AveragePool 3x3 (Inception's
//   count_include_pad pool) -> GlobalAveragePool -> Flatten -> Gemm -> y [1,4].
// In a channels-last session every value from the first Conv's output to the GlobalAveragePool's
// input is held NHWC.
std::shared_ptr<const Session> nhwc_model(const std::string& dir, bool channels_last) {
  test::OnnxBuilder b;
  using B = test::OnnxBuilder;
  b.input("x", {1, 3, 21, 19});
  b.initializer("w1", {8, 3, 3, 3}, random_values(8 * 27, 51, 0.5f));
  b.initializer("wd", {8, 1, 3, 3}, random_values(72, 52, 0.6f));
  b.initializer("lo", {}, {0.0f});
  b.initializer("hi", {}, {6.0f});
  b.initializer("wa", {6, 8, 1, 1}, random_values(48, 53, 0.5f));
  b.initializer("scale", {14}, random_values(14, 54, 1.0f));
  b.initializer("shift", {14}, random_values(14, 55, 0.2f));
  b.initializer("mean", {14}, random_values(14, 56, 0.1f));
  b.initializer("var", {14}, std::vector<float>(14, 0.9f));
  b.initializer("wc", {5, 14, 3, 3}, random_values(5 * 14 * 9, 57, 0.3f));
  b.initializer("wg", {4, 5}, random_values(20, 58, 0.6f));
  auto& c1 = b.node("Conv", {"x", "w1"}, {"c1"}, "conv1");
  B::set_ints(c1, "pads", {1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto& dw = b.node("Conv", {"r1", "wd"}, {"d"}, "dw");
  B::set_ints(dw, "pads", {1, 1, 1, 1});
  B::set_ints(dw, "strides", {2, 2});
  B::set_int(dw, "group", 8);
  b.node("Clip", {"d", "lo", "hi"}, {"k"}, "clip");
  b.node("Conv", {"k", "wa"}, {"a"}, "conv_a");
  auto& mp = b.node("MaxPool", {"k"}, {"p"}, "maxpool");
  B::set_ints(mp, "kernel_shape", {3, 3});
  B::set_ints(mp, "pads", {1, 1, 1, 1});
  auto& cat = b.node("Concat", {"a", "p"}, {"cat"}, "concat");
  B::set_int(cat, "axis", 1);
  b.node("BatchNormalization", {"cat", "scale", "shift", "mean", "var"}, {"n"}, "bn");
  b.node("Relu", {"n"}, {"r2"}, "relu2");
  b.node("Add", {"r2", "cat"}, {"s"}, "add");
  b.node("Conv", {"s", "wc"}, {"c2"}, "conv2");
  b.initializer_i64("zero_pads", {8}, std::vector<std::int64_t>(8, 0));
  b.node("Pad", {"c2", "zero_pads"}, {"padded"}, "pad");
  auto& ap = b.node("AveragePool", {"padded"}, {"pooled"}, "avgpool");
  B::set_ints(ap, "kernel_shape", {2, 2});
  B::set_ints(ap, "strides", {2, 2});
  b.initializer_i64("hw_pads", {8}, {0, 0, 1, 2, 0, 0, 1, 0});
  b.node("Pad", {"pooled", "hw_pads"}, {"padded2"}, "pad2");
  auto& ap2 = b.node("AveragePool", {"padded2"}, {"pooled2"}, "avgpool2");
  B::set_ints(ap2, "kernel_shape", {3, 3});
  return finish_model(b, "pooled2", dir + "/nhwc.onnx", channels_last);
}

// A channels-last fault-injection session (SessionOptions::channels_last, values between
// convolutions, pools, the Concat, BatchNormalization and elementwise ops held NHWC): its
// dnnfi-domain convolutions and pools get window rules, its elementwise ops compute rows in place
// on NHWC bytes, and the cone on bands still equals whole nodes and the full strategy, bit for
// bit, on both graphs.
TEST(RowRegions, ChannelsLastSessionBandsEqualWholeNodesAndFullRecomputation) {
  const std::string dir = test::temp_dir("bands");
  for (bool all_nhwc : {false, true}) {
    SCOPED_TRACE(all_nhwc ? "nhwc_model" : "band_model");
    auto s = all_nhwc ? nhwc_model(dir, true) : band_model(dir, true);
    const Graph& g = s->graph();
    std::size_t nhwc = 0, windows = 0;
    for (std::size_t v = 0; v < g.values.size(); ++v) nhwc += s->nhwc(static_cast<int>(v));
    Injector inj(s, 0);
    RowRegions regions(s, 0);
    for (int n : s->run_order()) {
      const Node& node = g.nodes[static_cast<std::size_t>(n)];
      if (node.domain != "dnnfi" || regions.rule(n).kind != RowRule::Kind::kWindow) continue;
      ++windows;
      // A band of 2 rows inside the tensor (no padding of its own) can be prepared.
      const RowVariant* v = regions.variant(n, 2, 0, 0);
      ASSERT_NE(v, nullptr) << node.name;
      EXPECT_NE(v->kernel, nullptr) << node.name;
    }
    EXPECT_GE(nhwc, all_nhwc ? 15u : 5u);
    EXPECT_GE(windows, all_nhwc ? 6u : 3u);
    GoldenRun golden = inj.golden(
        {all_nhwc ? random_tensor({1, 3, 21, 19}, 43) : random_tensor({1, 3, 23, 17}, 11)});
    TrialWorkspace ws_band;
    ConeTally tally;
    check_cone_equals_whole_and_full(inj, golden, 5, 400, 5, ws_band, tally);
    if (HasFatalFailure()) return;
    EXPECT_GT(tally.banded, 400u);
    EXPECT_GT(tally.in_place, all_nhwc ? 400u : 50u);
    EXPECT_GT(tally.changed, 40u);
  }
  std::filesystem::remove_all(dir);
}

// Faults on every NHWC-held value of `nhwc` (the graph of `plain` on a channels-last session):
// see ChannelsLastFaultsLandOnTheElementTheyName.
void check_faults_land(const std::shared_ptr<const Session>& plain,
                       const std::shared_ptr<const Session>& nhwc, const Tensor& x) {
  Injector a(plain), b(nhwc);
  GoldenRun ga = a.golden({x}), gb = b.golden({x});
  // Fault-free, the two sessions agree within rounding.
  const Tensor& y0a = ga.store[plain->graph().outputs[0]];
  const Tensor& y0b = gb.store[nhwc->graph().outputs[0]];
  for (std::int64_t k = 0; k < y0a.numel(); ++k) {
    EXPECT_NEAR(y0b.data<float>()[k], y0a.data<float>()[k], 1e-4) << "fault-free output " << k;
  }
  std::mt19937_64 gen(3);
  TrialWorkspace wa, wb;
  TrialOptions opt;
  opt.keep_outputs = true;
  int checked = 0;
  for (std::size_t v = 0; v < nhwc->graph().values.size(); ++v) {
    const int id = static_cast<int>(v);
    if (!nhwc->nhwc(id)) continue;
    SCOPED_TRACE(nhwc->graph().values[v].name);
    for (int t = 0; t < 40; ++t) {
      const std::int64_t i =
          static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(nhwc->info(id).numel()));
      Fault f{b.site_of_value(id, i), FaultModel{FaultModelKind::kSetValue}};
      f.model.value = 50.0 + static_cast<double>(t);
      const TrialResult ra = a.run_trial(ga, {&f, 1}, opt, wa);
      const TrialResult rb = b.run_trial(gb, {&f, 1}, opt, wb);
      ASSERT_EQ(rb.applied.size(), 1u);
      const float want = ga.store[id].data<float>()[i];
      EXPECT_NEAR(rb.applied[0].value_before, want, 1e-5 + 1e-5 * std::abs(want)) << i;
      EXPECT_EQ(rb.applied[0].value_after, f.model.value);
      const float* ya = ra.outputs[0].data<float>();
      const float* yb = rb.outputs[0].data<float>();
      for (std::int64_t k = 0; k < ra.outputs[0].numel(); ++k) {
        EXPECT_NEAR(yb[k], ya[k], 1e-4 * (1.0 + std::abs(ya[k]))) << i << " output " << k;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 200);
}

// Fault sites name elements in ONNX (NCHW) order whatever the session's layout: a fault on
// element i of an NHWC-held value finds there the value the NCHW session holds at i (within the
// rounding of the kernels' other summation orders), and setting it to a large value changes the
// outputs as it does in the NCHW session.
TEST(RowRegions, ChannelsLastFaultsLandOnTheElementTheyName) {
  const std::string dir = test::temp_dir("bands");
  for (bool all_nhwc : {false, true}) {
    SCOPED_TRACE(all_nhwc ? "nhwc_model" : "band_model");
    auto plain = all_nhwc ? nhwc_model(dir, false) : band_model(dir, false);
    auto nhwc = all_nhwc ? nhwc_model(dir, true) : band_model(dir, true);
    const Tensor x =
        all_nhwc ? random_tensor({1, 3, 21, 19}, 43) : random_tensor({1, 3, 23, 17}, 11);
    check_faults_land(plain, nhwc, x);
    if (HasFatalFailure()) return;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnnfi
