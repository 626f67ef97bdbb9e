// OneHot, Trilu, DepthToSpace, SpaceToDepth, ReverseSequence: hand-computed goldens, the ONNX node
// conformance cases, prepare-time errors, and run-time corruption of the inputs read as indices
// or lengths.
#include <climits>
#include <cmath>
#include <limits>

#include "onnx_node_case.h"
#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

// ---------------------------------------------------------------------------------------- OneHot

TEST(OneHot, AxesNegativeAndOutOfRangeIndices) {
  const Tensor depth = i64({}, {3});
  const Tensor values = f32({2}, {0.5f, 9});
  // Default axis -1: one row per index. -1 is depth-1; 3 and -4 are outside [-3, 3): all off.
  EXPECT_TRUE(same_tensor(run1({"OneHot", {ints({0, -1, 3, -4}), depth, values}}),
                          f32({4, 3}, {9, .5f, .5f, .5f, .5f, 9, .5f, .5f, .5f, .5f, .5f, .5f})));
  // axis 0: the depth axis comes first.
  EXPECT_TRUE(same_tensor(run1({"OneHot", {ints({2, 0}), depth, values}, {{"axis", attr_int(0)}}}),
                          f32({3, 2}, {.5f, 9, .5f, .5f, 9, .5f})));
  // Float indices truncate; NaN is outside every range.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  OpCall f{"OneHot", {f32({3}, {1.7f, nan, -2.5f}), f32({}, {3}), ints({0, 1})}};
  f.opset = 11;
  EXPECT_TRUE(same_tensor(run1(f), i64({3, 3}, {0, 1, 0, 0, 0, 0, 0, 1, 0})));
  // Opset 9 did not count negative indices from the end: outside [0, depth) is all off.
  f.opset = 9;
  EXPECT_TRUE(same_tensor(run1(f), i64({3, 3}, {0, 1, 0, 0, 0, 0, 0, 0, 0})));
}

TEST(OneHot, ConformanceCases) {
  expect_node_case("test_onehot_negative_indices");
  expect_node_case("test_onehot_with_axis");
  expect_node_case("test_onehot_with_negative_axis");
  expect_node_case("test_onehot_without_axis");
}

TEST(OneHot, DepthMustBeConstantAndStayTheSame) {
  OpCall c{"OneHot", {ints({0, 1}), i64({}, {2}), f32({2}, {0, 1})}};
  c.constant = {false, false, true};
  EXPECT_THROW(run_op(c), NodeError);  // depth not known at load time
  c.inputs[1] = i64({}, {0});
  c.constant = {false, true, true};
  EXPECT_THROW(run_op(c), NodeError);  // depth < 1
  c.inputs[1] = i64({}, {2});
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({}, {5})), "OneHot"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({}, {INT64_MIN})), "OneHot"));
  EXPECT_TRUE(run_corrupted(c, 0, ints({INT64_MAX, INT64_MIN})).is_ok());  // all off, no error
}

// ----------------------------------------------------------------------------------------- Trilu

// Trilu is an opset 14 op.
OpCall trilu(std::vector<std::optional<Tensor>> inputs,
             std::map<std::string, Attribute> attributes = {}) {
  OpCall c{"Trilu", std::move(inputs), std::move(attributes)};
  c.opset = 14;
  return c;
}

TEST(Trilu, UpperLowerAndK) {
  const Tensor x = f32({3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  EXPECT_TRUE(same_tensor(run1(trilu({x})), f32({3, 4}, {1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12})));
  EXPECT_TRUE(same_tensor(run1(trilu({x, i64({}, {1})})),
                          f32({3, 4}, {0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12})));
  EXPECT_TRUE(same_tensor(run1(trilu({x, i64({}, {-1})}, {{"upper", attr_int(0)}})),
                          f32({3, 4}, {0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0})));
  // Batched, int32, k large enough to keep everything.
  const Tensor b = i32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_TRUE(same_tensor(run1(trilu({b}, {{"upper", attr_int(0)}})),
                          i32({2, 2, 2}, {1, 0, 3, 4, 5, 0, 7, 8})));
  EXPECT_TRUE(same_tensor(run1(trilu({b, i64({}, {INT64_MIN})})), b));
}

TEST(Trilu, ConformanceCases) {
  for (const char* name :
       {"test_tril", "test_tril_neg", "test_tril_one_row_neg", "test_tril_out_neg",
        "test_tril_out_pos", "test_tril_pos", "test_tril_square", "test_tril_square_neg",
        "test_tril_zero", "test_triu", "test_triu_neg", "test_triu_one_row",
        "test_triu_out_neg_out", "test_triu_out_pos", "test_triu_pos", "test_triu_square",
        "test_triu_square_neg", "test_triu_zero"}) {
    expect_node_case(name);
  }
}

TEST(Trilu, PrepareErrorsAndCorruptedK) {
  EXPECT_THROW(run_op(trilu({f32({3}, {1, 2, 3})})), NodeError);
  EXPECT_THROW(run_op(trilu({f32({1, 1}, {1})}, {{"upper", attr_int(2)}})), NodeError);
  EXPECT_THROW(run_op(trilu({f32({1, 1}, {1}), ints({1, 2})})), NodeError);
  OpCall c = trilu({f32({2, 2}, {1, 2, 3, 4}), i64({}, {0})});
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({0, 1})), "Trilu"));  // wrong element count
  EXPECT_TRUE(named_error(run_corrupted(c, 1, f32({}, {0})), "Trilu"));  // not an integer
}

