// Tests of resize.cpp (Resize, Upsample): hand-computed goldens on a 1x1x2x2 input for every
// coordinate transformation and nearest mode, random N-D cases against a literal transcription of
// the ONNX reference's 1-D interpolation applied axis by axis, opset 10 / Upsample semantics,
// thread-count independence, load- and run-time errors and the ONNX backend node cases.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/op_runner.h"
#include "core/error.h"
#include "ops/kernel_harness.h"
#include "ops/onnx_node_case.h"
#include "ops/op_test_util.h"
#include "ops/registry.h"

namespace dnnfi::test {
namespace {

Tensor scales(std::vector<float> v) {
  return make_tensor<float>({static_cast<std::int64_t>(v.size())}, v);
}
Tensor sizes(std::vector<std::int64_t> v) {
  return make_tensor<std::int64_t>({static_cast<std::int64_t>(v.size())}, v);
}

// 1x1x2x2 [[1, 2], [3, 4]].
const Tensor& square() {
  static const Tensor t = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  return t;
}

OpCall resize_call(const Tensor& x, std::optional<Tensor> sc, std::optional<Tensor> sz,
                   std::map<std::string, Attribute> attrs, std::int64_t opset = 13) {
  OpCall c;
  c.op_type = "Resize";
  c.inputs = {x, std::nullopt, std::move(sc)};
  if (sz) c.inputs.push_back(std::move(sz));
  c.attributes = std::move(attrs);
  c.opset = opset;
  return c;
}

// Output of bilinear/nearest on `square` where row i samples input row coordinate r[i] and column
// j samples column coordinate c[j] (values already interpolated along one axis: 1 + c + 2 r).
std::vector<float> separable(const std::vector<double>& r, const std::vector<double>& c) {
  std::vector<float> out;
  for (double ri : r) {
    for (double cj : c) out.push_back(static_cast<float>(1.0 + cj + 2.0 * ri));
  }
  return out;
}

std::map<std::string, Attribute> attrs(const std::string& mode, const std::string& coord,
                                       const std::string& nearest = "round_prefer_floor") {
  return {{"mode", attr_string(mode)},
          {"coordinate_transformation_mode", attr_string(coord)},
          {"nearest_mode", attr_string(nearest)}};
}

TEST(Resize, UpsampleTwoByTwoNearestEveryMode) {
  struct Case {
    std::string coord, nearest;
    std::vector<double> idx;  // input index sampled by output index 0..3 (both axes)
  };
  // x_original for output 0..3 at scale 2:
  //   half_pixel -0.25 0.25 0.75 1.25; align_corners 0 1/3 2/3 1; asymmetric 0 0.5 1 1.5;
  //   tf_half_pixel_for_nn 0.25 0.75 1.25 1.75; pytorch_half_pixel = half_pixel.
  const std::vector<Case> cases = {
      {"half_pixel", "round_prefer_floor", {0, 0, 1, 1}},
      {"half_pixel", "round_prefer_ceil", {0, 0, 1, 1}},
      {"half_pixel", "floor", {0, 0, 0, 1}},
      {"half_pixel", "ceil", {0, 1, 1, 1}},
      {"pytorch_half_pixel", "round_prefer_floor", {0, 0, 1, 1}},
      {"align_corners", "round_prefer_floor", {0, 0, 1, 1}},
      {"align_corners", "floor", {0, 0, 0, 1}},
      {"asymmetric", "round_prefer_floor", {0, 0, 1, 1}},
      {"asymmetric", "round_prefer_ceil", {0, 1, 1, 1}},
      {"asymmetric", "floor", {0, 0, 1, 1}},
      {"asymmetric", "ceil", {0, 1, 1, 1}},
      {"tf_half_pixel_for_nn", "round_prefer_floor", {0, 1, 1, 1}},
      {"tf_half_pixel_for_nn", "floor", {0, 0, 1, 1}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.coord + " " + c.nearest);
    const OpCall call = resize_call(square(), scales({1, 1, 2, 2}), std::nullopt,
                                    attrs("nearest", c.coord, c.nearest));
    expect_floats(run1(call), {1, 1, 4, 4}, separable(c.idx, c.idx));
  }
}

TEST(Resize, UpsampleTwoByTwoLinearEveryMode) {
  struct Case {
    std::string coord;
    std::vector<double> c;  // clamped input coordinate sampled by output 0..3
  };
  const std::vector<Case> cases = {
      {"half_pixel", {0, 0.25, 0.75, 1}},           {"pytorch_half_pixel", {0, 0.25, 0.75, 1}},
      {"align_corners", {0, 1.0 / 3, 2.0 / 3, 1}},  {"asymmetric", {0, 0.5, 1, 1}},
      {"tf_half_pixel_for_nn", {0.25, 0.75, 1, 1}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.coord);
    const OpCall call =
        resize_call(square(), scales({1, 1, 2, 2}), std::nullopt, attrs("linear", c.coord));
    expect_floats(run1(call), {1, 1, 4, 4}, separable(c.c, c.c));
    // The same through sizes.
    const OpCall by_size =
        resize_call(square(), std::nullopt, sizes({1, 1, 4, 4}), attrs("linear", c.coord));
    expect_floats(run1(by_size), {1, 1, 4, 4}, separable(c.c, c.c));
  }
}

TEST(Resize, DownsampleToOnePixelDependsOnCoordinateMode) {
  // To 1x1 (scale 1/2): half_pixel samples (0.5, 0.5) -> 2.5; pytorch_half_pixel, align_corners
  // and asymmetric sample (0, 0) -> 1; tf_half_pixel_for_nn samples (1, 1) -> 4.
  const std::vector<std::pair<std::string, float>> cases = {{"half_pixel", 2.5f},
                                                            {"pytorch_half_pixel", 1.0f},
                                                            {"align_corners", 1.0f},
                                                            {"asymmetric", 1.0f},
                                                            {"tf_half_pixel_for_nn", 4.0f}};
  for (const auto& [coord, expected] : cases) {
    SCOPED_TRACE(coord);
    expect_floats(
        run1(resize_call(square(), std::nullopt, sizes({1, 1, 1, 1}), attrs("linear", coord))),
        {1, 1, 1, 1}, {expected});
  }
  // Nearest half_pixel: 0.5 ties -> round_prefer_floor 0 (value 1), round_prefer_ceil 1 (4).
  expect_floats(run1(resize_call(square(), std::nullopt, sizes({1, 1, 1, 1}),
                                 attrs("nearest", "half_pixel", "round_prefer_floor"))),
                {1, 1, 1, 1}, {1});
  expect_floats(run1(resize_call(square(), std::nullopt, sizes({1, 1, 1, 1}),
                                 attrs("nearest", "half_pixel", "round_prefer_ceil"))),
                {1, 1, 1, 1}, {4});
}

TEST(Resize, Opset10AndUpsample) {
  // Opset 10: asymmetric, nearest truncates when upsampling: rows/cols 0 0 1 1.
  const std::vector<float> up = separable({0, 0, 1, 1}, {0, 0, 1, 1});
  OpCall r10;
  r10.op_type = "Resize";
  r10.opset = 10;
  r10.inputs = {square(), scales({1, 1, 2, 2})};
  expect_floats(run1(r10), {1, 1, 4, 4}, up);
  // Linear asymmetric: 0 0.5 1 1.
  r10.attributes["mode"] = attr_string("linear");
  expect_floats(run1(r10), {1, 1, 4, 4}, separable({0, 0.5, 1, 1}, {0, 0.5, 1, 1}));
  // Downsampling an axis rounds up: width 5 at scale 0.6 -> 3 outputs at 0, 1.67, 3.33 -> 0 2 4.
  OpCall down;
  down.op_type = "Resize";
  down.opset = 10;
  down.inputs = {f32({1, 5}, {10, 11, 12, 13, 14}), scales({1, 0.6f})};
  expect_floats(run1(down), {1, 3}, {10, 12, 14});

  OpCall u7;
  u7.op_type = "Upsample";
  u7.opset = 7;
  u7.inputs = {square()};
  u7.attributes["scales"] = attr_floats({1, 1, 2, 2});
  expect_floats(run1(u7), {1, 1, 4, 4}, up);
  OpCall u9;
  u9.op_type = "Upsample";
  u9.opset = 9;
  u9.inputs = {square(), scales({1, 1, 2, 3})};
  u9.attributes["mode"] = attr_string("linear");
  // Columns at scale 3: 0, 1/3, 2/3, 1, 1, 1.
  expect_floats(run1(u9), {1, 1, 4, 6}, separable({0, 0.5, 1, 1}, {0, 1.0 / 3, 2.0 / 3, 1, 1, 1}));
  u9.inputs[1] = scales({1, 1, 0.5f, 1});
  EXPECT_THROW(run_op(u9), NodeError);  // Upsample scales must be >= 1
}

TEST(Resize, NearestCopiesAnyDtypeBitwise) {
  const Tensor x = make_tensor<std::uint8_t>({1, 3}, {7, 200, 9});
  OpCall call = resize_call(x, scales({2, 2}), std::nullopt, attrs("nearest", "asymmetric"));
  const Tensor y = run1(call);
  ASSERT_EQ(y.dtype(), DType::kUInt8);
  const std::vector<std::uint8_t> got(y.data<std::uint8_t>(), y.data<std::uint8_t>() + y.numel());
  EXPECT_EQ(got, (std::vector<std::uint8_t>{7, 7, 200, 200, 9, 9, 7, 7, 200, 200, 9, 9}));
  const Tensor d = make_tensor<double>({2}, {1.5, -2});
  const Tensor yd =
      run1(resize_call(d, scales({1.5f}), std::nullopt, attrs("linear", "align_corners")));
  ASSERT_EQ(yd.dtype(), DType::kFloat64);
  EXPECT_DOUBLE_EQ(yd.data<double>()[2], -2.0);
}

// ---- literal ONNX reference, one axis at a time ------------------------------------------------

struct RefSpec {
  std::string mode = "nearest";
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";
  double a = -0.75;
  bool exclude_outside = false;
};

// Coefficients for `ratio` in (0, 1], as in onnx/reference/ops/op_resize.py.
std::vector<double> ref_coeffs(const RefSpec& s, double ratio) {
  if (s.mode == "linear") return {1 - ratio, ratio};
  if (s.mode == "cubic") {
    const double A = s.a;
    return {
        ((A * (ratio + 1) - 5 * A) * (ratio + 1) + 8 * A) * (ratio + 1) - 4 * A,
        ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1,
        ((A + 2) * (1 - ratio) - (A + 3)) * (1 - ratio) * (1 - ratio) + 1,
        ((A * ((1 - ratio) + 1) - 5 * A) * ((1 - ratio) + 1) + 8 * A) * ((1 - ratio) + 1) - 4 * A};
  }
  if (ratio == 1.0) return {0, 1};
  if (s.nearest == "round_prefer_floor") return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
  if (s.nearest == "round_prefer_ceil") return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
  if (s.nearest == "floor") return {1, 0};
  return {0, 1};
}

double ref_interpolate_1d(const RefSpec& s, const std::vector<double>& data, double scale,
                          std::int64_t out_int, std::int64_t x) {
  const auto in = static_cast<double>(data.size());
  const double out_w = scale * in;
  double xo = 0;
  if (s.coord == "align_corners") {
    xo = out_w == 1 ? 0.0 : x * (in - 1) / (out_w - 1);
  } else if (s.coord == "asymmetric") {
    xo = x / scale;
  } else if (s.coord == "pytorch_half_pixel") {
    xo = out_int == 1 ? 0.0 : (x + 0.5) / scale - 0.5;
  } else if (s.coord == "tf_half_pixel_for_nn") {
    xo = (x + 0.5) / scale;
  } else {
    xo = (x + 0.5) / scale - 0.5;
  }
  const double xi = std::floor(xo);
  const double ratio = xo == xi ? 1.0 : xo - xi;
  std::vector<double> coeffs = ref_coeffs(s, ratio);
  const auto n = static_cast<std::int64_t>(coeffs.size());
  // The n indexes of the edge-padded array nearest to x, preferring smaller ones.
  const std::int64_t pad = (n + 1) / 2;
  const auto len = static_cast<std::int64_t>(data.size()) + 2 * pad;
  std::vector<std::int64_t> idx(static_cast<std::size_t>(len));
  for (std::int64_t i = 0; i < len; ++i) idx[static_cast<std::size_t>(i)] = i;
  const double xp = xo + static_cast<double>(pad);
  std::stable_sort(idx.begin(), idx.end(), [&](std::int64_t p, std::int64_t q) {
    return std::fabs(xp - p) < std::fabs(xp - q);
  });
  idx.resize(static_cast<std::size_t>(n));
  std::sort(idx.begin(), idx.end());
  double sum = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t orig = idx[static_cast<std::size_t>(k)] - pad;
    if (s.exclude_outside && (orig < 0 || orig >= static_cast<std::int64_t>(data.size()))) {
      coeffs[static_cast<std::size_t>(k)] = 0;
    }
    sum += coeffs[static_cast<std::size_t>(k)];
  }
  double v = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t orig = std::clamp<std::int64_t>(idx[static_cast<std::size_t>(k)] - pad, 0,
                                                       static_cast<std::int64_t>(data.size()) - 1);
    double c = coeffs[static_cast<std::size_t>(k)];
    if (s.exclude_outside) c /= sum;
    v += c * data[static_cast<std::size_t>(orig)];
  }
  return v;
}

