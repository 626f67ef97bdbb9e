// GridSample and RoiAlign: hand-computed goldens (points on pixels, bilinear interpolation of a
// linear image, which is exact), PyTorch / torchvision outputs made by
// scripts/make_sampling_oracles.py (tests/ops/sampling_oracles.h), the ONNX node conformance
// cases, and corrupted grids, rois and batch indices.
#include <climits>
#include <cmath>
#include <limits>

#include "onnx_node_case.h"
#include "sampling_oracles.h"
#include "shape_test_util.h"

namespace dnnfi::test {
namespace {

// ------------------------------------------------------------------------------------ GridSample

OpCall grid_sample(const Tensor& x, const Tensor& grid, const std::string& mode,
                   const std::string& padding, int align_corners) {
  OpCall c{"GridSample",
           {x, grid},
           {{"mode", attr_string(mode)},
            {"padding_mode", attr_string(padding)},
            {"align_corners", attr_int(align_corners)}}};
  c.opset = 16;
  c.constant = {false, false};
  return c;
}

TEST(GridSample, HandComputed) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  // align_corners 1: the corners of the grid are the corner pixels; (0, 0) is the centre.
  const Tensor g = f32({1, 1, 3, 2}, {-1, -1, 1, -1, 0, 0});
  EXPECT_TRUE(same_tensor(run1(grid_sample(x, g, "bilinear", "zeros", 1)),
                          f32({1, 1, 1, 3}, {1, 2, 2.5f})));
  // bicubic on a pixel: weights (0, 1, 0, 0) exactly.
  EXPECT_TRUE(
      same_tensor(run1(grid_sample(x, f32({1, 1, 2, 2}, {-1, -1, 1, -1}), "bicubic", "zeros", 1)),
                  f32({1, 1, 1, 2}, {1, 2})));
  // align_corners 0: (-1, -1) is the outer corner of pixel (0, 0), i.e. pixel coordinate
  // (-0.5, -0.5): a quarter of pixel 1 with zeros padding, all of it with border or reflection.
  const Tensor corner = f32({1, 1, 1, 2}, {-1, -1});
  EXPECT_TRUE(same_tensor(run1(grid_sample(x, corner, "bilinear", "zeros", 0)),
                          f32({1, 1, 1, 1}, {0.25f})));
  EXPECT_TRUE(
      same_tensor(run1(grid_sample(x, corner, "bilinear", "border", 0)), f32({1, 1, 1, 1}, {1})));
  EXPECT_TRUE(same_tensor(run1(grid_sample(x, corner, "bilinear", "reflection", 0)),
                          f32({1, 1, 1, 1}, {1})));
  // nearest, align_corners 1: x = (0.2 + 1) / 2 = 0.6 -> pixel 1; y = (-0.2 + 1) / 2 = 0.4 -> 0.
  EXPECT_TRUE(
      same_tensor(run1(grid_sample(x, f32({1, 1, 1, 2}, {0.2f, -0.2f}), "nearest", "zeros", 1)),
                  f32({1, 1, 1, 1}, {2})));
}

TEST(GridSample, BicubicOnPixelsIsExact) {
  const Tensor x =
      f32({1, 2, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40, 50, 60, 70, 80, 90});
  // align_corners 1: -1, 0, 1 are pixel 0, 1, 2.
  const Tensor g = f32({1, 1, 3, 2}, {-1, -1, 0, 0, 1, 0});
  EXPECT_TRUE(same_tensor(run1(grid_sample(x, g, "bicubic", "border", 1)),
                          f32({1, 2, 1, 3}, {1, 5, 6, 10, 50, 60})));
}

TEST(GridSample, MatchesPyTorch) {
  const Tensor x = f32(oracle::kGridX_shape, oracle::kGridX);
  const Tensor grid = f32(oracle::kGrid_shape, oracle::kGrid);
  for (const oracle::GridCase& k : oracle::kGridCases) {
    for (bool reference : {true, false}) {
      OpCall c = grid_sample(x, grid, k.mode, k.padding, k.align_corners);
      c.reference = reference;
      EXPECT_EQ(compare_close(run1(c), f32(oracle::kGridY_shape, k.y), 1e-4, 1e-5), "")
          << k.mode << " " << k.padding << " align_corners=" << k.align_corners;
    }
  }
}

TEST(GridSample, ConformanceCases) {
  for (const char* name :
       {"test_gridsample", "test_gridsample_aligncorners_true", "test_gridsample_bicubic",
        "test_gridsample_bilinear", "test_gridsample_border_padding", "test_gridsample_nearest",
        "test_gridsample_reflection_padding", "test_gridsample_zeros_padding"}) {
    expect_node_case(name, 1e-4);
  }
}

TEST(GridSample, CorruptedGridNeverReadsOutside) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
    for (const char* padding : {"zeros", "border", "reflection"}) {
      const Tensor y = run1(grid_sample(
          x, f32({1, 1, 4, 2}, {nan, 0, inf, 0, 1e30f, -1e30f, -3e38f, 3e38f}), mode, padding, 0));
      ASSERT_EQ(y.numel(), 4);
      EXPECT_TRUE(std::isnan(y.data<float>()[0])) << mode << " " << padding;  // NaN is data
      EXPECT_TRUE(std::isnan(y.data<float>()[1])) << mode << " " << padding;
      for (int i = 2; i < 4; ++i) {
        const float v = y.data<float>()[i];
        // Far outside: zero with zeros padding, an image value (or a blend) otherwise.
        EXPECT_TRUE(std::isfinite(v) && v >= -1 && v <= 5) << mode << " " << padding << " " << v;
        if (std::string(padding) == "zeros") {
          EXPECT_EQ(v, 0) << mode;
        }
      }
    }
  }
}

