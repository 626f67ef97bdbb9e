#include "common/onnx_builder.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace dnnfi::test {

OnnxBuilder::OnnxBuilder(std::int64_t opset, std::int64_t ir_version) {
  model_.set_ir_version(ir_version);
  auto* op = model_.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

OnnxBuilder& OnnxBuilder::input(const std::string& name, std::vector<std::int64_t> dims,
                                int elem_type) {
  auto* in = model_.mutable_graph()->add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (auto d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
  return *this;
}

OnnxBuilder& OnnxBuilder::output(const std::string& name) {
  model_.mutable_graph()->add_output()->set_name(name);
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer(const std::string& name, std::vector<std::int64_t> dims,
                                      std::vector<float> values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(1);
  for (auto d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer_i64(const std::string& name, std::vector<std::int64_t> dims,
                                          std::vector<std::int64_t> values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(7);
  for (auto d : dims) t->add_dims(d);
  for (auto v : values) t->add_int64_data(v);
  return *this;
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op, std::vector<std::string> inputs,
                                   std::vector<std::string> outputs, const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& i : inputs) n->add_input(i);
  for (auto& o : outputs) n->add_output(o);
  return *n;
}

void OnnxBuilder::set_int(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void OnnxBuilder::set_ints(onnx::NodeProto& n, const std::string& name,
                           std::vector<std::int64_t> v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

std::string OnnxBuilder::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  model_.SerializeToOstream(&out);
  return path;
}

std::string temp_dir(const std::string& tag) {
  static std::mt19937_64 gen(std::random_device{}());
  const auto dir =
      std::filesystem::temp_directory_path() / ("dnnfi_test_" + tag + "_" + std::to_string(gen()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

CliResult run_cli(const std::string& args) {
  const std::string dir = temp_dir("cli");
  const std::string out_path = dir + "/out.txt";
  const std::string err_path = dir + "/err.txt";
  const std::string cmd =
      std::string(DNNFI_CLI_PATH) + " " + args + " >" + out_path + " 2>" + err_path + " </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

void expect_one_line_error(const CliResult& r, const std::string& must_mention) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("dnnfi: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(must_mention), std::string::npos) << r.err;
}

}  // namespace dnnfi::test
