// QDQ fusion of inference sessions (exec/qdq_fusion.h): a fused QDQ model computes what ONNX
// Runtime computes. The oracles are ORT's own: its outputs at level 'all' (ort_expected.npy) and
// its own QOperator rewrite of each QDQ fixture (model_qop.onnx, made at level 'extended'), whose
// node types the fused session must run and whose every intermediate 8-bit tensor it must
// reproduce bit for bit (dnnfi runs the QOperator models bit-identically to ORT,
// test_quantized.cpp). Groups that must not fuse are built here and must run as written.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "common/onnx_builder.h"
#include "common/op_runner.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"

namespace dnnfi {
namespace {

const std::filesystem::path kQuantDir =
    std::filesystem::path(DNNFI_SOURCE_DIR) / "tests/models/quant";
const char* const kFixtures[] = {"fmnist_resnet", "resnet_basic", "mobilenet_v2"};

// What `dnnfi run` prepares (fused, channels-last), or its reference-kernel variant.
SessionOptions inference_options(bool reference) {
  SessionOptions o;
  o.fuse = true;
  o.channels_last = !reference;
  o.reference_kernels = reference;
  return o;
}

std::shared_ptr<const Session> load_session(const std::filesystem::path& model,
                                            const Shape& input_shape, SessionOptions opts) {
  Graph g = load_model(model.string());
  opts.input_shapes[g.values[static_cast<std::size_t>(g.inputs[0])].name] = input_shape;
  return Session::create(std::move(g), opts);
}

// The op types a session runs; dnnfi.Requantize, what inference sessions make of a remaining
// DequantizeLinear -> QuantizeLinear pair, counts as that pair.
std::map<std::string, int> run_op_types(const Session& s) {
  std::map<std::string, int> count;
  for (int n : s.run_order()) {
    const Node& node = s.graph().nodes[static_cast<std::size_t>(n)];
    if (node.domain == "dnnfi" && node.op_type == "Requantize") {
      ++count["DequantizeLinear"];
      ++count["QuantizeLinear"];
    } else {
      ++count[node.op_type];
    }
  }
  return count;
}

// Runs both sessions with every value in its own buffer and compares the 8-bit values computed in
// `a` with the values of the same name computed in `b`. Returns the number of values compared;
// adds the elements that differ to *mismatches.
int compare_8bit_values(const Session& a, const Session& b, const Tensor& input, int* mismatches) {
  ValueStore sa = a.make_store(), sb = b.make_store();
  EXPECT_TRUE(a.run(sa, {&input, 1}).is_ok());
  EXPECT_TRUE(b.run(sb, {&input, 1}).is_ok());
  std::vector<bool> computed_in_b(b.graph().values.size(), false);
  for (int n : b.run_order()) {
    for (int v : b.graph().nodes[static_cast<std::size_t>(n)].outputs) {
      if (v != kNoValue) computed_in_b[static_cast<std::size_t>(v)] = true;
    }
  }
  int compared = 0;
  for (int n : a.run_order()) {
    for (int v : a.graph().nodes[static_cast<std::size_t>(n)].outputs) {
      if (v == kNoValue) continue;
      const Tensor& ta = sa[v];
      if (ta.dtype() != DType::kUInt8 && ta.dtype() != DType::kInt8) continue;
      const int w = b.graph().find_value(a.graph().values[static_cast<std::size_t>(v)].name);
      if (w < 0 || !computed_in_b[static_cast<std::size_t>(w)]) continue;
      const Tensor& tb = sb[w];
      EXPECT_EQ(ta.info(), tb.info()) << a.graph().values[static_cast<std::size_t>(v)].name;
      if (ta.info() != tb.info()) continue;
      ++compared;
      const auto* pa = static_cast<const std::uint8_t*>(ta.raw());
      const auto* pb = static_cast<const std::uint8_t*>(tb.raw());
      for (std::size_t i = 0; i < ta.nbytes(); ++i) *mismatches += pa[i] != pb[i];
    }
  }
  return compared;
}

// The fused QDQ model gives ORT's output (level 'all', its int8 kernels) bit for bit, and the
// output of dnnfi running ORT's QOperator rewrite of it.
TEST(QdqFusion, FixturesEqualOnnxRuntimeBitForBit) {
  for (const char* fixture : kFixtures) {
    for (bool reference : {false, true}) {
      SCOPED_TRACE(std::string(fixture) + (reference ? " (reference kernels)" : ""));
      const std::filesystem::path dir = kQuantDir / fixture;
      const Tensor input = load_npy((dir / "input.npy").string());
      auto fused = load_session(dir / "model.onnx", input.shape(), inference_options(reference));
      SessionOptions plain;
      plain.reference_kernels = reference;
      auto qop = load_session(dir / "model_qop.onnx", input.shape(), plain);
      std::vector<Tensor> y, y_qop;
      ASSERT_TRUE(fused->run_once({&input, 1}, y).is_ok());
      ASSERT_TRUE(qop->run_once({&input, 1}, y_qop).is_ok());
      const Tensor expected = load_npy((dir / "ort_expected.npy").string());
      EXPECT_TRUE(y[0].bit_equal(expected));
      EXPECT_TRUE(y[0].bit_equal(y_qop[0]));
    }
  }
}

// The fused session runs the node types of ORT's rewrite (every Conv a QLinearConv, Add a
// QLinearAdd, Gemm a QGemm, GlobalAveragePool a QLinearGlobalAveragePool, Relu / ReLU6 Clip
// dropped before their Q, MaxPool / Flatten on uint8, the remaining DQ -> Q requantizations), and
// every 8-bit tensor both compute is bit-identical, on the fixture input and on random ones. The
// session as written (fp32 between DQ and Q) differs on some of them: the comparison can fail.
TEST(QdqFusion, FixturesRunOrtsQOperatorGraph) {
  int written_mismatches = 0;
  for (const char* fixture : kFixtures) {
    SCOPED_TRACE(fixture);
    const std::filesystem::path dir = kQuantDir / fixture;
    const Tensor fixture_input = load_npy((dir / "input.npy").string());
    const Shape shape = fixture_input.shape();
    // Fused but NCHW: channels-last intermediates (assign_channels_last) hold the same values in
    // another byte order; the final outputs are compared in the test above.
    SessionOptions nchw = inference_options(false);
    nchw.channels_last = false;
    auto fused = load_session(dir / "model.onnx", shape, nchw);
    auto written = load_session(dir / "model.onnx", shape, {});
    auto qop = load_session(dir / "model_qop.onnx", shape, {});

    const std::map<std::string, int> ops = run_op_types(*fused);
    EXPECT_EQ(ops, run_op_types(*qop));
    int convs = 0;
    for (const Node& n : written->graph().nodes) convs += n.op_type == "Conv";
    EXPECT_GE(convs, 6);
    EXPECT_EQ(ops.count("QLinearConv") ? ops.at("QLinearConv") : 0, convs);
    for (const char* op :
         {"Conv", "FusedConv", "Relu", "Clip", "Add", "Gemm", "GlobalAveragePool"}) {
      EXPECT_EQ(ops.count(op), 0u) << op;
    }
    EXPECT_EQ(ops.count("QGemm"), 1u);
    EXPECT_EQ(ops.count("QLinearGlobalAveragePool"), 1u);
    EXPECT_GE(ops.count("QLinearAdd"), 1u);

    for (std::uint32_t seed = 0; seed < 4; ++seed) {
      const Tensor input =
          seed == 0 ? fixture_input : test::random_tensor(shape, seed, -2.0f, 2.0f);
      int mismatches = 0;
      const int compared = compare_8bit_values(*fused, *qop, input, &mismatches);
      EXPECT_EQ(mismatches, 0) << "input " << seed;
      EXPECT_GE(compared, convs) << "input " << seed;
      compare_8bit_values(*written, *qop, input, &written_mismatches);
    }
  }
  EXPECT_GT(written_mismatches, 0);
}

// Groups our quantizer does not write (tests/models/quant/make_qdq_groups.py): a Gemm read by no
// Q (a float-output QGemm), Q nodes writing the other 8-bit type than their input (Conv, Gemm;
// ORT first makes int8 activations uint8, dnnfi keeps them: same values), int8 activations
// (GlobalAveragePool, Flatten), MatMul, Mul, and Reshape / Transpose between equal parameters. As
// for the fixtures:
// ORT's node types, ORT's output and every 8-bit tensor of dnnfi running ORT's rewrite, bit for
// bit (ORT's float-output QGemm differs from the graph as written in 7 of 12 elements).
TEST(QdqFusion, OtherGroupsEqualOnnxRuntimeBitForBit) {
  for (const char* probe : {"qdq_gemm_float_out", "qdq_mixed_types", "qdq_matmul_mul_reshape"}) {
    SCOPED_TRACE(probe);
    const std::filesystem::path dir = kQuantDir / probe;
    const Tensor input = load_npy((dir / "input.npy").string());
    auto fused = load_session(dir / "model.onnx", input.shape(), inference_options(false));
    auto qop = load_session(dir / "model_qop.onnx", input.shape(), {});
    const std::map<std::string, int> ops = run_op_types(*fused);
    EXPECT_EQ(ops, run_op_types(*qop));
    for (const char* op : {"Conv", "Gemm", "MatMul", "Add", "Mul"}) EXPECT_EQ(ops.count(op), 0u);
    std::vector<Tensor> y;
    ASSERT_TRUE(fused->run_once({&input, 1}, y).is_ok());
    EXPECT_TRUE(y[0].bit_equal(load_npy((dir / "ort_expected.npy").string())));
    int mismatches = 0;
    compare_8bit_values(*fused, *qop, input, &mismatches);
    EXPECT_EQ(mismatches, 0);
  }
}

// Small QDQ models: x -> Q -> DQ, w (int8, per channel) -> DQ, b (int32) -> DQ, Conv -> Q -> DQ
// -> y, with one change each; or the QLinearConv model ORT would make of it.
struct ConvCase {
  float bias_scale_factor = 1.0f;  // bias scale = factor * x_scale * w_scale
  bool weight_is_input = false;    // the int8 weight is a graph input, not a constant
  bool int8_output = false;        // the Q after the Conv writes int8 (x is uint8)
  bool conv_is_output = false;     // the Conv's float output is also a graph output
  bool x_dq_read_twice = false;    // DQ(x) also feeds a Relu whose output is a graph output
  bool qoperator = false;          // write QLinearConv instead
};

void add_initializer(test::OnnxBuilder& b, const std::string& name, int type,
                     std::vector<std::int64_t> dims, const std::vector<double>& values) {
  onnx::TensorProto* t = b.model().mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (std::int64_t d : dims) t->add_dims(d);
  std::string raw;
  for (double v : values) {
    char bytes[4];
    std::size_t n = 1;
    if (type == onnx::TensorProto::FLOAT) {
      const float f = static_cast<float>(v);
      std::memcpy(bytes, &f, n = 4);
    } else if (type == onnx::TensorProto::INT32) {
      const auto i = static_cast<std::int32_t>(v);
      std::memcpy(bytes, &i, n = 4);
    } else if (type == onnx::TensorProto::INT8) {
      bytes[0] = static_cast<char>(static_cast<std::int8_t>(v));
    } else {
      bytes[0] = static_cast<char>(static_cast<std::uint8_t>(v));
    }
    raw.append(bytes, n);
  }
  t->set_raw_data(raw);
}

constexpr float kXScale = 0.02f;
const float kWScales[3] = {0.01f, 0.02f, 0.015f};

// Small weights and inputs, and an output scale making the int32 requantization multiplier
// x_scale * w_scale / y_scale 1/4, 1/2 and 3/8: many exact ties, which the int32 sum rounds half
// to even and an fp32 convolution (as written) misses by its rounding errors.
const float kYScale = 4.0f * (kXScale * kWScales[0]);

std::vector<double> conv_weights() {
  std::vector<double> w(3 * 2 * 3 * 3);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<double>((i * 37) % 7) - 3.0;
  return w;
}

std::string conv_model(const ConvCase& c, const std::string& name) {
  test::OnnxBuilder b;
  b.input("x", {1, 2, 5, 5}).output("y");
  if (c.conv_is_output) b.output("c");
  if (c.x_dq_read_twice) b.output("r");
  add_initializer(b, "xs", onnx::TensorProto::FLOAT, {}, {kXScale});
  add_initializer(b, "xz", onnx::TensorProto::UINT8, {}, {128});
  add_initializer(b, "ws", onnx::TensorProto::FLOAT, {3}, {kWScales[0], kWScales[1], kWScales[2]});
  add_initializer(b, "wz", onnx::TensorProto::INT8, {3}, {0, 0, 0});
  std::vector<double> bs;
  for (float s : kWScales) bs.push_back(c.bias_scale_factor * (kXScale * s));
  add_initializer(b, "bq", onnx::TensorProto::INT32, {3}, {100, -200, 50});
  add_initializer(b, "bs", onnx::TensorProto::FLOAT, {3}, bs);
  add_initializer(b, "bz", onnx::TensorProto::INT32, {3}, {0, 0, 0});
  add_initializer(b, "ys", onnx::TensorProto::FLOAT, {}, {kYScale});
  add_initializer(b, "yz", c.int8_output ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8, {},
                  {c.int8_output ? -8.0 : 120.0});
  if (c.weight_is_input) {
    b.input("wq", {3, 2, 3, 3}, onnx::TensorProto::INT8);
  } else {
    add_initializer(b, "wq", onnx::TensorProto::INT8, {3, 2, 3, 3}, conv_weights());
  }
  b.node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
  onnx::NodeProto* conv;
  if (c.qoperator) {
    conv = &b.node("QLinearConv", {"xq", "xs", "xz", "wq", "ws", "wz", "ys", "yz", "bq"}, {"yq"});
  } else {
    b.node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
    test::OnnxBuilder::set_int(b.node("DequantizeLinear", {"wq", "ws", "wz"}, {"wd"}), "axis", 0);
    test::OnnxBuilder::set_int(b.node("DequantizeLinear", {"bq", "bs", "bz"}, {"bd"}), "axis", 0);
    conv = &b.node("Conv", {"xd", "wd", "bd"}, {"c"});
    b.node("QuantizeLinear", {"c", "ys", "yz"}, {"yq"});
    if (c.x_dq_read_twice) b.node("Relu", {"xd"}, {"r"});
  }
  test::OnnxBuilder::set_ints(*conv, "kernel_shape", {3, 3});
  test::OnnxBuilder::set_ints(*conv, "pads", {1, 1, 1, 1});
  b.node("DequantizeLinear", {"yq", "ys", "yz"}, {"y"});
  return b.save(test::temp_dir("qdq_fusion") + "/" + name + ".onnx");
}

std::vector<Tensor> run_model(const std::string& path, const SessionOptions& opts,
                              const std::vector<Tensor>& inputs,
                              std::map<std::string, int>* ops = nullptr) {
  auto s = Session::create(load_model(path), opts);
  if (ops) *ops = run_op_types(*s);
  std::vector<Tensor> out;
  const Status st = s->run_once(inputs, out);
  EXPECT_TRUE(st.is_ok()) << st.message();
  return out;
}

// Which of these ORT fuses was checked by saving its rewrite of each (onnxruntime-node 1.30.0,
// level 'extended', optimizedModelFilePath): it fuses the plain group, the one whose weight is a
// graph input, and the one whose DQ(x) also feeds a Relu (duplicating the DQ); not the one with
// a bias scale twice x_scale * w_scale, nor one whose Conv output is also a graph output. It
// also fuses one whose Q writes int8 from uint8 x. A fused group equals the QLinearConv model
// bit for bit; an unfused one runs as written.
TEST(QdqFusion, ConvGroupFusesOnlyWhenOrtsConditionsHold) {
  const Tensor x = test::random_tensor({1, 2, 5, 5}, 7, -0.16f, 0.16f);
  Tensor w(DType::kInt8, {3, 2, 3, 3});
  const std::vector<double> wv = conv_weights();
  for (std::size_t i = 0; i < wv.size(); ++i) w.data<std::int8_t>()[i] = static_cast<int8_t>(wv[i]);

  struct Expectation {
    const char* name;
    ConvCase c;
    bool fuses;
  };
  std::vector<Expectation> cases(6);
  cases[0] = {"plain", {}, true};
  cases[1] = {"bias_scale_2x", {}, false};
  cases[1].c.bias_scale_factor = 2.0f;
  cases[2] = {"weight_input", {}, true};  // ORT fuses a weight computed at run time too
  cases[2].c.weight_is_input = true;
  cases[3] = {"conv_output_read_twice", {}, false};
  cases[3].c.conv_is_output = true;
  cases[4] = {"x_dq_read_twice", {}, true};  // ORT duplicates the DQ, and so fuses
  cases[4].c.x_dq_read_twice = true;
  cases[5] = {"int8_output", {}, true};
  cases[5].c.int8_output = true;
  int steps_apart = 0;
  for (const Expectation& e : cases) {
    SCOPED_TRACE(e.name);
    const std::string path = conv_model(e.c, e.name);
    std::vector<Tensor> inputs(e.c.weight_is_input ? 2 : 1);
    inputs[0] = x;
    if (e.c.weight_is_input) inputs[1] = w;
    std::map<std::string, int> ops;
    const std::vector<Tensor> fused = run_model(path, inference_options(false), inputs, &ops);
    const std::vector<Tensor> written = run_model(path, {}, inputs);
    ASSERT_EQ(fused.size(), written.size());
    EXPECT_EQ(ops.count("QLinearConv"), e.fuses ? 1u : 0u);
    EXPECT_EQ(ops.count("Conv") + ops.count("FusedConv"), e.fuses ? 0u : 1u);
    if (e.fuses) {
      ConvCase qop = e.c;
      qop.qoperator = true;
      qop.x_dq_read_twice = false;
      const Tensor y_qop = run_model(conv_model(qop, std::string(e.name) + "_qop"), {}, inputs)[0];
      EXPECT_TRUE(fused[0].bit_equal(y_qop));
      for (std::int64_t i = 0; i < y_qop.numel(); ++i) {
        steps_apart += fused[0].get_as_double(i) != written[0].get_as_double(i);
      }
      // The DQ of x stays for the Relu that also reads it.
      EXPECT_EQ(ops.count("DequantizeLinear") ? ops.at("DequantizeLinear") : 0,
                e.c.x_dq_read_twice ? 2 : 1);
      for (std::size_t i = 1; i < fused.size(); ++i) EXPECT_TRUE(fused[i].bit_equal(written[i]));
    } else {
      for (std::size_t i = 0; i < fused.size(); ++i) EXPECT_TRUE(fused[i].bit_equal(written[i]));
    }
  }
  // The fused convolution really computes in int32 (ORT's way), not as written.
  EXPECT_GT(steps_apart, 0);
}

// Relu before a Q whose zero point is the type's lowest value, and Clip whose range covers the
// Q's, are dropped (the Q saturates the same values, exactly); otherwise they stay.
TEST(QdqFusion, ActivationBeforeQuantizeDroppedOnlyWhenQSaturatesTheSame) {
  struct Case {
    const char* name;
    const char* op;
    float lo, hi;  // Clip bounds
    int zero_point;
    bool dropped;
  };
  const Case cases[] = {
      {"relu_zp0", "Relu", 0, 0, 0, true},        {"relu_zp10", "Relu", 0, 0, 10, false},
      {"clip_0_6", "Clip", 0.0f, 6.0f, 0, true},  {"clip_0_3", "Clip", 0.0f, 3.0f, 0, false},
      {"clip_1_6", "Clip", 1.0f, 6.0f, 0, false},
  };
  const Tensor x = test::random_tensor({2, 40}, 11, -8.0f, 8.0f);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    test::OnnxBuilder b;
    b.input("x", {2, 40}).output("y");
    add_initializer(b, "xs", onnx::TensorProto::FLOAT, {}, {0.0625});
    add_initializer(b, "xz", onnx::TensorProto::UINT8, {}, {128});
    add_initializer(b, "ys", onnx::TensorProto::FLOAT, {}, {0.0234375});  // range [0, 5.98]
    add_initializer(b, "yz", onnx::TensorProto::UINT8, {}, {static_cast<double>(c.zero_point)});
    b.initializer("lo", {}, {c.lo}).initializer("hi", {}, {c.hi});
    b.node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
    b.node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
    if (std::string(c.op) == "Relu") {
      b.node("Relu", {"xd"}, {"a"});
    } else {
      b.node("Clip", {"xd", "lo", "hi"}, {"a"});
    }
    b.node("QuantizeLinear", {"a", "ys", "yz"}, {"yq"});
    b.node("DequantizeLinear", {"yq", "ys", "yz"}, {"y"});
    const std::string path = b.save(test::temp_dir("qdq_act") + "/" + c.name + ".onnx");
    std::map<std::string, int> ops;
    const Tensor fused = run_model(path, inference_options(false), {x}, &ops)[0];
    const Tensor written = run_model(path, {}, {x})[0];
    EXPECT_EQ(ops.count(c.op), c.dropped ? 0u : 1u);
    EXPECT_TRUE(fused.bit_equal(written));
  }
}

}  // namespace
}  // namespace dnnfi
