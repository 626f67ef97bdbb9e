// preprocess_sample: one decoded sample -> the model's input tensor. The image pipeline follows
// torchvision's transforms on float tensors (Grayscale, Resize without antialias, CenterCrop,
// Normalize) so that a model trained with them sees the same numbers here.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "campaign/dataset.h"
#include "core/error.h"

namespace dnnfi {

namespace {

// An HWC float image being transformed.
struct Image {
  int h = 0, w = 0, c = 0;
  std::vector<float> px;

  float at(int y, int x, int k) const { return px[(static_cast<std::size_t>(y) * w + x) * c + k]; }
};

Image to_grayscale(const Image& in) {
  Image out{in.h, in.w, 1, std::vector<float>(static_cast<std::size_t>(in.h) * in.w)};
  for (std::size_t p = 0; p < out.px.size(); ++p) {
    const float* q = &in.px[p * 3];
    // ITU-R 601 luma, the weights PIL's convert("L") and torchvision's Grayscale use.
    out.px[p] = 0.299f * q[0] + 0.587f * q[1] + 0.114f * q[2];
  }
  return out;
}

Image replicate_gray(const Image& in) {
  Image out{in.h, in.w, 3, std::vector<float>(in.px.size() * 3)};
  for (std::size_t p = 0; p < in.px.size(); ++p) {
    out.px[p * 3] = out.px[p * 3 + 1] = out.px[p * 3 + 2] = in.px[p];
  }
  return out;
}

// Source taps of output index `dst` for PyTorch's interpolate(mode="bilinear",
// align_corners=False): half-pixel centres, the source coordinate clamped at 0. The coordinate
// math is in double (PyTorch's CPU kernel uses float, which moves results by ~1e-6 relative; the
// double version is the exact one, and what the tests' float64 torchvision oracle computes).
struct Tap {
  int i0, i1;
  double w0, w1;
};
std::vector<Tap> bilinear_taps(int in, int out) {
  std::vector<Tap> taps(static_cast<std::size_t>(out));
  const double scale = static_cast<double>(in) / out;
  for (int d = 0; d < out; ++d) {
    const double src = std::max(0.0, scale * (d + 0.5) - 0.5);
    const int i0 = std::min(static_cast<int>(src), in - 1);
    const int i1 = i0 + (i0 < in - 1 ? 1 : 0);
    const double l1 = src - i0;
    taps[static_cast<std::size_t>(d)] = {i0, i1, 1.0 - l1, l1};
  }
  return taps;
}

Image resize_bilinear(const Image& in, int oh, int ow) {
  if (oh == in.h && ow == in.w) return in;
  const auto ty = bilinear_taps(in.h, oh);
  const auto tx = bilinear_taps(in.w, ow);
  Image out{oh, ow, in.c, std::vector<float>(static_cast<std::size_t>(oh) * ow * in.c)};
  float* o = out.px.data();
  for (int y = 0; y < oh; ++y) {
    const Tap& a = ty[static_cast<std::size_t>(y)];
    for (int x = 0; x < ow; ++x) {
      const Tap& b = tx[static_cast<std::size_t>(x)];
      for (int k = 0; k < in.c; ++k) {
        *o++ =
            static_cast<float>(a.w0 * (b.w0 * in.at(a.i0, b.i0, k) + b.w1 * in.at(a.i0, b.i1, k)) +
                               a.w1 * (b.w0 * in.at(a.i1, b.i0, k) + b.w1 * in.at(a.i1, b.i1, k)));
      }
    }
  }
  return out;
}

// Top/left offset of torchvision's CenterCrop: round((size - crop) / 2.0) with Python's
// round-half-to-even; a crop larger than the image pads (crop - size) // 2 zeros before it.
int center_crop_offset(int size, int crop) {
  if (crop > size) return -((crop - size) / 2);
  const int d = size - crop;
  const int half = d / 2;
  return (d % 2 == 1 && half % 2 == 1) ? half + 1 : half;
}

Image center_crop(const Image& in, int ch, int cw) {
  if (ch == in.h && cw == in.w) return in;
  const int top = center_crop_offset(in.h, ch), left = center_crop_offset(in.w, cw);
  Image out{ch, cw, in.c, std::vector<float>(static_cast<std::size_t>(ch) * cw * in.c, 0.f)};
  for (int y = 0; y < ch; ++y) {
    const int sy = y + top;
    if (sy < 0 || sy >= in.h) continue;
    for (int x = 0; x < cw; ++x) {
      const int sx = x + left;
      if (sx < 0 || sx >= in.w) continue;
      for (int k = 0; k < in.c; ++k) {
        out.px[(static_cast<std::size_t>(y) * cw + x) * in.c + k] = in.at(sy, sx, k);
      }
    }
  }
  return out;
}

// Per-channel (x * scale - mean) / std as one multiply-add per element; one value applies to
// every channel.
struct Affine {
  std::vector<float> mul, add;
};
Affine channel_affine(const PreprocessConfig& cfg, std::int64_t channels, const std::string& what) {
  auto pick = [&](const std::vector<double>& v, const char* name, double dflt) {
    std::vector<double> out(static_cast<std::size_t>(channels), dflt);
    if (v.empty()) return out;
    if (v.size() != 1 && static_cast<std::int64_t>(v.size()) != channels) {
      throw InputError(what + ": preprocessing " + name + " has " + std::to_string(v.size()) +
                       " values but the model input has " + std::to_string(channels) +
                       " channels (give 1 or " + std::to_string(channels) + ")");
    }
    for (std::size_t c = 0; c < out.size(); ++c) out[c] = v.size() == 1 ? v[0] : v[c];
    return out;
  };
  const auto mean = pick(cfg.mean, "mean", 0.0);
  const auto stdv = pick(cfg.std, "std", 1.0);
  Affine a;
  for (std::size_t c = 0; c < mean.size(); ++c) {
    if (!(stdv[c] != 0.0) || !std::isfinite(stdv[c])) {
      throw InputError(what + ": preprocessing std[" + std::to_string(c) + "] is " +
                       std::to_string(stdv[c]) + "; it must be finite and non-zero");
    }
    a.mul.push_back(static_cast<float>(cfg.scale / stdv[c]));
    a.add.push_back(static_cast<float>(-mean[c] / stdv[c]));
  }
  return a;
}

std::string mismatch(const std::string& what, const Shape& got, const Shape& want,
                     const std::string& hint = "") {
  return what + " gives " + shape_to_string(got) + " but the model input is " +
         shape_to_string(want) + hint;
}

Tensor preprocess_tensor(const RawSample& s, const PreprocessConfig& cfg, const Shape& input_shape,
                         const std::string& what) {
  Shape shape = input_shape;
  // A dim the model leaves open (< 0) takes what the sample gives: the batch dim is 1, and at
  // most one other open dim absorbs the remaining elements.
  if (!shape.empty() && shape[0] < 0) shape[0] = 1;
  std::int64_t known = 1, open = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      if (open >= 0) throw InputError(mismatch(what, s.tensor.shape(), input_shape));
      open = static_cast<std::int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (open >= 0 && known > 0 && s.tensor.numel() % known == 0) {
    shape[static_cast<std::size_t>(open)] = s.tensor.numel() / known;
  }
  if (open >= 0 && shape[static_cast<std::size_t>(open)] < 0) {
    throw InputError(mismatch(what, s.tensor.shape(), input_shape));
  }
  if (shape_numel(shape) != s.tensor.numel()) {
    throw InputError(mismatch(what, s.tensor.shape(), input_shape,
                              " (" + std::to_string(s.tensor.numel()) + " vs " +
                                  std::to_string(shape_numel(shape)) + " values)"));
  }
  // Channels: axis 1 of NCHW, the last axis of NHWC (rank >= 2); a lower rank has one channel.
  const std::size_t rank = shape.size();
  const bool has_channels = rank >= 2;
  const std::size_t axis = cfg.nhwc ? rank - 1 : 1;
  const std::int64_t channels = has_channels ? shape[axis] : 1;
  const Affine a = channel_affine(cfg, channels, what);
  std::int64_t inner = 1;  // elements between consecutive channel indices
  for (std::size_t i = axis + 1; has_channels && i < rank; ++i) inner *= shape[i];

  Tensor out(DType::kFloat32, shape);
  const float* in = s.tensor.data<float>();
  float* o = out.data<float>();
  // Element i has channel (i / inner) % channels: runs of `inner` elements share one.
  const std::int64_t n = out.numel();
  for (std::int64_t run = 0; run * inner < n; ++run) {
    const std::size_t c = static_cast<std::size_t>(run % channels);
    const float mul = a.mul[c], add = a.add[c];
    const std::int64_t end = std::min(n, (run + 1) * inner);
    for (std::int64_t i = run * inner; i < end; ++i) o[i] = in[i] * mul + add;
  }
  return out;
}

}  // namespace

Tensor preprocess_sample(const RawSample& sample, const PreprocessConfig& cfg,
                         const Shape& input_shape, const std::string& what) {
  if (!sample.is_image) {
    if (sample.tensor.dtype() != DType::kFloat32) {
      throw InputError(what + ": tensor sample is " +
                       std::string(dtype_name(sample.tensor.dtype())) + ", expected float32");
    }
    return preprocess_tensor(sample, cfg, input_shape, what);
  }
  if (input_shape.size() != 4) {
    throw InputError(what + " is an image but the model input " + shape_to_string(input_shape) +
                     " is not [1,C,H,W] or [1,H,W,C] (use array_layout tensor for other inputs)");
  }
  if (sample.channels != 1 && sample.channels != 3) {
    throw InputError(what + ": image has " + std::to_string(sample.channels) +
                     " channels, expected 1 or 3");
  }
  if (sample.pixels.size() !=
          static_cast<std::size_t>(sample.height) * sample.width * sample.channels ||
      sample.height <= 0 || sample.width <= 0) {
    throw InputError(what + ": image buffer does not match its " + std::to_string(sample.height) +
                     "x" + std::to_string(sample.width) + "x" + std::to_string(sample.channels) +
                     " size");
  }
  const std::int64_t want_c = cfg.nhwc ? input_shape[3] : input_shape[1];
  const std::int64_t want_h = cfg.nhwc ? input_shape[1] : input_shape[2];
  const std::int64_t want_w = cfg.nhwc ? input_shape[2] : input_shape[3];

  Image img{sample.height, sample.width, sample.channels, sample.pixels};
  if (cfg.grayscale && img.c == 3) img = to_grayscale(img);
  if (want_c == 3 && img.c == 1) img = replicate_gray(img);
  if (cfg.bgr && img.c == 3) {
    for (std::size_t p = 0; p < img.px.size(); p += 3) std::swap(img.px[p], img.px[p + 2]);
  }

  if (!cfg.resize.empty()) {
    if (cfg.resize.size() > 2 || cfg.resize[0] <= 0 || cfg.resize.back() <= 0) {
      throw InputError(what + ": preprocessing resize must be [h, w] or [s] with positive sizes");
    }
    int oh = cfg.resize[0], ow = cfg.resize.back();
    if (cfg.resize.size() == 1) {
      // torchvision: the shorter side becomes s, the longer int(s * long / short) (truncated).
      const int s = cfg.resize[0];
      const bool wide = img.w > img.h;
      const int shorter = wide ? img.h : img.w, longer = wide ? img.w : img.h;
      const int l = static_cast<int>(static_cast<double>(s) * longer / shorter);
      oh = wide ? s : l;
      ow = wide ? l : s;
    }
    img = resize_bilinear(img, oh, ow);
  }
  if (!cfg.center_crop.empty()) {
    if (cfg.center_crop.size() > 2 || cfg.center_crop[0] <= 0 || cfg.center_crop.back() <= 0) {
      throw InputError(what +
                       ": preprocessing center_crop must be [h, w] or [s] with positive "
                       "sizes");
    }
    img = center_crop(img, cfg.center_crop[0], cfg.center_crop.back());
  }

  const Shape got = cfg.nhwc ? Shape{1, img.h, img.w, img.c} : Shape{1, img.c, img.h, img.w};
  auto fits = [](std::int64_t want, std::int64_t have) { return want < 0 || want == have; };
  if (!fits(input_shape[0], 1) || !fits(want_c, img.c) || !fits(want_h, img.h) ||
      !fits(want_w, img.w)) {
    const std::string hint =
        want_c == 1 && img.c == 3 ? " (the image is RGB; enable grayscale conversion)" : "";
    throw InputError(mismatch(what, got, input_shape, hint));
  }

  const Affine a = channel_affine(cfg, img.c, what);
  Tensor out(DType::kFloat32, got);
  float* o = out.data<float>();
  const std::size_t plane = static_cast<std::size_t>(img.h) * img.w;
  for (std::size_t p = 0; p < plane; ++p) {
    for (int k = 0; k < img.c; ++k) {
      const float v = img.px[p * img.c + k] * a.mul[k] + a.add[k];
      if (cfg.nhwc) {
        o[p * img.c + k] = v;
      } else {
        o[k * plane + p] = v;
      }
    }
  }
  return out;
}

}  // namespace dnnfi
