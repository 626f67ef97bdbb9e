// Test helper: build small ONNX models in C++ with the protobuf classes and write them to files,
// so loader tests do not depend on Python.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace dnnfi::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(std::int64_t opset = 13, std::int64_t ir_version = 8);
  // dims < 0 become symbolic dims named "N".
  OnnxBuilder& input(const std::string& name, std::vector<std::int64_t> dims, int elem_type = 1);
  OnnxBuilder& output(const std::string& name);
  OnnxBuilder& initializer(const std::string& name, std::vector<std::int64_t> dims,
                           std::vector<float> values);
  OnnxBuilder& initializer_i64(const std::string& name, std::vector<std::int64_t> dims,
                               std::vector<std::int64_t> values);
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs,
                        std::vector<std::string> outputs, const std::string& name = "");
  static void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t v);
  static void set_ints(onnx::NodeProto& n, const std::string& name, std::vector<std::int64_t> v);

  onnx::ModelProto& model() { return model_; }
  // Writes the model and returns the path.
  std::string save(const std::string& path) const;

 private:
  onnx::ModelProto model_;
};

// A fresh temporary directory for one test.
std::string temp_dir(const std::string& tag);

// Runs the dnnfi CLI with the arguments; returns the exit code and captures stdout/stderr.
struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CliResult run_cli(const std::string& args);
// Expects exit code 2 and exactly one stderr line "dnnfi: error: ..." that contains must_mention.
void expect_one_line_error(const CliResult& r, const std::string& must_mention);

}  // namespace dnnfi::test
