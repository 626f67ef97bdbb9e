// Keras front end against its oracle, TensorFlow.js: every fixture of tests/keras/data (built and
// run by scripts/keras_fixtures/make_fixtures.js) loaded from model.json, model.h5 and model.keras
// must reproduce tfjs's outputs; fault sites named by Keras layer; bad files are one-line
// LoadErrors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bad_input.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"
#include "fi/sampler.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(DNNFI_SOURCE_DIR) + "/tests/keras/data";

std::vector<Tensor> load_arrays(const std::string& dir, const std::string& prefix,
                                const std::string& override_prefix = "") {
  std::vector<Tensor> out;
  for (int i = 0;; ++i) {
    const std::string p = dir + "/" + prefix + "_" + std::to_string(i) + ".npy";
    if (!fs::exists(p)) break;
    const std::string o = dir + "/" + override_prefix + "_" + std::to_string(i) + ".npy";
    out.push_back(load_npy(!override_prefix.empty() && fs::exists(o) ? o : p));
  }
  return out;
}

std::shared_ptr<const Session> open(const std::string& model, const std::vector<Tensor>& inputs) {
  Graph g = load_model(model);
  SessionOptions opt;
  for (std::size_t i = 0; i < g.inputs.size() && i < inputs.size(); ++i) {
    opt.input_shapes[g.values[static_cast<std::size_t>(g.inputs[i])].name] = inputs[i].shape();
  }
  return Session::create(std::move(g), opt);
}

// max |got - want| <= 1e-4 * max |want| (and a tiny absolute floor for all-zero outputs).
void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double scale = 0.0;
  for (float v : want.span<float>()) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  double err = 0.0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    err =
        std::max(err, std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]));
  }
  EXPECT_LE(err, 1e-4 * std::max(scale, 1e-6))
      << what << ": max error " << err << ", max |y| " << scale;
}

void check_dir(const std::string& dir, const std::string& name, const std::string& file) {
  const auto inputs = load_arrays(dir, "input");
  const bool keras3 = file == "model.keras";
  const auto expected = load_arrays(dir, "expected", keras3 ? "expected_keras3" : "");
  ASSERT_FALSE(inputs.empty());
  auto session = open(dir + "/" + file, inputs);
  std::vector<Tensor> outputs;
  const Status st = session->run_once(inputs, outputs);
  ASSERT_TRUE(st.ok()) << name << "/" << file;
  ASSERT_EQ(outputs.size(), expected.size()) << name << "/" << file;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    expect_close(outputs[i], expected[i], name + "/" + file + " output " + std::to_string(i));
  }
}

void check_fixture(const std::string& name, const std::string& file) {
  check_dir(kData + "/" + name, name, file);
}

class KerasFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(KerasFixture, MatchesTensorFlowJsFromTfjsModel) { check_fixture(GetParam(), "model.json"); }
TEST_P(KerasFixture, MatchesTensorFlowJsFromKeras2H5) { check_fixture(GetParam(), "model.h5"); }
TEST_P(KerasFixture, MatchesTensorFlowJsFromKeras3Zip) { check_fixture(GetParam(), "model.keras"); }

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasFixture,
                         ::testing::Values("conv_seq", "dilated", "activations", "merges", "shapes",
                                           "conv1d", "mobilenetv2", "resnet", "densenet",
                                           "inception", "xception", "nested", "channels_first",
                                           "probe", "conv3d", "patched"));

// Keras 3 removed ThresholdedReLU, so only the tfjs and Keras 2 forms exist.
TEST(KerasKeras2Only, ThresholdedReluMatchesTensorFlowJs) {
  check_fixture("thresholded_relu", "model.json");
  check_fixture("thresholded_relu", "model.h5");
}

TEST(KerasQuantized, Uint8MatchesTensorFlowJs) { check_fixture("mobilenetv2_uint8", "model.json"); }
TEST(KerasQuantized, Uint16MatchesTensorFlowJs) {
  check_fixture("mobilenetv2_uint16", "model.json");
}

// ---- Keras applications (scripts/keras_fixtures/make_applications.js) --------------------------
// The architectures TensorFI+ loads, in keras.applications' topology at reduced width and input
// size; TensorFlow.js's prediction is the oracle. `layers` is len(model.layers) of the Keras
// application with include_top=True (MobileNet: the Keras 2 top with GlobalAveragePooling2D +
// Reshape), which the reduced models keep, as they keep every block.
struct App {
  const char* name;
  std::size_t layers;
};

