// Keras layers -> Graph nodes: the Builder's per-layer methods (declared in keras_builder.h), one
// Keras layer class or family each, and layer_call, which picks one by class name. Spatial layers
// run as Transpose -> ONNX op -> Transpose when the data format is channels_last.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/checked.h"
#include "keras/keras_builder.h"

namespace dnnfi::keras {

namespace {

// out[perm-applied] : out dims[i] = in dims[perm[i]].
Tensor permute(const Tensor& t, const std::vector<int>& perm) {
  const Shape& in = t.shape();
  Shape out_shape(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i)
    out_shape[i] = in[static_cast<std::size_t>(perm[i])];
  Tensor out(DType::kFloat32, out_shape);
  const auto in_strides = shape_strides(in);
  const std::int64_t n = out.numel();
  std::vector<std::int64_t> idx(perm.size(), 0);
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (std::int64_t o = 0; o < n; ++o) {
    std::int64_t off = 0;
    for (std::size_t i = 0; i < perm.size(); ++i)
      off += idx[i] * in_strides[static_cast<std::size_t>(perm[i])];
    dst[o] = src[off];
    for (int i = static_cast<int>(perm.size()) - 1; i >= 0; --i) {
      if (++idx[static_cast<std::size_t>(i)] < out_shape[static_cast<std::size_t>(i)]) break;
      idx[static_cast<std::size_t>(i)] = 0;
    }
  }
  return out;
}

}  // namespace

KT Builder::conv(const KT& x, std::size_t nsp, bool depthwise, bool separable, bool transposed) {
  need_rank(x, nsp + 2);
  const bool cl = channels_last();
  const std::size_t r = nsp + 2;
  const std::int64_t in_ch = cl ? x.shape[r - 1] : x.shape[1];
  if (in_ch < 1) fail("the channel dimension must be known and positive");
  Window w;
  w.kernel = sizes("kernel_size", nsp, 1);
  w.strides = sizes("strides", nsp, 1);
  w.dilations = sizes("dilation_rate", nsp, 1);
  w.padding = str("padding", "valid");
  const std::int64_t groups = positive("groups", 1);
  const bool bias = flag("use_bias", true);
  const std::int64_t dm = depthwise || separable ? positive("depth_multiplier", 1) : 1;
  if (!depthwise && !has("filters")) fail("no 'filters'");
  const std::int64_t filters = depthwise ? mul(in_ch, dm) : positive("filters", 1);
  Shape kshape(w.kernel.begin(), w.kernel.end());
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  if (depthwise || separable) {
    names.push_back("depthwise_kernel");
    Shape s = kshape;
    s.push_back(in_ch);
    s.push_back(dm);
    shapes.push_back(s);
  }
  if (separable) {
    names.push_back("pointwise_kernel");
    Shape s(nsp, 1);
    s.push_back(mul(in_ch, dm));
    s.push_back(filters);
    shapes.push_back(s);
  } else if (!depthwise) {
    names.push_back("kernel");
    Shape s = kshape;
    if (transposed) {
      s.push_back(filters);
      s.push_back(in_ch);
    } else {
      if (in_ch % groups != 0 || filters % groups != 0) {
        fail("input channels and filters must be divisible by groups");
      }
      s.push_back(in_ch / groups);
      s.push_back(filters);
    }
    shapes.push_back(s);
  }
  if (bias) {
    names.push_back("bias");
    shapes.push_back({filters});
  }
  auto ws = weights(names, shapes);
  const std::vector<std::int64_t> in_sp = spatial(x.shape, cl);
  int y = cl ? transpose(x.id, to_first_perm(r)) : x.id;
  // Keras kernels are [k..., in, out]; ONNX wants [out, in, k...].
  std::vector<int> to_onnx{static_cast<int>(r) - 1, static_cast<int>(r) - 2};
  for (std::size_t i = 0; i < nsp; ++i) to_onnx.push_back(static_cast<int>(i));
  std::vector<std::int64_t> out_sp = window_out(w, in_sp);
  if (depthwise || separable) {
    // [k..., in, dm] -> [in * dm, 1, k...]: output channel c * dm + m, as Keras orders them.
    Tensor dk = permute(ws[0], {static_cast<int>(r) - 2, static_cast<int>(r) - 1, 0, 1});
    if (nsp == 1) dk = permute(ws[0], {1, 2, 0});
    Shape s{mul(in_ch, dm), 1};
    s.insert(s.end(), kshape.begin(), kshape.end());
    dk = dk.reshaped(s);
    std::map<std::string, Attribute> a;
    set_window_attrs(a, w, in_sp);
    a["dilations"] = attr_ints(w.dilations);
    a["group"] = attr_int(in_ch);
    std::vector<int> ins{y, weight_const("depthwise_kernel", dk)};
    if (depthwise && bias) ins.push_back(weight_const("bias", ws[1]));
    y = op("Conv", ins, a);
    if (separable) {
      Window pw{std::vector<std::int64_t>(nsp, 1), std::vector<std::int64_t>(nsp, 1),
                std::vector<std::int64_t>(nsp, 1), "valid"};
      std::map<std::string, Attribute> pa;
      set_window_attrs(pa, pw, out_sp);
      std::vector<int> pins{y, weight_const("pointwise_kernel", permute(ws[1], to_onnx))};
      if (bias) pins.push_back(weight_const("bias", ws[2]));
      y = op("Conv", pins, pa);
    }
  } else if (transposed) {
    // Keras [k..., out, in] -> ONNX ConvTranspose [in, out, k...].
    std::vector<int> perm{static_cast<int>(r) - 1, static_cast<int>(r) - 2};
    for (std::size_t i = 0; i < nsp; ++i) perm.push_back(static_cast<int>(i));
    std::map<std::string, Attribute> a;
    a["kernel_shape"] = attr_ints(w.kernel);
    a["strides"] = attr_ints(w.strides);
    a["dilations"] = attr_ints(w.dilations);
    std::vector<std::int64_t> p(2 * nsp, 0), opad(nsp, 0);
    const auto user_opad =
        has("output_padding") ? ints("output_padding", nsp, 0) : std::vector<std::int64_t>();
    for (std::size_t i = 0; i < user_opad.size(); ++i) {
      if (user_opad[i] < 0 || user_opad[i] >= w.strides[i]) {
        fail("'output_padding' must be in [0, strides), got " + std::to_string(user_opad[i]));
      }
    }
    out_sp.clear();
    for (std::size_t i = 0; i < nsp; ++i) {
      const std::int64_t k = extent(w, i);
      const std::int64_t s = w.strides[i];
      if (w.padding == "same") {
        // The forward "same" padding of a conv from the output size in * s back to in.
        const std::int64_t total = std::max<std::int64_t>(k - s, 0);
        p[i] = total / 2;
        p[i + nsp] = total - total / 2;
        if (k < s) opad[i] = s - k;
      } else if (w.padding != "valid") {
        fail("unsupported padding '" + w.padding + "'");
      }
      if (!user_opad.empty()) opad[i] = user_opad[i];
      if (in_sp[i] < 0) {
        out_sp.push_back(-1);
        continue;
      }
      const std::int64_t o = sub(add(add(mul(s, in_sp[i] - 1), opad[i]), k), p[i] + p[i + nsp]);
      if (o < 0) fail("the output size would be negative");
      out_sp.push_back(o);
    }
    a["pads"] = attr_ints(p);
    a["output_padding"] = attr_ints(opad);
    std::vector<int> ins{y, weight_const("kernel", permute(ws[0], perm))};
    if (bias) ins.push_back(weight_const("bias", ws[1]));
    y = op("ConvTranspose", ins, a);
  } else {
    std::map<std::string, Attribute> a;
    set_window_attrs(a, w, in_sp);
    a["dilations"] = attr_ints(w.dilations);
    a["group"] = attr_int(groups);
    std::vector<int> ins{y, weight_const("kernel", permute(ws[0], to_onnx))};
    if (bias) ins.push_back(weight_const("bias", ws[1]));
    y = op("Conv", ins, a);
  }
  y = activate(y, has("activation") ? cfg()["activation"] : json(), 1);
  if (cl) y = transpose(y, to_last_perm(r));
  return KT{y, with_spatial(x.shape[0], filters, out_sp, cl)};
}

KT Builder::pool(const KT& x, std::size_t nsp, bool max) {
  need_rank(x, nsp + 2);
  const bool cl = channels_last();
  const std::size_t r = nsp + 2;
  Window w;
  w.kernel = sizes("pool_size", nsp, 2);
  w.strides = has("strides") ? sizes("strides", nsp, 1) : w.kernel;
  w.dilations = std::vector<std::int64_t>(nsp, 1);
  w.padding = str("padding", "valid");
  const auto in_sp = spatial(x.shape, cl);
  std::map<std::string, Attribute> a;
  set_window_attrs(a, w, in_sp);
  if (!max) a["count_include_pad"] = attr_int(0);  // TF excludes pads from the average
  int y = cl ? transpose(x.id, to_first_perm(r)) : x.id;
  y = op(max ? "MaxPool" : "AveragePool", {y}, a);
  if (cl) y = transpose(y, to_last_perm(r));
  const std::int64_t ch = cl ? x.shape[r - 1] : x.shape[1];
  return KT{y, with_spatial(x.shape[0], ch, window_out(w, in_sp), cl)};
}

KT Builder::global_pool(const KT& x, bool max) {
  const bool cl = channels_last();
  const std::size_t r = x.shape.size();
  if (r < 3) fail("expects a rank >= 3 input");
  std::vector<std::int64_t> axes;
  for (std::size_t i = cl ? 1 : 2; i < (cl ? r - 1 : r); ++i)
    axes.push_back(static_cast<std::int64_t>(i));
  const bool keep = flag("keepdims", false);
  const int y = op(max ? "ReduceMax" : "ReduceMean", {x.id},
                   {{"axes", attr_ints(axes)}, {"keepdims", attr_int(keep ? 1 : 0)}});
  Shape s;
  for (std::size_t i = 0; i < r; ++i) {
    const bool reduced =
        std::find(axes.begin(), axes.end(), static_cast<std::int64_t>(i)) != axes.end();
    if (!reduced) {
      s.push_back(x.shape[i]);
    } else if (keep) {
      s.push_back(1);
    }
  }
  return KT{y, s};
}

KT Builder::dense(const KT& x) {
  if (x.shape.size() < 2) fail("expects a rank >= 2 input, got " + shape_to_string(x.shape));
  const std::int64_t units = integer("units", -1);
  const std::int64_t in = x.shape.back();
  if (in < 0 || units <= 0) fail("needs a known input size and units");
  const bool bias = flag("use_bias", true);
  std::vector<std::string> names{"kernel"};
  std::vector<Shape> shapes{{in, units}};
  if (bias) {
    names.push_back("bias");
    shapes.push_back({units});
  }
  auto ws = weights(names, shapes);
  int y = op("MatMul", {x.id, weight_const("kernel", ws[0])});
  if (bias) y = op("Add", {y, weight_const("bias", ws[1])});
  y = activate(y, has("activation") ? cfg()["activation"] : json(), -1);
  Shape s = x.shape;
  s.back() = units;
  return KT{y, s};
}

std::int64_t Builder::norm_axis(std::int64_t a, std::size_t r) const {
  if (a < 0) a += static_cast<std::int64_t>(r);
  if (a < 0 || a >= static_cast<std::int64_t>(r)) fail("axis out of range");
  return a;
}

std::vector<std::int64_t> Builder::axis_list(const char* key, std::int64_t def,
                                             std::size_t r) const {
  std::vector<std::int64_t> out;
  if (!has(key)) {
    out.push_back(norm_axis(def, r));
  } else if (cfg()[key].is_array()) {
    for (const auto& a : cfg()[key]) out.push_back(norm_axis(int_value(a, key), r));
  } else {
    out.push_back(norm_axis(int_value(cfg()[key], key), r));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Broadcast shape for a per-channel vector on `axis` of a rank-r tensor: [C, 1, ..., 1].
Shape Builder::channel_shape(std::int64_t c, std::int64_t axis, std::size_t r) {
  Shape s{c};
  for (std::size_t i = static_cast<std::size_t>(axis) + 1; i < r; ++i) s.push_back(1);
  return s;
}

KT Builder::batch_norm(const KT& x) {
  const std::size_t r = x.shape.size();
  const auto axes = axis_list("axis", -1, r);
  if (axes.size() != 1) fail("only one normalization axis is supported");
  const std::int64_t c = x.shape[static_cast<std::size_t>(axes[0])];
  if (c < 0) fail("the normalized dimension must be known");
  const bool scale = flag("scale", true);
  const bool center = flag("center", true);
  const double eps = num("epsilon", 1e-3);
  std::vector<std::string> names;
  if (scale) names.push_back("gamma");
  if (center) names.push_back("beta");
  names.push_back("moving_mean");
  names.push_back("moving_variance");
  auto ws = weights(names, std::vector<Shape>(names.size(), Shape{c}));
  std::size_t i = 0;
  const float* gamma = scale ? ws[i++].data<float>() : nullptr;
  const float* beta = center ? ws[i++].data<float>() : nullptr;
  const float* mean = ws[i++].data<float>();
  const float* var = ws[i++].data<float>();
  // y = x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a (inference form).
  Tensor a(DType::kFloat32, channel_shape(c, axes[0], r));
  Tensor b(DType::kFloat32, channel_shape(c, axes[0], r));
  for (std::int64_t k = 0; k < c; ++k) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[k]) + eps);
    const double ak = (gamma ? gamma[k] : 1.0) * inv;
    // A zero variance with a tiny epsilon gives a scale beyond float's range.
    a.data<float>()[k] = to_float_saturated(ak);
    b.data<float>()[k] = to_float_saturated((beta ? beta[k] : 0.0) - mean[k] * ak);
  }
  const int y = op("Mul", {x.id, weight_const("scale", a)});
  return KT{op("Add", {y, weight_const("shift", b)}), x.shape};
}