// ------------------------------------------------------------------- DepthToSpace / SpaceToDepth

TEST(DepthToSpace, DcrAndCrd) {
  // x[0, c, 0, 0] = c for 8 channels, blocksize 2 -> 2 output channels of 2x2.
  const Tensor x = iota_f32({1, 8, 1, 1});
  // DCR: y[c, bh, bw] = x[(bh*2 + bw)*2 + c]
  EXPECT_TRUE(same_tensor(run1({"DepthToSpace", {x}, {{"blocksize", attr_int(2)}}}),
                          f32({1, 2, 2, 2}, {0, 2, 4, 6, 1, 3, 5, 7})));
  // CRD: y[c, bh, bw] = x[c*4 + bh*2 + bw]
  EXPECT_TRUE(same_tensor(
      run1({"DepthToSpace", {x}, {{"blocksize", attr_int(2)}, {"mode", attr_string("CRD")}}}),
      f32({1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7})));
  expect_node_case("test_depthtospace_crd_mode");
  expect_node_case("test_depthtospace_crd_mode_example");
  expect_node_case("test_depthtospace_dcr_mode");
  expect_node_case("test_depthtospace_example");
}

TEST(SpaceToDepth, InvertsDepthToSpaceDcr) {
  const Tensor x = iota_f32({1, 1, 2, 4});
  // y[(bh*2 + bw), 0, w'] = x[bh, w'*2 + bw]
  const Tensor y = run1({"SpaceToDepth", {x}, {{"blocksize", attr_int(2)}}});
  EXPECT_TRUE(same_tensor(y, f32({1, 4, 1, 2}, {0, 2, 1, 3, 4, 6, 5, 7})));
  EXPECT_TRUE(same_tensor(run1({"DepthToSpace", {y}, {{"blocksize", attr_int(2)}}}), x));
  const Tensor big = random_tensor({2, 3, 6, 4}, 7);
  const Tensor packed = run1({"SpaceToDepth", {big}, {{"blocksize", attr_int(2)}}});
  EXPECT_TRUE(same_tensor(run1({"DepthToSpace", {packed}, {{"blocksize", attr_int(2)}}}), big));
  expect_node_case("test_spacetodepth");
  expect_node_case("test_spacetodepth_example");
}

TEST(DepthToSpace, PrepareErrors) {
  EXPECT_THROW(run_op({"DepthToSpace", {iota_f32({1, 6, 1, 1})}, {{"blocksize", attr_int(2)}}}),
               NodeError);
  EXPECT_THROW(run_op({"DepthToSpace", {iota_f32({1, 4, 1, 1})}}), NodeError);
  EXPECT_THROW(run_op({"DepthToSpace",
                       {iota_f32({1, 4, 1, 1})},
                       {{"blocksize", attr_int(2)}, {"mode", attr_string("XYZ")}}}),
               NodeError);
  EXPECT_THROW(run_op({"SpaceToDepth", {iota_f32({1, 1, 3, 2})}, {{"blocksize", attr_int(2)}}}),
               NodeError);
  EXPECT_THROW(run_op({"SpaceToDepth",
                       {iota_f32({1, 1, 2, 2})},
                       {{"blocksize", attr_int(2)}, {"mode", attr_string("CRD")}}}),
               UnsupportedError);  // SpaceToDepth has no mode attribute
}

// ------------------------------------------------------------------------------ ReverseSequence

TEST(ReverseSequence, TimeMajorAndBatchMajor) {
  // [T=3, B=2, 1]: batch 0 reverses 3 steps, batch 1 reverses 2.
  const Tensor x = f32({3, 2, 1}, {0, 10, 1, 11, 2, 12});
  EXPECT_TRUE(same_tensor(run1({"ReverseSequence", {x, ints({3, 2})}}),
                          f32({3, 2, 1}, {2, 11, 1, 10, 0, 12})));
  // [B=2, T=3]: time_axis 1.
  const Tensor y = f32({2, 3}, {0, 1, 2, 10, 11, 12});
  EXPECT_TRUE(same_tensor(run1({"ReverseSequence",
                                {y, ints({1, 0})},
                                {{"batch_axis", attr_int(0)}, {"time_axis", attr_int(1)}}}),
                          y));
  EXPECT_TRUE(same_tensor(run1({"ReverseSequence",
                                {y, ints({2, 3})},
                                {{"batch_axis", attr_int(0)}, {"time_axis", attr_int(1)}}}),
                          f32({2, 3}, {1, 0, 2, 12, 11, 10})));
  expect_node_case("test_reversesequence_batch");
  expect_node_case("test_reversesequence_time");
}