class KerasApplication : public ::testing::TestWithParam<App> {};

TEST_P(KerasApplication, MatchesTensorFlowJs) {
  const std::string name = std::string("app_") + GetParam().name;
  check_fixture(name, "model.json");
  const Graph g = load_model(kData + "/" + name + "/model.json");
  EXPECT_EQ(g.layer_names.size(), GetParam().layers) << name;
}

INSTANTIATE_TEST_SUITE_P(
    Applications, KerasApplication,
    ::testing::Values(App{"resnet50", 177}, App{"resnet101", 347}, App{"resnet152", 517},
                      App{"vgg16", 23}, App{"vgg19", 26}, App{"xception", 134},
                      App{"nasnet_mobile", 771}, App{"nasnet_large", 1041}, App{"mobilenet", 92},
                      App{"mobilenet_v2", 156}, App{"inception_resnet_v2", 782},
                      App{"inception_v3", 313}, App{"densenet121", 429}, App{"densenet169", 597},
                      App{"densenet201", 709}),
    [](const ::testing::TestParamInfo<App>& info) { return std::string(info.param.name); });

// InceptionResNetV2's scaled residual as Keras 3 saves it: CustomScaleLayer with `scale`.
TEST(KerasApplicationFiles, InceptionResNetV2FromKeras3CustomScaleLayer) {
  check_fixture("app_inception_resnet_v2", "model.keras");
}

TEST(KerasApplicationFiles, ResNet50FromKeras3Zip) { check_fixture("app_resnet50", "model.keras"); }

// The residual x + scale * up ends in an Add named after the block.
TEST(KerasApplicationFiles, ScaledResidualIsMulAndAdd) {
  const Graph g = load_model(kData + "/app_inception_resnet_v2/model.keras");
  int blocks = 0;
  for (const auto& n : g.nodes) {
    if (n.name == "block35_1" || n.name == "block17_20" || n.name == "block8_10") {
      EXPECT_EQ(n.op_type, "Add") << n.name;
      ++blocks;
    }
  }
  EXPECT_EQ(blocks, 3);
}

// Keras 2 DenseNet names layers "conv1/conv": their weights "conv1/conv/kernel" belong to them.
TEST(KerasApplicationFiles, LayerNamesWithSlash) {
  const Graph g = load_model(kData + "/app_densenet121/model.json");
  bool found = false;
  for (const auto& n : g.nodes) found = found || n.name == "conv1/conv";
  EXPECT_TRUE(found);
}

// The same in a Keras 2 .h5 (nested groups conv1/conv/conv1/conv/kernel:0): probe renamed.
TEST(KerasApplicationFiles, LayerNamesWithSlashInKeras2H5) {
  check_fixture("slash_names", "model.h5");
}

// The site named "conv" is the Conv2D layer's output (after its relu) in NHWC: element [0,h,w,c]
// has flat index ((0*H + h)*W + w)*C + c, and the following Flatten shows it at that position.
TEST(KerasFaultSite, LayerNameAddressesNhwcOutput) {
  for (const char* file : {"model.h5", "model.keras", "model.json"}) {
    const std::string dir = kData + "/probe";
    const auto inputs = load_arrays(dir, "input");
    auto session = open(dir + "/" + file, inputs);
    Injector inj(session);
    const GoldenRun golden = inj.golden(inputs);
    constexpr std::int64_t H = 4, W = 5, C = 6;
    const std::int64_t h = 2, w = 3, c = 4;
    const std::int64_t flat = (h * W + w) * C + c;
    Fault f;
    f.site = inj.site_by_name("conv", flat);
    f.model.kind = FaultModelKind::kSetValue;
    f.model.value = 1000.0;
    EXPECT_EQ(session->graph().nodes[static_cast<std::size_t>(f.site.node)].name, "conv");
    EXPECT_EQ(session->info(f.site.value).shape, (Shape{2, H, W, C})) << file;
    TrialOptions opt;
    opt.keep_outputs = true;
    TrialWorkspace ws;
    const std::vector<Fault> faults{f};
    const TrialResult r = inj.run_trial(golden, faults, opt, ws);
    ASSERT_EQ(r.outputs.size(), 1u);
    const Tensor& golden_out = golden.store[session->graph().outputs[0]];
    for (std::int64_t i = 0; i < r.outputs[0].numel(); ++i) {
      const float got = r.outputs[0].data<float>()[i];
      if (i == flat) {
        EXPECT_EQ(got, 1000.0f) << file;
      } else {
        EXPECT_EQ(got, golden_out.data<float>()[i]) << file << " element " << i;
      }
    }
  }
}