KT Builder::layer_norm(const KT& x) {
  const std::size_t r = x.shape.size();
  const auto axes = axis_list("axis", -1, r);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != static_cast<std::int64_t>(r - axes.size() + i)) {
      fail("only trailing normalization axes are supported");
    }
  }
  Shape ps;
  for (auto a : axes) {
    if (x.shape[static_cast<std::size_t>(a)] < 0) fail("the normalized dims must be known");
    ps.push_back(x.shape[static_cast<std::size_t>(a)]);
  }
  const bool scale = flag("scale", true);
  const bool center = flag("center", true);
  std::vector<std::string> names;
  if (scale) names.push_back("gamma");
  if (center) names.push_back("beta");
  auto ws = weights(names, std::vector<Shape>(names.size(), ps));
  Tensor gamma(DType::kFloat32, ps);
  Tensor beta(DType::kFloat32, ps);
  for (auto& v : gamma.span<float>()) v = 1.0f;
  std::size_t i = 0;
  if (scale) gamma = ws[i++];
  if (center) beta = ws[i++];
  const int y =
      op("LayerNormalization", {x.id, weight_const("gamma", gamma), weight_const("beta", beta)},
         {{"axis", attr_int(axes[0])}, {"epsilon", attr_float(fnum("epsilon", 1e-3))}});
  return KT{y, x.shape};
}

