// Every architecture fixture runs and matches PyTorch's output; the optimised kernels match the
// reference kernels on whole models.
#include <gtest/gtest.h>

#include <cmath>

#include "common/fixtures.h"
#include "core/npy.h"
#include "exec/model_file.h"
#include "exec/session.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

std::vector<Tensor> run_fixture(const test::Fixture& f, bool reference, int threads = 1) {
  Tensor input = load_npy(f.input);
  Graph g = load_model(f.model);
  SessionOptions opts;
  opts.reference_kernels = reference;
  opts.threads = threads;
  opts.input_shapes[g.values[g.inputs[0]].name] = input.shape();
  auto s = Session::create(std::move(g), opts);
  std::vector<Tensor> out;
  const Status st = s->run_once({&input, 1}, out);
  EXPECT_TRUE(st.is_ok()) << f.name << ": " << st.message();
  return out;
}

// |a - e| <= rtol * max|e| + atol elementwise (PyTorch and dnnfi sum in different orders).
void expect_close(const Tensor& a, const Tensor& e, double rtol, const std::string& what) {
  ASSERT_EQ(a.shape(), e.shape()) << what;
  double scale = 0.0;
  for (std::int64_t i = 0; i < e.numel(); ++i)
    scale = std::max(scale, std::abs(e.get_as_double(i)));
  for (std::int64_t i = 0; i < e.numel(); ++i) {
    ASSERT_NEAR(a.get_as_double(i), e.get_as_double(i), rtol * scale + 1e-7)
        << what << " element " << i;
  }
}

TEST(Models, FixturesExist) { EXPECT_GE(test::model_fixtures().size(), 10u); }

TEST(Models, MatchPyTorch) {
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    auto out = run_fixture(f, false);
    ASSERT_FALSE(out.empty());
    Tensor expected = load_npy(f.expected);
    expect_close(out[0], expected, 1e-4, f.name);
    EXPECT_EQ(top1_per_row(out[0]), top1_per_row(expected)) << f.name;
  }
}

TEST(Models, ReferenceKernelsMatchPyTorch) {
  for (const auto& f : test::model_fixtures()) {
    SCOPED_TRACE(f.name);
    auto out = run_fixture(f, true);
    ASSERT_FALSE(out.empty());
    expect_close(out[0], load_npy(f.expected), 1e-4, f.name);
  }
}

TEST(Models, TwoThreadsMatchOneThread) {
  for (const auto& f : test::model_fixtures()) {
    auto a = run_fixture(f, false, 1);
    auto b = run_fixture(f, false, 2);
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    expect_close(b[0], a[0], 1e-5, f.name);
  }
}

TEST(Models, DefaultModelMatchesPyTorch) {
  const auto f = test::default_model_fixture();
  auto out = run_fixture(f, false);
  ASSERT_FALSE(out.empty());
  expect_close(out[0], load_npy(f.expected), 1e-4, f.name);
  // models/fmnist_sample_label.txt: the sample is an ankle boot (9), and the model says so.
  EXPECT_EQ(top1_per_row(out[0]), std::vector<std::int64_t>{9});
}

}  // namespace
}  // namespace dnnfi
