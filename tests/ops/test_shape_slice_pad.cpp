// Shape ops, part 2: Slice and Pad. Hand-computed goldens (negative steps, clamping, reflect/edge,
// negative pads), prepare-time errors, run-time corruption of starts/ends/steps/pads, and random
// cases against a naive per-element implementation of the spec.
#include <algorithm>
#include <climits>
#include <random>

#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

// ----------------------------------------------------------------------------------------- Slice

OpCall slice(const Tensor& x, std::vector<std::int64_t> starts, std::vector<std::int64_t> ends,
             std::optional<std::vector<std::int64_t>> axes = std::nullopt,
             std::optional<std::vector<std::int64_t>> steps = std::nullopt) {
  OpCall c{"Slice", {x, ints(starts), ints(ends)}};
  c.inputs.push_back(axes ? std::optional<Tensor>(ints(*axes)) : std::nullopt);
  c.inputs.push_back(steps ? std::optional<Tensor>(ints(*steps)) : std::nullopt);
  return c;
}

// x = [[0,1,2,3],[4,5,6,7],[8,9,10,11]]
const Tensor kX = iota_f32({3, 4});

TEST(Slice, Basic) {
  EXPECT_TRUE(same_tensor(run1(slice(kX, {1, 0}, {2, 3})), f32({1, 3}, {4, 5, 6})));
  EXPECT_TRUE(same_tensor(run1(slice(kX, {0, 1}, {-1, 1000})), f32({2, 3}, {1, 2, 3, 5, 6, 7})));
  EXPECT_TRUE(same_tensor(run1(slice(kX, {-3}, {INT64_MAX}, std::vector<std::int64_t>{1})),
                          f32({3, 3}, {1, 2, 3, 5, 6, 7, 9, 10, 11})));
  EXPECT_TRUE(same_tensor(
      run1(slice(kX, {0}, {4}, std::vector<std::int64_t>{-1}, std::vector<std::int64_t>{3})),
      f32({3, 2}, {0, 3, 4, 7, 8, 11})));
}

TEST(Slice, NegativeSteps) {
  EXPECT_TRUE(
      same_tensor(run1(slice(kX, {-1, -1}, {INT64_MIN, INT64_MIN}, std::vector<std::int64_t>{0, 1},
                             std::vector<std::int64_t>{-1, -2})),
                  f32({3, 2}, {11, 9, 7, 5, 3, 1})));
  // start clamps to dim-1, end to -1: the whole axis reversed.
  EXPECT_TRUE(same_tensor(
      run1(slice(kX, {100}, {-100}, std::vector<std::int64_t>{1}, std::vector<std::int64_t>{-1})),
      f32({3, 4}, {3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8})));
  // start -100 -> -96 -> clamped to 0; end -1 -> 3: nothing between 0 and 3 going down.
  EXPECT_EQ(
      run1(slice(kX, {-100}, {-1}, std::vector<std::int64_t>{1}, std::vector<std::int64_t>{-1}))
          .shape(),
      (Shape{3, 0}));
  // Negative step, start clamped to 0, end before it: just index 0.
  EXPECT_TRUE(same_tensor(run1(slice(kX, {-100}, {INT64_MIN}, std::vector<std::int64_t>{0},
                                     std::vector<std::int64_t>{-1})),
                          f32({1, 4}, {0, 1, 2, 3})));
  EXPECT_TRUE(same_tensor(
      run1(slice(kX, {2, 3}, {0, 0}, std::nullopt, std::vector<std::int64_t>{-1, INT64_MIN})),
      f32({2, 1}, {11, 7})));
}

TEST(Slice, ClampingAndEmpty) {
  EXPECT_EQ(run1(slice(kX, {10}, {20})).shape(), (Shape{0, 4}));
  EXPECT_TRUE(same_tensor(run1(slice(kX, {-100}, {100})), kX));
  EXPECT_EQ(run1(slice(kX, {2}, {1})).shape(), (Shape{0, 4}));
  EXPECT_TRUE(same_tensor(
      run1(slice(kX, {1}, {2}, std::vector<std::int64_t>{0}, std::vector<std::int64_t>{INT64_MAX})),
      f32({1, 4}, {4, 5, 6, 7})));
}

