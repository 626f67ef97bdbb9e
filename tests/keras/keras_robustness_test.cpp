// Keras readers against bad input (issue 11): each input that used to crash, hit undefined
// behaviour or escape as a non-dnnfi exception is built here from a fixture and must give one
// LoadError line naming the file and the layer or key at fault.
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

}  // namespace
}  // namespace dnnfi
