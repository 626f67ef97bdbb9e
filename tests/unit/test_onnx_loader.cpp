#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/onnx_builder.h"
#include "core/error.h"
#include "exec/session.h"
#include "onnx/loader.h"

namespace dnnfi {
namespace {

using test::OnnxBuilder;

// x[N,3] -> Add(x, b) -> Relu -> y
OnnxBuilder small_model() {
  OnnxBuilder b;
  b.input("x", {-1, 3}).initializer("b", {3}, {1.0f, -2.0f, 0.5f});
  b.node("Add", {"x", "b"}, {"s"}, "add");
  b.node("Relu", {"s"}, {"y"}, "relu");
  b.output("y");
  return b;
}

std::string write_bytes(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string p = dir + "/" + name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

TEST(OnnxLoader, LoadsAndRunsWithSymbolicBatch) {
  const std::string dir = test::temp_dir("loader");
  const std::string path = small_model().save(dir + "/m.onnx");
  Graph g = load_onnx(path);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].info.shape, (Shape{-1, 3}));
  EXPECT_EQ(g.values[g.inputs[0]].dim_names[0], "N");
  SessionOptions opts;
  opts.input_shapes["x"] = {2, 3};
  auto s = Session::create(std::move(g), opts);
  Tensor x = make_tensor<float>({2, 3}, {0.0f, 1.0f, -1.0f, -3.0f, 3.0f, 0.25f});
  std::vector<Tensor> out;
  ASSERT_TRUE(s->run_once({&x, 1}, out).is_ok());
  ASSERT_EQ(out[0].shape(), (Shape{2, 3}));
  const std::vector<float> want = {1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.75f};  // relu(x + b)
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out[0].data<float>()[i], want[i]) << i;
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoader, SymbolicDimDefaultsToOne) {
  const std::string dir = test::temp_dir("loader");
  auto s = Session::create(load_onnx(small_model().save(dir + "/m.onnx")));
  EXPECT_EQ(s->info(s->graph().inputs[0]).shape, (Shape{1, 3}));
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoader, NodesAreTopologicallySorted) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("Relu", {"s"}, {"y"}, "second");  // listed before its producer
  b.node("Neg", {"x"}, {"s"}, "first");
  b.output("y");
  Graph g = load_onnx(b.save(dir + "/m.onnx"));
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "first");
  EXPECT_EQ(g.nodes[1].name, "second");
  const int s = g.find_value("s");
  EXPECT_EQ(g.values[s].producer, 0);
  ASSERT_EQ(g.values[s].consumers.size(), 1u);
  EXPECT_EQ(g.values[s].consumers[0], 1);
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoader, GraphInputThatIsAlsoInitializerIsConstant) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b = small_model();
  b.input("b", {3});  // listed as input too: the initializer is its default value
  Graph g = load_onnx(b.save(dir + "/m.onnx"));
  EXPECT_EQ(g.inputs.size(), 1u);
  auto s = Session::create(std::move(g));
  EXPECT_TRUE(s->is_constant(s->graph().find_value("b")));
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoader, ConstantSubgraphIsFolded) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b;
  b.input("x", {2, 3}).initializer("c", {3}, {1, 2, 3});
  b.node("Neg", {"c"}, {"nc"}, "neg_const");
  b.node("Add", {"x", "nc"}, {"y"}, "add");
  b.output("y");
  auto s = Session::create(load_onnx(b.save(dir + "/m.onnx")));
  EXPECT_EQ(s->run_order().size(), 1u);
  EXPECT_TRUE(s->is_constant(s->graph().find_value("nc")));
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoader, ExternalData) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b = small_model();
  auto* init = b.model().mutable_graph()->mutable_initializer(0);
  init->clear_float_data();
  init->set_data_location(onnx::TensorProto::EXTERNAL);
  const float vals[5] = {99.0f, 1.0f, -2.0f, 0.5f, 99.0f};
  std::ofstream(dir + "/w.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(vals), sizeof(vals));
  auto add_kv = [&](const char* k, const std::string& v) {
    auto* e = init->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add_kv("location", "w.bin");
  add_kv("offset", "4");
  add_kv("length", "12");
  Graph g = load_onnx(b.save(dir + "/m.onnx"));
  const Tensor& w = g.values[g.find_value("b")].initializer;
  EXPECT_EQ(w.data<float>()[0], 1.0f);
  EXPECT_EQ(w.data<float>()[1], -2.0f);
  EXPECT_EQ(w.data<float>()[2], 0.5f);
  // A location outside the model folder is refused.
  init->mutable_external_data(0)->set_value("../w.bin");
  EXPECT_THROW(load_onnx(b.save(dir + "/m2.onnx")), LoadError);
  // A data file shorter than the tensor.
  init->mutable_external_data(0)->set_value("w.bin");
  init->mutable_external_data(1)->set_value("16");
  EXPECT_THROW(load_onnx(b.save(dir + "/m3.onnx")), LoadError);
  std::filesystem::remove_all(dir);
}

// Every bad-input error is a dnnfi::Error whose message names the file and the thing at fault.
void expect_error_mentions(const std::function<void()>& f, const std::vector<std::string>& words) {
  try {
    f();
    FAIL() << "no error thrown";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << msg << " lacks " << w;
  }
}

// A length-delimited protobuf field: key (number, wire type 2), length, payload.
std::string field(int number, const std::string& payload) {
  std::string out;
  auto varint = [&](std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    out.push_back(static_cast<char>(v));
  };
  varint(static_cast<std::uint64_t>(number) << 3 | 2);
  varint(payload.size());
  return out + payload;
}

std::string float_bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)};
}