// Keras ReLU(max_value, negative_slope, threshold), as keras.activations.relu computes it.
KT Builder::relu_layer(const KT& x) {
  const double slope = fnum("negative_slope", 0.0);
  const double thr = fnum("threshold", 0.0);
  const bool has_max = has("max_value");
  const double maxv = fnum("max_value", 0.0);
  if (slope != 0.0 && !has_max && thr == 0.0) {
    return KT{op("LeakyRelu", {x.id}, {{"alpha", attr_float(static_cast<float>(slope))}}), x.shape};
  }
  int y;
  bool clip = has_max;
  if (thr != 0.0) {
    const int gt = op("Greater", {x.id, fconst("threshold", static_cast<float>(thr))});
    y = op("Mul", {x.id, op("Cast", {gt}, {{"to", attr_int(1)}})});
  } else if (has_max && maxv == 6.0) {
    y = op("Clip", {x.id, fconst("zero", 0.0f), fconst("six", 6.0f)});
    clip = false;
  } else {
    y = op("Relu", {x.id});
  }
  if (clip) y = op("Clip", {y, fconst("zero", 0.0f), fconst("max", static_cast<float>(maxv))});
  if (slope != 0.0) {
    const int neg =
        thr != 0.0 ? op("Relu", {op("Sub", {fconst("threshold", static_cast<float>(thr)), x.id})})
                   : op("Relu", {op("Neg", {x.id})});
    y = op("Sub", {y, op("Mul", {neg, fconst("slope", static_cast<float>(slope))})});
  }
  return KT{y, x.shape};
}

