// Shape ops, part 1: Concat, Split, Reshape, Flatten, Squeeze, Unsqueeze, Gather. Hand-computed
// goldens, prepare-time errors, and run-time corruption of shape-like / index inputs.
// (Slice and Pad: test_shape_slice_pad.cpp; Transpose: test_shape_transpose.cpp; Constant,
// ConstantOfShape, Shape, Range, Expand, Tile: test_shape_constant.cpp.)
#include <climits>
#include <random>

#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

// ---------------------------------------------------------------------------------------- Concat

TEST(Concat, Axis1AndNegativeAxis) {
  const Tensor a = f32({2, 2}, {1, 2, 3, 4});
  const Tensor b = f32({2, 1}, {5, 6});
  for (std::int64_t axis : {1, -1}) {
    OpCall c{"Concat", {a, b}, {{"axis", attr_int(axis)}}};
    c.constant = {false, false};
    EXPECT_TRUE(same_tensor(run1(c), f32({2, 3}, {1, 2, 5, 3, 4, 6})));
  }
}

// dnnfi.Concat with layout NHWC (inference sessions): channels-last inputs joined on the channel
// axis give the channels-last bytes of the NCHW concatenation.
TEST(Concat, ChannelsLastJoinsChannels) {
  const Tensor a = random_tensor({2, 3, 4, 5}, 1), b = random_tensor({2, 5, 4, 5}, 2);
  OpCall plain{"Concat", {a, b}, {{"axis", attr_int(1)}}};
  plain.constant = {false, false};
  const Tensor expected = run1(plain);
  OpCall c{
      "Concat", {to_nhwc(a), to_nhwc(b)}, {{"axis", attr_int(1)}, {"layout", attr_string("NHWC")}}};
  c.constant = {false, false};
  c.domain = "dnnfi";
  EXPECT_TRUE(same_tensor(from_nhwc(run1(c)), expected));
  c.inputs = {to_nhwc(a), to_nhwc(a)};
  c.attributes["axis"] = attr_int(2);  // NHWC bytes are only joined along channels
  EXPECT_THROW(run_op(c), UnsupportedError);
}

TEST(Concat, Axis0ThreeInputsAndEmptyInput) {
  OpCall c{"Concat",
           {f32({2, 2}, {1, 2, 3, 4}), f32({0, 2}, {}), f32({1, 2}, {7, 8})},
           {{"axis", attr_int(0)}}};
  EXPECT_TRUE(same_tensor(run1(c), f32({3, 2}, {1, 2, 3, 4, 7, 8})));
}

TEST(Concat, Int64AndBool) {
  OpCall c{"Concat", {ints({1}), ints({2, 3}), ints({4})}, {{"axis", attr_int(0)}}};
  EXPECT_TRUE(same_tensor(run1(c), ints({1, 2, 3, 4})));
  OpCall b{"Concat",
           {make_tensor<bool>({1, 2}, {true, false}), make_tensor<bool>({1, 1}, {true})},
           {{"axis", attr_int(1)}}};
  EXPECT_TRUE(same_tensor(run1(b), make_tensor<bool>({1, 3}, {true, false, true})));
}

TEST(Concat, LargeMatchesNaive) {
  // Big enough to take the multi-threaded path; axis 1 (DenseNet) and axis 2.
  const Tensor a = random_tensor({2, 48, 40, 40}, 1);
  const Tensor b = random_tensor({2, 16, 40, 40}, 2);
  OpCall c{"Concat", {a, b}, {{"axis", attr_int(1)}}};
  const Tensor y = run1(c);
  ASSERT_EQ(y.shape(), (Shape{2, 64, 40, 40}));
  for (std::int64_t n = 0; n < 2; ++n) {
    for (std::int64_t ch = 0; ch < 64; ++ch) {
      for (std::int64_t i = 0; i < 1600; i += 37) {
        const float want = ch < 48 ? a.data<float>()[(n * 48 + ch) * 1600 + i]
                                   : b.data<float>()[(n * 16 + ch - 48) * 1600 + i];
        ASSERT_EQ(y.data<float>()[(n * 64 + ch) * 1600 + i], want);
      }
    }
  }
  const Tensor c1 = random_tensor({64, 30, 50}, 3);
  const Tensor c2 = random_tensor({64, 7, 50}, 4);
  const Tensor y2 = run1(OpCall{"Concat", {c1, c2}, {{"axis", attr_int(-2)}}});
  ASSERT_EQ(y2.shape(), (Shape{64, 37, 50}));
  for (std::int64_t o = 0; o < 64; ++o) {
    for (std::int64_t r = 0; r < 37; ++r) {
      for (std::int64_t k = 0; k < 50; ++k) {
        const float want = r < 30 ? c1.data<float>()[(o * 30 + r) * 50 + k]
                                  : c2.data<float>()[(o * 7 + r - 30) * 50 + k];
        ASSERT_EQ(y2.data<float>()[(o * 37 + r) * 50 + k], want);
      }
    }
  }
}

TEST(Concat, PrepareErrors) {
  const Tensor a = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op({"Concat", {a, f32({3, 1}, {1, 2, 3})}, {{"axis", attr_int(1)}}}), NodeError);
  EXPECT_THROW(run_op({"Concat", {a, ints({1, 2})}, {{"axis", attr_int(0)}}}), NodeError);
  EXPECT_THROW(run_op({"Concat", {a, a}, {{"axis", attr_int(2)}}}), NodeError);
  EXPECT_THROW(run_op({"Concat", {a, a}, {}}), NodeError);
}

// ----------------------------------------------------------------------------------------- Split

TEST(Split, EqualSplit) {
  OpCall c{"Split", {f32({6}, {1, 2, 3, 4, 5, 6})}, {}};
  c.num_outputs = 3;
  OpResult r = run_op(c);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_TRUE(same_tensor(r.outputs[0], f32({2}, {1, 2})));
  EXPECT_TRUE(same_tensor(r.outputs[1], f32({2}, {3, 4})));
  EXPECT_TRUE(same_tensor(r.outputs[2], f32({2}, {5, 6})));
}

TEST(Split, SplitInputOpset13AndAttributeOpset11) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  OpCall c13{"Split", {x, ints({1, 2})}, {{"axis", attr_int(1)}}};
  c13.num_outputs = 2;
  OpCall c11{"Split", {x}, {{"axis", attr_int(-1)}, {"split", attr_ints({1, 2})}}, 11};
  c11.num_outputs = 2;
  for (const OpCall& c : {c13, c11}) {
    OpResult r = run_op(c);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    EXPECT_TRUE(same_tensor(r.outputs[0], f32({2, 1}, {1, 4})));
    EXPECT_TRUE(same_tensor(r.outputs[1], f32({2, 2}, {2, 3, 5, 6})));
  }
}

TEST(Split, PrepareErrors) {
  OpCall uneven{"Split", {f32({5}, {1, 2, 3, 4, 5})}, {}};
  uneven.num_outputs = 2;
  EXPECT_THROW(run_op(uneven), NodeError);
  OpCall bad_sum{"Split", {f32({5}, {1, 2, 3, 4, 5}), ints({2, 2})}, {}};
  bad_sum.num_outputs = 2;
  EXPECT_THROW(run_op(bad_sum), NodeError);
  OpCall negative{"Split", {f32({5}, {1, 2, 3, 4, 5}), ints({6, -1})}, {}};
  negative.num_outputs = 2;
  EXPECT_THROW(run_op(negative), NodeError);
  OpCall not_const{"Split", {f32({5}, {1, 2, 3, 4, 5}), ints({2, 3})}, {}};
  not_const.num_outputs = 2;
  not_const.constant = {false, false};
  EXPECT_THROW(run_op(not_const), NodeError);
}

TEST(Split, CorruptedSplitIsRunTimeError) {
  OpCall c{"Split", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), ints({1, 2})}, {{"axis", attr_int(1)}}};
  c.num_outputs = 2;
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({2, 1})), "Split"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({INT64_MIN, INT64_MAX})), "Split"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({1, 2, 0})), "Split"));
}

// --------------------------------------------------------------------------------------- Reshape

TEST(Reshape, ZeroCopiesAndMinusOneInfers) {
  const Tensor x = iota_f32({2, 3, 4});
  EXPECT_EQ(run1({"Reshape", {x, ints({0, -1})}}).shape(), (Shape{2, 12}));
  EXPECT_EQ(run1({"Reshape", {x, ints({-1})}}).shape(), (Shape{24}));
  EXPECT_EQ(run1({"Reshape", {x, ints({4, 0, 2})}}).shape(), (Shape{4, 3, 2}));
  const Tensor y = run1({"Reshape", {x, ints({2, -1, 4})}});
  EXPECT_TRUE(same_tensor(y, x));
  const Tensor z = run1({"Reshape", {x, ints({6, 4})}});
  EXPECT_TRUE(same_tensor(z, iota_f32({6, 4})));
}

TEST(Reshape, AllowZeroOpset14) {
  OpCall c{"Reshape", {f32({0, 3}, {}), ints({3, 0})}, {{"allowzero", attr_int(1)}}, 14};
  EXPECT_EQ(run1(c).shape(), (Shape{3, 0}));
  // Without allowzero the 0 copies dim 1 (3): [3, 3] has 9 elements, the input 0.
  OpCall copy{"Reshape", {f32({0, 3}, {}), ints({3, 0})}, {}, 14};
  EXPECT_THROW(run_op(copy), NodeError);
  OpCall both{"Reshape", {f32({0, 3}, {}), ints({0, -1})}, {{"allowzero", attr_int(1)}}, 14};
  EXPECT_THROW(run_op(both), NodeError);
  OpCall old{"Reshape", {f32({0, 3}, {}), ints({3, 0})}, {{"allowzero", attr_int(1)}}, 13};
  EXPECT_THROW(run_op(old), NodeError);
}

TEST(Reshape, PrepareErrors) {
  const Tensor x = iota_f32({2, 3, 4});
  EXPECT_THROW(run_op({"Reshape", {x, ints({-1, -1})}}), NodeError);
  EXPECT_THROW(run_op({"Reshape", {x, ints({5, 5})}}), NodeError);
  EXPECT_THROW(run_op({"Reshape", {x, ints({-2, 12})}}), NodeError);
  EXPECT_THROW(run_op({"Reshape", {x, ints({1, 1, 1, 0})}}), NodeError);
  EXPECT_THROW(run_op({"Reshape", {x, ints({INT64_MAX, INT64_MAX})}}), NodeError);
  OpCall not_const{"Reshape", {x, ints({6, 4})}};
  not_const.constant = {false, false};
  EXPECT_THROW(run_op(not_const), NodeError);
}

TEST(Reshape, CorruptedShapeIsRunTimeError) {
  OpCall c{"Reshape", {iota_f32({2, 3, 4}), ints({0, -1})}};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({3, 8})), "Reshape"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({12, 2})), "Reshape"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({INT64_MAX, INT64_MAX})), "Reshape"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({INT64_MIN, -1})), "Reshape"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({-1, -1})), "Reshape"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({2, 12, 1})), "Reshape"));
  EXPECT_TRUE(run_corrupted(c, 1, i32({2}, {2, 12})).is_ok());
  // A different encoding of the same shape is not an error.
  EXPECT_TRUE(run_corrupted(c, 1, ints({2, 12})).is_ok());
  EXPECT_TRUE(run_corrupted(c, 1, ints({0, 12})).is_ok());
}

// --------------------------------------------------------------------------------------- Flatten

TEST(Flatten, Axes) {
  const Tensor x = iota_f32({2, 3, 4});
  const std::pair<std::int64_t, Shape> cases[] = {{1, {2, 12}}, {0, {1, 24}},  {3, {24, 1}},
                                                  {-1, {6, 4}}, {-3, {1, 24}}, {2, {6, 4}}};
  for (const auto& [axis, shape] : cases) {
    const Tensor y = run1({"Flatten", {x}, {{"axis", attr_int(axis)}}});
    EXPECT_TRUE(same_tensor(y, iota_f32(shape))) << "axis " << axis;
  }
  EXPECT_EQ(run1({"Flatten", {x}}).shape(), (Shape{2, 12}));
  EXPECT_THROW(run_op({"Flatten", {x}, {{"axis", attr_int(4)}}}), NodeError);
  EXPECT_THROW(run_op({"Flatten", {x}, {{"axis", attr_int(-4)}}}), NodeError);
}

// ---------------------------------------------------------------------------- Squeeze/Unsqueeze

TEST(Squeeze, AxesInputAttributeAndDefault) {
  const Tensor x = iota_f32({1, 3, 1, 2});
  EXPECT_TRUE(same_tensor(run1({"Squeeze", {x, ints({0, -2})}}), iota_f32({3, 2})));
  EXPECT_TRUE(same_tensor(run1({"Squeeze", {x}}), iota_f32({3, 2})));
  EXPECT_TRUE(
      same_tensor(run1({"Squeeze", {x}, {{"axes", attr_ints({0})}}, 11}), iota_f32({3, 1, 2})));
  EXPECT_THROW(run_op({"Squeeze", {x, ints({1})}}), NodeError);
  EXPECT_THROW(run_op({"Squeeze", {x, ints({4})}}), NodeError);
  EXPECT_THROW(run_op({"Squeeze", {x, ints({0, 0})}}), NodeError);
  EXPECT_THROW(run_op({"Squeeze", {x, ints({0})}, {{"axes", attr_ints({0})}}}), NodeError);
}

TEST(Squeeze, CorruptedAxes) {
  OpCall c{"Squeeze", {iota_f32({1, 3, 1, 2}), ints({0, 2})}};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({1, 2})), "Squeeze"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({0, INT64_MIN})), "Squeeze"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({0, 0})), "Squeeze"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({0})), "Squeeze"));
  EXPECT_TRUE(run_corrupted(c, 1, ints({2, -4})).is_ok());  // the same axes, re-encoded
}

TEST(Unsqueeze, AxesInputAndAttribute) {
  const Tensor x = iota_f32({3, 2});
  EXPECT_TRUE(same_tensor(run1({"Unsqueeze", {x, ints({0, -1})}}), iota_f32({1, 3, 2, 1})));
  EXPECT_TRUE(same_tensor(run1({"Unsqueeze", {x, ints({1, 2})}}), iota_f32({3, 1, 1, 2})));
  EXPECT_TRUE(
      same_tensor(run1({"Unsqueeze", {x}, {{"axes", attr_ints({1})}}, 11}), iota_f32({3, 1, 2})));
  EXPECT_THROW(run_op({"Unsqueeze", {x, ints({0, 0})}}), NodeError);
  EXPECT_THROW(run_op({"Unsqueeze", {x, ints({4})}}), NodeError);
  EXPECT_THROW(run_op({"Unsqueeze", {x}, {}, 11}), NodeError);
  OpCall c{"Unsqueeze", {x, ints({0, -1})}};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({0, 1})), "Unsqueeze"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({0, INT64_MAX})), "Unsqueeze"));
  EXPECT_TRUE(run_corrupted(c, 1, ints({-4, 3})).is_ok());
}

// ---------------------------------------------------------------------------------------- Gather

TEST(Gather, Axis0NegativeAndInt32Indices) {
  const Tensor data = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(same_tensor(run1({"Gather", {data, ints({0, 2})}}), f32({2, 2}, {1, 2, 5, 6})));
  EXPECT_TRUE(same_tensor(run1({"Gather", {data, ints({-1})}}), f32({1, 2}, {5, 6})));
  EXPECT_TRUE(same_tensor(run1({"Gather", {data, i32({2}, {-3, 1})}}), f32({2, 2}, {1, 2, 3, 4})));
  EXPECT_TRUE(same_tensor(run1({"Gather", {data, i64({}, {1})}}), f32({2}, {3, 4})));
  EXPECT_TRUE(same_tensor(run1({"Gather", {data, i64({2, 2}, {0, 1, 1, 2})}}),
                          f32({2, 2, 2}, {1, 2, 3, 4, 3, 4, 5, 6})));
}

TEST(Gather, Axis1) {
  const Tensor data = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(same_tensor(run1({"Gather", {data, ints({2, -3})}, {{"axis", attr_int(1)}}}),
                          f32({2, 2}, {3, 1, 6, 4})));
  EXPECT_TRUE(same_tensor(run1({"Gather", {data, i64({}, {-2})}, {{"axis", attr_int(-1)}}}),
                          f32({2}, {2, 5})));
  const Tensor b = make_tensor<std::uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  OpCall c{"Gather", {b, ints({2, 2, 0})}, {{"axis", attr_int(1)}}};
  c.constant = {false, false};
  EXPECT_TRUE(same_tensor(run1(c), make_tensor<std::uint8_t>({2, 3}, {3, 3, 1, 6, 6, 4})));
}

TEST(Gather, PrepareErrors) {
  const Tensor data = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op({"Gather", {data, ints({3})}}), NodeError);  // constant index checked
  EXPECT_THROW(run_op({"Gather", {data, ints({0})}, {{"axis", attr_int(2)}}}), NodeError);
  EXPECT_THROW(run_op({"Gather", {data, f32({1}, {0})}}), NodeError);
}

TEST(Gather, OutOfRangeIndexIsRunTimeError) {
  const Tensor data = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  OpCall c{"Gather", {data, ints({0, 2})}};
  c.constant = {false, false};
  for (std::int64_t bad : std::vector<std::int64_t>{3, -4, INT64_MAX, INT64_MIN}) {
    const Status s = run_corrupted(c, 1, ints({0, bad}));
    EXPECT_TRUE(named_error(s, "Gather"));
    EXPECT_NE(s.message().find(std::to_string(bad)), std::string::npos) << s.message();
  }
  OpCall c32{"Gather", {data, i32({2}, {0, 1})}, {{"axis", attr_int(1)}}};
  c32.constant = {false, false};
  EXPECT_TRUE(named_error(run_corrupted(c32, 1, i32({2}, {0, 2})), "Gather"));
  EXPECT_TRUE(named_error(run_corrupted(c32, 1, i32({2}, {INT32_MIN, 0})), "Gather"));
  EXPECT_TRUE(run_corrupted(c32, 1, i32({2}, {-2, 1})).is_ok());
}

TEST(Gather, LargeMatchesNaive) {
  const Tensor data = random_tensor({4, 1000, 64}, 5);
  Tensor idx(DType::kInt64, {300});
  std::mt19937 gen(7);
  for (std::int64_t i = 0; i < 300; ++i) {
    idx.data<std::int64_t>()[i] = static_cast<std::int64_t>(gen() % 2000) - 1000;
  }
  OpCall c{"Gather", {data, idx}, {{"axis", attr_int(1)}}};
  c.constant = {false, false};
  const Tensor y = run1(c);
  ASSERT_EQ(y.shape(), (Shape{4, 300, 64}));
  for (std::int64_t o = 0; o < 4; ++o) {
    for (std::int64_t q = 0; q < 300; ++q) {
      std::int64_t v = idx.data<std::int64_t>()[q];
      if (v < 0) v += 1000;
      for (std::int64_t k = 0; k < 64; ++k) {
        ASSERT_EQ(y.data<float>()[(o * 300 + q) * 64 + k],
                  data.data<float>()[(o * 1000 + v) * 64 + k]);
      }
    }
  }
}

}  // namespace
}  // namespace dnnfi::test