// "layer:<i>" counts model.layers as TensorFI+ does; every propagation strategy gives the same
// faulty output on a non-sequential Keras model.
TEST(KerasFaultSite, LayerIndexAndStrategies) {
  const std::string dir = kData + "/resnet";
  const auto inputs = load_arrays(dir, "input");
  auto session = open(dir + "/model.keras", inputs);
  Injector inj(session);
  const Graph& g = session->graph();
  ASSERT_EQ(g.layer_names.size(), 15u);  // InputLayer included in a Functional model
  EXPECT_EQ(g.layer_names[0], "input_1");
  const FaultSite by_index = inj.site_by_name("layer:7", 5);
  const FaultSite by_name = inj.site_by_name("block_1_relu", 5);
  EXPECT_EQ(by_index.node, by_name.node);
  EXPECT_THROW(inj.site_by_name("layer:15", 0), InputError);
  const GoldenRun golden = inj.golden(inputs);
  Fault f;
  f.site = by_name;
  f.model.kind = FaultModelKind::kSetValue;
  f.model.value = 50.0;
  std::vector<Tensor> first;
  for (Strategy s : {Strategy::kCone, Strategy::kSuperlayer, Strategy::kFull}) {
    TrialOptions opt;
    opt.keep_outputs = true;
    opt.strategy = s;
    TrialWorkspace ws;
    const std::vector<Fault> faults{f};
    const TrialResult r = inj.run_trial(golden, faults, opt, ws);
    ASSERT_EQ(r.outputs.size(), 1u);
    if (first.empty()) {
      first = r.outputs;
      EXPECT_FALSE(first[0].bit_equal(golden.store[g.outputs[0]]));
    } else {
      EXPECT_TRUE(r.outputs[0].bit_equal(first[0])) << strategy_name(s);
    }
  }
}

// Sampling over layers draws only Keras layers, never the layout helpers inside them.
TEST(KerasFaultSite, SamplerSkipsHelperNodes) {
  const std::string dir = kData + "/mobilenetv2";
  const auto inputs = load_arrays(dir, "input");
  auto session = open(dir + "/model.h5", inputs);
  SamplerConfig cfg;
  FaultSampler sampler(*session, cfg);
  std::set<std::string> names;
  for (std::uint64_t t = 0; t < 400; ++t) {
    for (const Fault& f : sampler.sample(1, t)) {
      names.insert(session->graph().nodes[static_cast<std::size_t>(f.site.node)].name);
    }
  }
  EXPECT_GT(names.size(), 5u);
  for (const auto& n : names) EXPECT_EQ(n.find('/'), std::string::npos) << n;
}

// ---- bad input ------------------------------------------------------------------------------

using test::copy_fixture;
using test::edit_tfjs;
using test::expect_load_error;

nlohmann::json& probe_layer(nlohmann::json& j, int i) {
  return j["modelTopology"]["config"]["layers"][static_cast<std::size_t>(i)];
}

TEST(KerasBadInput, UnknownLayerClass) {
  const auto dir = copy_fixture("class");
  edit_tfjs(dir, [](nlohmann::json& j) { probe_layer(j, 1)["class_name"] = "MyCustomLayer"; });
  expect_load_error(dir + "/model.json", {dir, "'flat'", "MyCustomLayer", "unsupported"});
}

TEST(KerasBadInput, LambdaLayer) {
  const auto dir = copy_fixture("lambda");
  edit_tfjs(dir, [](nlohmann::json& j) { probe_layer(j, 1)["class_name"] = "Lambda"; });
  expect_load_error(dir + "/model.json", {dir, "'flat'", "Lambda"});
}

// The scaled residual of app_inception_resnet_v2 (a CustomScaleLayer in model.json) rewritten.
nlohmann::json& scale_layer(nlohmann::json& doc) {
  return test::layer_named(test::tfjs_topology(doc), "block35_1");
}

