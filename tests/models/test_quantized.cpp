// Quantized models (tests/models/quant, made by scripts/quantize_onnx.py; README there) against
// ONNX Runtime: the QDQ model (ORT fusing it into its int8 kernels, and ORT running it as
// written) and ORT's own QOperator rewrite of it (QLinearConv, QLinearAdd, QGemm,
// QLinearGlobalAveragePool, uint8 MaxPool). Outputs are dequantized int8 values, so they are
// compared in quantization steps of the output: at most one step apart, top-1 equal.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

const std::filesystem::path kQuantDir =
    std::filesystem::path(DNNFI_SOURCE_DIR) / "tests/models/quant";

struct QuantCase {
  std::string fixture, model, expected;
};

const QuantCase kCases[] = {
    {"fmnist_resnet", "model.onnx", "ort_expected.npy"},
    {"fmnist_resnet", "model.onnx", "ort_expected_unfused.npy"},
    {"fmnist_resnet", "model_qop.onnx", "ort_expected_qop.npy"},
    {"resnet_basic", "model.onnx", "ort_expected.npy"},
    {"resnet_basic", "model.onnx", "ort_expected_unfused.npy"},
    {"resnet_basic", "model_qop.onnx", "ort_expected_qop.npy"},
    {"mobilenet_v2", "model.onnx", "ort_expected.npy"},
    {"mobilenet_v2", "model.onnx", "ort_expected_unfused.npy"},
    {"mobilenet_v2", "model_qop.onnx", "ort_expected_qop.npy"},
};

// The scale of the DequantizeLinear that produces the graph's output.
float output_scale(const Graph& g) {
  const int out = g.outputs[0];
  const Node& n =
      g.nodes[static_cast<std::size_t>(g.values[static_cast<std::size_t>(out)].producer)];
  EXPECT_EQ(n.op_type, "DequantizeLinear");
  const Value& s = g.values[static_cast<std::size_t>(n.inputs[1])];
  EXPECT_TRUE(s.is_initializer);
  return s.initializer.data<float>()[0];
}

Tensor run_model(const std::filesystem::path& model, const Tensor& input, bool reference,
                 float* scale) {
  Graph g = load_model(model.string());
  *scale = output_scale(g);
  SessionOptions opts;
  opts.reference_kernels = reference;
  opts.input_shapes[g.values[static_cast<std::size_t>(g.inputs[0])].name] = input.shape();
  auto s = Session::create(std::move(g), opts);
  std::vector<Tensor> out;
  const Status st = s->run_once({&input, 1}, out);
  EXPECT_TRUE(st.is_ok()) << model << ": " << st.message();
  return out.empty() ? Tensor() : out[0];
}

TEST(QuantizedModels, MatchOnnxRuntimeWithinOneStep) {
  for (const QuantCase& c : kCases) {
    for (bool reference : {false, true}) {
      SCOPED_TRACE(c.fixture + "/" + c.model + " vs " + c.expected +
                   (reference ? " (reference kernels)" : ""));
      const std::filesystem::path dir = kQuantDir / c.fixture;
      const Tensor input = load_npy((dir / "input.npy").string());
      const Tensor expected = load_npy((dir / c.expected).string());
      float scale = 0.0f;
      const Tensor y = run_model(dir / c.model, input, reference, &scale);
      ASSERT_EQ(y.shape(), expected.shape());
      ASSERT_GT(scale, 0.0f);
      double worst = 0.0;
      for (std::int64_t i = 0; i < y.numel(); ++i) {
        worst = std::max(worst, std::abs(y.get_as_double(i) - expected.get_as_double(i)) / scale);
      }
      // One step, plus float slack: a dequantized value is q * scale rounded to fp32.
      EXPECT_LE(worst, 1.0 + 1e-4);
      EXPECT_EQ(top1_per_row(y), top1_per_row(expected));
    }
  }
}

TEST(QuantizedModels, AreReallyQuantized) {
  for (const char* fixture : {"fmnist_resnet", "resnet_basic", "mobilenet_v2"}) {
    SCOPED_TRACE(fixture);
    const Graph qdq = load_model((kQuantDir / fixture / "model.onnx").string());
    int quantize = 0, int8_weights = 0;
    for (const Node& n : qdq.nodes) quantize += n.op_type == "QuantizeLinear";
    for (const Value& v : qdq.values) {
      int8_weights += v.is_initializer && v.info.dtype == DType::kInt8 && v.info.numel() > 16;
    }
    EXPECT_GE(quantize, 10);
    EXPECT_GE(int8_weights, 5);
    const Graph qop = load_model((kQuantDir / fixture / "model_qop.onnx").string());
    int qlinear_conv = 0, float_conv = 0;
    for (const Node& n : qop.nodes) {
      qlinear_conv += n.op_type == "QLinearConv";
      float_conv += n.op_type == "Conv";
    }
    EXPECT_GE(qlinear_conv, 6);
    EXPECT_EQ(float_conv, 0);
  }
}

// `dnnfi run`'s session on the QOperator fixtures: int8 activations stay channels-last between
// oneDNN's QLinearConvs (and through the elementwise DequantizeLinear/QuantizeLinear/QLinearAdd
// between them), and the output is the plain session's bit for bit (integer sums are exact in
// any order; requantization is per element). Where oneDNN multiplies exactly (AVX-512 VNNI) the
// channels-last path must be taken.
TEST(QuantizedModels, ChannelsLastSessionEqualsPlainBitForBit) {
  for (const char* fixture : {"fmnist_resnet", "resnet_basic", "mobilenet_v2"}) {
    SCOPED_TRACE(fixture);
    const std::filesystem::path model = kQuantDir / fixture / "model_qop.onnx";
    const Tensor input = load_npy((kQuantDir / fixture / "input.npy").string());
    auto session = [&](bool inference) {
      Graph g = load_model(model.string());
      SessionOptions opts;
      opts.fuse = opts.channels_last = inference;
      opts.input_shapes[g.values[static_cast<std::size_t>(g.inputs[0])].name] = input.shape();
      return Session::create(std::move(g), opts);
    };
    auto fused = session(true);
    int nhwc = 0;
    for (int n : fused->run_order()) {
      const Node& node = fused->graph().nodes[static_cast<std::size_t>(n)];
      nhwc += node.op_type == "QLinearConv" && node.attributes.count("dst_layout") > 0;
    }
    if (__builtin_cpu_supports("avx512vnni")) {
      EXPECT_GE(nhwc, 2);
    }
    std::vector<Tensor> a, b;
    ASSERT_TRUE(fused->run_once({&input, 1}, a).is_ok());
    ASSERT_TRUE(session(false)->run_once({&input, 1}, b).is_ok());
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(a[0].bit_equal(b[0]));
  }
}

}  // namespace
}  // namespace dnnfi