TEST(Slice, Int32InputsAttributesOpset9AndOtherDtypes) {
  OpCall c{"Slice", {kX, i32({1}, {1}), i32({1}, {3}), i32({1}, {1})}};
  EXPECT_TRUE(same_tensor(run1(c), f32({3, 2}, {1, 2, 5, 6, 9, 10})));
  OpCall old{"Slice",
             {kX},
             {{"starts", attr_ints({0})}, {"ends", attr_ints({2})}, {"axes", attr_ints({1})}},
             9};
  EXPECT_TRUE(same_tensor(run1(old), f32({3, 2}, {0, 1, 4, 5, 8, 9})));
  OpCall old_default{
      "Slice", {kX}, {{"starts", attr_ints({1, -1})}, {"ends", attr_ints({2, 10})}}, 1};
  EXPECT_TRUE(same_tensor(run1(old_default), f32({1, 1}, {7})));
  const Tensor b = make_tensor<bool>({4}, {true, false, false, true});
  EXPECT_TRUE(
      same_tensor(run1(slice(b, {-1}, {INT64_MIN}, std::nullopt, std::vector<std::int64_t>{-2})),
                  make_tensor<bool>({2}, {true, false})));
  const Tensor d = make_tensor<double>({3}, {1.5, 2.5, 3.5});
  EXPECT_TRUE(same_tensor(run1(slice(d, {1}, {3})), make_tensor<double>({2}, {2.5, 3.5})));
}

TEST(Slice, PrepareErrors) {
  EXPECT_THROW(
      run_op(slice(kX, {0}, {1}, std::vector<std::int64_t>{0}, std::vector<std::int64_t>{0})),
      NodeError);
  EXPECT_THROW(run_op(slice(kX, {0, 0}, {1, 1}, std::vector<std::int64_t>{1, -1})), NodeError);
  EXPECT_THROW(run_op(slice(kX, {0}, {1}, std::vector<std::int64_t>{2})), NodeError);
  EXPECT_THROW(run_op(slice(kX, {0, 0}, {1})), NodeError);
  EXPECT_THROW(run_op(slice(kX, {0, 0, 0}, {1, 1, 1})), NodeError);
  OpCall not_const = slice(kX, {0}, {1});
  not_const.constant = {false, false, true};
  EXPECT_THROW(run_op(not_const), NodeError);
  OpCall float_starts{"Slice", {kX, f32({1}, {0}), ints({1})}};
  EXPECT_THROW(run_op(float_starts), NodeError);
}

TEST(Slice, CorruptedStartsEndsSteps) {
  // axis 0 of a 10-vector, 0:10:4 -> {0, 4, 8}
  const Tensor v = iota_f32({10});
  const OpCall c = slice(v, {0}, {10}, std::vector<std::int64_t>{0}, std::vector<std::int64_t>{4});
  // Start moved by one: still 3 elements, so the window moves (the fault propagates).
  PreparedOp op(c);
  std::vector<std::optional<Tensor>> in = c.inputs;
  in[1] = ints({1});
  OpResult moved = op.run(in);
  ASSERT_TRUE(moved.status.is_ok()) << moved.status.message();
  EXPECT_TRUE(same_tensor(moved.outputs[0], f32({3}, {1, 5, 9})));
  // Clamped to the same thing: fine.
  EXPECT_TRUE(run_corrupted(c, 2, ints({INT64_MAX})).is_ok());
  EXPECT_TRUE(run_corrupted(c, 1, ints({INT64_MIN})).is_ok());
  // Anything that changes the output shape or is invalid is an error naming the node.
  for (const Tensor& bad : {ints({3}), ints({-1}), ints({INT64_MAX})}) {
    EXPECT_TRUE(named_error(run_corrupted(c, 1, bad), "Slice"));
  }
  for (const Tensor& bad : {ints({5}), ints({INT64_MIN}), ints({-3})}) {
    EXPECT_TRUE(named_error(run_corrupted(c, 2, bad), "Slice"));
  }
  for (const Tensor& bad : {ints({1}), ints({3})}) {
    EXPECT_TRUE(named_error(run_corrupted(c, 4, bad), "Slice"));
  }
  for (const Tensor& bad : {ints({0}), ints({-1}), ints({INT64_MIN}), ints({INT64_MAX})}) {
    EXPECT_TRUE(named_error(run_corrupted(c, 4, bad), "Slice"));
  }
  for (const Tensor& bad : {ints({1}), ints({-2}), ints({INT64_MAX})}) {
    EXPECT_TRUE(named_error(run_corrupted(c, 3, bad), "Slice"));
  }
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({0, 0})), "Slice"));  // wrong length
  EXPECT_TRUE(run_corrupted(c, 3, ints({-1})).is_ok());                  // same axis

  // Two axes: a repeated axis after corruption.
  const OpCall c2 = slice(kX, {0, 0}, {2, 2}, std::vector<std::int64_t>{0, 1});
  EXPECT_TRUE(named_error(run_corrupted(c2, 3, ints({1, 1})), "Slice"));
  EXPECT_TRUE(run_corrupted(c2, 3, ints({1, 0})).is_ok());  // still [2,2]
}