void to_lambda(nlohmann::json& l, nlohmann::json arguments) {
  l["class_name"] = "Lambda";
  l["config"] = {{"name", l["config"]["name"]},
                 {"function", {"4wIAAAAAAAAA", nullptr, nullptr}},
                 {"function_type", "lambda"},
                 {"module", "keras.applications.inception_resnet_v2"},
                 {"arguments", std::move(arguments)}};
}

// As Keras 2 saves it: every scaled residual a Lambda of the applications' module with arguments
// {"scale": s} (the Keras 2 dialect is the one tfjs writes, so model.json carries it).
TEST(KerasScaledResidual, ApplicationsLambdaMatchesTensorFlowJs) {
  const auto dir = copy_fixture("lambda_ok", "app_inception_resnet_v2");
  int n = 0;
  edit_tfjs(dir, [&n](nlohmann::json& j) {
    for (auto& l : test::tfjs_topology(j)["config"]["layers"]) {
      if (l["class_name"] != "CustomScaleLayer") continue;
      const nlohmann::json scale = l["config"]["scale"];
      to_lambda(l, {{"scale", scale}});
      ++n;
    }
  });
  EXPECT_EQ(n, 10 + 20 + 10);
  check_dir(dir, "lambda_ok", "model.json");
}

TEST(KerasBadInput, LambdaWithOtherArguments) {
  const auto dir = copy_fixture("lambda_args", "app_inception_resnet_v2");
  edit_tfjs(dir, [](nlohmann::json& j) { to_lambda(scale_layer(j), {{"factor", 0.17}}); });
  expect_load_error(dir + "/model.json", {dir, "'block35_1'", "Lambda", "scaled residual"});
}

TEST(KerasBadInput, LambdaFromAnotherModule) {
  const auto dir = copy_fixture("lambda_module", "app_inception_resnet_v2");
  edit_tfjs(dir, [](nlohmann::json& j) {
    auto& l = scale_layer(j);
    to_lambda(l, {{"scale", 0.17}});
    l["config"]["module"] = "my_project.layers";
  });
  expect_load_error(dir + "/model.json", {dir, "'block35_1'", "Lambda"});
}

TEST(KerasBadInput, CustomScaleLayerWithoutScale) {
  const auto dir = copy_fixture("scale_missing", "app_inception_resnet_v2");
  edit_tfjs(dir, [](nlohmann::json& j) { scale_layer(j)["config"].erase("scale"); });
  expect_load_error(dir + "/model.json", {dir, "'block35_1'", "without 'scale'"});
}

TEST(KerasBadInput, CustomScaleLayerScaleNotANumber) {
  const auto dir = copy_fixture("scale_string", "app_inception_resnet_v2");
  edit_tfjs(dir, [](nlohmann::json& j) { scale_layer(j)["config"]["scale"] = "0.17"; });
  expect_load_error(dir + "/model.json", {dir, "'block35_1'", "'scale' is not a number"});
}

TEST(KerasBadInput, CustomScaleLayerScaleHuge) {
  const auto dir = copy_fixture("scale_huge", "app_inception_resnet_v2");
  edit_tfjs(dir, [](nlohmann::json& j) { scale_layer(j)["config"]["scale"] = 1e300; });
  expect_load_error(dir + "/model.json", {dir, "'block35_1'", "finite float"});
}

TEST(KerasBadInput, CustomScaleLayerOneInput) {
  const auto dir = copy_fixture("scale_one", "app_inception_resnet_v2");
  edit_tfjs(dir, [](nlohmann::json& j) { scale_layer(j)["inbound_nodes"][0].erase(1); });
  expect_load_error(dir + "/model.json", {dir, "'block35_1'", "takes 2 inputs"});
}

TEST(KerasBadInput, CustomScaleLayerShapeMismatch) {
  const auto dir = copy_fixture("scale_shape", "app_inception_resnet_v2");
  // "up" replaced by the block's concatenation, which has other channels.
  edit_tfjs(
      dir, [](nlohmann::json& j) { scale_layer(j)["inbound_nodes"][0][1][0] = "block35_1_mixed"; });
  expect_load_error(dir + "/model.json", {dir, "'block35_1'", "inputs of one shape"});
}

