// Tests of the two-operand ops added for conformance: And, Or, Xor, LessOrEqual, GreaterOrEqual
// (compare.cpp), Mod, BitShift and Pow's unsigned exponents (binary.cpp), and Size, EyeLike,
// CastLike: hand-computed truth tables and values (Python's % for Mod fmod = 0, C's fmod for
// fmod = 1), broadcasting, corrupted divisors and shift amounts at run time, load-time errors, and
// the ONNX backend node cases.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ops/elementwise_test_util.h"
#include "ops/onnx_node_case.h"

namespace dnnfi::test {
namespace {

using namespace elementwise;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(Logical, TruthTables) {
  const Tensor a = bools({0, 0, 1, 1});
  const Tensor b = bools({0, 1, 0, 1});
  EXPECT_EQ(values<std::uint8_t>(run1("And", {a, b})), (std::vector<std::uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(values<std::uint8_t>(run1("Or", {a, b})), (std::vector<std::uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(values<std::uint8_t>(run1("Xor", {a, b})), (std::vector<std::uint8_t>{0, 1, 1, 0}));
  // A corrupted bool byte (2, 0x80) is true, and the outputs are still 0 or 1.
  const Tensor c = bools({2, 0x80, 0, 7});
  EXPECT_EQ(values<std::uint8_t>(run1("And", {c, b})), (std::vector<std::uint8_t>{0, 1, 0, 1}));
  EXPECT_EQ(values<std::uint8_t>(run1("Xor", {c, b})), (std::vector<std::uint8_t>{1, 0, 0, 0}));
}

TEST(Logical, Broadcasting) {
  // [2,1] op [3] -> [2,3]
  const Tensor a = raw<std::uint8_t>(DType::kBool, {2, 1}, {1, 0});
  const Tensor b = bools({1, 0, 1});
  const Tensor y = run1("Or", {a, b});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<std::uint8_t>(y), (std::vector<std::uint8_t>{1, 1, 1, 1, 0, 1}));
  EXPECT_EQ(values<std::uint8_t>(run1("And", {a, b})),
            (std::vector<std::uint8_t>{1, 0, 1, 0, 0, 0}));
  expect_node_error(make_call("And", {bools({1, 0}), bools({1, 0, 1})}));
  expect_unsupported(make_call("Or", {f32({1.0f}), f32({0.0f})}));
}

TEST(Compare, LessOrEqualGreaterOrEqual) {
  const Tensor a = f32({1.0f, 2.0f, 3.0f, kNaN, -0.0f});
  const Tensor b = f32({2.0f, 2.0f, 2.0f, kNaN, 0.0f});
  EXPECT_EQ(values<std::uint8_t>(run1("LessOrEqual", {a, b})),
            (std::vector<std::uint8_t>{1, 1, 0, 0, 1}));
  EXPECT_EQ(values<std::uint8_t>(run1("GreaterOrEqual", {a, b})),
            (std::vector<std::uint8_t>{0, 1, 1, 0, 1}));
  // int64 with a scalar: [3] op [] -> [3].
  const Tensor i = vec<std::int64_t>({-5, 7, std::numeric_limits<std::int64_t>::max()});
  const Tensor s = make_tensor<std::int64_t>({}, {7});
  EXPECT_EQ(values<std::uint8_t>(run1("LessOrEqual", {i, s}, {}, 16)),
            (std::vector<std::uint8_t>{1, 1, 0}));
  EXPECT_EQ(values<std::uint8_t>(run1("GreaterOrEqual", {i, s}, {}, 16)),
            (std::vector<std::uint8_t>{0, 1, 1}));
  expect_node_error(make_call("LessOrEqual", {f32({1.0f}), vec<double>({1.0})}));
}

TEST(Mod, IntegerFmod0HasTheDivisorsSign) {
  constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
  const Tensor a = vec<std::int32_t>({7, -7, 7, -7, kMin, 5, 0, -6});
  const Tensor b = vec<std::int32_t>({3, 3, -3, -3, -1, 7, 4, 3});
  // Python: 7 % 3 = 1, -7 % 3 = 2, 7 % -3 = -2, -7 % -3 = -1, x % -1 = 0, 5 % 7 = 5, -6 % 3 = 0.
  EXPECT_EQ(values<std::int32_t>(run1("Mod", {a, b})),
            (std::vector<std::int32_t>{1, 2, -2, -1, 0, 5, 0, 0}));
  EXPECT_EQ(values<std::int32_t>(run1("Mod", {a, b}, {{"fmod", attr_int(1)}})),
            (std::vector<std::int32_t>{1, -1, 1, -1, 0, 5, 0, 0}));
  EXPECT_EQ(
      values<std::uint8_t>(run1("Mod", {vec<std::uint8_t>({250, 3}), vec<std::uint8_t>({7, 9})})),
      (std::vector<std::uint8_t>{5, 3}));
  // int8 with broadcasting: [2,1] % [2] -> [2,2]; -128 % 3 = 1 (Python), fmod -2.
  const Tensor c = raw<std::int8_t>(DType::kInt8, {2, 1}, {-128, 100});
  const Tensor d = vec<std::int8_t>({3, -7});
  EXPECT_EQ(values<std::int8_t>(run1("Mod", {c, d})), (std::vector<std::int8_t>{1, -2, 1, -5}));
  EXPECT_EQ(values<std::int8_t>(run1("Mod", {c, d}, {{"fmod", attr_int(1)}})),
            (std::vector<std::int8_t>{-2, -2, 1, 2}));
}

TEST(Mod, FloatNeedsFmod1) {
  expect_values<float>(
      run1("Mod", {f32({5.5f, -5.5f, 5.5f, 1.0f, kNaN}), f32({2.0f, 2.0f, -2.0f, 0.0f, 1.0f})},
           {{"fmod", attr_int(1)}}),
      {1.5f, -1.5f, 1.5f, kNaN, kNaN}, 0.0);
  expect_values<double>(
      run1("Mod", {vec<double>({-7.25}), vec<double>({2.0})}, {{"fmod", attr_int(1)}}), {-1.25},
      0.0);
  expect_node_error(make_call("Mod", {f32({1.0f}), f32({1.0f})}));  // fmod 0 on floats
  expect_node_error(
      make_call("Mod", {vec<std::int32_t>({1}), vec<std::int32_t>({1})}, {{"fmod", attr_int(2)}}));
  expect_node_error(make_call("Mod", {vec<std::int32_t>({1}), vec<std::int64_t>({1})}));
}

TEST(Mod, IntegerZeroDivisorIsARunTimeError) {
  for (std::int64_t fmod : {0, 1}) {
    OpCall call = make_call("Mod", {vec<std::int64_t>({5, 6}), vec<std::int64_t>({2, 0})},
                            {{"fmod", attr_int(fmod)}});
    for (bool reference : {true, false}) {
      call.reference = reference;
      const OpResult r = run_op(call);
      EXPECT_FALSE(r.status.is_ok()) << "fmod " << fmod;
    }
  }
  // Prepared with a valid divisor, then run with a corrupted (zero) one.
  OpCall call = make_call("Mod", {vec<std::uint16_t>({5, 6}), vec<std::uint16_t>({2, 4})});
  call.constant = {false, false};
  PreparedOp op(call);
  EXPECT_TRUE(op.run({vec<std::uint16_t>({5, 6}), vec<std::uint16_t>({2, 4})}).status.is_ok());
  EXPECT_FALSE(op.run({vec<std::uint16_t>({5, 6}), vec<std::uint16_t>({0, 4})}).status.is_ok());
}

TEST(BitShift, LeftAndRight) {
  const std::map<std::string, Attribute> left = {{"direction", attr_string("LEFT")}};
  const std::map<std::string, Attribute> right = {{"direction", attr_string("RIGHT")}};
  EXPECT_EQ(
      values<std::uint8_t>(
          run1("BitShift",
               {vec<std::uint8_t>({1, 255, 3, 1, 7}), vec<std::uint8_t>({1, 1, 7, 8, 255})}, left)),
      (std::vector<std::uint8_t>{2, 254, 128, 0, 0}));
  EXPECT_EQ(values<std::uint64_t>(run1("BitShift",
                                       {vec<std::uint64_t>({1ull << 63, 255, 5, 5}),
                                        vec<std::uint64_t>({63, 4, 64, ~0ull})},
                                       right)),
            (std::vector<std::uint64_t>{1, 15, 0, 0}));
  // Broadcast shift amount: [3] << [] .
  EXPECT_EQ(
      values<std::uint32_t>(run1(
          "BitShift",
          {vec<std::uint32_t>({1, 2, 0x80000000u}), make_tensor<std::uint32_t>({}, {3})}, left)),
      (std::vector<std::uint32_t>{8, 16, 0}));
  EXPECT_EQ(values<std::uint16_t>(
                run1("BitShift", {vec<std::uint16_t>({0xffff}), vec<std::uint16_t>({15})}, right)),
            (std::vector<std::uint16_t>{1}));
  expect_node_error(make_call("BitShift", {vec<std::uint8_t>({1}), vec<std::uint8_t>({1})}));
  expect_node_error(make_call("BitShift", {vec<std::uint8_t>({1}), vec<std::uint8_t>({1})},
                              {{"direction", attr_string("left")}}));
  expect_unsupported(make_call("BitShift", {vec<std::int32_t>({1}), vec<std::int32_t>({1})}, left));
}

TEST(Pow, UnsignedExponents) {
  expect_values<float>(
      run1("Pow", {f32({2.0f, 3.0f, -2.0f, 0.5f}), vec<std::uint32_t>({10, 0, 3, 2})}, {}, 15),
      {1024.0f, 1.0f, -8.0f, 0.25f}, 0.0);
  EXPECT_EQ(values<std::int64_t>(run1(
                "Pow", {vec<std::int64_t>({2, -3, 7}), vec<std::uint64_t>({62, 3, 0})}, {}, 15)),
            (std::vector<std::int64_t>{4611686018427387904LL, -27, 1}));
  expect_unsupported(make_call("Pow", {f32({2.0f}), vec<std::uint8_t>({2})}, {}, 15));
}

TEST(Size, CountsElements) {
  const Tensor y = run1("Size", {random_tensor({2, 3, 4}, 1)});
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_TRUE(y.shape().empty());
  EXPECT_EQ(values<std::int64_t>(y), (std::vector<std::int64_t>{24}));
  EXPECT_EQ(values<std::int64_t>(run1("Size", {Tensor(DType::kUInt8, {0, 5})})),
            (std::vector<std::int64_t>{0}));
  EXPECT_EQ(values<std::int64_t>(run1("Size", {make_tensor<float>({}, {1.0f})})),
            (std::vector<std::int64_t>{1}));
}

TEST(EyeLike, Diagonals) {
  const Tensor x = Tensor(DType::kFloat32, {3, 4});
  EXPECT_EQ(values<float>(run1("EyeLike", {x})),
            (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(values<float>(run1("EyeLike", {x}, {{"k", attr_int(2)}})),
            (std::vector<float>{0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(values<float>(run1("EyeLike", {x}, {{"k", attr_int(-1)}})),
            (std::vector<float>{0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(values<float>(run1("EyeLike", {x}, {{"k", attr_int(4)}})),
            (std::vector<float>(12, 0.0f)));
  EXPECT_EQ(values<float>(run1("EyeLike", {x}, {{"k", attr_int(-3)}})),
            (std::vector<float>(12, 0.0f)));
  // dtype 7 = int64 from an int32 input; float16 one is 0x3c00; bool one is 1.
  const Tensor i = run1("EyeLike", {Tensor(DType::kInt32, {2, 2})}, {{"dtype", attr_int(7)}});
  EXPECT_EQ(i.dtype(), DType::kInt64);
  EXPECT_EQ(values<std::int64_t>(i), (std::vector<std::int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(values<std::uint16_t>(
                run1("EyeLike", {Tensor(DType::kFloat32, {1, 2})}, {{"dtype", attr_int(10)}})),
            (std::vector<std::uint16_t>{0x3c00, 0}));
  EXPECT_EQ(values<std::uint8_t>(run1("EyeLike", {Tensor(DType::kBool, {2, 1})}, {}, 9)),
            (std::vector<std::uint8_t>{1, 0}));
  expect_node_error(make_call("EyeLike", {Tensor(DType::kFloat32, {2, 2, 2})}));
  expect_unsupported(
      make_call("EyeLike", {Tensor(DType::kFloat32, {2, 2})}, {{"dtype", attr_int(8)}}));
}

TEST(CastLike, TakesTheSecondInputsDtype) {
  const Tensor y = run1("CastLike", {f32({1.5f, -2.7f, kNaN}), vec<std::int32_t>({0})}, {}, 15);
  EXPECT_EQ(y.dtype(), DType::kInt32);
  // Truncation toward zero; NaN -> 0 (the engine's Cast rules).
  EXPECT_EQ(values<std::int32_t>(y), (std::vector<std::int32_t>{1, -2, 0}));
  const Tensor d = run1("CastLike", {vec<std::int64_t>({3, -1}), vec<double>({})}, {}, 15);
  EXPECT_EQ(values<double>(d), (std::vector<double>{3.0, -1.0}));
  expect_node_error(make_call("CastLike", {f32({1.0f})}, {}, 15));
  expect_node_error(make_call("CastLike", {f32({1.0f}), f32({1.0f})}, {{"to", attr_int(1)}}, 15));
}

TEST(ElementwiseBinaryNodeCases, Onnx) {
  std::vector<std::string> names = {"test_greater_equal",
                                    "test_greater_equal_bcast",
                                    "test_less_equal",
                                    "test_less_equal_bcast",
                                    "test_size",
                                    "test_size_example",
                                    "test_eyelike_populate_off_main_diagonal",
                                    "test_eyelike_with_dtype",
                                    "test_eyelike_without_dtype",
                                    "test_mod_broadcast",
                                    "test_mod_int64_fmod",
                                    "test_mod_mixed_sign_float32",
                                    "test_mod_mixed_sign_float64",
                                    "test_mod_mixed_sign_int8",
                                    "test_mod_mixed_sign_int16",
                                    "test_mod_mixed_sign_int32",
                                    "test_mod_mixed_sign_int64",
                                    "test_mod_uint8",
                                    "test_mod_uint16",
                                    "test_mod_uint32",
                                    "test_mod_uint64",
                                    "test_pow_types_float32_uint32",
                                    "test_pow_types_float32_uint64",
                                    "test_castlike_DOUBLE_to_FLOAT",
                                    "test_castlike_FLOAT_to_DOUBLE",
                                    "test_castlike_FLOAT16_to_FLOAT",
                                    "test_castlike_FLOAT_to_FLOAT16",
                                    "test_castlike_DOUBLE_to_FLOAT16",
                                    "test_castlike_FLOAT16_to_DOUBLE"};
  for (const char* op : {"and", "or", "xor"}) {
    for (const char* suffix :
         {"2d", "3d", "4d", "_bcast3v1d", "_bcast3v2d", "_bcast4v2d", "_bcast4v3d", "_bcast4v4d"}) {
      names.push_back(std::string("test_") + op + suffix);
    }
  }
  for (const char* dir : {"left", "right"}) {
    for (const char* t : {"uint8", "uint16", "uint32", "uint64"}) {
      names.push_back(std::string("test_bitshift_") + dir + "_" + t);
    }
  }
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    expect_node_case(name);
  }
}

}  // namespace
}  // namespace dnnfi::test