KT Builder::merge(const std::vector<KT>& xs, const std::string& cls) {
  if (xs.empty() || (xs.size() < 2 && cls != "Concatenate")) fail("needs at least 2 inputs");
  std::vector<int> ids;
  for (const auto& t : xs) ids.push_back(t.id);
  Shape s = xs[0].shape;
  if (cls == "Concatenate") {
    const std::int64_t axis = norm_axis(integer("axis", -1), s.size());
    std::int64_t total = 0;
    for (const auto& t : xs) {
      if (t.shape.size() != s.size()) fail("inputs of different ranks");
      const std::int64_t d = t.shape[static_cast<std::size_t>(axis)];
      total = (total < 0 || d < 0) ? -1 : add(total, d);
    }
    s[static_cast<std::size_t>(axis)] = total;
    return KT{op("Concat", ids, {{"axis", attr_int(axis)}}), s};
  }
  for (const auto& t : xs) {
    if (t.shape.size() > s.size()) s = t.shape;
  }
  auto chain = [&](const char* type) {
    int y = ids[0];
    for (std::size_t i = 1; i < ids.size(); ++i) y = op(type, {y, ids[i]});
    return y;
  };
  if (cls == "Add") return KT{ids.size() == 2 ? op("Add", ids) : op("Sum", ids), s};
  if (cls == "Subtract") {
    if (ids.size() != 2) fail("needs exactly 2 inputs");
    return KT{op("Sub", ids), s};
  }
  if (cls == "Multiply") return KT{chain("Mul"), s};
  if (cls == "Average") return KT{op("Mean", ids), s};
  if (cls == "Maximum") return KT{op("Max", ids), s};
  return KT{op("Min", ids), s};  // Minimum
}