// The spec, element by element: per axis, the list of input indices read.
Tensor slice_naive(const Tensor& x, const std::vector<std::int64_t>& starts,
                   const std::vector<std::int64_t>& ends, const std::vector<std::int64_t>& axes,
                   const std::vector<std::int64_t>& steps) {
  const auto rank = static_cast<std::int64_t>(x.rank());
  std::vector<std::vector<std::int64_t>> picks(static_cast<std::size_t>(rank));
  for (std::int64_t a = 0; a < rank; ++a) {
    for (std::int64_t i = 0; i < x.dim(static_cast<std::size_t>(a)); ++i) picks[a].push_back(i);
  }
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    const std::int64_t d = x.dim(static_cast<std::size_t>(a));
    std::int64_t s = starts[i] < 0 ? starts[i] + d : starts[i];
    std::int64_t e = ends[i] < 0 ? ends[i] + d : ends[i];
    const std::int64_t st = steps[i];
    picks[a].clear();
    if (st > 0) {
      s = std::min(std::max<std::int64_t>(s, 0), d);
      e = std::min(std::max<std::int64_t>(e, 0), d);
      for (std::int64_t k = s; k < e; k += st) picks[a].push_back(k);
    } else {
      s = std::min(std::max<std::int64_t>(s, 0), d - 1);
      e = std::min(std::max<std::int64_t>(e, -1), d - 1);
      for (std::int64_t k = s; k > e; k += st) picks[a].push_back(k);
    }
  }
  Shape shape;
  for (const auto& p : picks) shape.push_back(static_cast<std::int64_t>(p.size()));
  Tensor y(x.dtype(), shape);
  const std::vector<std::int64_t> xs = shape_strides(x.shape());
  for (std::int64_t o = 0; o < y.numel(); ++o) {
    std::int64_t rest = o, off = 0;
    for (std::int64_t a = rank - 1; a >= 0; --a) {
      off += picks[a][static_cast<std::size_t>(rest % shape[a])] * xs[a];
      rest /= shape[a];
    }
    y.data<float>()[o] = x.data<float>()[off];
  }
  return y;
}

TEST(Slice, RandomMatchesNaive) {
  std::mt19937 gen(11);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(gen() % static_cast<std::uint32_t>(hi - lo + 1));
  };
  for (int trial = 0; trial < 400; ++trial) {
    const std::int64_t rank = pick(1, 4);
    Shape shape;
    for (std::int64_t a = 0; a < rank; ++a) shape.push_back(pick(0, 7));
    if (trial % 50 == 0) shape = {3, 70, 90, 40};  // large: threaded path
    const Tensor x = random_tensor(shape, static_cast<std::uint32_t>(trial));
    std::vector<std::int64_t> axes;
    for (std::int64_t a = 0; a < rank; ++a) axes.push_back(a);
    std::shuffle(axes.begin(), axes.end(), gen);
    axes.resize(static_cast<std::size_t>(pick(1, rank)));
    std::vector<std::int64_t> starts, ends, steps;
    for (std::int64_t& a : axes) {
      if (gen() % 2) a -= rank;
      starts.push_back(gen() % 10 == 0 ? INT64_MIN : pick(-10, 10));
      ends.push_back(gen() % 10 == 0 ? INT64_MAX : pick(-10, 10));
      std::int64_t st = pick(-3, 3);
      steps.push_back(st == 0 ? 1 : st);
    }
    const Tensor y = run1(slice(x, starts, ends, axes, steps));
    ASSERT_TRUE(same_tensor(y, slice_naive(x, starts, ends, axes, steps)))
        << "trial " << trial << " shape " << shape_to_string(shape) << " starts "
        << shape_to_string(starts) << " ends " << shape_to_string(ends) << " axes "
        << shape_to_string(axes) << " steps " << shape_to_string(steps);
  }
}

// ------------------------------------------------------------------------------------------- Pad

