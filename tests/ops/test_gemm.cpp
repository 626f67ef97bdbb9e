// Gemm and MatMul: hand-computed goldens, the ONNX backend node cases, oneDNN against the
// reference on random inputs, determinism under concurrency, load-time errors.
#include <gtest/gtest.h>

#include <cmath>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/kernel_harness.h"
#include "ops/onnx_node_case.h"

namespace dnnfi {
namespace {

using test::attr_float;
using test::attr_int;
using test::OpCall;
using test::random_tensor;
using test::run_op;

std::vector<float> values(const Tensor& t) {
  return {t.data<float>(), t.data<float>() + t.numel()};
}

void expect_both(OpCall call, const Shape& shape, const std::vector<float>& expected) {
  for (bool reference : {true, false}) {
    call.reference = reference;
    test::OpResult r = run_op(call);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    EXPECT_EQ(r.outputs[0].shape(), shape) << "reference=" << reference;
    EXPECT_EQ(values(r.outputs[0]), expected) << "reference=" << reference;
  }
}

const std::vector<float> kA = {1, 2, 3, 4, 5, 6};   // [2, 3]
const std::vector<float> kAt = {1, 4, 2, 5, 3, 6};  // its transpose [3, 2]
const std::vector<float> kB = {1, 0, 0, 1, 1, 1};   // [3, 2]
const std::vector<float> kBt = {1, 0, 1, 0, 1, 1};  // its transpose [2, 3]
// A x B = [[4, 5], [10, 11]]

TEST(Gemm, HandComputedAlphaBetaTranspose) {
  OpCall call;
  call.op_type = "Gemm";
  call.inputs = {make_tensor<float>({2, 3}, kA), make_tensor<float>({3, 2}, kB)};
  expect_both(call, {2, 2}, {4, 5, 10, 11});
  // 2 * AB + 0.5 * C with C = [1, 2] broadcast over rows.
  call.inputs.push_back(make_tensor<float>({2}, {1, 2}));
  call.attributes = {{"alpha", attr_float(2.0f)}, {"beta", attr_float(0.5f)}};
  expect_both(call, {2, 2}, {8.5f, 11, 20.5f, 23});
  // The same from transposed operands.
  call.inputs[0] = make_tensor<float>({3, 2}, kAt);
  call.inputs[1] = make_tensor<float>({2, 3}, kBt);
  call.attributes["transA"] = attr_int(1);
  call.attributes["transB"] = attr_int(1);
  expect_both(call, {2, 2}, {8.5f, 11, 20.5f, 23});
  // C as a column [M, 1], a scalar, a full matrix; alpha = beta = 1 (C as the bias).
  call.attributes = {{"transA", attr_int(1)}, {"transB", attr_int(1)}};
  call.inputs[2] = make_tensor<float>({2, 1}, {100, 200});
  expect_both(call, {2, 2}, {104, 105, 210, 211});
  call.inputs[2] = make_tensor<float>({}, {-1});
  expect_both(call, {2, 2}, {3, 4, 9, 10});
  call.inputs[2] = make_tensor<float>({2, 2}, {1, 2, 3, 4});
  expect_both(call, {2, 2}, {5, 7, 13, 15});
  // beta = 0 ignores C.
  call.attributes["beta"] = attr_float(0.0f);
  expect_both(call, {2, 2}, {4, 5, 10, 11});
}

TEST(MatMul, HandComputedShapes) {
  OpCall call;
  call.op_type = "MatMul";
  call.inputs = {make_tensor<float>({2, 3}, kA), make_tensor<float>({3, 2}, kB)};
  expect_both(call, {2, 2}, {4, 5, 10, 11});
  // 1-D operands: their axis is removed from the result.
  call.inputs[0] = make_tensor<float>({3}, {1, 2, 3});
  expect_both(call, {2}, {4, 5});
  call.inputs[0] = make_tensor<float>({2, 3}, kA);
  call.inputs[1] = make_tensor<float>({3}, {1, 1, 1});
  expect_both(call, {2}, {6, 15});
  call.inputs[0] = make_tensor<float>({3}, {1, 2, 3});
  expect_both(call, {}, {6});
  // Batch broadcast: [2, 1, 2, 3] x [3, 3, 2] -> [2, 3, 2, 2]; B's batch k is B scaled by k+1.
  std::vector<float> a2(12), b3(18);
  for (int i = 0; i < 12; ++i) a2[i] = kA[i % 6] * (i < 6 ? 1.0f : -1.0f);
  for (int i = 0; i < 18; ++i) b3[i] = kB[i % 6] * static_cast<float>(i / 6 + 1);
  call.inputs = {make_tensor<float>({2, 1, 2, 3}, a2), make_tensor<float>({3, 3, 2}, b3)};
  std::vector<float> expected;
  for (float sa : {1.0f, -1.0f}) {
    for (float sb : {1.0f, 2.0f, 3.0f}) {
      for (float v : {4.0f, 5.0f, 10.0f, 11.0f}) expected.push_back(sa * sb * v);
    }
  }
  expect_both(call, {2, 3, 2, 2}, expected);
}

TEST(Gemm, OnnxNodeCases) {
  for (const char* name :
       {"test_gemm_all_attributes", "test_gemm_alpha", "test_gemm_beta",
        "test_gemm_default_matrix_bias", "test_gemm_default_no_bias",
        "test_gemm_default_scalar_bias", "test_gemm_default_single_elem_vector_bias",
        "test_gemm_default_vector_bias", "test_gemm_default_zero_bias", "test_gemm_transposeA",
        "test_gemm_transposeB"}) {
    SCOPED_TRACE(name);
    test::expect_node_case(name);
  }
}

TEST(MatMul, OnnxNodeCases) {
  for (const char* name : {"test_matmul_2d", "test_matmul_3d", "test_matmul_4d"}) {
    SCOPED_TRACE(name);
    test::expect_node_case(name);
  }
}

void compare(OpCall call, std::int64_t k) {
  call.reference = true;
  test::OpResult ref = run_op(call);
  ASSERT_TRUE(ref.status.is_ok()) << ref.status.message();
  call.reference = false;
  test::OpResult opt = run_op(call);
  ASSERT_TRUE(opt.status.is_ok()) << opt.status.message();
  EXPECT_EQ(test::compare_close(opt.outputs[0], ref.outputs[0], 1e-4,
                                2e-5 * std::sqrt(static_cast<double>(k))),
            "");
}

TEST(Gemm, OptimisedMatchesReference) {
  struct Case {
    std::int64_t m, k, n;
    int ta, tb;
    float alpha, beta;
    Shape c;  // empty vector = no C
    bool has_c, const_b;
  };
  const Case cases[] = {
      {1, 2048, 1000, 0, 1, 1.0f, 1.0f, {1000}, true, true},  // torchvision classifier
      {1, 512, 100, 0, 0, 1.0f, 1.0f, {1, 100}, true, true},
      {3, 64, 17, 1, 0, 0.5f, 2.0f, {3, 17}, true, true},
      {5, 33, 9, 1, 1, 1.0f, 0.25f, {5, 1}, true, false},
      {7, 20, 30, 0, 1, -1.5f, 1.0f, {}, true, true},
      {16, 128, 64, 0, 0, 1.0f, 1.0f, {}, false, false},
      {4, 10, 6, 0, 0, 2.0f, 1.0f, {6}, true, false},
  };
  std::uint32_t seed = 100;
  for (const Case& c : cases) {
    OpCall call;
    call.op_type = "Gemm";
    call.inputs = {random_tensor(c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k}, seed++),
                   random_tensor(c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n}, seed++)};
    if (c.has_c) call.inputs.push_back(random_tensor(c.c, seed++));
    call.attributes = {{"transA", attr_int(c.ta)},
                       {"transB", attr_int(c.tb)},
                       {"alpha", attr_float(c.alpha)},
                       {"beta", attr_float(c.beta)}};
    call.constant = {false, c.const_b, true};
    SCOPED_TRACE(testing::Message() << "m" << c.m << " k" << c.k << " n" << c.n);
    compare(call, c.k);
  }
}