TEST(ReverseSequence, PrepareErrorsAndCorruptedLengths) {
  const Tensor x = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op({"ReverseSequence", {x, ints({1, 1, 1})}}), NodeError);
  EXPECT_THROW(run_op({"ReverseSequence", {x, ints({1, 1})}, {{"batch_axis", attr_int(0)}}}),
               NodeError);
  OpCall c{"ReverseSequence", {x, ints({3, 1})}};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({4, 1})), "ReverseSequence"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({3, -1})), "ReverseSequence"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, ints({INT64_MIN, 0})), "ReverseSequence"));
  EXPECT_TRUE(run_corrupted(c, 1, ints({0, 3})).is_ok());
}

}  // namespace
}  // namespace dnnfi::test

namespace dnnfi::test {
namespace {

// ---------------------------------------------------------------- NonZero, Compress, Unique

TEST(DataDependentShape, NonZeroCompressUniqueAreRejectedWithTheReason) {
  const Tensor x = f32({2, 2}, {1, 0, 0, 1});
  OpCall nonzero{"NonZero", {x}};
  OpCall compress{"Compress", {x, make_tensor<bool>({2}, {true, false})}};
  OpCall unique{"Unique", {x}};
  for (OpCall* c : {&nonzero, &compress, &unique}) {
    try {
      (void)run_op(*c);
      ADD_FAILURE() << c->op_type << " was accepted";
    } catch (const UnsupportedError& e) {
      EXPECT_NE(std::string(e.what()).find("data-dependent shape"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace dnnfi::test

namespace dnnfi::test {
namespace {

// ------------------------------------------------------------------------------------- MaxUnpool

OpCall max_unpool(std::vector<std::optional<Tensor>> inputs) {
  OpCall c{"MaxUnpool",
           std::move(inputs),
           {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}};
  c.opset = 11;
  c.constant.assign(c.inputs.size(), false);
  if (c.inputs.size() > 2) c.constant[2] = true;
  return c;
}

TEST(MaxUnpool, ScattersToFlatIndices) {
  // N=2, C=1, 1x2 -> 2x4: indices are flat over the whole [2,1,2,4] output.
  const Tensor x = f32({2, 1, 1, 2}, {1, 2, 3, 4});
  const Tensor i = i64({2, 1, 1, 2}, {5, 2, 8, 15});
  EXPECT_TRUE(same_tensor(run1(max_unpool({x, i})),
                          f32({2, 1, 2, 4}, {0, 0, 2, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 4})));
  // output_shape equal to the inferred shape is accepted.
  EXPECT_TRUE(same_tensor(run1(max_unpool({x, i, ints({2, 1, 2, 4})})),
                          f32({2, 1, 2, 4}, {0, 0, 2, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 4})));
  expect_node_case("test_maxunpool_export_without_output_shape");
}

TEST(MaxUnpool, OtherOutputShapeIsUnsupported) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor i = i64({1, 1, 2, 2}, {5, 7, 13, 15});
  EXPECT_THROW(run_op(max_unpool({x, i, ints({1, 1, 5, 5})})), UnsupportedError);
  OpCall bad = max_unpool({x, i64({1, 1, 2, 1}, {0, 1})});
  EXPECT_THROW(run_op(bad), NodeError);  // I must have X's shape
}

TEST(MaxUnpool, CorruptedIndexIsRunTimeError) {
  OpCall c = max_unpool({f32({1, 1, 2, 2}, {1, 2, 3, 4}), i64({1, 1, 2, 2}, {5, 7, 13, 15})});
  for (std::int64_t bad : {std::int64_t{16}, std::int64_t{-1}, INT64_MIN, INT64_MAX}) {
    const Status s = run_corrupted(c, 1, i64({1, 1, 2, 2}, {5, bad, 13, 15}));
    EXPECT_TRUE(named_error(s, "MaxUnpool"));
    EXPECT_NE(s.message().find(std::to_string(bad)), std::string::npos) << s.message();
  }
  EXPECT_TRUE(run_corrupted(c, 1, i64({1, 1, 2, 2}, {0, 0, 15, 15})).is_ok());
}

}  // namespace
}  // namespace dnnfi::test