OpCall pad(const Tensor& x, std::vector<std::int64_t> pads, const std::string& mode = "constant",
           std::optional<Tensor> value = std::nullopt) {
  OpCall c{"Pad", {x, ints(pads)}, {{"mode", attr_string(mode)}}};
  if (value) c.inputs.push_back(value);
  return c;
}

const Tensor kP = f32({2, 3}, {1, 2, 3, 4, 5, 6});

TEST(Pad, Constant) {
  EXPECT_TRUE(
      same_tensor(run1(pad(kP, {0, 1, 1, 0})), f32({3, 4}, {0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0})));
  EXPECT_TRUE(same_tensor(run1(pad(kP, {0, 1, 1, 0}, "constant", f32({}, {9}))),
                          f32({3, 4}, {9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9})));
  const Tensor xi = i64({2}, {7, 8});
  EXPECT_TRUE(
      same_tensor(run1(pad(xi, {1, 2}, "constant", i64({1}, {-1}))), i64({5}, {-1, 7, 8, -1, -1})));
}

TEST(Pad, ReflectAndEdge) {
  EXPECT_TRUE(same_tensor(run1(pad(kP, {0, 2, 0, 2}, "reflect")),
                          f32({2, 7}, {3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4})));
  EXPECT_TRUE(
      same_tensor(run1(pad(kP, {1, 1, 1, 1}, "edge")),
                  f32({4, 5}, {1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 4, 4, 5, 6, 6})));
  EXPECT_TRUE(same_tensor(run1(pad(kP, {1, 0, 1, 0}, "reflect")),
                          f32({4, 3}, {4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3})));
  // Pads wider than the data reflect again (numpy 'reflect').
  EXPECT_TRUE(same_tensor(run1(pad(f32({3}, {1, 2, 3}), {5, 0}, "reflect")),
                          f32({8}, {2, 1, 2, 3, 2, 1, 2, 3})));
  EXPECT_TRUE(same_tensor(run1(pad(f32({1}, {4}), {2, 1}, "reflect")), f32({4}, {4, 4, 4, 4})));
}

TEST(Pad, NegativePadsCrop) {
  EXPECT_TRUE(same_tensor(run1(pad(kP, {0, -1, 0, 1})), f32({2, 3}, {2, 3, 0, 5, 6, 0})));
  EXPECT_TRUE(same_tensor(run1(pad(kP, {-1, 0, 0, -1})), f32({1, 2}, {4, 5})));
  EXPECT_TRUE(
      same_tensor(run1(pad(kP, {0, -1, 0, 2}, "edge")), f32({2, 4}, {2, 3, 3, 3, 5, 6, 6, 6})));
  EXPECT_EQ(run1(pad(kP, {0, -3, 0, 0})).shape(), (Shape{2, 0}));
}

TEST(Pad, AttributesOpset2) {
  OpCall c{"Pad", {kP}, {{"pads", attr_ints({1, 0, 0, 0})}, {"value", attr_float(2.5f)}}, 2};
  EXPECT_TRUE(same_tensor(run1(c), f32({3, 3}, {2.5, 2.5, 2.5, 1, 2, 3, 4, 5, 6})));
  OpCall e{"Pad", {kP}, {{"pads", attr_ints({0, 1, 0, 0})}, {"mode", attr_string("edge")}}, 10};
  EXPECT_TRUE(same_tensor(run1(e), f32({2, 4}, {1, 1, 2, 3, 4, 4, 5, 6})));
}

TEST(Pad, PrepareErrors) {
  EXPECT_THROW(run_op(pad(kP, {0, 1, 0, 1}, "wrap")), NodeError);
  EXPECT_THROW(run_op(pad(kP, {0, 1, 0})), NodeError);
  EXPECT_THROW(run_op(pad(kP, {0, -4, 0, 5})), NodeError);  // crops past the data
  EXPECT_THROW(run_op(pad(kP, {0, INT64_MAX, 0, INT64_MAX})), NodeError);
  EXPECT_THROW(run_op(pad(kP, {0, 1, 0, 1}, "constant", ints({1}))), NodeError);  // value dtype
  EXPECT_THROW(run_op(pad(f32({0, 2}, {}), {1, 0, 0, 0}, "reflect")), NodeError);
  OpCall not_const = pad(kP, {0, 1, 0, 1});
  not_const.constant = {false, false};
  EXPECT_THROW(run_op(not_const), NodeError);
}