// Resizes axis by axis (the reference's N-D interpolation is the tensor product of 1-D ones).
Tensor ref_resize(const Tensor& x, const RefSpec& s, const std::vector<double>& sc,
                  const Shape& out_shape) {
  Shape shape = x.shape();
  std::vector<double> cur(x.data<float>(), x.data<float>() + x.numel());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    Shape next_shape = shape;
    next_shape[d] = out_shape[d];
    const std::int64_t outer = shape_numel(Shape(shape.begin(), shape.begin() + d));
    const std::int64_t inner = shape_numel(Shape(shape.begin() + d + 1, shape.end()));
    std::vector<double> next(static_cast<std::size_t>(shape_numel(next_shape)));
    std::vector<double> line(static_cast<std::size_t>(shape[d]));
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t i = 0; i < inner; ++i) {
        for (std::int64_t k = 0; k < shape[d]; ++k) {
          line[static_cast<std::size_t>(k)] =
              cur[static_cast<std::size_t>((o * shape[d] + k) * inner + i)];
        }
        for (std::int64_t k = 0; k < out_shape[d]; ++k) {
          next[static_cast<std::size_t>((o * out_shape[d] + k) * inner + i)] =
              ref_interpolate_1d(s, line, sc[d], out_shape[d], k);
        }
      }
    }
    cur = std::move(next);
    shape = next_shape;
  }
  Tensor out(DType::kFloat32, shape);
  for (std::size_t i = 0; i < cur.size(); ++i) out.data<float>()[i] = static_cast<float>(cur[i]);
  return out;
}