TEST(MatMul, OptimisedMatchesReference) {
  struct Case {
    Shape a, b;
    bool const_b;
  };
  const Case cases[] = {
      {{1, 2048}, {2048, 1000}, true},  {{3, 7, 40}, {40, 9}, true},
      {{2, 1, 5, 8}, {3, 8, 6}, false}, {{4, 3, 6}, {4, 6, 2}, false},
      {{1, 3, 6}, {5, 6, 4}, true},     {{30}, {2, 30, 5}, false},
      {{6, 2, 30}, {30}, true},         {{64}, {64}, false},
  };
  std::uint32_t seed = 300;
  for (const Case& c : cases) {
    OpCall call;
    call.op_type = "MatMul";
    call.inputs = {random_tensor(c.a, seed++), random_tensor(c.b, seed++)};
    call.constant = {false, c.const_b};
    SCOPED_TRACE(shape_to_string(c.a) + " x " + shape_to_string(c.b));
    compare(call, c.a.back());
  }
}

TEST(Gemm, DeterministicAndThreadSafe) {
  for (bool reference : {false, true}) {
    OpCall gemm;
    gemm.op_type = "Gemm";
    gemm.inputs = {random_tensor({1, 512}, 1), random_tensor({1000, 512}, 2),
                   random_tensor({1000}, 3)};
    gemm.attributes = {{"transB", attr_int(1)}};
    gemm.reference = reference;
    test::expect_deterministic_concurrent(gemm);
    gemm.attributes["alpha"] = attr_float(0.5f);
    gemm.attributes["beta"] = attr_float(2.0f);
    test::expect_deterministic_concurrent(gemm);
    OpCall mm;
    mm.op_type = "MatMul";
    mm.inputs = {random_tensor({4, 33, 64}, 4), random_tensor({64, 48}, 5)};
    mm.reference = reference;
    test::expect_deterministic_concurrent(mm);
  }
}

