// Keras readers against bad input (issue 11): each input that used to crash, hit undefined
// behaviour or escape as a non-dnnfi exception is built here from a fixture and must give one
// LoadError line naming the file and the layer or key at fault. The sweep at the end replaces
// every config value the builder reads with hostile ones.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "bad_input.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"

namespace dnnfi {
namespace {

using nlohmann::json;
using test::copy_fixture;
using test::edit_keras2_config;
using test::edit_keras_config;
using test::edit_keras_weights;
using test::edit_tfjs;
using test::expect_load_error;
using test::layer_named;
using test::tfjs_topology;

// Edits one layer's config in a copy of `fixture`'s model.json and expects a LoadError naming the
// file, the layer and `parts`.
void expect_tfjs_layer_error(const std::string& fixture, const std::string& layer,
                             const std::function<void(json&)>& edit,
                             std::vector<std::string> parts) {
  const auto dir = copy_fixture("robust", fixture);
  edit_tfjs(dir, [&](json& j) { edit(layer_named(tfjs_topology(j), layer)["config"]); });
  parts.push_back(dir);
  parts.push_back("'" + layer + "'");
  expect_load_error(dir + "/model.json", parts);
}

// ---- topology -----------------------------------------------------------------------------------

// A nested model used as the first layer of a Sequential defines the input; with no layers it
// used to be read with layers.front() on an empty vector.
TEST(KerasRobustness, EmptyNestedModelStartingSequential) {
  const auto dir = copy_fixture("empty_nested");
  edit_tfjs(dir, [](json& j) {
    json inner = {{"class_name", "Model"},
                  {"config",
                   {{"name", "inner"},
                    {"layers", json::array()},
                    {"input_layers", json::array()},
                    {"output_layers", {{"x", 0, 0}}}}}};
    tfjs_topology(j)["config"]["layers"][0] = inner;
  });
  expect_load_error(dir + "/model.json", {dir, "model 'inner' has no layers"});

  const auto dir3 = copy_fixture("empty_nested3");
  edit_keras_config(dir3 + "/model.keras", [](json& j) {
    json& layers = j["config"]["layers"];
    layers.erase(0);  // the InputLayer: the nested model must define the input
    layers[0] = {{"class_name", "Functional"},
                 {"name", "inner"},
                 {"config",
                  {{"name", "inner"},
                   {"layers", json::array()},
                   {"input_layers", json::array()},
                   {"output_layers", {{"x", 0, 0}}}}}};
  });
  expect_load_error(dir3 + "/model.keras", {dir3, "model 'inner' has no layers"});
}

// The same, with layers but no InputLayer among them.
TEST(KerasRobustness, NestedModelWithoutInputStartingSequential) {
  const auto dir = copy_fixture("noinput_nested");
  edit_tfjs(dir, [](json& j) {
    json dense = {{"class_name", "Dense"}, {"config", {{"name", "d"}, {"units", 2}}}};
    json inner = {{"class_name", "Model"},
                  {"config",
                   {{"name", "inner"},
                    {"layers", {dense}},
                    {"input_layers", json::array()},
                    {"output_layers", {{"d", 0, 0}}}}}};
    tfjs_topology(j)["config"]["layers"][0] = inner;
  });
  expect_load_error(dir + "/model.json", {dir, "'inner'", "without an InputLayer"});
}

// Keras 2 list form [name, node_index, tensor_index] (tfjs writes the Keras 2 dialect).
TEST(KerasRobustness, NegativeTensorIndexInOutputLayers) {
  const auto dir = copy_fixture("neg_out", "nested");
  edit_tfjs(dir, [](json& j) { tfjs_topology(j)["config"]["output_layers"][0] = {"out", 0, -1}; });
  expect_load_error(dir + "/model.json",
                    {dir, "model 'nested' output_layers", "tensor index in [\"out\",0,-1]"});
}

TEST(KerasRobustness, OutOfRangeTensorIndexInOutputLayers) {
  const auto dir = copy_fixture("big_out", "nested");
  edit_tfjs(dir, [](json& j) { tfjs_topology(j)["config"]["output_layers"][0] = {"out", 0, 3}; });
  expect_load_error(dir + "/model.json", {dir, "output_layers refers to output 3 of 'out'"});
}

TEST(KerasRobustness, BadIndexInInputLayers) {
  const auto dir = copy_fixture("in_idx", "nested");
  edit_tfjs(dir, [](json& j) { tfjs_topology(j)["config"]["input_layers"][0] = {"in_a", 0, 3}; });
  expect_load_error(dir + "/model.json",
                    {dir, "input_layers refers to call 0, output 3 of 'in_a'"});
  edit_tfjs(dir, [](json& j) { tfjs_topology(j)["config"]["input_layers"][0] = {"in_a", -2, 0}; });
  expect_load_error(dir + "/model.json", {dir, "input_layers", "node index"});
}

TEST(KerasRobustness, NegativeNodeIndexInInboundNodes) {
  const auto dir = copy_fixture("neg_node", "nested");
  edit_tfjs(dir, [](json& j) {
    layer_named(tfjs_topology(j), "out")["inbound_nodes"] = {{{"sum", -1, 0, json::object()}}};
  });
  expect_load_error(dir + "/model.json",
                    {dir, "layer 'out' (Dense) inbound_nodes", "node index in [\"sum\",-1,0,{}]"});
}

TEST(KerasRobustness, OutOfRangeNodeIndexInInboundNodes) {
  const auto dir = copy_fixture("big_node", "nested");
  edit_tfjs(dir, [](json& j) {
    layer_named(tfjs_topology(j), "out")["inbound_nodes"] = {{{"sum", 7, 0, json::object()}}};
  });
  expect_load_error(dir + "/model.json",
                    {dir, "layer 'out' (Dense) inbound_nodes", "call 7 of 'sum', which has 1"});
}

TEST(KerasRobustness, NonIntegerIndicesInInboundNodes) {
  const auto dir = copy_fixture("str_node", "nested");
  for (const json& bad : {json("0"), json(1e300), json(0.5), json(std::int64_t{1} << 40),
                          json(nullptr), json::array()}) {
    edit_tfjs(dir, [&](json& j) {
      layer_named(tfjs_topology(j), "out")["inbound_nodes"] = {{{"sum", 0, bad, json::object()}}};
    });
    expect_load_error(dir + "/model.json", {dir, "layer 'out' (Dense) inbound_nodes",
                                            "tensor index", "not a non-negative integer"});
  }
}

// The same references read from a Keras 2 .h5 model_config.
TEST(KerasRobustness, BadReferencesInKeras2H5) {
  const auto dir = copy_fixture("k2_refs", "nested");
  const std::string path = dir + "/model.h5";
  edit_keras2_config(path, [](json& j) { j["config"]["output_layers"][0] = {"out", 0, -1}; });
  expect_load_error(path, {dir, "model 'nested' output_layers", "tensor index in [\"out\",0,-1]"});
  edit_keras2_config(path, [](json& j) {
    j["config"]["output_layers"][0] = {"out", 0, 0};
    layer_named(j, "out")["inbound_nodes"] = {{{"sum", -1, 0, json::object()}}};
  });
  expect_load_error(path, {dir, "layer 'out' (Dense) inbound_nodes", "node index"});
}

// Keras 3 writes references as __keras_tensor__ objects whose keras_history is [name, node, t].
TEST(KerasRobustness, BadKerasHistory) {
  const auto dir = copy_fixture("k3_history", "nested");
  const std::string path = dir + "/model.keras";
  auto history = [](json& j) -> json& {
    return layer_named(j, "out")["inbound_nodes"][0]["args"][0]["config"]["keras_history"];
  };
  edit_keras_config(path, [&](json& j) { history(j) = {"sum", 0, -1}; });
  expect_load_error(path, {dir, "layer 'out' (Dense) inbound_nodes keras_history", "tensor index"});
  edit_keras_config(path, [&](json& j) { history(j) = {"sum", -3, 0}; });
  expect_load_error(path, {dir, "layer 'out' (Dense) inbound_nodes keras_history", "node index"});
  edit_keras_config(path, [&](json& j) { history(j) = {"sum", 4, 0}; });
  expect_load_error(path, {dir, "layer 'out' (Dense) inbound_nodes", "call 4 of 'sum'"});
  edit_keras_config(path, [](json& j) {
    layer_named(j, "out")["inbound_nodes"][0]["args"][0]["config"].erase("keras_history");
  });
  expect_load_error(path, {dir, "layer 'out' (Dense)", "without config.keras_history"});
}

TEST(KerasRobustness, NegativeTensorIndexInKeras3OutputLayers) {
  const auto dir = copy_fixture("k3_out", "nested");
  const std::string path = dir + "/model.keras";
  edit_keras_config(path, [](json& j) { j["config"]["output_layers"][0] = {"out", 0, -1}; });
  expect_load_error(path, {dir, "model 'nested' output_layers", "tensor index"});
}

// Nested models are bounded (32 levels) ...
TEST(KerasRobustness, ModelsNestedTooDeeply) {
  const auto dir = copy_fixture("deep_models");
  edit_tfjs(dir, [](json& j) {
    json model = tfjs_topology(j);
    for (int i = 0; i < 40; ++i) {
      model["config"]["name"] = "m" + std::to_string(i);
      json outer = {{"class_name", "Sequential"}, {"config", {{"layers", {model}}}}};
      model = outer;
    }
    model["config"]["name"] = "top";
    tfjs_topology(j) = model;
  });
  expect_load_error(dir + "/model.json", {dir, "(Sequential)", "nested more than 32 levels"});
}

// ... and so is JSON nesting, before anything recursive (copies, dumps) walks the document.
TEST(KerasRobustness, JsonNestedTooDeeply) {
  const auto dir = copy_fixture("deep_json");
  std::string text;
  edit_tfjs(dir, [&](json& j) { text = j.dump(); });
  const std::string key = "\"kernel_regularizer\":null";
  const auto at = text.find(key);
  ASSERT_NE(at, std::string::npos);
  constexpr int kDepth = 200000;
  text.replace(at, key.size(),
               "\"kernel_regularizer\":" + std::string(kDepth, '[') + std::string(kDepth, ']'));
  std::ofstream(dir + "/model.json") << text;
  expect_load_error(dir + "/model.json", {dir, "JSON nested more than 512 levels"});
}

TEST(KerasRobustness, InputShapeValues) {
  auto input = [](const json& shape, const std::string& part) {
    const auto dir = copy_fixture("input");
    edit_tfjs(dir, [&](json& j) {
      layer_named(tfjs_topology(j), "conv")["config"]["batch_input_shape"] = shape;
    });
    expect_load_error(dir + "/model.json", {dir, "'conv_input' (InputLayer)", part});
  };
  input({nullptr, "4", 5, 3}, "'batch_input_shape' dimension 1 is \"4\"");
  input({nullptr, 4.5, 5, 3}, "dimension 1 is 4.5");
  input({nullptr, 4, -2, 3}, "dimension 2 is -2");
  input({nullptr, 4, 5, 1e300}, "dimension 3");
  input(json::array(), "'batch_input_shape' is empty");
}

TEST(KerasRobustness, TopologyTypeErrors) {
  const auto dir = copy_fixture("topology_types", "nested");
  edit_tfjs(dir, [](json& j) { tfjs_topology(j)["config"]["name"] = 5; });
  expect_load_error(dir + "/model.json", {dir, "model name is not a string"});
  edit_tfjs(dir, [](json& j) {
    tfjs_topology(j)["config"]["name"] = "nested";
    tfjs_topology(j)["config"]["layers"][1]["inbound_nodes"] = 7;
  });
  expect_load_error(dir + "/model.json",
                    {dir, "layer 'shared' (Dense)", "malformed inbound_nodes"});
}

// ---- Normalization ------------------------------------------------------------------------------

// patched/: Normalization 'norm' on [N, 3, 4], axis -1 (4 channels), mean/variance in weights.
TEST(KerasRobustness, NormalizationConfigMeanOfWrongLength) {
  const auto dir = copy_fixture("norm_cfg", "patched");
  const std::string path = dir + "/model.keras";
  for (const json& mean : {json({0.5, 1.0}), json({1, 2, 3, 4, 5, 6}), json::array()}) {
    edit_keras_config(path, [&](json& j) {
      layer_named(j, "norm")["config"]["mean"] = mean;
      layer_named(j, "norm")["config"]["variance"] = {1.0, 1.0, 1.0, 1.0};
    });
    expect_load_error(path, {dir, "layer 'norm' (Normalization)",
                             "'mean' has " + std::to_string(mean.size()) +
                                 " values, expected 1 or 4 (one per channel)"});
  }
  edit_keras_config(path, [&](json& j) {
    layer_named(j, "norm")["config"]["mean"] = 0.5;  // a scalar broadcasts
    layer_named(j, "norm")["config"]["variance"] = {1.0, 2.0, 3.0};
  });
  expect_load_error(path, {dir, "'norm'", "'variance' has 3 values"});
  edit_keras_config(path, [&](json& j) {
    layer_named(j, "norm")["config"]["mean"] = {0.5, "x", 1.0, 1.0};
    layer_named(j, "norm")["config"]["variance"] = 1.0;
  });
  expect_load_error(path, {dir, "'norm'", "'mean' must hold numbers"});
}

// The stored mean/variance used to be reshaped to the channel count whatever their size, so the
// graph read past (or short of) the weight's buffer.
TEST(KerasRobustness, NormalizationWeightsOfWrongLength) {
  for (hsize_t n : {2, 6}) {
    const auto dir = copy_fixture("norm_w", "patched");
    const std::string path = dir + "/model.keras";
    edit_keras_weights(
        path, [&](hid_t f) { test::replace_dataset(f, "layers/normalization/vars/0", n); });
    expect_load_error(path, {dir, "layer 'norm' (Normalization)",
                             "weight 'mean' has " + std::to_string(n) + " values, expected 4"});
    edit_tfjs(dir, [&](json& j) {
      json& spec = j["weightsManifest"][0]["weights"][0];
      ASSERT_EQ(spec["name"], "norm/mean");
      spec["shape"] = {n};
    });
    const std::string bin = dir + "/weights.bin";
    std::filesystem::resize_file(bin, std::filesystem::file_size(bin) + 64);
    expect_load_error(dir + "/model.json",
                      {dir, "'norm'", "weight 'mean' has " + std::to_string(n) + " values"});
  }
}

// ---- layer config values: sizes, windows, shape arithmetic, types -------------------------------

TEST(KerasRobustness, ConvWindowValues) {
  auto conv = [](const std::function<void(json&)>& edit, std::vector<std::string> parts) {
    expect_tfjs_layer_error("probe", "conv", edit, std::move(parts));
  };
  conv([](json& c) { c["strides"] = {0, 1}; }, {"'strides' must be positive, got 0"});
  conv([](json& c) { c["strides"] = -2; }, {"'strides' must be positive, got -2"});
  conv([](json& c) { c["groups"] = 0; }, {"'groups' must be positive"});
  conv([](json& c) { c["groups"] = 4; }, {"divisible by groups"});
  conv([](json& c) { c["kernel_size"] = {-3, 3}; }, {"'kernel_size' must be positive"});
  conv([](json& c) { c["dilation_rate"] = {std::int64_t{1} << 62, 1}; }, {"overflows"});
  conv(
      [](json& c) {
        c["dilation_rate"] = {std::int64_t{1} << 20, 1};
      },
      {"a window of 2097153 (size 3, dilation 1048576) exceeds the supported 65536"});
  conv([](json& c) { c["dilation_rate"] = {0, 1}; }, {"'dilation_rate' must be positive"});
  conv([](json& c) { c["filters"] = -6; }, {"'filters' must be positive"});
  conv([](json& c) { c.erase("filters"); }, {"no 'filters'"});
  conv([](json& c) { c["kernel_size"] = {"3", 3}; }, {"'kernel_size' must hold integers"});
  conv([](json& c) { c["strides"] = {1.5, 1}; }, {"'strides' must hold integers"});
}

// The CLI prints the error on one line and exits 2 (a zero stride used to raise SIGFPE).
TEST(KerasRobustness, CliReportsOneLine) {
  const auto dir = copy_fixture("cli");
  edit_tfjs(dir, [](json& j) { layer_named(tfjs_topology(j), "conv")["config"]["strides"] = 0; });
  test::expect_one_line_error(test::run_cli("inspect " + dir + "/model.json"),
                              "layer 'conv' (Conv2D): 'strides' must be positive, got 0");
}

TEST(KerasRobustness, DepthMultiplierMustBePositive) {
  // -1 used to pass the weight check as "any size" and give a negative channel count.
  for (int dm : {-1, 0}) {
    expect_tfjs_layer_error("mobilenetv2", "block_1_depthwise",
                            [&](json& c) { c["depth_multiplier"] = dm; },
                            {"'depth_multiplier' must be positive"});
  }
}

TEST(KerasRobustness, ConvTransposeOutputPadding) {
  expect_tfjs_layer_error("shapes", "deconv_same",
                          [](json& c) {
                            c["output_padding"] = {5, 0};
                          },
                          {"'output_padding' must be in [0, strides), got 5"});
  expect_tfjs_layer_error("shapes", "deconv_same",
                          [](json& c) {
                            c["output_padding"] = {-1, 0};
                          },
                          {"'output_padding' must be in [0, strides)"});
}

TEST(KerasRobustness, PoolWindowValues) {
  // MaxPooling2D in place of probe's Flatten; a zero stride or window divided by zero.
  auto pool = [](const std::function<void(json&)>& edit, const std::string& part) {
    const auto dir = copy_fixture("pool");
    edit_tfjs(dir, [&](json& j) {
      json& l = layer_named(tfjs_topology(j), "flat");
      l["class_name"] = "MaxPooling2D";
      l["config"]["padding"] = "valid";
      edit(l["config"]);
    });
    expect_load_error(dir + "/model.json", {dir, "layer 'flat' (MaxPooling2D)", part});
  };
  pool([](json& c) { c["pool_size"] = {0, 2}; }, "'pool_size' must be positive, got 0");
  // Same padding: the kernels' work grows with the window, not with the (small) output.
  pool(
      [](json& c) {
        c["pool_size"] = {std::int64_t{1} << 62, 2};
        c["strides"] = {1, 1};
        c["padding"] = "same";
      },
      "a window of 4611686018427387904 (size 4611686018427387904, dilation 1) exceeds");
  pool(
      [](json& c) {
        c["pool_size"] = {2, 2};
        c["strides"] = {2, 0};
      },
      "'strides' must be positive, got 0");
}

// [N, 2^40, 2^40, 3] -> conv 'same' -> Flatten: 2^80 * 6 elements.
TEST(KerasRobustness, FlattenSizeOverflow) {
  const auto dir = copy_fixture("flat_overflow");
  edit_tfjs(dir, [](json& j) {
    const std::int64_t big = std::int64_t{1} << 40;
    layer_named(tfjs_topology(j), "conv")["config"]["batch_input_shape"] = {nullptr, big, big, 3};
  });
  expect_load_error(dir + "/model.json", {dir, "layer 'flat' (Flatten)", "overflows int64"});
}

// shapes/: img [N,8,8,3] -> zpad -> crop -> up -> deconv_same -> deconv_valid -> drop -> perm ->
// ln -> gmp -> reshape -> rescale -> flat.
TEST(KerasRobustness, PaddingCroppingUpsamplingValues) {
  const std::int64_t big = std::int64_t{1} << 62;
  auto shapes = [](const std::string& layer, const std::function<void(json&)>& edit,
                   const std::string& part) {
    expect_tfjs_layer_error("shapes", layer, edit, {part});
  };
  shapes(
      "zpad",
      [](json& c) {
        c["padding"] = {{-1, 1}, {1, 1}};
      },
      "'padding' must not be negative, got -1");
  shapes(
      "zpad",
      [&](json& c) {
        c["padding"] = {{big, big}, {1, 1}};
      },
      "overflows int64");
  shapes(
      "zpad",
      [](json& c) {
        c["padding"] = {{1, "1"}, {1, 1}};
      },
      "'padding' must hold integers");
  shapes(
      "crop",
      [](json& c) {
        c["cropping"] = {{50, 50}, {0, 0}};
      },
      "'cropping' removes more than the input holds");
  shapes(
      "crop", [](json& c) { c["cropping"] = -1; }, "'cropping' must not be negative");
  shapes(
      "up",
      [](json& c) {
        c["size"] = {0, 2};
      },
      "'size' must be positive, got 0");
  shapes(
      "up",
      [&](json& c) {
        c["size"] = {big, 2};
      },
      "overflows int64");
}

TEST(KerasRobustness, ReshapeAndPermuteValues) {
  auto shapes = [](const std::string& layer, const std::function<void(json&)>& edit,
                   const std::string& part) {
    expect_tfjs_layer_error("shapes", layer, edit, {part});
  };
  shapes(
      "reshape",
      [](json& c) {
        c["target_shape"] = {-1, -1};
      },
      "more than one unknown");
  shapes(
      "reshape",
      [](json& c) {
        c["target_shape"] = {0, 4};
      },
      "'target_shape' holds 0");
  shapes(
      "reshape",
      [](json& c) {
        c["target_shape"] = {-7, 4};
      },
      "'target_shape' holds -7");
  shapes(
      "reshape", [](json& c) { c["target_shape"] = {"4"}; }, "'target_shape' must hold");
  const std::int64_t big = std::int64_t{1} << 40;
  shapes(
      "reshape",
      [&](json& c) {
        c["target_shape"] = {big, big};
      },
      "overflows int64");
  shapes(
      "perm",
      [](json& c) {
        c["dims"] = {1, 1, 3};
      },
      "'dims' repeats 1");
  shapes(
      "perm",
      [](json& c) {
        c["dims"] = {1, "2", 3};
      },
      "'dims' must hold integers");
}

// Concatenate with a call that passes no tensors used to read xs[0] of an empty list.
TEST(KerasRobustness, MergeWithoutInputs) {
  const auto dir = copy_fixture("merge0", "merges");
  edit_tfjs(dir, [](json& j) {
    layer_named(tfjs_topology(j), "concat")["inbound_nodes"] = json::array({json::array()});
  });
  expect_load_error(dir + "/model.json", {dir, "'concat'", "needs at least 2 inputs"});
}

// nlohmann::json::type_error used to escape from the graph builder without file or layer.
TEST(KerasRobustness, ConfigTypeErrorsNameTheLayer) {
  auto flat_as = [](const std::string& cls, const std::function<void(json&)>& edit,
                    const std::string& part) {
    const auto dir = copy_fixture("types");
    edit_tfjs(dir, [&](json& j) {
      json& l = layer_named(tfjs_topology(j), "flat");
      l["class_name"] = cls;
      edit(l["config"]);
    });
    expect_load_error(dir + "/model.json", {dir, "layer 'flat' (" + cls + ")", part});
  };
  flat_as(
      "Softmax", [](json& c) { c["axis"] = "x"; }, "'axis' must hold integers");
  flat_as(
      "Softmax", [](json& c) { c["axis"] = {1.5}; }, "'axis' must hold integers");
  flat_as(
      "Softmax", [](json& c) { c["axis"] = 9; }, "axis out of range");
  flat_as(
      "PReLU", [](json& c) { c["shared_axes"] = {"1"}; }, "'shared_axes' must hold integers");
  flat_as(
      "Dense", [](json& c) { c["units"] = {"5"}; }, "'units' must hold integers");
  flat_as(
      "Rescaling", [](json& c) { c["scale"] = "x"; }, "'scale' must hold numbers");
  flat_as(
      "Rescaling",
      [](json& c) {
        c["scale"] = {1, 2};
      },
      "'scale' has 2 values, expected 1 or 6");
  // Beyond float's range the double -> float conversion would be undefined.
  flat_as(
      "LeakyReLU", [](json& c) { c["alpha"] = 1e300; }, "'alpha' is out of float range");
  flat_as(
      "ReLU", [](json& c) { c["max_value"] = -1e300; }, "'max_value' is out of float range");
  flat_as(
      "LayerNormalization",
      [](json& c) {
        c["scale"] = false;  // no weights to look for first
        c["center"] = false;
        c["epsilon"] = 1e39;
      },
      "'epsilon' is out of float range");
}

// ---- sweep --------------------------------------------------------------------------------------

// Every config key the builder reads, in every layer of these fixtures, replaced by each hostile
// value: the load (and, when it succeeds, preparing a session) must succeed or throw a one-line
// dnnfi::Error; nothing else may escape, and nothing may crash.
TEST(KerasRobustness, HostileConfigValuesSweep) {
  const std::set<std::string> keys = {
      "activation",    "alpha",          "axis",        "batch_input_shape",
      "center",        "cropping",       "data_format", "depth_multiplier",
      "dilation_rate", "dims",           "epsilon",     "filters",
      "groups",        "interpolation",  "invert",      "keepdims",
      "kernel_size",   "max_value",      "mean",        "negative_slope",
      "offset",        "output_padding", "padding",     "pool_size",
      "scale",         "shared_axes",    "size",        "strides",
      "target_shape",  "theta",          "threshold",   "units",
      "use_bias",      "variance"};
  const std::vector<json> values = {"x",
                                    -1,
                                    0,
                                    1e300,
                                    std::numeric_limits<std::int64_t>::min(),
                                    std::numeric_limits<std::uint64_t>::max(),
                                    std::int64_t{1} << 62,
                                    std::int64_t{1} << 20,
                                    json::array(),
                                    {-1, -1},
                                    {{1, 2}, {3}},
                                    json::object(),
                                    true,
                                    nullptr};
  int loads = 0, errors = 0;
  for (const std::string fixture :
       {"probe", "shapes", "conv_seq", "merges", "patched", "nested", "conv1d"}) {
    const auto dir = copy_fixture("sweep", fixture);
    json original;
    edit_tfjs(dir, [&](json& j) { original = j; });
    std::vector<Tensor> inputs;
    for (int i = 0;; ++i) {
      const std::string p = dir + "/input_" + std::to_string(i) + ".npy";
      if (!std::filesystem::exists(p)) break;
      inputs.push_back(load_npy(p));
    }
    const std::size_t n_layers = tfjs_topology(original)["config"]["layers"].size();
    for (std::size_t li = 0; li < n_layers; ++li) {
      const json& layer_cfg = tfjs_topology(original)["config"]["layers"][li]["config"];
      for (const auto& [key, unused] : layer_cfg.items()) {
        if (!keys.count(key)) continue;
        for (const json& v : values) {
          json j = original;
          tfjs_topology(j)["config"]["layers"][li]["config"][key] = v;
          std::ofstream(dir + "/model.json") << j.dump();
          const std::string what =
              fixture + " layer " + std::to_string(li) + " " + key + "=" + v.dump();
          ++loads;
          try {
            Graph g = load_model(dir + "/model.json");
            SessionOptions opt;
            for (std::size_t i = 0; i < g.inputs.size() && i < inputs.size(); ++i) {
              opt.input_shapes[g.values[static_cast<std::size_t>(g.inputs[i])].name] =
                  inputs[i].shape();
            }
            Session::create(std::move(g), opt);
          } catch (const Error& e) {
            ++errors;
            const std::string msg = e.what();
            EXPECT_EQ(msg.find('\n'), std::string::npos) << what << ": " << msg;
            if (dynamic_cast<const LoadError*>(&e)) {
              EXPECT_NE(msg.find(dir), std::string::npos) << what << ": " << msg;
            }
          } catch (const std::exception& e) {
            ADD_FAILURE() << what << ": " << e.what();
          }
        }
      }
    }
  }
  EXPECT_GT(loads, 500);
  EXPECT_GT(errors, loads / 2);
}

// ---- weight readers: tfjs manifest, HDF5, zip ---------------------------------------------------

TEST(KerasRobustness, WeightsManifestValues) {
  auto manifest = [](const std::function<void(json&)>& edit, const std::string& part) {
    const auto dir = copy_fixture("manifest");
    edit_tfjs(dir, edit);
    expect_load_error(dir + "/model.json", {dir, part});
  };
  auto kernel = [](json& j) -> json& { return j["weightsManifest"][0]["weights"][0]; };
  manifest(
      [&](json& j) {
        kernel(j)["shape"] = {3, "3", 3, 6};
      },
      "weight 'conv/kernel': 'shape' holds a non-integer");
  manifest(
      [&](json& j) {
        kernel(j)["shape"] = {3, 1e300, 3, 6};
      },
      "weight 'conv/kernel': 'shape' holds a non-integer");
  manifest([&](json& j) { kernel(j)["shape"] = {3, -3, 3, 6}; }, "weight 'conv/kernel': bad shape");
  manifest([&](json& j) { kernel(j)["dtype"] = 5; },
           "weight 'conv/kernel': 'dtype' is not a string");
  manifest(
      [&](json& j) {
        kernel(j)["quantization"] = {{"dtype", "uint8"}, {"scale", "x"}, {"min", 0}};
      },
      "weight 'conv/kernel': quantization 'scale' and 'min' must be numbers");
  manifest([&](json& j) { kernel(j)["quantization"] = 3; },
           "weight 'conv/kernel': 'quantization' has no dtype");
  manifest([&](json& j) { kernel(j)["name"] = 5; },
           "weightsManifest[0]: a weight entry has no name");
  manifest([&](json& j) { j["weightsManifest"][0]["paths"] = {5}; },
           "weightsManifest[0]: 'paths' holds a non-string");
  manifest([&](json& j) { j["weightsManifest"][0] = "x"; }, "weightsManifest[0]: needs a 'paths'");
  const auto dir = copy_fixture("manifest_format");
  edit_tfjs(dir, [](json& j) { j["format"] = 5; });  // not "graph-model", so a layers model
  EXPECT_NO_THROW(load_model(dir + "/model.json"));
}

// A shape of 2^34 floats over a 700-byte shard used to allocate 64 GiB before the length check.
TEST(KerasRobustness, HugeManifestShapeIsCheckedBeforeAllocating) {
  const auto dir = copy_fixture("huge_shape");
  edit_tfjs(dir, [](json& j) {
    j["weightsManifest"][0]["weights"][0]["shape"] = {std::int64_t{1} << 34};
  });
  expect_load_error(dir + "/model.json", {dir, "weight 'conv/kernel': weight shards too short"});
}

// A Keras 3 dataset that declares 2^33 floats but stores none.
TEST(KerasRobustness, HugeUnstoredDatasetIsRefused) {
  const auto dir = copy_fixture("huge_dataset");
  const std::string path = dir + "/model.keras";
  edit_keras_weights(path, [](hid_t f) {
    const char* name = "layers/conv2d/vars/0";
    ASSERT_GE(H5Ldelete(f, name, H5P_DEFAULT), 0);
    const hsize_t n = hsize_t{1} << 33;
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t ds =
        H5Dcreate2(f, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    H5Dclose(ds);
    H5Sclose(space);
  });
  expect_load_error(path, {dir, "'layers/conv2d/vars'", "holds less data than its shape"});
}

// A .keras whose directory claims a 512 MiB config.json: refused before anything is allocated
// (the reader also no longer sizes its buffer from the claim).
TEST(KerasRobustness, OversizedZipMemberIsRefused) {
  const auto dir = copy_fixture("zip_claim");
  const std::string path = dir + "/model.keras";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string name = "config.json";
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  int patched = 0;
  for (std::size_t at = 0; at + 46 + name.size() <= bytes.size(); ++at) {
    // Local header: size at 22, name at 30; central directory entry: size at 24, name at 46.
    if (bytes.compare(at, 4, "PK\x03\x04") == 0 && bytes.compare(at + 30, name.size(), name) == 0) {
      put32(at + 22, 512u << 20);
      ++patched;
    } else if (bytes.compare(at, 4, "PK\x01\x02") == 0 &&
               bytes.compare(at + 46, name.size(), name) == 0) {
      put32(at + 24, 512u << 20);
      ++patched;
    }
  }
  ASSERT_EQ(patched, 2);
  std::ofstream(path, std::ios::binary) << bytes;
  expect_load_error(path, {dir, "'config.json' too large"});
}

// Hard links can make a weights file's groups a cycle (stopped by the depth bound) or a shallow
// graph of exponentially many paths: here 40 levels of groups that each reach the next twice.
TEST(KerasRobustness, WeightGroupWalksAreBounded) {
  const auto dir = copy_fixture("h5_paths");
  const std::string path = dir + "/model.keras";
  edit_keras_weights(path, [](hid_t f) {
    hid_t g = H5Gcreate2(f, "layers/d", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < 40; ++i) {
      const hid_t next = H5Gcreate2(g, "a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      ASSERT_GE(H5Lcreate_hard(g, "a", g, "b", H5P_DEFAULT, H5P_DEFAULT), 0);
      H5Gclose(g);
      g = next;
    }
    H5Gclose(g);
  });
  expect_load_error(path, {dir, "model.weights.h5: too many weight groups"});
  const auto dir2 = copy_fixture("h5_cycle");
  edit_keras_weights(dir2 + "/model.keras", [](hid_t f) {
    ASSERT_GE(H5Lcreate_hard(f, "/", f, "layers/a", H5P_DEFAULT, H5P_DEFAULT), 0);
  });
  expect_load_error(dir2 + "/model.keras",
                    {dir2, "model.weights.h5: weight groups nested too deeply"});
}

}  // namespace
}  // namespace dnnfi