TEST(Resize, RandomCasesMatchTheOnnxReference) {
  struct Case {
    Shape in;
    std::vector<float> sc;  // empty: use out sizes
    Shape out;
    RefSpec spec;
  };
  std::vector<Case> cases;
  for (const char* coord : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                            "tf_half_pixel_for_nn"}) {
    for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      cases.push_back({{2, 3, 5, 7}, {1, 1, 1.6f, 0.6f}, {}, {"nearest", coord, nearest}});
      cases.push_back({{2, 3, 5, 7}, {}, {2, 3, 3, 11}, {"nearest", coord, nearest}});
    }
    cases.push_back({{2, 3, 5, 7}, {1, 1, 1.6f, 0.6f}, {}, {"linear", coord}});
    cases.push_back({{3, 4, 6}, {1, 2.5f, 0.5f}, {}, {"linear", coord}});
    cases.push_back({{2, 3, 4, 5}, {1, 1.5f, 2, 0.8f}, {}, {"linear", coord}});
    cases.push_back({{1, 2, 5, 7}, {}, {1, 2, 9, 4}, {"linear", coord}});
    cases.push_back({{1, 2, 5, 7}, {1, 1, 2.2f, 0.7f}, {}, {"cubic", coord}});
    cases.push_back({{1, 2, 6, 5}, {}, {1, 2, 3, 9}, {"cubic", coord, "", -0.5, true}});
  }
  for (Case& c : cases) {
    std::vector<double> sc;
    Shape out = c.out;
    if (!c.sc.empty()) {
      out.clear();
      for (std::size_t d = 0; d < c.in.size(); ++d) {
        sc.push_back(c.sc[d]);
        out.push_back(static_cast<std::int64_t>(std::floor(double(c.sc[d]) * double(c.in[d]))));
      }
    } else {
      for (std::size_t d = 0; d < c.in.size(); ++d) sc.push_back(double(out[d]) / double(c.in[d]));
    }
    SCOPED_TRACE(c.spec.mode + " " + c.spec.coord + " " + c.spec.nearest + " " +
                 shape_to_string(c.in) + "->" + shape_to_string(out));
    const Tensor x = random_tensor(c.in, 17, -5.0f, 5.0f);
    std::map<std::string, Attribute> a = attrs(c.spec.mode, c.spec.coord);
    if (c.spec.mode == "nearest") a["nearest_mode"] = attr_string(c.spec.nearest);
    if (c.spec.mode == "cubic") {
      a["cubic_coeff_a"] = attr_float(static_cast<float>(c.spec.a));
      a["exclude_outside"] = attr_int(c.spec.exclude_outside);
    }
    const OpCall call = c.sc.empty() ? resize_call(x, std::nullopt, sizes(out), a)
                                     : resize_call(x, scales(c.sc), std::nullopt, a);
    const Tensor got = run1(call);
    EXPECT_EQ(compare_close(got, ref_resize(x, c.spec, sc, out), 1e-5, 1e-5), "");
  }
}

