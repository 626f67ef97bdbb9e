// GatherElements, ScatterElements, Scatter (opset 9-10), GatherND, ScatterND: hand-computed
// goldens, the ONNX node conformance cases, prepare-time errors, and run-time corruption of the
// index tensors (an out-of-range index is a status error naming the node, never a stray read).
#include <climits>

#include "onnx_node_case.h"
#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

// --------------------------------------------------------------------------------- GatherElements

TEST(GatherElements, Axis0And1WithNegativeIndices) {
  const Tensor data = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  // out[i][j] = data[idx[i][j]][j]
  EXPECT_TRUE(same_tensor(run1({"GatherElements", {data, i64({2, 3}, {1, 2, 0, 2, 0, -3})}}),
                          f32({2, 3}, {4, 8, 3, 7, 2, 3})));
  // out[i][j] = data[i][idx[i][j]]; indices narrower than data on axis 0 too.
  EXPECT_TRUE(same_tensor(
      run1({"GatherElements", {data, i32({2, 2}, {-1, 0, 1, 1})}, {{"axis", attr_int(1)}}}),
      f32({2, 2}, {3, 1, 5, 5})));
}

TEST(GatherElements, ConformanceCases) {
  expect_node_case("test_gather_elements_0");
  expect_node_case("test_gather_elements_1");
  expect_node_case("test_gather_elements_negative_indices");
}

TEST(GatherElements, PrepareErrors) {
  const Tensor data = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op({"GatherElements", {data, i64({2, 2}, {0, 0, 0, 2})}}), NodeError);
  EXPECT_THROW(run_op({"GatherElements", {data, ints({0, 1})}}), NodeError);  // rank differs
  EXPECT_THROW(run_op({"GatherElements", {data, i64({3, 1}, {0, 0, 0})}, {{"axis", attr_int(1)}}}),
               NodeError);  // indices wider than data off the axis
  EXPECT_THROW(run_op({"GatherElements", {data, i64({1, 1}, {0})}, {{"axis", attr_int(2)}}}),
               NodeError);
}

TEST(GatherElements, CorruptedIndexIsRunTimeError) {
  OpCall c{"GatherElements", {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 1, 1, 0})}};
  c.constant = {false, false};
  for (std::int64_t bad : {std::int64_t{2}, std::int64_t{-3}, INT64_MAX, INT64_MIN}) {
    const Status s = run_corrupted(c, 1, i64({2, 2}, {0, 1, bad, 0}));
    EXPECT_TRUE(named_error(s, "GatherElements"));
    EXPECT_NE(s.message().find(std::to_string(bad)), std::string::npos) << s.message();
  }
  EXPECT_TRUE(run_corrupted(c, 1, i64({2, 2}, {-2, -1, 1, 0})).is_ok());
}

// ------------------------------------------------------------------- ScatterElements / Scatter

TEST(ScatterElements, NoneAddMulMaxMin) {
  const Tensor data = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor idx = i64({2, 2}, {2, 2, 0, -3});
  const Tensor upd = f32({2, 2}, {10, 20, 30, 40});
  auto scatter = [&](const char* reduction) {
    OpCall c{"ScatterElements", {data, idx, upd}, {{"axis", attr_int(1)}}};
    c.opset = 18;
    c.attributes["reduction"] = attr_string(reduction);
    return run1(c);
  };
  // Row 0 hits column 2 twice, row 1 hits column 0 twice (0 and -3).
  EXPECT_TRUE(same_tensor(scatter("none"), f32({2, 3}, {1, 2, 20, 40, 5, 6})));
  EXPECT_TRUE(same_tensor(scatter("add"), f32({2, 3}, {1, 2, 33, 74, 5, 6})));
  EXPECT_TRUE(same_tensor(scatter("mul"), f32({2, 3}, {1, 2, 600, 4800, 5, 6})));
  EXPECT_TRUE(same_tensor(scatter("max"), f32({2, 3}, {1, 2, 20, 40, 5, 6})));
  EXPECT_TRUE(same_tensor(scatter("min"), f32({2, 3}, {1, 2, 3, 4, 5, 6})));
}