// ZeroPadding{1,2,3}D / Cropping{1,2,3}D amounts: int, [a, b] per dim or [[a, b], ...].
std::vector<std::pair<std::int64_t, std::int64_t>> Builder::amounts(const char* key,
                                                                    std::size_t nsp,
                                                                    std::int64_t def) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out(nsp, {def, def});
  if (!has(key)) return out;
  const json& v = cfg()[key];
  auto amount = [&](const json& e) {
    const std::int64_t a = int_value(e, key);
    if (a < 0) fail("'" + std::string(key) + "' must not be negative, got " + std::to_string(a));
    return a;
  };
  if (v.is_number_integer()) {
    for (auto& p : out) p = {amount(v), amount(v)};
  } else if (v.is_array() && nsp == 1 && v.size() == 2 && v[0].is_number_integer()) {
    out[0] = {amount(v[0]), amount(v[1])};
  } else if (v.is_array() && v.size() == nsp) {
    for (std::size_t i = 0; i < nsp; ++i) {
      if (v[i].is_number_integer()) {
        out[i] = {amount(v[i]), amount(v[i])};
      } else if (v[i].is_array() && v[i].size() == 2) {
        out[i] = {amount(v[i][0]), amount(v[i][1])};
      } else {
        fail("malformed '" + std::string(key) + "'");
      }
    }
  } else {
    fail("malformed '" + std::string(key) + "'");
  }
  return out;
}

KT Builder::zero_pad(const KT& x, std::size_t nsp) {
  need_rank(x, nsp + 2);
  const bool cl = channels_last();
  const auto am = amounts("padding", nsp, 1);
  const std::size_t r = nsp + 2;
  const std::size_t first = cl ? 1 : 2;
  std::vector<std::int64_t> p(2 * r, 0);
  Shape s = x.shape;
  for (std::size_t i = 0; i < nsp; ++i) {
    p[first + i] = am[i].first;
    p[r + first + i] = am[i].second;
    if (s[first + i] >= 0) s[first + i] = add(add(s[first + i], am[i].first), am[i].second);
  }
  return KT{op("Pad", {x.id, iconst("pads", p)}), s};
}

KT Builder::crop(const KT& x, std::size_t nsp) {
  need_rank(x, nsp + 2);
  const bool cl = channels_last();
  const auto am = amounts("cropping", nsp, 0);
  const std::size_t first = cl ? 1 : 2;
  std::vector<std::int64_t> starts, ends, axes;
  Shape s = x.shape;
  for (std::size_t i = 0; i < nsp; ++i) {
    starts.push_back(am[i].first);
    ends.push_back(am[i].second > 0 ? -am[i].second : std::numeric_limits<std::int64_t>::max());
    axes.push_back(static_cast<std::int64_t>(first + i));
    if (s[first + i] >= 0) {
      s[first + i] = sub(sub(s[first + i], am[i].first), am[i].second);
      if (s[first + i] < 0) fail("'cropping' removes more than the input holds");
    }
  }
  return KT{
      op("Slice", {x.id, iconst("starts", starts), iconst("ends", ends), iconst("axes", axes)}), s};
}

KT Builder::upsample(const KT& x, std::size_t nsp) {
  need_rank(x, nsp + 2);
  const std::string interp = str("interpolation", "nearest");
  if (interp != "nearest") fail("UpSampling interpolation '" + interp + "' is not supported");
  const bool cl = nsp == 1 ? true : channels_last();
  const auto size =
      nsp == 1 ? std::vector<std::int64_t>{positive("size", 2)} : sizes("size", nsp, 2);
  const std::size_t first = cl ? 1 : 2;
  Tensor scales(DType::kFloat32, {static_cast<std::int64_t>(nsp + 2)});
  for (auto& v : scales.span<float>()) v = 1.0f;
  Shape s = x.shape;
  for (std::size_t i = 0; i < nsp; ++i) {
    scales.data<float>()[first + i] = static_cast<float>(size[i]);
    if (s[first + i] >= 0) s[first + i] = mul(s[first + i], size[i]);
  }
  const int sc = constant(base_ + "/scales", scales);
  return KT{op("Resize", {x.id, kNoValue, sc},
               {{"mode", attr_string("nearest")},
                {"coordinate_transformation_mode", attr_string("asymmetric")},
                {"nearest_mode", attr_string("floor")}}),
            s};
}