TEST(GridSample, PrepareErrors) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op(grid_sample(x, f32({1, 1, 1, 3}, {0, 0, 0}), "bilinear", "zeros", 0)),
               NodeError);
  EXPECT_THROW(run_op(grid_sample(x, f32({1, 1, 1, 2}, {0, 0}), "linear", "zeros", 0)),
               UnsupportedError);  // the opset 20 name
  EXPECT_THROW(run_op(grid_sample(f32({1, 1, 1, 2, 2}, {}), f32({1, 1, 1, 1, 3}, {}), "bilinear",
                                  "zeros", 0)),
               UnsupportedError);  // 5-D (opset 20)
  EXPECT_THROW(run_op(grid_sample(x, f32({1, 1, 1, 2}, {0, 0}), "bilinear", "wrap", 0)), NodeError);
}

// -------------------------------------------------------------------------------------- RoiAlign

OpCall roi_align(const Tensor& x, const Tensor& rois, const Tensor& batch, const std::string& ctm,
                 std::int64_t out, std::int64_t ratio) {
  OpCall c{"RoiAlign",
           {x, rois, batch},
           {{"coordinate_transformation_mode", attr_string(ctm)},
            {"output_height", attr_int(out)},
            {"output_width", attr_int(out)},
            {"sampling_ratio", attr_int(ratio)}}};
  c.opset = 16;
  c.constant = {false, false, false};
  return c;
}

TEST(RoiAlign, LinearImageAveragesAtBinCentres) {
  // x[y][x] = 4y + x is linear, so bilinear sampling is exact and a bin's average is the value at
  // the mean of its sample points. half_pixel roi (0,0)-(4,4) -> pixel box [-0.5, 3.5): bin 0
  // samples at 0 and 1 (mean 0.5), bin 1 at 2 and 3 (mean 2.5).
  const Tensor x = iota_f32({1, 1, 4, 4});
  const Tensor y = run1(roi_align(x, f32({1, 4}, {0, 0, 4, 4}), ints({0}), "half_pixel", 2, 2));
  EXPECT_TRUE(same_tensor(y, f32({1, 1, 2, 2}, {2.5f, 4.5f, 10.5f, 12.5f})));
  // output_half_pixel: box [0, 2] -> 1 bin, 2x2 samples at 0.5 and 1.5: mean 1 -> 4 + 1 = 5.
  const Tensor z =
      run1(roi_align(x, f32({1, 4}, {0, 0, 2, 2}), ints({0}), "output_half_pixel", 1, 2));
  EXPECT_TRUE(same_tensor(z, f32({1, 1, 1, 1}, {5})));
  // Second image of the batch, adaptive sampling (ratio 0: ceil(2 / 1) = 2 per side).
  const Tensor two = iota_f32({2, 1, 4, 4});
  EXPECT_TRUE(same_tensor(
      run1(roi_align(two, f32({1, 4}, {0, 0, 2, 2}), ints({1}), "output_half_pixel", 1, 0)),
      f32({1, 1, 1, 1}, {21})));
}

