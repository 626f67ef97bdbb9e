// Einsum: hand-computed goldens, naive loops written out per equation on random inputs (an oracle
// independent of the kernel's label/stride machinery), torch.einsum outputs, the ONNX node
// conformance cases, and equation errors at load time.
#include <cmath>

#include "onnx_node_case.h"
#include "sampling_oracles.h"
#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

OpCall einsum(const std::string& equation, std::vector<std::optional<Tensor>> inputs) {
  OpCall c{"Einsum", std::move(inputs), {{"equation", attr_string(equation)}}};
  c.opset = 12;
  c.constant.assign(c.inputs.size(), false);
  return c;
}

::testing::AssertionResult close(const Tensor& got, const Tensor& want) {
  const std::string diff = compare_close(got, want, 1e-5, 1e-5);
  if (diff.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diff;
}

TEST(Einsum, HandComputed) {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = f32({3, 2}, {1, 0, 0, 1, 1, 1});
  EXPECT_TRUE(same_tensor(run1(einsum("ij,jk->ik", {a, b})), f32({2, 2}, {4, 5, 10, 11})));
  EXPECT_TRUE(same_tensor(run1(einsum("ij->ji", {a})), f32({3, 2}, {1, 4, 2, 5, 3, 6})));
  EXPECT_TRUE(same_tensor(run1(einsum("ij->", {a})), f32({}, {21})));
  EXPECT_TRUE(same_tensor(run1(einsum("ij->j", {a})), f32({3}, {5, 7, 9})));
  // Implicit output: letters used once, in order -> "ik"; "ba" implicit is "ab" (a transpose).
  EXPECT_TRUE(same_tensor(run1(einsum("ij,jk", {a, b})), f32({2, 2}, {4, 5, 10, 11})));
  EXPECT_TRUE(same_tensor(run1(einsum("ba", {a})), f32({3, 2}, {1, 4, 2, 5, 3, 6})));
  const Tensor sq = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_TRUE(same_tensor(run1(einsum("ii->i", {sq})), f32({3}, {1, 5, 9})));
  EXPECT_TRUE(same_tensor(run1(einsum("ii", {sq})), f32({}, {15})));  // trace
  // Outer product, three operands, int64.
  EXPECT_TRUE(same_tensor(run1(einsum("i,j->ij", {f32({2}, {1, 2}), f32({2}, {3, 4})})),
                          f32({2, 2}, {3, 4, 6, 8})));
  EXPECT_TRUE(same_tensor(run1(einsum("i,i,i->", {ints({1, 2}), ints({3, 4}), ints({5, 6})})),
                          i64({}, {63})));
}

TEST(Einsum, EllipsisBroadcasting) {
  // "...ij,...jk->...ik" with a batch of 2 against a batch of 1.
  const Tensor a = f32({2, 1, 2}, {1, 2, 3, 4});
  const Tensor b = f32({1, 2, 1}, {10, 100});
  EXPECT_TRUE(same_tensor(run1(einsum("...ij,...jk->...ik", {a, b})), f32({2, 1, 1}, {210, 430})));
  // Implicit with '...': the broadcast dims come first, then the letters used once.
  EXPECT_TRUE(
      same_tensor(run1(einsum("...i,...i", {a, f32({2}, {1, -1})})), f32({2, 1}, {-1, -1})));
}

TEST(Einsum, MatchesNaiveLoopsOnRandomInputs) {
  // Batched matmul.
  const Tensor a = random_tensor({3, 4, 5}, 1), b = random_tensor({3, 5, 6}, 2);
  Tensor want(DType::kFloat32, {3, 4, 6});
  for (int n = 0; n < 3; ++n)
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 6; ++k) {
        double s = 0;
        for (int j = 0; j < 5; ++j)
          s += double(a.data<float>()[(n * 4 + i) * 5 + j]) * b.data<float>()[(n * 5 + j) * 6 + k];
        want.data<float>()[(n * 4 + i) * 6 + k] = static_cast<float>(s);
      }
  EXPECT_TRUE(close(run1(einsum("bij,bjk->bik", {a, b})), want));
  // Batch diagonal with a transpose: y[b][i] = x[i][b][i].
  const Tensor x = random_tensor({4, 3, 4}, 3);
  Tensor diag(DType::kFloat32, {3, 4});
  for (int bb = 0; bb < 3; ++bb)
    for (int i = 0; i < 4; ++i)
      diag.data<float>()[bb * 4 + i] = x.data<float>()[(i * 3 + bb) * 4 + i];
  EXPECT_TRUE(same_tensor(run1(einsum("ibi->bi", {x})), diag));
  // Bilinear form with a permuted output: y[k][n] = sum_ij p[n][i] q[i][j][k] r[n][j].
  const Tensor p = random_tensor({2, 3}, 4), q = random_tensor({3, 4, 5}, 5),
               r = random_tensor({2, 4}, 6);
  Tensor bil(DType::kFloat32, {5, 2});
  for (int k = 0; k < 5; ++k)
    for (int n = 0; n < 2; ++n) {
      double s = 0;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j)
          s += double(p.data<float>()[n * 3 + i]) * q.data<float>()[(i * 4 + j) * 5 + k] *
               r.data<float>()[n * 4 + j];
      bil.data<float>()[k * 2 + n] = static_cast<float>(s);
    }
  EXPECT_TRUE(close(run1(einsum("ni,ijk,nj->kn", {p, q, r})), bil));
}

// torch.einsum outputs (scripts/make_sampling_oracles.py).
TEST(Einsum, MatchesPyTorch) {
  for (const oracle::EinsumCase& k : oracle::kEinsumCases) {
    std::vector<std::optional<Tensor>> inputs;
    for (std::size_t i = 0; i < k.shapes.size(); ++i)
      inputs.push_back(f32(k.shapes[i], k.inputs[i]));
    EXPECT_EQ(compare_close(run1(einsum(k.equation, inputs)), f32(k.y_shape, k.y), 1e-4, 1e-5), "")
        << k.equation;
  }
}

TEST(Einsum, ConformanceCases) {
  expect_node_case("test_einsum_batch_diagonal");
  expect_node_case("test_einsum_batch_matmul");
  expect_node_case("test_einsum_inner_prod");
  expect_node_case("test_einsum_sum");
  expect_node_case("test_einsum_transpose");
}

TEST(Einsum, EquationErrors) {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op(einsum("ij,jk->ik", {a})), NodeError);                   // terms vs inputs
  EXPECT_THROW(run_op(einsum("ijk->i", {a})), NodeError);                      // rank mismatch
  EXPECT_THROW(run_op(einsum("ij->iz", {a})), NodeError);                      // z in no input
  EXPECT_THROW(run_op(einsum("ij->ii", {a})), NodeError);                      // repeated output
  EXPECT_THROW(run_op(einsum("i1->i", {a})), NodeError);                       // bad subscript
  EXPECT_THROW(run_op(einsum("ij,ij->ij", {a, f32({3, 2}, {})})), NodeError);  // sizes
  EXPECT_THROW(run_op(einsum("...j->j", {f32({2, 2, 3}, {})})), NodeError);    // '...' dropped
  EXPECT_THROW(run_op(einsum("ij", {make_tensor<std::uint8_t>({1, 1}, {1})})), UnsupportedError);
}

}  // namespace
}  // namespace dnnfi::test