// The loader reads initializers' raw_data in place from the file's bytes, parsing the rest with
// protobuf; it must give what protobuf's own parse of the whole file gives, whatever the order of
// fields and wherever protobuf merges repeated ones (the last raw_data of a tensor wins; two graph
// fields are one graph). Oracle: onnx::ModelProto::ParseFromString of the same bytes.
TEST(OnnxLoader, InitializerBytesAsProtobufReadsThem) {
  const std::string dir = test::temp_dir("loader");
  onnx::ModelProto base = small_model().model();
  onnx::GraphProto graph = base.graph();
  graph.clear_initializer();
  base.clear_graph();
  std::string model_rest, graph_rest, tensor_rest;
  base.SerializeToString(&model_rest);
  graph.SerializeToString(&graph_rest);
  onnx::TensorProto t;
  t.set_name("b");
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(3);
  t.SerializeToString(&tensor_rest);
  const std::vector<float> a = {1.0f, -2.0f, 0.5f}, want = {3.0f, -1.0f, 7.0f};
  const std::string raw_a = field(9, float_bytes(a)), raw_b = field(9, float_bytes(want));
  const std::vector<std::pair<std::string, std::string>> layouts = {
      {"raw_data after dims", model_rest + field(7, graph_rest + field(5, tensor_rest + raw_b))},
      {"raw_data first, initializer first",
       field(7, field(5, raw_b + tensor_rest) + graph_rest) + model_rest},
      {"raw_data twice", model_rest + field(7, graph_rest + field(5, tensor_rest + raw_a + raw_b))},
      {"two graph fields",
       model_rest + field(7, graph_rest) + field(7, field(5, raw_b + tensor_rest))},
  };
  for (const auto& [name, bytes] : layouts) {
    onnx::ModelProto oracle;
    ASSERT_TRUE(oracle.ParseFromString(bytes)) << name;
    ASSERT_EQ(oracle.graph().initializer_size(), 1) << name;
    ASSERT_EQ(oracle.graph().initializer(0).raw_data(), float_bytes(want)) << name;
    const Graph g = load_onnx(write_bytes(dir, "m.onnx", bytes));
    int b = -1;
    for (std::size_t v = 0; v < g.values.size(); ++v) {
      if (g.values[v].name == "b") b = static_cast<int>(v);
    }
    ASSERT_GE(b, 0) << name;
    const Tensor& init = g.values[static_cast<std::size_t>(b)].initializer;
    ASSERT_EQ(init.shape(), (Shape{3})) << name;
    EXPECT_EQ(std::vector<float>(init.data<float>(), init.data<float>() + 3), want) << name;
    EXPECT_EQ(g.nodes.size(), 2u) << name;
  }
  // A raw_data of the wrong size is the same one-line error as before.
  const std::string p = write_bytes(
      dir, "short.onnx",
      model_rest + field(7, graph_rest + field(5, tensor_rest + field(9, std::string(8, '\0')))));
  expect_error_mentions([&] { load_onnx(p); }, {p, "initializer 'b'", "holds 8 bytes"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, MissingFile) {
  expect_error_mentions([] { load_onnx("/nonexistent/m.onnx"); }, {"/nonexistent/m.onnx"});
}

TEST(OnnxLoaderErrors, TruncatedAndRandomBytes) {
  const std::string dir = test::temp_dir("loader");
  std::string bytes;
  small_model().model().SerializeToString(&bytes);
  for (std::size_t cut : {std::size_t{0}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 3}) {
    const std::string p = write_bytes(dir, "t.onnx", bytes.substr(0, cut));
    expect_error_mentions([&] { Session::create(load_onnx(p)); }, {p});
  }
  std::mt19937 gen(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::string junk(64 + trial * 37, '\0');
    for (char& c : junk) c = static_cast<char>(gen());
    const std::string p = write_bytes(dir, "r.onnx", junk);
    expect_error_mentions([&] { Session::create(load_onnx(p)); }, {p});
  }
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, MissingInitializerNamesTheValue) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("Add", {"x", "missing_w"}, {"y"}, "add");
  b.output("y");
  const std::string p = b.save(dir + "/m.onnx");
  expect_error_mentions([&] { load_onnx(p); }, {p, "missing_w", "add"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, CycleNamesANode) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("Add", {"x", "b"}, {"a"}, "n1");
  b.node("Relu", {"a"}, {"b"}, "n2");
  b.output("b");
  const std::string p = b.save(dir + "/m.onnx");
  expect_error_mentions([&] { load_onnx(p); }, {"cycle"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, DanglingGraphOutput) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("Relu", {"x"}, {"y"}, "r");
  b.output("nowhere");
  const std::string p = b.save(dir + "/m.onnx");
  expect_error_mentions([&] { load_onnx(p); }, {"nowhere"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, UnsupportedOpNamesNodeOpAndOpset) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("NonMaxSuppression", {"x"}, {"y"}, "nms_node");
  b.output("y");
  const std::string p = b.save(dir + "/m.onnx");
  expect_error_mentions([&] { Session::create(load_onnx(p)); },
                        {"nms_node", "NonMaxSuppression", "13"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, UnsupportedIrVersionAndOpset) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b = small_model();
  b.model().set_ir_version(2);
  expect_error_mentions([&] { load_onnx(b.save(dir + "/a.onnx")); }, {"IR version 2"});
  OnnxBuilder c = small_model();
  c.model().mutable_opset_import(0)->set_version(18);
  expect_error_mentions([&] { load_onnx(c.save(dir + "/b.onnx")); }, {"opset 18"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, ShapeMismatchNamesNode) {
  const std::string dir = test::temp_dir("loader");
  OnnxBuilder b;
  b.input("x", {2, 3}).initializer("w", {4}, {1, 2, 3, 4});
  b.node("Add", {"x", "w"}, {"y"}, "bad_add");
  b.output("y");
  const std::string p = b.save(dir + "/m.onnx");
  expect_error_mentions([&] { Session::create(load_onnx(p)); }, {"bad_add", "Add"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoaderErrors, WrongInputShapeOrDtypeAtRun) {
  const std::string dir = test::temp_dir("loader");
  auto s = Session::create(load_onnx(small_model().save(dir + "/m.onnx")));
  Tensor wrong_shape(DType::kFloat32, {1, 4});
  std::vector<Tensor> out;
  expect_error_mentions([&] { (void)s->run_once({&wrong_shape, 1}, out); }, {"'x'", "[1,4]"});
  Tensor wrong_dtype(DType::kInt64, {1, 3});
  expect_error_mentions([&] { (void)s->run_once({&wrong_dtype, 1}, out); }, {"'x'", "int64"});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnnfi
