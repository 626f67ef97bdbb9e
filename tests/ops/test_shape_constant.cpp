// Shape ops, part 4: Constant, ConstantOfShape, Shape, Range, Expand, Tile. Hand-computed goldens,
// prepare-time errors, and run-time corruption of the shape-like inputs.
#include <climits>
#include <cmath>

#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

Attribute attr_kind(Attribute::Kind kind) {
  Attribute a;
  a.kind = kind;
  return a;
}

// -------------------------------------------------------------------------------------- Constant

TEST(Constant, ValueKinds) {
  OpCall c{"Constant", {}, {{"value", attr_tensor(f32({2}, {1, 2}))}}};
  EXPECT_TRUE(same_tensor(run1(c), f32({2}, {1, 2})));
  EXPECT_TRUE(
      same_tensor(run1({"Constant", {}, {{"value_float", attr_float(1.5f)}}}), f32({}, {1.5f})));
  EXPECT_TRUE(same_tensor(run1({"Constant", {}, {{"value_floats", attr_floats({1, 2, 3})}}}),
                          f32({3}, {1, 2, 3})));
  EXPECT_TRUE(same_tensor(run1({"Constant", {}, {{"value_int", attr_int(-3)}}}), i64({}, {-3})));
  EXPECT_TRUE(
      same_tensor(run1({"Constant", {}, {{"value_ints", attr_ints({4, 5})}}}), ints({4, 5})));
  const Tensor b = make_tensor<bool>({3}, {true, false, true});
  EXPECT_TRUE(same_tensor(run1({"Constant", {}, {{"value", attr_tensor(b)}}}), b));
}

TEST(Constant, UnsupportedAndInvalid) {
  EXPECT_THROW(run_op({"Constant", {}, {{"value_string", attr_string("x")}}}), NodeError);
  EXPECT_THROW(run_op({"Constant", {}, {{"value_strings", attr_kind(Attribute::Kind::kStrings)}}}),
               NodeError);
  EXPECT_THROW(run_op({"Constant", {}, {{"sparse_value", attr_kind(Attribute::Kind::kOther)}}}),
               NodeError);
  EXPECT_THROW(run_op({"Constant", {}, {}}), NodeError);
  EXPECT_THROW(
      run_op({"Constant", {}, {{"value_int", attr_int(1)}, {"value_float", attr_float(1)}}}),
      NodeError);
  EXPECT_THROW(run_op({"Constant", {}, {{"value", attr_int(1)}}}), NodeError);
}

// ------------------------------------------------------------------------------- ConstantOfShape

OpCall constant_of_shape(const Tensor& shape, std::optional<Tensor> value = std::nullopt) {
  OpCall c{"ConstantOfShape", {shape}};
  if (value) c.attributes["value"] = attr_tensor(*value);
  c.constant = {true};
  return c;
}

TEST(ConstantOfShape, Values) {
  EXPECT_TRUE(same_tensor(run1(constant_of_shape(ints({2, 3}), i64({1}, {7}))),
                          i64({2, 3}, {7, 7, 7, 7, 7, 7})));
  EXPECT_TRUE(same_tensor(run1(constant_of_shape(ints({2}))), f32({2}, {0, 0})));
  EXPECT_TRUE(same_tensor(run1(constant_of_shape(ints({}), f32({1}, {2.5f}))), f32({}, {2.5f})));
  EXPECT_EQ(run1(constant_of_shape(ints({3, 0}))).shape(), (Shape{3, 0}));
  EXPECT_TRUE(same_tensor(run1(constant_of_shape(ints({2}), make_tensor<bool>({1}, {true}))),
                          make_tensor<bool>({2}, {true, true})));
}

TEST(ConstantOfShape, Errors) {
  EXPECT_THROW(run_op(constant_of_shape(ints({2, -1}))), NodeError);
  EXPECT_THROW(run_op(constant_of_shape(ints({INT64_MAX, 4}))), NodeError);
  EXPECT_THROW(run_op(constant_of_shape(ints({2}), f32({2}, {1, 2}))), NodeError);
  OpCall not_const = constant_of_shape(ints({2}));
  not_const.constant = {false};
  EXPECT_THROW(run_op(not_const), NodeError);
  const OpCall c = constant_of_shape(ints({2, 3}));
  EXPECT_TRUE(named_error(run_corrupted(c, 0, ints({3, 2})), "ConstantOfShape"));
  EXPECT_TRUE(named_error(run_corrupted(c, 0, ints({2, 3, 1})), "ConstantOfShape"));
  EXPECT_TRUE(named_error(run_corrupted(c, 0, ints({INT64_MIN, 3})), "ConstantOfShape"));
}

// ----------------------------------------------------------------------------------------- Shape

TEST(Shape, StartEnd) {
  const Tensor x = iota_f32({2, 3, 4});
  EXPECT_TRUE(same_tensor(run1({"Shape", {x}}), ints({2, 3, 4})));
  auto shape15 = [&](std::map<std::string, Attribute> attrs) {
    return run1({"Shape", {x}, std::move(attrs), 15});
  };
  EXPECT_TRUE(same_tensor(shape15({{"start", attr_int(1)}}), ints({3, 4})));
  EXPECT_TRUE(same_tensor(shape15({{"end", attr_int(-1)}}), ints({2, 3})));
  EXPECT_TRUE(same_tensor(shape15({{"start", attr_int(-10)}, {"end", attr_int(2)}}), ints({2, 3})));
  EXPECT_EQ(shape15({{"start", attr_int(-1)}, {"end", attr_int(1)}}).shape(), (Shape{0}));
  EXPECT_EQ(shape15({{"start", attr_int(10)}}).shape(), (Shape{0}));
  EXPECT_TRUE(same_tensor(run1({"Shape", {f32({}, {1})}}), ints({})));
  EXPECT_THROW(run_op({"Shape", {x}, {{"start", attr_int(1)}}, 13}), NodeError);
}

// ----------------------------------------------------------------------------------------- Range

template <typename T>
OpCall range(T start, T limit, T delta) {
  OpCall c{"Range",
           {make_tensor<T>({}, {start}), make_tensor<T>({}, {limit}), make_tensor<T>({}, {delta})}};
  c.constant = {true, true, true};
  return c;
}

TEST(Range, Values) {
  EXPECT_TRUE(same_tensor(run1(range<std::int32_t>(1, 10, 3)), i32({3}, {1, 4, 7})));
  EXPECT_TRUE(same_tensor(run1(range<float>(10, 4, -2.5f)), f32({3}, {10, 7.5f, 5})));
  EXPECT_EQ(run1(range<std::int64_t>(5, 5, 1)).shape(), (Shape{0}));
  EXPECT_EQ(run1(range<std::int64_t>(5, 6, -1)).shape(), (Shape{0}));
  EXPECT_TRUE(same_tensor(run1(range<std::int64_t>(10, 0, -3)), i64({4}, {10, 7, 4, 1})));
  EXPECT_TRUE(
      same_tensor(run1(range<std::int16_t>(-2, 2, 2)), make_tensor<std::int16_t>({2}, {-2, 0})));
  EXPECT_TRUE(
      same_tensor(run1(range<double>(0, 1, 0.25)), make_tensor<double>({4}, {0, 0.25, 0.5, 0.75})));
  const std::int64_t half = INT64_MAX / 2 + 1;
  EXPECT_TRUE(same_tensor(run1(range<std::int64_t>(0, INT64_MAX, half)), i64({2}, {0, half})));
}

TEST(Range, PrepareErrors) {
  EXPECT_THROW(run_op(range<std::int32_t>(1, 10, 0)), NodeError);
  EXPECT_THROW(run_op(range<float>(0, 1, 0)), NodeError);
  EXPECT_THROW(run_op(range<float>(0, NAN, 1)), NodeError);
  EXPECT_THROW(run_op(range<std::int64_t>(INT64_MIN, INT64_MAX, 1)), NodeError);
  OpCall not_const = range<std::int32_t>(1, 10, 3);
  not_const.constant = {false, true, true};
  EXPECT_THROW(run_op(not_const), NodeError);
  OpCall mixed{"Range", {i32({}, {0}), i64({}, {3}), i32({}, {1})}};
  mixed.constant = {true, true, true};
  EXPECT_THROW(run_op(mixed), NodeError);
}

TEST(Range, CorruptedInputs) {
  const OpCall c = range<std::int32_t>(1, 10, 3);
  PreparedOp op(c);
  std::vector<std::optional<Tensor>> in = c.inputs;
  in[0] = i32({}, {2});  // still 3 elements: used
  OpResult r = op.run(in);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_TRUE(same_tensor(r.outputs[0], i32({3}, {2, 5, 8})));
  EXPECT_TRUE(named_error(run_corrupted(c, 0, i32({}, {0})), "Range"));
  EXPECT_TRUE(named_error(run_corrupted(c, 2, i32({}, {0})), "Range"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i32({}, {INT32_MAX})), "Range"));
  EXPECT_TRUE(named_error(run_corrupted(c, 2, i32({}, {INT32_MIN})), "Range"));
  EXPECT_TRUE(named_error(run_corrupted(c, 2, ints({3})), "Range"));  // dtype changed
  const OpCall cf = range<float>(0, 3, 1);
  EXPECT_TRUE(named_error(run_corrupted(cf, 1, f32({}, {INFINITY})), "Range"));
  EXPECT_TRUE(named_error(run_corrupted(cf, 0, f32({}, {NAN})), "Range"));
  // Values near the int64 limits: 1 element, not 3.
  const OpCall ci = range<std::int64_t>(0, 3, 1);
  PreparedOp opi(ci);
  std::vector<std::optional<Tensor>> ini = {i64({}, {INT64_MAX - 1}), i64({}, {INT64_MAX}),
                                            i64({}, {1})};
  EXPECT_TRUE(named_error(opi.run(ini).status, "Range"));  // 1 element, not 3
}

// ---------------------------------------------------------------------------------------- Expand

TEST(Expand, Broadcasts) {
  const Tensor x = f32({3, 1}, {1, 2, 3});
  EXPECT_TRUE(same_tensor(
      run1({"Expand", {x, ints({2, 1, 4})}}),
      f32({2, 3, 4}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3})));
  EXPECT_TRUE(same_tensor(run1({"Expand", {x, ints({1, 1})}}), x));
  EXPECT_TRUE(
      same_tensor(run1({"Expand", {x, ints({3})}}), f32({3, 3}, {1, 1, 1, 2, 2, 2, 3, 3, 3})));
  EXPECT_TRUE(same_tensor(run1({"Expand", {i64({1, 3}, {1, 2, 3}), ints({2, 1})}}),
                          i64({2, 3}, {1, 2, 3, 1, 2, 3})));
  EXPECT_TRUE(
      same_tensor(run1({"Expand", {f32({}, {7}), ints({2, 2})}}), f32({2, 2}, {7, 7, 7, 7})));
  EXPECT_EQ(run1({"Expand", {f32({1}, {7}), ints({0})}}).shape(), (Shape{0}));
  const Tensor big = run1({"Expand", {random_tensor({1, 64, 1, 1}, 1), ints({2, 64, 40, 40})}});
  for (std::int64_t i = 0; i < big.numel(); i += 97) {
    ASSERT_EQ(big.data<float>()[i], big.data<float>()[(i / 1600) * 1600]);
  }
}

TEST(Expand, Errors) {
  EXPECT_THROW(run_op({"Expand", {f32({3}, {1, 2, 3}), ints({2})}}), NodeError);
  EXPECT_THROW(run_op({"Expand", {f32({3}, {1, 2, 3}), ints({-1, 3})}}), NodeError);
  EXPECT_THROW(run_op({"Expand", {f32({1}, {1}), ints({INT64_MAX, INT64_MAX})}}), NodeError);
  OpCall not_const{"Expand", {f32({3}, {1, 2, 3}), ints({2, 3})}};
  not_const.constant = {false, false};
  EXPECT_THROW(run_op(not_const), NodeError);
  const OpCall c{"Expand", {f32({3, 1}, {1, 2, 3}), ints({2, 1, 4})}};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({2, 1, 5})), "Expand"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({-1, 1, 4})), "Expand"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({INT64_MAX, 1, 4})), "Expand"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({1, 4})), "Expand"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({2, 2, 1, 4})), "Expand"));
  EXPECT_TRUE(run_corrupted(c, 1, ints({2, 3, 4})).is_ok());
}

// ------------------------------------------------------------------------------------------ Tile

TEST(Tile, Repeats) {
  const Tensor x = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_TRUE(
      same_tensor(run1({"Tile", {x, ints({1, 2})}}), f32({2, 4}, {1, 2, 1, 2, 3, 4, 3, 4})));
  EXPECT_TRUE(
      same_tensor(run1({"Tile", {x, ints({2, 1})}}), f32({4, 2}, {1, 2, 3, 4, 1, 2, 3, 4})));
  EXPECT_TRUE(same_tensor(run1({"Tile", {x, ints({2, 2})}}),
                          f32({4, 4}, {1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4})));
  EXPECT_EQ(run1({"Tile", {x, ints({0, 1})}}).shape(), (Shape{0, 2}));
  EXPECT_TRUE(same_tensor(run1({"Tile", {f32({}, {3}), ints({})}}), f32({}, {3})));
  const Tensor b = make_tensor<std::uint16_t>({3}, {1, 2, 3});
  EXPECT_TRUE(same_tensor(run1({"Tile", {b, ints({2})}}),
                          make_tensor<std::uint16_t>({6}, {1, 2, 3, 1, 2, 3})));
}

TEST(Tile, Errors) {
  const Tensor x = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op({"Tile", {x, ints({2})}}), NodeError);
  EXPECT_THROW(run_op({"Tile", {x, ints({-1, 2})}}), NodeError);
  EXPECT_THROW(run_op({"Tile", {x, ints({INT64_MAX, 2})}}), NodeError);
  OpCall not_const{"Tile", {x, ints({1, 2})}};
  not_const.constant = {false, false};
  EXPECT_THROW(run_op(not_const), NodeError);
  const OpCall c{"Tile", {x, ints({1, 2})}};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({2, 2})), "Tile"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({INT64_MAX, 1})), "Tile"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({-1, 2})), "Tile"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({1, 2, 1})), "Tile"));
}

}  // namespace
}  // namespace dnnfi::test