TEST(Pad, CorruptedPads) {
  const OpCall c = pad(kP, {0, 1, 0, 1});  // -> [2,5]
  // Same output shape, window moved: the fault propagates.
  PreparedOp op(c);
  std::vector<std::optional<Tensor>> in = c.inputs;
  in[1] = ints({0, 2, 0, 0});
  OpResult moved = op.run(in);
  ASSERT_TRUE(moved.status.is_ok()) << moved.status.message();
  EXPECT_TRUE(same_tensor(moved.outputs[0], f32({2, 5}, {0, 0, 1, 2, 3, 0, 0, 4, 5, 6})));
  for (const Tensor& bad :
       {ints({0, 1, 0, 2}), ints({0, INT64_MAX, 0, INT64_MIN}), ints({0, INT64_MIN, 0, INT64_MAX}),
        ints({INT64_MIN, 0, 0, 0}), ints({0, 1, 0}), ints({0, -5, 0, 7})}) {
    EXPECT_TRUE(named_error(run_corrupted(c, 1, bad), "Pad")) << describe(bad);
  }
  // The constant value is data: a different value is simply used.
  const OpCall cv = pad(kP, {0, 1, 0, 0}, "constant", f32({}, {1}));
  PreparedOp opv(cv);
  std::vector<std::optional<Tensor>> inv = cv.inputs;
  inv[2] = f32({}, {-7});
  OpResult rv = opv.run(inv);
  ASSERT_TRUE(rv.status.is_ok());
  EXPECT_TRUE(same_tensor(rv.outputs[0], f32({2, 4}, {-7, 1, 2, 3, -7, 4, 5, 6})));
}

// Pad per the spec, element by element.
Tensor pad_naive(const Tensor& x, const std::vector<std::int64_t>& pads, const std::string& mode,
                 float value) {
  const std::size_t rank = x.rank();
  Shape shape(rank);
  for (std::size_t a = 0; a < rank; ++a) shape[a] = x.dim(a) + pads[a] + pads[a + rank];
  Tensor y(x.dtype(), shape);
  const std::vector<std::int64_t> xs = shape_strides(x.shape());
  for (std::int64_t o = 0; o < y.numel(); ++o) {
    std::int64_t rest = o, off = 0;
    bool border = false;
    for (std::size_t k = rank; k-- > 0;) {
      const std::int64_t d = x.dim(k);
      std::int64_t i = rest % shape[k] - pads[k];
      rest /= shape[k];
      if (i < 0 || i >= d) {
        if (mode == "constant") {
          border = true;
        } else if (mode == "edge") {
          i = i < 0 ? 0 : d - 1;
        } else {  // reflect, bouncing until inside
          while (i < 0 || i >= d) i = i < 0 ? -i : 2 * (d - 1) - i;
        }
      }
      off += i * xs[k];
    }
    y.data<float>()[o] = border ? value : x.data<float>()[off];
  }
  return y;
}

TEST(Pad, RandomMatchesNaive) {
  std::mt19937 gen(23);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(gen() % static_cast<std::uint32_t>(hi - lo + 1));
  };
  const char* modes[] = {"constant", "reflect", "edge"};
  for (int trial = 0; trial < 300; ++trial) {
    const std::string mode = modes[trial % 3];
    Shape shape(static_cast<std::size_t>(pick(1, 4)));
    for (std::int64_t& d : shape) d = pick(mode == "constant" ? 0 : 2, 6);
    if (trial % 40 == 0) shape = {2, 64, 60, 60};  // large: threaded path
    const auto rank = static_cast<std::int64_t>(shape.size());
    std::vector<std::int64_t> pads(static_cast<std::size_t>(2 * rank));
    for (std::int64_t a = 0; a < rank; ++a) {
      const std::int64_t d = shape[static_cast<std::size_t>(a)];
      for (int side = 0; side < 2; ++side) {
        pads[static_cast<std::size_t>(a + side * rank)] = pick(-d / 2, mode == "reflect" ? 9 : 4);
      }
    }
    const Tensor x = random_tensor(shape, static_cast<std::uint32_t>(trial));
    const Tensor y = run1(pad(x, pads, mode, f32({}, {0.5f})));
    ASSERT_TRUE(same_tensor(y, pad_naive(x, pads, mode, 0.5f)))
        << "trial " << trial << " " << mode << " shape " << shape_to_string(shape) << " pads "
        << shape_to_string(pads);
  }
}

}  // namespace
}  // namespace dnnfi::test