TEST(KerasBadInput, UnknownActivation) {
  const auto dir = copy_fixture("act");
  edit_tfjs(dir, [](nlohmann::json& j) { probe_layer(j, 0)["config"]["activation"] = "zorro"; });
  expect_load_error(dir + "/model.json", {dir, "'conv'", "activation 'zorro'"});
}

TEST(KerasBadInput, MissingWeight) {
  const auto dir = copy_fixture("missing");
  edit_tfjs(dir, [](nlohmann::json& j) {
    j["weightsManifest"][0]["weights"][1]["name"] = "conv/offset";
  });
  expect_load_error(dir + "/model.json", {dir, "'conv'", "missing weight 'bias'"});
}

TEST(KerasBadInput, WrongWeightShape) {
  const auto dir = copy_fixture("shape");
  edit_tfjs(dir, [](nlohmann::json& j) { probe_layer(j, 0)["config"]["kernel_size"] = {2, 2}; });
  expect_load_error(dir + "/model.json", {dir, "'conv'", "weight 'kernel' has shape [3,3,3,6]"});
}

// bad_weights/ (make_keras_files.py): probe with the conv bias left out or a [2,3,3,6] kernel.
TEST(KerasBadInput, MissingWeightInKerasFiles) {
  const std::string h5 = kData + "/bad_weights/missing_weight.h5";
  expect_load_error(h5, {h5, "'conv'", "missing weight 'bias'"});
  const std::string zip = kData + "/bad_weights/missing_weight.keras";
  expect_load_error(zip, {zip, "'conv'", "has 1 stored weights", "kernel, bias"});
}

TEST(KerasBadInput, WrongWeightShapeInKerasFiles) {
  for (const char* ext : {".h5", ".keras"}) {
    const std::string path = kData + "/bad_weights/wrong_shape" + ext;
    expect_load_error(path,
                      {path, "'conv'", "weight 'kernel' has shape [2,3,3,6], expected [3,3,3,6]"});
  }
}

TEST(KerasBadInput, ShortWeightShard) {
  const auto dir = copy_fixture("short");
  fs::resize_file(dir + "/weights.bin", 20);
  expect_load_error(dir + "/model.json", {dir, "shards too short"});
}

TEST(KerasBadInput, CorruptJson) {
  const auto dir = copy_fixture("json");
  std::ofstream(dir + "/model.json") << "{\"modelTopology\": [1, 2";
  expect_load_error(dir + "/model.json", {dir, "invalid JSON"});
}

TEST(KerasBadInput, CorruptHdf5) {
  const auto dir = copy_fixture("h5");
  fs::resize_file(dir + "/model.h5", fs::file_size(dir + "/model.h5") / 2);
  expect_load_error(dir + "/model.h5", {dir});
  std::ofstream(dir + "/junk.h5") << "not hdf5 at all";
  expect_load_error(dir + "/junk.h5", {dir, "not an HDF5 file"});
}

TEST(KerasBadInput, DuplicateLayerNames) {
  // Fault sites are named by Keras layer, so two layers with one name cannot both be addressed.
  const auto dir = copy_fixture("dup");
  edit_tfjs(dir, [](nlohmann::json& j) {
    auto& topology = j["modelTopology"];
    auto& model = topology.contains("model_config") ? topology["model_config"] : topology;
    model["config"]["layers"][1]["config"]["name"] = "conv";
  });
  expect_load_error(dir + "/model.json", {dir + "/model.json", "two layers named 'conv'"});
}

TEST(KerasBadInput, CorruptZip) {
  const auto dir = copy_fixture("zip");
  fs::resize_file(dir + "/model.keras", fs::file_size(dir + "/model.keras") / 2);
  expect_load_error(dir + "/model.keras", {dir});
}

TEST(KerasCli, InspectAndInjectByLayerName) {
  const std::string model = kData + "/probe/model.h5";
  const auto inspect = test::run_cli("inspect " + model);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("conv"), std::string::npos);
  const auto inject = test::run_cli("inject " + model + " --node conv --index 7 --bit 30");
  EXPECT_EQ(inject.exit_code, 0) << inject.err;
  const auto bad = test::run_cli("inspect " + kData + "/probe/weights.bin");
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace dnnfi