KT Builder::flatten(const KT& x) {
  int id = x.id;
  Shape in = x.shape;
  if (str("data_format", "channels_last") == "channels_first" && in.size() > 2) {
    // Keras moves channels last before flattening a channels_first Flatten.
    id = transpose(id, to_last_perm(in.size()));
    Shape t{in[0]};
    for (std::size_t i = 2; i < in.size(); ++i) t.push_back(in[i]);
    t.push_back(in[1]);
    in = t;
  }
  std::int64_t n = 1;
  for (std::size_t i = 1; i < in.size(); ++i) n = (n < 0 || in[i] < 0) ? -1 : mul(n, in[i]);
  return KT{op("Flatten", {id}, {{"axis", attr_int(1)}}), Shape{in[0], n}};
}

KT Builder::reshape(const KT& x) {
  if (!has("target_shape") || !cfg()["target_shape"].is_array()) fail("no target_shape");
  std::vector<std::int64_t> target{0};  // 0: keep the batch dim
  Shape s{x.shape[0]};
  std::int64_t known = 1;
  int unknown = -1;
  for (const auto& d : cfg()["target_shape"]) {
    // ONNX Reshape reads 0 as "copy the input dim", so Keras's 0 would change meaning.
    const std::int64_t v = d.is_null() ? -1 : int_value(d, "target_shape");
    if (v < -1 || v == 0) fail("'target_shape' holds " + std::to_string(v));
    if (v == -1 && unknown >= 0) fail("'target_shape' has more than one unknown dimension");
    target.push_back(v);
    s.push_back(v);
    if (v < 0) {
      unknown = static_cast<int>(s.size()) - 1;
    } else {
      known = mul(known, v);
    }
  }
  if (unknown >= 0) {
    std::int64_t total = 1;
    for (std::size_t i = 1; i < x.shape.size(); ++i)
      total = (total < 0 || x.shape[i] < 0) ? -1 : mul(total, x.shape[i]);
    s[static_cast<std::size_t>(unknown)] = total < 0 ? -1 : total / known;
  }
  return KT{op("Reshape", {x.id, iconst("shape", target)}), s};
}

KT Builder::permute_layer(const KT& x) {
  if (!has("dims") || !cfg()["dims"].is_array()) fail("no dims");
  std::vector<std::int64_t> perm{0};
  Shape s{x.shape[0]};
  std::vector<bool> seen(x.shape.size(), false);
  for (const auto& d : cfg()["dims"]) {
    const std::int64_t v = int_value(d, "dims");
    if (v < 1 || v >= static_cast<std::int64_t>(x.shape.size())) fail("dims out of range");
    if (seen[static_cast<std::size_t>(v)]) fail("'dims' repeats " + std::to_string(v));
    seen[static_cast<std::size_t>(v)] = true;
    perm.push_back(v);
    s.push_back(x.shape[static_cast<std::size_t>(v)]);
  }
  if (perm.size() != x.shape.size()) fail("dims do not match the input rank");
  return KT{transpose(x.id, perm), s};
}

// Per-channel parameters of Rescaling / Normalization: a scalar, or a list (nested lists are read
// flat) of one value or of `c` values (c < 0: not known), broadcast on axis.
Tensor Builder::param(const json& v, const char* key, std::int64_t c, std::int64_t axis,
                      std::size_t r) {
  auto value = [&](const json& e) {
    if (!e.is_number()) fail("'" + std::string(key) + "' must hold numbers");
    const double d = e.get<double>();
    if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()) {
      fail("'" + std::string(key) + "' is out of float range");
    }
    return static_cast<float>(d);
  };
  if (!v.is_array()) return scalar_tensor(value(v));
  std::vector<float> vals;
  std::function<void(const json&)> flat = [&](const json& e) {  // depth: bounded by parse_json
    if (e.is_array()) {
      for (const auto& x : e) flat(x);
    } else {
      vals.push_back(value(e));
    }
  };
  flat(v);
  const auto n = static_cast<std::int64_t>(vals.size());
  if (n != 1 && (c < 0 || n != c)) {
    fail("'" + std::string(key) + "' has " + std::to_string(n) + " values, expected " +
         (c < 0 ? std::string("1") : "1 or " + std::to_string(c)) + " (one per channel)");
  }
  Tensor t(DType::kFloat32, channel_shape(n, axis, r));
  std::copy(vals.begin(), vals.end(), t.data<float>());
  return t;
}