TEST(ScatterElements, Int64AddAndAxis0) {
  OpCall c{"ScatterElements",
           {i64({3, 2}, {1, 2, 3, 4, 5, 6}), i64({1, 2}, {2, 0}), i64({1, 2}, {100, 200})},
           {{"reduction", attr_string("add")}}};
  c.opset = 16;
  EXPECT_TRUE(same_tensor(run1(c), i64({3, 2}, {1, 202, 3, 4, 105, 6})));
}

TEST(ScatterElements, ConformanceCases) {
  expect_node_case("test_scatter_elements_with_axis");
  expect_node_case("test_scatter_elements_with_duplicate_indices");
  expect_node_case("test_scatter_elements_with_negative_indices");
  expect_node_case("test_scatter_elements_without_axis");
}

TEST(Scatter, LegacyOpset9And10) {
  OpCall c{"Scatter",
           {f32({1, 5}, {1, 2, 3, 4, 5}), i64({1, 2}, {1, 3}), f32({1, 2}, {1.1f, 2.1f})},
           {{"axis", attr_int(1)}}};
  c.opset = 10;
  EXPECT_TRUE(same_tensor(run1(c), f32({1, 5}, {1, 1.1f, 3, 2.1f, 5})));
  c.attributes["reduction"] = attr_string("add");  // not an attribute of Scatter
  EXPECT_THROW(run_op(c), NodeError);
  expect_node_case("test_scatter_with_axis");
  expect_node_case("test_scatter_without_axis");
}

TEST(ScatterElements, PrepareErrors) {
  const Tensor data = f32({2, 2}, {1, 2, 3, 4});
  OpCall c{"ScatterElements", {data, i64({1, 2}, {0, 1}), f32({1, 2}, {5, 6})}};
  c.attributes["reduction"] = attr_string("max");
  c.opset = 16;  // max needs 18
  EXPECT_THROW(run_op(c), NodeError);
  c.attributes["reduction"] = attr_string("sum");
  c.opset = 18;
  EXPECT_THROW(run_op(c), NodeError);
  OpCall u{"ScatterElements",
           {make_tensor<std::uint8_t>({2}, {1, 2}), ints({0}), make_tensor<std::uint8_t>({1}, {3})},
           {{"reduction", attr_string("add")}}};
  u.opset = 16;
  EXPECT_THROW(run_op(u), UnsupportedError);
  EXPECT_THROW(run_op({"ScatterElements", {data, i64({1, 2}, {0, 1}), f32({2, 1}, {5, 6})}}),
               NodeError);  // updates shape != indices shape
  EXPECT_THROW(run_op({"ScatterElements", {data, i64({1, 2}, {0, 2}), f32({1, 2}, {5, 6})}}),
               NodeError);  // constant index out of range
}

TEST(ScatterElements, CorruptedIndexIsRunTimeError) {
  OpCall c{"ScatterElements",
           {f32({2, 2}, {1, 2, 3, 4}), i64({1, 2}, {0, 1}), f32({1, 2}, {5, 6})},
           {{"axis", attr_int(1)}}};
  c.constant = {false, false, false};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({1, 2}, {0, 2})), "ScatterElements"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({1, 2}, {INT64_MIN, 0})), "ScatterElements"));
  EXPECT_TRUE(run_corrupted(c, 1, i64({1, 2}, {-1, -2})).is_ok());
}

// -------------------------------------------------------------------------------------- GatherND

TEST(GatherND, SlicesElementsAndBatchDims) {
  const Tensor data = f32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  // k = 1: whole [2,2] slices; k = 3: single elements; negative entries count from the end.
  EXPECT_TRUE(
      same_tensor(run1({"GatherND", {data, i64({1, 1}, {-1})}}), f32({1, 2, 2}, {4, 5, 6, 7})));
  EXPECT_TRUE(
      same_tensor(run1({"GatherND", {data, i64({2, 3}, {0, 1, 1, 1, -1, 0})}}), f32({2}, {3, 6})));
  // batch_dims 1: batch b gathers data[b][idx].
  EXPECT_TRUE(
      same_tensor(run1({"GatherND", {data, i64({2, 1}, {1, 0})}, {{"batch_dims", attr_int(1)}}}),
                  f32({2, 2}, {2, 3, 4, 5})));
  EXPECT_TRUE(same_tensor(
      run1({"GatherND", {data, i64({2, 2}, {1, 0, 0, 1})}, {{"batch_dims", attr_int(1)}}}),
      f32({2}, {2, 5})));
}

