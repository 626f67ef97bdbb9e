// The bad-input table of docs/error_handling.md, row by row, through the CLI: each kind of bad
// input gives one line on stderr naming the file/node/key at fault and exit code 2, and never
// touches existing results. Rows already covered elsewhere name their test in the table.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "common/onnx_builder.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::OnnxBuilder;
using test::run_cli;

const std::string kSource = DNNFI_SOURCE_DIR;
const std::string kModel = kSource + "/models/fmnist_resnet.onnx";

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("bad_input"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }
  std::string dir_;
};

TEST_F(BadInput, HugeGraphInputDims) {
  // Three dims of 2^31: the element count overflows int64 (it was only checked for negatives).
  OnnxBuilder b;
  b.input("x", {2147483648, 2147483648, 2147483648});
  b.node("Relu", {"x"}, {"y"}, "r");
  b.output("y");
  const auto r = run_cli("run " + b.save(path("huge.onnx")));
  expect_one_line_error(r, "huge.onnx: input 'x': shape [2147483648,2147483648,2147483648]");
  EXPECT_NE(r.err.find("over the 8 GiB limit for one tensor"), std::string::npos) << r.err;
}

TEST_F(BadInput, HugeInferredShape) {
  // A ConstantOfShape whose shape is fine as numbers but would take 32 TiB.
  OnnxBuilder b;
  b.input("x", {1});
  b.initializer_i64("shape", {2}, {1 << 22, 1 << 21});
  b.node("ConstantOfShape", {"shape"}, {"big"}, "make_big");
  b.node("Add", {"x", "big"}, {"y"}, "add");
  b.output("y");
  expect_one_line_error(run_cli("run " + b.save(path("big.onnx"))),
                        "node 'make_big' (ConstantOfShape");
}

TEST_F(BadInput, HugeConvPadsAndDilations) {
  // Pads near 2^62 overflowed the output-size arithmetic (signed overflow).
  for (const char* attr : {"pads", "dilations", "strides"}) {
    OnnxBuilder b;
    b.input("x", {1, 1, 4, 4});
    b.initializer("w", {1, 1, 1, 1}, {1.0f});
    auto& conv = b.node("Conv", {"x", "w"}, {"y"}, "conv");
    const std::int64_t big = std::int64_t{1} << 62;
    OnnxBuilder::set_ints(conv, attr,
                          std::string(attr) == "pads"
                              ? std::vector<std::int64_t>{big, big, big, big}
                              : std::vector<std::int64_t>{big, big});
    b.output("y");
    expect_one_line_error(run_cli("run " + b.save(path("conv.onnx"))),
                          "node 'conv' (Conv opset 13): attribute '" + std::string(attr) + "' has value " +
                              std::to_string(big) + " > 16777216");
  }
}

TEST_F(BadInput, HugePoolWindowPreparesWithoutHugeTables) {
  // A MaxPool window 2^20 wide with 2^20 of padding: legal, but the direct kernel's tap-mask table
  // would have taken 128 GiB (std::bad_alloc at prepare); it falls back to the generic kernel.
  OnnxBuilder b;
  b.input("x", {1, 1, 1, 1});
  auto& pool = b.node("MaxPool", {"x"}, {"y"}, "pool");
  OnnxBuilder::set_ints(pool, "kernel_shape", {1, 1 << 20});
  OnnxBuilder::set_ints(pool, "pads", {0, 1 << 20, 0, 1 << 20});
  b.output("y");
  const auto r = run_cli("inspect " + b.save(path("pool.onnx")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[1,1,1,1048578]"), std::string::npos) << r.out;
}

TEST_F(BadInput, DuplicateNodeNamesAreRenamed) {
  // ONNX only asks node names to be unique; dnnfi renames the second so every fault site has one
  // name, and says so in inspect's node table.
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("Relu", {"x"}, {"a"}, "same");
  b.node("Relu", {"a"}, {"y"}, "same");
  b.output("y");
  const auto r = run_cli("inspect " + b.save(path("dup.onnx")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("same_1"), std::string::npos) << r.out;
}

TEST_F(BadInput, ValueProducedTwice) {
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("Relu", {"x"}, {"y"}, "first");
  b.node("Sigmoid", {"x"}, {"y"}, "second");
  b.output("y");
  expect_one_line_error(run_cli("run " + b.save(path("twice.onnx"))),
                        "twice.onnx: value 'y' is produced more than once (node 'second')");
}

TEST_F(BadInput, CyclicGraph) {
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("Add", {"x", "b"}, {"a"}, "n1");
  b.node("Relu", {"a"}, {"b"}, "n2");
  b.output("b");
  expect_one_line_error(run_cli("run " + b.save(path("cycle.onnx"))),
                        "cycle.onnx: the graph has a cycle through node 'n");
}

TEST_F(BadInput, UnwritableOutputKeepsResults) {
  // The output folder's parent is a file; then an existing results folder is never overwritten.
  write("file", "x");
  const std::string cfg = kSource + "/configs/demo.yaml";
  expect_one_line_error(run_cli("campaign " + cfg + " --trials 10 -o " + path("file/out")),
                        path("file/out") + ": cannot create the output directory");
  fs::create_directories(path("done"));
  const std::string marker = write("done/results.sqlite", "existing results");
  expect_one_line_error(run_cli("campaign " + cfg + " --trials 10 -o " + path("done")),
                        path("done"));
  std::ifstream in(marker);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "existing results");
}

TEST_F(BadInput, DecompressionBomb) {
  // 10 Fashion-MNIST-sized images declared, 512 MiB of zeros inflating behind them (0.5 MB of
  // gzip). The campaign stops at the first byte past the declared size.
  std::string header = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28};
  gzFile f = gzopen(path("bomb.gz").c_str(), "wb9");
  gzwrite(f, header.data(), static_cast<unsigned>(header.size()));
  const std::string zeros(1 << 20, '\0');
  for (int i = 0; i < 512; ++i) gzwrite(f, zeros.data(), static_cast<unsigned>(zeros.size()));
  gzclose(f);
  const std::string labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  expect_one_line_error(
      run_cli("campaign " + kSource +
              "/configs/demo.yaml --trials 10 --dataset-format idx --dataset " + path("bomb.gz") +
              " --labels " + labels + " -o " + path("out")),
      path("bomb.gz") + ": oversized IDX data (more than the 7840 bytes header [10,28,28] needs)");
}

}  // namespace
}  // namespace dnnfi
