// The CLI: every bad input is one line on stderr and exit code 2, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/onnx_builder.h"

namespace dnnfi {
namespace {

using test::expect_one_line_error;
using test::run_cli;

const std::string kModel = std::string(DNNFI_SOURCE_DIR) + "/models/fmnist_resnet.onnx";
const std::string kInput = std::string(DNNFI_SOURCE_DIR) + "/models/fmnist_sample_input.npy";

TEST(Cli, RunPrintsTop5OfTheDefaultModel) {
  auto r = run_cli("run " + kModel + " --input " + kInput);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("top-5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("class     9"), std::string::npos) << r.out;  // ankle boot
}

TEST(Cli, InspectListsNodesAndFlops) {
  auto r = run_cli("inspect " + kModel);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Conv"), std::string::npos);
  EXPECT_NE(r.out.find("FLOPs"), std::string::npos);
  EXPECT_NE(r.out.find("[1,10]"), std::string::npos);
}

TEST(Cli, HelpOnEveryCommand) {
  for (const char* cmd : {"", "run ", "inspect ", "inject ", "report "}) {
    auto r = run_cli(std::string(cmd) + "--help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << r.out;
  }
}

TEST(Cli, BadFilesGiveOneLineAndExit2) {
  const std::string dir = test::temp_dir("cli");
  expect_one_line_error(run_cli("run " + dir + "/missing.onnx"), "missing.onnx");
  std::ofstream(dir + "/junk.onnx") << "this is not a model";
  expect_one_line_error(run_cli("inspect " + dir + "/junk.onnx"), "junk.onnx");
  // Truncated copy of a real model.
  {
    std::ifstream in(kModel, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir + "/cut.onnx", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  expect_one_line_error(run_cli("run " + dir + "/cut.onnx"), "cut.onnx");
  // Random bytes.
  {
    std::mt19937 gen(3);
    std::string junk(4096, '\0');
    for (char& c : junk) c = static_cast<char>(gen());
    std::ofstream(dir + "/rand.onnx", std::ios::binary) << junk;
  }
  expect_one_line_error(run_cli("run " + dir + "/rand.onnx"), "rand.onnx");
  std::filesystem::remove_all(dir);
}

TEST(Cli, UnsupportedOpNamesTheNode) {
  const std::string dir = test::temp_dir("cli");
  test::OnnxBuilder b;
  b.input("x", {1, 3});
  b.node("NonMaxSuppression", {"x"}, {"y"}, "the_nms");
  b.output("y");
  const std::string p = b.save(dir + "/m.onnx");
  expect_one_line_error(run_cli("run " + p), "the_nms");
  std::filesystem::remove_all(dir);
}

TEST(Cli, WrongInputShapeOrDtype) {
  const std::string dir = test::temp_dir("cli");
  // A [1,1,27,28] float32 array: wrong shape for the model's [N,1,28,28] input.
  auto write_npy = [&](const std::string& name, const std::string& descr, const std::string& shape,
                       std::size_t bytes) {
    std::string header =
        "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header += '\n';
    std::string out = "\x93NUMPY\x01";
    out += '\0';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    out += header + std::string(bytes, '\0');
    std::ofstream(dir + "/" + name, std::ios::binary) << out;
    return dir + "/" + name;
  };
  expect_one_line_error(run_cli("run " + kModel + " --input " +
                                write_npy("a.npy", "<f4", "(1, 1, 27, 28)", 27 * 28 * 4)),
                        "'input'");
  expect_one_line_error(run_cli("run " + kModel + " --input " +
                                write_npy("b.npy", "<i8", "(1, 1, 28, 28)", 28 * 28 * 8)),
                        "int64");
  expect_one_line_error(run_cli("run " + kModel + " --input " +
                                write_npy("c.npy", "<f4", "(1, 28, 28)", 28 * 28 * 4)),
                        "c.npy");
  expect_one_line_error(run_cli("run " + kModel + " --input " + dir + "/none.npy"), "none.npy");
  std::filesystem::remove_all(dir);
}

TEST(Cli, InjectReportsOutcomeAndBadSites) {
  auto r = run_cli("inject " + kModel + " --input " + kInput +
                   " --node /stem/stem.2/Relu --index 100 --bit 30");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("outcome: sdc"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0x3e9da957"), std::string::npos) << r.out;
  expect_one_line_error(run_cli("inject " + kModel + " --node no_such_node --bit 3"),
                        "no_such_node");
  expect_one_line_error(
      run_cli("inject " + kModel + " --node /stem/stem.2/Relu --index 99999999 --bit 3"),
      "99999999");
  expect_one_line_error(run_cli("inject " + kModel + " --node /stem/stem.2/Relu --bit 32"),
                        "bit 32");
}

}  // namespace
}  // namespace dnnfi
