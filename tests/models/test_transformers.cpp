// The transformer fixtures (tests/models/transformers, made by
// scripts/make_transformer_fixtures.py) match PyTorch's outputs within 1e-4 with every kind of
// session: plain, reference kernels, fused + channels-last (what `dnnfi run` uses), two threads.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "common/fixtures.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

std::string fixture_dir(const std::string& name) {
  return std::string(DNNFI_SOURCE_DIR) + "/tests/models/transformers/" + name;
}

std::shared_ptr<const Session> transformer_session(const std::string& name, SessionOptions opts) {
  return Session::create(load_model(fixture_dir(name) + "/model.onnx"), opts);
}

double max_abs_diff(const Tensor& a, const Tensor& e) {
  double d = 0.0;
  for (std::int64_t i = 0; i < e.numel(); ++i) {
    d = std::max(d, std::abs(a.get_as_double(i) - e.get_as_double(i)));
  }
  return d;
}

class Transformers : public ::testing::TestWithParam<const char*> {};

TEST_P(Transformers, MatchPyTorchWithinOneInTenThousand) {
  const std::string name = GetParam();
  const Tensor input = load_npy(fixture_dir(name) + "/input.npy");
  const Tensor expected = load_npy(fixture_dir(name) + "/expected.npy");
  struct Variant {
    const char* what;
    bool reference, fuse, channels_last;
    int threads;
  };
  for (const Variant& v : {Variant{"plain", false, false, false, 1},
                           Variant{"reference kernels", true, false, false, 1},
                           Variant{"fused, channels-last (dnnfi run)", false, true, true, 1},
                           Variant{"two threads", false, true, true, 2}}) {
    SCOPED_TRACE(v.what);
    SessionOptions opts;
    opts.reference_kernels = v.reference;
    opts.fuse = v.fuse;
    opts.channels_last = v.channels_last;
    opts.threads = v.threads;
    std::vector<Tensor> out;
    const Status st = transformer_session(name, opts)->run_once({&input, 1}, out);
    ASSERT_TRUE(st.is_ok()) << st.message();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].shape(), expected.shape());
    EXPECT_LE(max_abs_diff(out[0], expected), 1e-4);
    EXPECT_EQ(top1_per_row(out[0]), top1_per_row(expected));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Transformers, ::testing::Values("bert", "vit"));

// The fixtures hold the graph patterns they are meant to cover (a re-export with another torch
// that simplified them away would make the comparison above weaker without failing it).
TEST(Transformers, GraphsCoverTheTransformerOps) {
  auto ops_of = [](const std::string& name) {
    std::set<std::string> ops;
    for (const Node& n : load_model(fixture_dir(name) + "/model.onnx").nodes) ops.insert(n.op_type);
    return ops;
  };
  const std::set<std::string> bert = ops_of("bert");
  for (const char* op : {"Gather", "MatMul", "Softmax", "LayerNormalization", "Erf", "Where",
                         "Equal", "Transpose", "Reshape"}) {
    EXPECT_TRUE(bert.count(op)) << "bert has no " << op;
  }
  const std::set<std::string> vit = ops_of("vit");
  for (const char* op :
       {"Conv", "Concat", "MatMul", "Softmax", "ReduceMean", "Pow", "Sqrt", "Erf", "Transpose"}) {
    EXPECT_TRUE(vit.count(op)) << "vit has no " << op;
  }
  EXPECT_FALSE(vit.count("LayerNormalization")) << "vit's LayerNorm should be decomposed";
  EXPECT_EQ(load_npy(fixture_dir("bert") + "/input.npy").dtype(), DType::kInt64);
}

// Token ids come from tensor data: an id outside the vocabulary (as a fault on the input would
// make) is a kernel error, not a read out of bounds.
TEST(Transformers, OutOfVocabularyTokenIdIsAnError) {
  Tensor ids = load_npy(fixture_dir("bert") + "/input.npy");
  ids.data<std::int64_t>()[3] = 1 << 20;
  std::vector<Tensor> out;
  EXPECT_FALSE(transformer_session("bert", {})->run_once({&ids, 1}, out).is_ok());
}

}  // namespace
}  // namespace dnnfi