TEST(Resize, Deterministic) {
  expect_deterministic_concurrent(resize_call(random_tensor({2, 8, 30, 40}, 3),
                                              scales({1, 1, 2.5f, 1.5f}), std::nullopt,
                                              attrs("linear", "half_pixel")));
  expect_deterministic_concurrent(resize_call(random_tensor({2, 8, 30, 40}, 3),
                                              scales({1, 1, 2, 2}), std::nullopt,
                                              attrs("nearest", "asymmetric", "floor")));
  expect_deterministic_concurrent(resize_call(random_tensor({1, 4, 30, 40}, 3), std::nullopt,
                                              sizes({1, 4, 50, 50}), attrs("cubic", "half_pixel")));
}

TEST(Resize, LoadTimeErrors) {
  const Tensor& x = square();
  auto expect_error = [&](std::map<std::string, Attribute> a, std::int64_t opset = 13) {
    EXPECT_THROW(run_op(resize_call(x, scales({1, 1, 2, 2}), std::nullopt, std::move(a), opset)),
                 NodeError);
  };
  expect_error(attrs("linear", "tf_crop_and_resize"));
  expect_error(attrs("linear", "half_pixel_symmetric"));
  expect_error(attrs("area", "half_pixel"));
  expect_error(attrs("nearest", "half_pixel", "round_half_even"));
  expect_error({{"mode", attr_string("nearest")}, {"exclude_outside", attr_int(1)}});
  expect_error({{"antialias", attr_int(0)}});
  expect_error({{"coordinate_transformation_mode", attr_string("half_pixel")}}, 10);
  // Cubic does not exist in opset 10.
  OpCall r10;
  r10.op_type = "Resize";
  r10.opset = 10;
  r10.inputs = {x, scales({1, 1, 2, 2})};
  r10.attributes["mode"] = attr_string("cubic");
  EXPECT_THROW(run_op(r10), NodeError);
  // Both / neither of scales and sizes; wrong lengths; bad values; non-constant scales.
  EXPECT_THROW(run_op(resize_call(x, scales({1, 1, 2, 2}), sizes({1, 1, 4, 4}), {})), NodeError);
  EXPECT_THROW(run_op(resize_call(x, std::nullopt, std::nullopt, {})), NodeError);
  EXPECT_THROW(run_op(resize_call(x, scales({2, 2}), std::nullopt, {})), NodeError);
  EXPECT_THROW(run_op(resize_call(x, scales({1, 1, 0, 2}), std::nullopt, {})), NodeError);
  EXPECT_THROW(run_op(resize_call(x, std::nullopt, sizes({1, 1, -1, 2}), {})), NodeError);
  OpCall dynamic = resize_call(x, scales({1, 1, 2, 2}), std::nullopt, {});
  dynamic.constant = {false, false, false};
  EXPECT_THROW(run_op(dynamic), NodeError);
  // Linear interpolation of integers.
  EXPECT_THROW(run_op(resize_call(make_tensor<std::int32_t>({2}, {1, 2}), scales({2}), std::nullopt,
                                  attrs("linear", "half_pixel"))),
               NodeError);
}