TEST(RoiAlign, MatchesTorchvision) {
  const Tensor x = f32(oracle::kRoiX_shape, oracle::kRoiX);
  const Tensor rois = f32({3, 4}, oracle::kRois);
  const Tensor batch = i64({3}, oracle::kRoiBatch);
  for (const oracle::RoiCase& k : oracle::kRoiCases) {
    OpCall c = roi_align(x, rois, batch, k.half_pixel ? "half_pixel" : "output_half_pixel", 2,
                         k.sampling_ratio);
    c.attributes["output_width"] = attr_int(3);
    c.attributes["spatial_scale"] = attr_float(k.spatial_scale);
    EXPECT_EQ(compare_close(run1(c), f32(oracle::kRoiY_shape, k.y), 1e-4, 1e-5), "")
        << "half_pixel=" << k.half_pixel << " sampling_ratio=" << k.sampling_ratio
        << " spatial_scale=" << k.spatial_scale;
  }
}

TEST(RoiAlign, ConformanceCases) {
  expect_node_case("test_roialign_aligned_false", 1e-4);
  expect_node_case("test_roialign_aligned_true", 1e-4);
}

TEST(RoiAlign, CorruptedRoisAndBatchIndices) {
  const Tensor x = iota_f32({2, 1, 4, 4});
  OpCall c = roi_align(x, f32({2, 4}, {0, 0, 2, 2, 1, 1, 3, 3}), ints({0, 1}), "half_pixel", 2, 0);
  for (std::int64_t bad : {std::int64_t{2}, std::int64_t{-1}, INT64_MIN}) {
    const Status s = run_corrupted(c, 2, ints({0, bad}));
    EXPECT_TRUE(named_error(s, "RoiAlign"));
    EXPECT_NE(s.message().find(std::to_string(bad)), std::string::npos) << s.message();
  }
  // A huge roi would need an unbounded sampling grid: error. NaN coordinates give NaN bins.
  EXPECT_TRUE(
      named_error(run_corrupted(c, 1, f32({2, 4}, {0, 0, 2, 2, 0, 0, 3e38f, 1})), "RoiAlign"));
  PreparedOp op(c);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  OpResult r = op.run({x, f32({2, 4}, {0, 0, 2, 2, nan, 1, 3, 3}), ints({0, 1})});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_FALSE(std::isnan(r.outputs[0].data<float>()[0]));
  EXPECT_TRUE(std::isnan(r.outputs[0].data<float>()[4]));
}

TEST(RoiAlign, PrepareErrors) {
  const Tensor x = iota_f32({1, 1, 4, 4});
  OpCall c = roi_align(x, f32({1, 4}, {0, 0, 2, 2}), ints({0}), "half_pixel", 1, 0);
  c.attributes["mode"] = attr_string("max");
  EXPECT_THROW(run_op(c), UnsupportedError);
  OpCall d = roi_align(x, f32({1, 3}, {0, 0, 2}), ints({0}), "half_pixel", 1, 0);
  EXPECT_THROW(run_op(d), NodeError);
  OpCall e = roi_align(x, f32({1, 4}, {0, 0, 2, 2}), ints({0}), "half_pixel", 1, 0);
  e.opset = 10;  // coordinate_transformation_mode arrived in opset 16
  EXPECT_THROW(run_op(e), UnsupportedError);
}

}  // namespace
}  // namespace dnnfi::test