void expect_load_error(const OpCall& call, const std::string& fragment) {
  try {
    (void)run_op(call);
    ADD_FAILURE() << "expected a load-time error containing '" << fragment << "'";
  } catch (const NodeError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Gemm, LoadTimeErrors) {
  OpCall base;
  base.op_type = "Gemm";
  base.inputs = {random_tensor({2, 3}, 1), random_tensor({3, 4}, 2), random_tensor({4}, 3)};
  OpCall c = base;
  c.inputs[1] = random_tensor({2, 4}, 2);
  expect_load_error(c, "inner dimensions");
  c = base;
  c.inputs[2] = random_tensor({3}, 3);
  expect_load_error(c, "cannot be broadcast");
  c = base;
  c.attributes = {{"transA", attr_int(2)}};
  expect_load_error(c, "transA");
  c = base;
  c.attributes = {{"broadcast", attr_int(1)}};
  expect_load_error(c, "broadcast");
  c = base;
  c.inputs[0] = random_tensor({2, 3, 1}, 1);
  expect_load_error(c, "2-D");
  c = base;
  c.inputs.pop_back();
  c.opset = 9;
  expect_load_error(c, "inputs");
}

TEST(MatMul, LoadTimeErrors) {
  OpCall c;
  c.op_type = "MatMul";
  c.inputs = {random_tensor({2, 3}, 1), random_tensor({4, 2}, 2)};
  expect_load_error(c, "inner dimensions");
  c.inputs = {random_tensor({2, 2, 3}, 1), random_tensor({3, 3, 2}, 2)};
  expect_load_error(c, "batch dims");
}

}  // namespace
}  // namespace dnnfi