TEST(Resize, ChangedScalesAreARunTimeError) {
  const OpCall call = resize_call(square(), scales({1, 1, 2, 2}), std::nullopt, {});
  Node node;
  node.name = "resize_node";
  node.op_type = "Resize";
  node.inputs = {0, kNoValue, 2};
  node.outputs = {100};
  const std::vector<TensorInfo> infos = {square().info(), TensorInfo{}, call.inputs[2]->info()};
  const std::vector<const Tensor*> constants = {nullptr, nullptr, &*call.inputs[2]};
  PrepareContext ctx(node, 13, "test", infos, constants, false);
  const Prepared p = find_op("", "Resize", 13)->prepare(ctx);
  Tensor out(p.outputs[0].dtype, p.outputs[0].shape);
  Tensor* outs[] = {&out};
  const Tensor same = scales({1, 1, 2, 2});
  const Tensor other = scales({1, 1, 3, 2});
  const Tensor* ok_in[] = {&square(), nullptr, &same};
  EXPECT_TRUE(p.kernel->run(ok_in, outs).is_ok());
  const Tensor* bad_in[] = {&square(), nullptr, &other};
  const Status s = p.kernel->run(bad_in, outs);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("resize_node"), std::string::npos) << s.message();
}

TEST(Resize, OnnxNodeCases) {
  for (const char* name : {"test_resize_downsample_scales_cubic",
                           "test_resize_downsample_scales_cubic_A_n0p5_exclude_outside",
                           "test_resize_downsample_scales_cubic_align_corners",
                           "test_resize_downsample_scales_linear",
                           "test_resize_downsample_scales_linear_align_corners",
                           "test_resize_downsample_scales_nearest",
                           "test_resize_downsample_sizes_cubic",
                           "test_resize_downsample_sizes_linear_pytorch_half_pixel",
                           "test_resize_downsample_sizes_nearest",
                           "test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn",
                           "test_resize_upsample_scales_cubic",
                           "test_resize_upsample_scales_cubic_A_n0p5_exclude_outside",
                           "test_resize_upsample_scales_cubic_align_corners",
                           "test_resize_upsample_scales_cubic_asymmetric",
                           "test_resize_upsample_scales_linear",
                           "test_resize_upsample_scales_linear_align_corners",
                           "test_resize_upsample_scales_nearest",
                           "test_resize_upsample_sizes_cubic",
                           "test_resize_upsample_sizes_nearest",
                           "test_resize_upsample_sizes_nearest_ceil_half_pixel",
                           "test_resize_upsample_sizes_nearest_floor_align_corners",
                           "test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric",
                           "test_upsample_nearest"}) {
    SCOPED_TRACE(name);
    auto c = load_node_case(name);
    if (!c) continue;
    OpResult r = run_op(c->call);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    ASSERT_EQ(r.outputs.size(), 1u);
    EXPECT_EQ(compare_close(r.outputs[0], c->expected[0], 1e-5, 1e-5), "");
  }
  // This case computes empty roi and scales with Constant nodes, which load_node_case does not
  // take: feed them as omitted inputs.
  const std::filesystem::path dir = std::filesystem::path(kOnnxNodeTestDir) /
                                    "test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn" /
                                    "test_data_set_0";
  onnx::TensorProto x, sz, y;
  if (read_proto(dir / "input_0.pb", x) && read_proto(dir / "input_1.pb", sz) &&
      read_proto(dir / "output_0.pb", y)) {
    OpCall call = resize_call(tensor_from_proto(x), std::nullopt, tensor_from_proto(sz),
                              attrs("nearest", "tf_half_pixel_for_nn"));
    call.attributes.erase("nearest_mode");
    EXPECT_EQ(compare_close(run1(call), tensor_from_proto(y), 0, 0), "");
  }
  if (auto c = load_node_case("test_resize_tf_crop_and_resize")) {
    EXPECT_THROW(run_op(c->call), NodeError);
  }
}

}  // namespace
}  // namespace dnnfi::test