TEST(GatherND, ConformanceCases) {
  expect_node_case("test_gathernd_example_float32");
  expect_node_case("test_gathernd_example_int32");
  expect_node_case("test_gathernd_example_int32_batch_dim1");
}

TEST(GatherND, PrepareErrors) {
  const Tensor data = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op({"GatherND", {data, i64({1, 3}, {0, 0, 0})}}), NodeError);  // k > rank
  EXPECT_THROW(run_op({"GatherND", {data, i64({1, 2}, {0, 2})}}), NodeError);     // constant
  EXPECT_THROW(run_op({"GatherND", {data, i64({3, 1}, {0, 0, 0})}, {{"batch_dims", attr_int(1)}}}),
               NodeError);  // batch dims differ
  EXPECT_THROW(run_op({"GatherND", {data, i64({2, 1}, {0, 0})}, {{"batch_dims", attr_int(2)}}}),
               NodeError);
}

TEST(GatherND, CorruptedIndexIsRunTimeError) {
  OpCall c{"GatherND", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({2, 2}, {0, 1, 1, 2})}};
  c.constant = {false, false};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({2, 2}, {0, 3, 1, 2})), "GatherND"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({2, 2}, {2, 0, 1, 2})), "GatherND"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({2, 2}, {0, 0, INT64_MIN, 0})), "GatherND"));
  EXPECT_TRUE(run_corrupted(c, 1, i64({2, 2}, {-2, -3, 1, 2})).is_ok());
}

// ------------------------------------------------------------------------------------- ScatterND

TEST(ScatterND, SlicesAndReductions) {
  const Tensor data = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  const Tensor idx = i64({2, 1}, {2, -1});  // both rows write row 2
  const Tensor upd = f32({2, 2}, {10, 20, 30, 40});
  auto scatter = [&](const char* reduction) {
    OpCall c{"ScatterND", {data, idx, upd}, {{"reduction", attr_string(reduction)}}};
    c.opset = 18;
    return run1(c);
  };
  EXPECT_TRUE(same_tensor(scatter("none"), f32({3, 2}, {1, 2, 3, 4, 30, 40})));
  EXPECT_TRUE(same_tensor(scatter("add"), f32({3, 2}, {1, 2, 3, 4, 45, 66})));
  EXPECT_TRUE(same_tensor(scatter("mul"), f32({3, 2}, {1, 2, 3, 4, 1500, 4800})));
  EXPECT_TRUE(same_tensor(scatter("max"), f32({3, 2}, {1, 2, 3, 4, 30, 40})));
  EXPECT_TRUE(same_tensor(scatter("min"), f32({3, 2}, {1, 2, 3, 4, 5, 6})));
  // Element updates (k = rank).
  EXPECT_TRUE(same_tensor(run1({"ScatterND", {data, i64({2, 2}, {0, 1, 1, 0}), f32({2}, {7, 8})}}),
                          f32({3, 2}, {1, 7, 8, 4, 5, 6})));
}

TEST(ScatterND, ConformanceCases) {
  expect_node_case("test_scatternd");
  expect_node_case("test_scatternd_add");
  expect_node_case("test_scatternd_multiply");
}

TEST(ScatterND, PrepareErrorsAndCorruption) {
  const Tensor data = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op({"ScatterND", {data, i64({1, 1}, {0}), f32({1, 3}, {1, 2, 3})}}), NodeError);
  EXPECT_THROW(run_op({"ScatterND", {data, i64({1, 1}, {3}), f32({1, 2}, {1, 2})}}), NodeError);
  OpCall add{"ScatterND",
             {data, i64({1, 1}, {0}), f32({1, 2}, {1, 2})},
             {{"reduction", attr_string("add")}}};
  add.opset = 13;  // reduction needs 16
  EXPECT_THROW(run_op(add), NodeError);
  OpCall c{"ScatterND", {data, i64({1, 1}, {0}), f32({1, 2}, {9, 9})}};
  c.constant = {false, false, false};
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({1, 1}, {3})), "ScatterND"));
  EXPECT_TRUE(named_error(run_corrupted(c, 1, i64({1, 1}, {-4})), "ScatterND"));
  EXPECT_TRUE(run_corrupted(c, 1, i64({1, 1}, {-3})).is_ok());
}

}  // namespace
}  // namespace dnnfi::test