KT Builder::normalization(const KT& x) {
  const std::size_t r = x.shape.size();
  if (flag("invert", false)) fail("invert=True is not supported");
  const auto axes = axis_list("axis", -1, r);
  if (axes.size() != 1) fail("only one normalization axis is supported");
  const std::int64_t c = x.shape[static_cast<std::size_t>(axes[0])];
  if (c < 0) fail("the normalized dimension must be known");
  Tensor mean, var;
  if (has("mean") && has("variance")) {
    mean = param(cfg()["mean"], "mean", c, axes[0], r);
    var = param(cfg()["variance"], "variance", c, axes[0], r);
  } else {
    const std::string key = weights_.by_class_path ? weight_key_ : layer_->name;
    auto it = weights_.layers.find(key);
    if (it == weights_.layers.end() || it->second.size() < 2) fail("missing weight 'mean'");
    auto ws = weights_.by_class_path
                  ? std::vector<Tensor>{it->second[0].value, it->second[1].value}
                  : weights({"mean", "variance", "count"}, {Shape{-1}, Shape{-1}, Shape{}});
    const char* names[] = {"mean", "variance"};
    for (std::size_t i = 0; i < 2; ++i) {
      if (ws[i].numel() != c) {
        fail("weight '" + std::string(names[i]) + "' has " + std::to_string(ws[i].numel()) +
             " values, expected " + std::to_string(c) + " (one per channel)");
      }
    }
    mean = ws[0].reshaped(channel_shape(c, axes[0], r));
    var = ws[1].reshaped(channel_shape(c, axes[0], r));
  }
  // (x - mean) / max(sqrt(variance), epsilon), Keras's epsilon 1e-7.
  Tensor denom = var.clone();
  for (auto& v : denom.span<float>()) v = std::max(std::sqrt(v), 1e-7f);
  const int y = op("Sub", {x.id, weight_const("mean", mean)});
  return KT{op("Div", {y, weight_const("stddev", denom)}), x.shape};
}

