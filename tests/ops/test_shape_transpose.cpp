// Shape ops, part 3: Transpose. Hand-computed goldens, bad perms, and the optimised kernel (merged
// axes, tiled 2-D transposes, threads) against the reference kernel and a naive loop on random
// shapes, perms and element sizes.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

TEST(Transpose, DefaultReversesAxes) {
  EXPECT_TRUE(
      same_tensor(run1({"Transpose", {iota_f32({2, 3})}}), f32({3, 2}, {0, 3, 1, 4, 2, 5})));
  EXPECT_TRUE(same_tensor(run1({"Transpose", {f32({}, {5})}}), f32({}, {5})));
}

TEST(Transpose, Perm3d) {
  // x[i][j][k] = 12i + 4j + k, perm [2,0,1]: y[k][i][j] = x[i][j][k].
  const Tensor y = run1({"Transpose", {iota_f32({2, 3, 4})}, {{"perm", attr_ints({2, 0, 1})}}});
  EXPECT_TRUE(same_tensor(y, f32({4, 2, 3}, {0, 4, 8,  12, 16, 20, 1, 5, 9,  13, 17, 21,
                                             2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23})));
  const Tensor z = run1({"Transpose", {iota_f32({2, 3, 2})}, {{"perm", attr_ints({1, 0, 2})}}});
  EXPECT_TRUE(same_tensor(z, f32({3, 2, 2}, {0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11})));
}

TEST(Transpose, BadPerm) {
  const Tensor x = iota_f32({2, 3, 4});
  for (const std::vector<std::int64_t>& perm :
       {std::vector<std::int64_t>{0, 0, 1}, {0, 1, 3}, {0, 1}, {-1, 0, 1}, {0, 1, 2, 3}}) {
    EXPECT_THROW(run_op({"Transpose", {x}, {{"perm", attr_ints(perm)}}}), NodeError);
  }
}

// y[o] for the row-major output index o reads x at the permuted index.
Tensor transpose_naive(const Tensor& x, const std::vector<std::int64_t>& perm) {
  const std::size_t r = x.rank();
  Shape shape(r);
  for (std::size_t k = 0; k < r; ++k) shape[k] = x.dim(static_cast<std::size_t>(perm[k]));
  Tensor y(x.dtype(), shape);
  const std::vector<std::int64_t> xs = shape_strides(x.shape());
  const std::size_t es = dtype_size(x.dtype());
  for (std::int64_t o = 0; o < y.numel(); ++o) {
    std::int64_t rest = o, off = 0;
    for (std::size_t k = r; k-- > 0;) {
      off += (rest % shape[k]) * xs[static_cast<std::size_t>(perm[k])];
      rest /= shape[k];
    }
    std::memcpy(static_cast<char*>(y.raw()) + o * es, static_cast<const char*>(x.raw()) + off * es,
                es);
  }
  return y;
}

Tensor random_bits(DType t, Shape shape, std::uint32_t seed) {
  Tensor x(t, std::move(shape));
  std::mt19937 gen(seed);
  auto* p = static_cast<unsigned char*>(x.raw());
  for (std::size_t i = 0; i < x.nbytes(); ++i) p[i] = static_cast<unsigned char>(gen());
  if (t == DType::kBool) {
    for (std::size_t i = 0; i < x.nbytes(); ++i) p[i] &= 1;
  }
  return x;
}

void check_transpose(const Tensor& x, const std::vector<std::int64_t>& perm) {
  OpCall c{"Transpose", {x}, {{"perm", attr_ints(perm)}}};
  const Tensor expected = transpose_naive(x, perm);
  const Tensor fast = run1(c);
  c.reference = true;
  const Tensor ref = run1(c);
  ASSERT_TRUE(fast.bit_equal(expected))
      << "optimised, shape " << shape_to_string(x.shape()) << " perm " << shape_to_string(perm)
      << " " << dtype_name(x.dtype());
  ASSERT_TRUE(ref.bit_equal(expected))
      << "reference, shape " << shape_to_string(x.shape()) << " perm " << shape_to_string(perm);
}

TEST(Transpose, CommonPermsLarge) {
  // NCHW <-> NHWC and friends at a size that takes the tiled and threaded paths.
  const Tensor x = random_tensor({2, 64, 56, 57}, 3);
  for (const std::vector<std::int64_t>& perm : {std::vector<std::int64_t>{0, 2, 3, 1},
                                                {0, 3, 1, 2},
                                                {1, 0, 2, 3},
                                                {0, 1, 3, 2},
                                                {3, 2, 1, 0},
                                                {0, 2, 1, 3}}) {
    check_transpose(x, perm);
  }
  check_transpose(random_bits(DType::kUInt8, {3, 333, 517}, 4), {0, 2, 1});
  check_transpose(random_bits(DType::kFloat16, {1, 37, 1, 1029}, 5), {0, 3, 2, 1});
  check_transpose(random_bits(DType::kInt64, {300, 301}, 6), {1, 0});
}

TEST(Transpose, RandomMatchesNaive) {
  std::mt19937 gen(17);
  const DType dtypes[] = {DType::kFloat32, DType::kUInt8, DType::kFloat16,
                          DType::kInt64,   DType::kBool,  DType::kFloat64};
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t rank = 1 + gen() % 6;
    Shape shape;
    for (std::size_t a = 0; a < rank; ++a) shape.push_back(gen() % 4 == 0 ? 1 : gen() % 9);
    std::vector<std::int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), gen);
    check_transpose(random_bits(dtypes[trial % 6], shape, static_cast<std::uint32_t>(trial)), perm);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace dnnfi::test