KT Builder::layer_call(const Layer& l, const std::vector<KT>& xs) {
  const std::string& c = l.class_name;
  for (const KT& x : xs) {
    if (x.shape.empty()) fail("an input has no batch dimension");
  }
  auto one = [&]() -> const KT& {
    if (xs.size() != 1) fail("expects one input, got " + std::to_string(xs.size()));
    return xs[0];
  };
  if (c == "Conv2D" || c == "Convolution2D") return conv(one(), 2, false, false, false);
  if (c == "Conv1D" || c == "Convolution1D") return conv(one(), 1, false, false, false);
  if (c == "Conv3D") return conv(one(), 3, false, false, false);
  if (c == "DepthwiseConv2D") return conv(one(), 2, true, false, false);
  if (c == "DepthwiseConv1D") return conv(one(), 1, true, false, false);
  if (c == "SeparableConv2D" || c == "SeparableConvolution2D")
    return conv(one(), 2, false, true, false);
  if (c == "SeparableConv1D") return conv(one(), 1, false, true, false);
  if (c == "Conv2DTranspose" || c == "Deconvolution2D") return conv(one(), 2, false, false, true);
  if (c == "Conv1DTranspose") return conv(one(), 1, false, false, true);
  if (c == "Dense") return dense(one());
  if (c == "BatchNormalization") return batch_norm(one());
  if (c == "LayerNormalization") return layer_norm(one());
  if (c == "Activation") {
    const KT& x = one();
    return KT{activate(x.id, has("activation") ? cfg()["activation"] : json(), -1), x.shape};
  }
  if (c == "ReLU") return relu_layer(one());
  if (c == "LeakyReLU") {
    const KT& x = one();
    const float alpha = has("negative_slope") ? fnum("negative_slope", 0.3) : fnum("alpha", 0.3);
    return KT{op("LeakyRelu", {x.id}, {{"alpha", attr_float(alpha)}}), x.shape};
  }
  if (c == "ELU") {
    const KT& x = one();
    return KT{op("Elu", {x.id}, {{"alpha", attr_float(fnum("alpha", 1.0))}}), x.shape};
  }
  if (c == "ThresholdedReLU") {
    const KT& x = one();
    const int gt = op("Greater", {x.id, fconst("theta", fnum("theta", 1.0))});
    return KT{op("Mul", {x.id, op("Cast", {gt}, {{"to", attr_int(1)}})}), x.shape};
  }
  if (c == "PReLU") {
    const KT& x = one();
    Shape ps(x.shape.begin() + 1, x.shape.end());
    if (has("shared_axes")) {
      const json& sa = cfg()["shared_axes"];
      std::vector<std::int64_t> axes;
      if (sa.is_array()) {
        for (const auto& a : sa) axes.push_back(int_value(a, "shared_axes"));
      } else {
        axes.push_back(int_value(sa, "shared_axes"));
      }
      for (auto a : axes) {
        if (a < 1 || a > static_cast<std::int64_t>(ps.size())) fail("shared_axes out of range");
        ps[static_cast<std::size_t>(a - 1)] = 1;
      }
    }
    auto ws = weights({"alpha"}, {ps});
    return KT{op("PRelu", {x.id, weight_const("alpha", ws[0])}), x.shape};
  }
  if (c == "Softmax") {
    const KT& x = one();
    const auto axes = axis_list("axis", -1, x.shape.size());
    if (axes.size() != 1) fail("only one softmax axis is supported");
    return KT{op("Softmax", {x.id}, {{"axis", attr_int(axes[0])}}), x.shape};
  }
  if (c == "Add" || c == "Subtract" || c == "Multiply" || c == "Average" || c == "Maximum" ||
      c == "Minimum" || c == "Concatenate") {
    return merge(xs, c);
  }
  if (c == "MaxPooling2D" || c == "MaxPool2D") return pool(one(), 2, true);
  if (c == "AveragePooling2D" || c == "AvgPool2D") return pool(one(), 2, false);
  if (c == "MaxPooling1D" || c == "MaxPool1D") return pool(one(), 1, true);
  if (c == "AveragePooling1D" || c == "AvgPool1D") return pool(one(), 1, false);
  if (c == "MaxPooling3D") return pool(one(), 3, true);
  if (c == "AveragePooling3D") return pool(one(), 3, false);
  if (c.rfind("GlobalAveragePooling", 0) == 0 || c.rfind("GlobalAvgPool", 0) == 0) {
    return global_pool(one(), false);
  }
  if (c.rfind("GlobalMaxPooling", 0) == 0 || c.rfind("GlobalMaxPool", 0) == 0) {
    return global_pool(one(), true);
  }
  if (c == "ZeroPadding2D") return zero_pad(one(), 2);
  if (c == "ZeroPadding1D") return zero_pad(one(), 1);
  if (c == "Cropping2D") return crop(one(), 2);
  if (c == "Cropping1D") return crop(one(), 1);
  if (c == "UpSampling2D") return upsample(one(), 2);
  if (c == "UpSampling1D") return upsample(one(), 1);
  if (c == "Flatten") return flatten(one());
  if (c == "Reshape") return reshape(one());
  if (c == "Permute") return permute_layer(one());
  if (c == "Dropout" || c == "SpatialDropout1D" || c == "SpatialDropout2D" ||
      c == "SpatialDropout3D" || c == "GaussianNoise" || c == "GaussianDropout" ||
      c == "AlphaDropout" || c == "ActivityRegularization") {
    return one();  // identity at inference; finish_layer adds the Identity node
  }
  if (c == "Rescaling") {
    const KT& x = one();
    const json sc = has("scale") ? cfg()["scale"] : json(1.0);
    const json off = has("offset") ? cfg()["offset"] : json(0.0);
    const std::size_t r = x.shape.size();
    const auto last = static_cast<std::int64_t>(r) - 1;
    const std::int64_t ch = x.shape.back();
    const int y = op("Mul", {x.id, weight_const("scale", param(sc, "scale", ch, last, r))});
    return KT{op("Add", {y, weight_const("offset", param(off, "offset", ch, last, r))}), x.shape};
  }
  if (c == "Normalization") return normalization(one());
  if (c == "CustomScaleLayer") {
    if (!has("scale")) fail("CustomScaleLayer without 'scale'");
    return scaled_residual(xs, cfg()["scale"]);
  }
  if (c == "Lambda" && is_scaled_residual_lambda()) {
    return scaled_residual(xs, cfg()["arguments"]["scale"]);
  }
  if (c == "Lambda" || c == "TFOpLambda" || c == "SlicingOpLambda") {
    fail(
        "Lambda layers hold Python code and cannot be loaded (only InceptionResNetV2's scaled "
        "residual is recognised); rebuild the model without them");
  }
  fail("unsupported or custom layer class");
}

}  // namespace dnnfi::keras
