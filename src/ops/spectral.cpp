// Spectral ops of opset 17: DFT, STFT and MelWeightMatrix. Plain reference kernels in double.
//
// DFT: input [..., n, ..., 1 | 2] (real or complex in the last dim), the signal along `axis`;
// output the same with the signal dim replaced by dft_length (onesided: dft_length / 2 + 1) and a
// last dim of 2. dft_length (a constant) truncates or zero-pads the signal. inverse uses
// exp(+2 pi i jk / n) and scales by 1 / n; inverse together with onesided is not supported.
// STFT: signal [batch, length, 1 | 2], frame_step, optional window [frame_length] (data),
// optional frame_length; output [batch, frames, bins, 2] with frames =
// (length - frame_length) / frame_step + 1 and bins = frame_length / 2 + 1 when onesided (the
// default), else frame_length.
// MelWeightMatrix: [dft_length / 2 + 1, num_mel_bins] triangular filters, computed the way the ONNX
// reference implementation does (mel = 2595 log10(1 + f / 700), band edges rounded down to DFT
// bins as floor((dft_length + 1) * f / sample_rate)). Its inputs are read again on every run:
// num_mel_bins and dft_length must keep their prepared values (they set the output shape), and
// sample_rate, lower and upper edges that put a band edge outside the output are run-time errors.
//
// Twiddle factors come from a table of n entries built at prepare, indexed by (j * k) mod n.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "ops/ops.h"
#include "ops/shape_common.h"

namespace dnnfi {

namespace {

struct Twiddles {
  std::vector<double> cos_, sin_;  // cos / sin of 2 pi m / n, m in [0, n)
  explicit Twiddles(std::int64_t n) {
    cos_.resize(static_cast<std::size_t>(n));
    sin_.resize(static_cast<std::size_t>(n));
    for (std::int64_t m = 0; m < n; ++m) {
      const double a = 2.0 * std::numbers::pi * static_cast<double>(m) / static_cast<double>(n);
      cos_[static_cast<std::size_t>(m)] = std::cos(a);
      sin_[static_cast<std::size_t>(m)] = std::sin(a);
    }
  }
};

// One DFT of a strided signal: `avail` samples (re, im when complex) at x + j * stride, zero
// beyond, transform length n, `bins` outputs written as (re, im) pairs at y + k * ystride.
void dft_1d(const float* x, std::int64_t stride, bool complex, std::int64_t avail, std::int64_t n,
            std::int64_t bins, bool inverse, const Twiddles& tw, float* y, std::int64_t ystride) {
  const double sign = inverse ? 1.0 : -1.0;
  const double scale = inverse ? 1.0 / static_cast<double>(n) : 1.0;
  const std::int64_t count = std::min(avail, n);
  for (std::int64_t k = 0; k < bins; ++k) {
    double re = 0, im = 0;
    for (std::int64_t j = 0; j < count; ++j) {
      const std::size_t m = static_cast<std::size_t>((j * k) % n);
      const double c = tw.cos_[m], s = sign * tw.sin_[m];
      const double xr = x[j * stride];
      const double xi = complex ? double(x[j * stride + 1]) : 0.0;
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    y[k * ystride] = static_cast<float>(re * scale);
    y[k * ystride + 1] = static_cast<float>(im * scale);
  }
}

std::int64_t scalar_int(const PrepareContext& ctx, std::size_t i, const std::string& what) {
  const std::vector<std::int64_t> v = read_index_constant(ctx, i, what);
  if (v.size() != 1) ctx.fail(what + " must hold one value");
  return v[0];
}

}  // namespace

Prepared prepare_dft(const PrepareContext& ctx) {
  ctx.allow_attributes({"axis", "inverse", "onesided"});
  ctx.require_inputs(1, 2);
  require_static_shape(ctx, 0);
  ctx.require_dtype(0, {DType::kFloat32});
  const TensorInfo x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  if (rank < 2 || (x.shape.back() != 1 && x.shape.back() != 2)) {
    ctx.fail("input must have rank >= 2 and a last dim of 1 (real) or 2 (complex), is " +
             shape_to_string(x.shape));
  }
  std::int64_t axis = ctx.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank - 1) {
    ctx.fail("axis " + std::to_string(ctx.attr_int("axis", 1)) + " is not a signal dim of " +
             shape_to_string(x.shape));
  }
  const bool inverse = ctx.attr_int("inverse", 0) != 0;
  const bool onesided = ctx.attr_int("onesided", 0) != 0;
  if (inverse && onesided) ctx.unsupported("inverse together with onesided is not supported");
  const std::int64_t avail = x.shape[static_cast<std::size_t>(axis)];
  const std::int64_t n = ctx.has_input(1) ? scalar_int(ctx, 1, "dft_length") : avail;
  if (n < 1) ctx.fail("dft_length must be >= 1, is " + std::to_string(n));
  const std::int64_t bins = onesided ? n / 2 + 1 : n;
  TensorInfo y = x;
  y.shape[static_cast<std::size_t>(axis)] = bins;
  y.shape.back() = 2;
  require_valid_shape(ctx, y.shape, "output");
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= x.shape[static_cast<std::size_t>(d)];
  for (std::int64_t d = axis + 1; d < rank - 1; ++d) inner *= x.shape[static_cast<std::size_t>(d)];
  const bool complex = x.shape.back() == 2;
  const std::string tag = node_tag(ctx);
  Prepared p;
  p.outputs = {y};
  p.kernel = make_kernel(
      [=, tw = Twiddles(n)](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
        DNNFI_RETURN_IF_ERROR(check_data_input(tag, in, 0, x));
        DNNFI_RETURN_IF_ERROR(check_output(tag, out, 0, y));
        // dft_length was read at prepare; a corrupted copy at run time would change the output
        // shape.
        if (in.size() > 1 && in[1] != nullptr && index_value(*in[1], 0) != n) {
          return run_error(tag, "dft_length " + std::to_string(index_value(*in[1], 0)) +
                                    " differs from the prepared " + std::to_string(n));
        }
        const std::int64_t c = complex ? 2 : 1;
        const float* src = in[0]->data<float>();
        float* dst = out[0]->data<float>();
        for (std::int64_t o = 0; o < outer; ++o) {
          for (std::int64_t i = 0; i < inner; ++i) {
            dft_1d(src + (o * avail * inner + i) * c, inner * c, complex, avail, n, bins, inverse,
                   tw, dst + (o * bins * inner + i) * 2, inner * 2);
          }
        }
        return Status::ok();
      });
  return p;
}

Prepared prepare_stft(const PrepareContext& ctx) {
  ctx.allow_attributes({"onesided"});
  ctx.require_inputs(2, 4);
  require_static_shape(ctx, 0);
  ctx.require_dtype(0, {DType::kFloat32});
  const TensorInfo x = ctx.input(0);
  if (x.shape.size() != 3 || (x.shape[2] != 1 && x.shape[2] != 2)) {
    ctx.fail("signal must be [batch, length, 1 | 2], is " + shape_to_string(x.shape));
  }
  const std::int64_t step = scalar_int(ctx, 1, "frame_step");
  if (step < 1) ctx.fail("frame_step must be >= 1, is " + std::to_string(step));
  const bool has_window = ctx.has_input(2);
  std::int64_t frame = -1;
  TensorInfo window;
  if (has_window) {
    require_static_shape(ctx, 2);
    ctx.require_dtype(2, {DType::kFloat32});
    window = ctx.input(2);
    if (window.shape.size() != 1) ctx.fail("window must be 1-D");
    frame = window.shape[0];
  }
  if (ctx.num_inputs() > 3 && ctx.has_input(3)) {
    const std::int64_t fl = scalar_int(ctx, 3, "frame_length");
    if (has_window && fl != frame) {
      ctx.fail("frame_length " + std::to_string(fl) + " differs from the window length " +
               std::to_string(frame));
    }
    frame = fl;
  }
  if (frame < 1) ctx.fail("needs a window or a frame_length >= 1");
  const std::int64_t length = x.shape[1];
  if (frame > length) {
    ctx.fail("frame_length " + std::to_string(frame) + " exceeds the signal length " +
             std::to_string(length));
  }
  const bool onesided = ctx.attr_int("onesided", 1) != 0;
  const std::int64_t frames = (length - frame) / step + 1;
  const std::int64_t bins = onesided ? frame / 2 + 1 : frame;
  const TensorInfo y{DType::kFloat32, {x.shape[0], frames, bins, 2}};
  const bool complex = x.shape[2] == 2;
  const std::string tag = node_tag(ctx);
  Prepared p;
  p.outputs = {y};
  p.kernel = make_kernel(
      [=, tw = Twiddles(frame)](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
        DNNFI_RETURN_IF_ERROR(check_data_input(tag, in, 0, x));
        if (has_window) DNNFI_RETURN_IF_ERROR(check_data_input(tag, in, 2, window));
        DNNFI_RETURN_IF_ERROR(check_output(tag, out, 0, y));
        if (in.size() < 2 || in[1] == nullptr || in[1]->numel() < 1) {
          return run_error(tag, "frame_step is missing");
        }
        if (index_value(*in[1], 0) != step) {
          return run_error(tag, "frame_step " + std::to_string(index_value(*in[1], 0)) +
                                    " differs from the prepared " + std::to_string(step));
        }
        const std::int64_t c = complex ? 2 : 1;
        const float* w = has_window ? in[2]->data<float>() : nullptr;
        // Window-weighted frame, computed per output bin (no scratch buffer).
        const float* src = in[0]->data<float>();
        float* dst = out[0]->data<float>();
        for (std::int64_t b = 0; b < x.shape[0]; ++b) {
          for (std::int64_t f = 0; f < frames; ++f) {
            const float* s = src + (b * length + f * step) * c;
            float* d = dst + (b * frames + f) * bins * 2;
            for (std::int64_t k = 0; k < bins; ++k) {
              double re = 0, im = 0;
              for (std::int64_t j = 0; j < frame; ++j) {
                const double wj = w ? double(w[j]) : 1.0;
                const std::size_t m = static_cast<std::size_t>((j * k) % frame);
                const double cs = tw.cos_[m], sn = -tw.sin_[m];
                const double xr = wj * s[j * c];
                const double xi = complex ? wj * s[j * c + 1] : 0.0;
                re += xr * cs - xi * sn;
                im += xr * sn + xi * cs;
              }
              d[2 * k] = static_cast<float>(re);
              d[2 * k + 1] = static_cast<float>(im);
            }
          }
        }
        return Status::ok();
      });
  return p;
}

namespace {

struct MelParams {
  std::int64_t mel_bins, dft_length;
  double sample_rate, lower, upper;
};

// Fills out [dft_length / 2 + 1, mel_bins]; false when a band edge falls outside it.
bool mel_weights(const MelParams& m, float* out) {
  const std::int64_t spec_bins = m.dft_length / 2 + 1;
  const double low_mel = 2595.0 * std::log10(1.0 + m.lower / 700.0);
  const double high_mel = 2595.0 * std::log10(1.0 + m.upper / 700.0);
  const double mel_step = (high_mel - low_mel) / static_cast<double>(m.mel_bins + 2);
  auto edge = [&](std::int64_t i, std::int64_t& bin) {
    const double hz = 700.0 * (std::pow(10.0, (i * mel_step + low_mel) / 2595.0) - 1.0);
    const double v = std::floor(static_cast<double>(m.dft_length + 1) * hz / m.sample_rate);
    if (!(v >= 0 && v < static_cast<double>(spec_bins))) return false;
    bin = static_cast<std::int64_t>(v);
    return true;
  };
  std::fill(out, out + spec_bins * m.mel_bins, 0.0f);
  for (std::int64_t i = 0; i < m.mel_bins; ++i) {
    std::int64_t lo = 0, center = 0, hi = 0;
    if (!edge(i, lo) || !edge(i + 1, center) || !edge(i + 2, hi)) return false;
    const std::int64_t low_to_center = center - lo;
    if (low_to_center == 0) {
      out[center * m.mel_bins + i] = 1.0f;
    } else {
      for (std::int64_t j = lo; j <= center; ++j) {
        out[j * m.mel_bins + i] =
            static_cast<float>(double(j - lo) / static_cast<double>(low_to_center));
      }
    }
    const std::int64_t center_to_high = hi - center;
    if (center_to_high > 0) {
      for (std::int64_t j = center; j < hi; ++j) {
        out[j * m.mel_bins + i] =
            static_cast<float>(double(hi - j) / static_cast<double>(center_to_high));
      }
    }
  }
  return true;
}

}  // namespace

Prepared prepare_mel_weight_matrix(const PrepareContext& ctx) {
  ctx.allow_attributes({"output_datatype"});
  ctx.require_inputs(5, 5);
  if (ctx.attr_int("output_datatype", 1) != 1) {
    ctx.unsupported("output_datatype other than float (1) is not supported");
  }
  MelParams m{};
  m.mel_bins = scalar_int(ctx, 0, "num_mel_bins");
  m.dft_length = scalar_int(ctx, 1, "dft_length");
  m.sample_rate = static_cast<double>(scalar_int(ctx, 2, "sample_rate"));
  for (std::size_t i : {3u, 4u}) ctx.require_dtype(i, {DType::kFloat32, DType::kFloat64});
  if (m.mel_bins < 1 || m.dft_length < 1 || m.sample_rate <= 0) {
    ctx.fail("num_mel_bins, dft_length and sample_rate must be positive");
  }
  const TensorInfo y{DType::kFloat32, {m.dft_length / 2 + 1, m.mel_bins}};
  require_valid_shape(ctx, y.shape, "output");
  const std::string tag = node_tag(ctx);
  Prepared p;
  p.outputs = {y};
  p.kernel = make_kernel([=](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    DNNFI_RETURN_IF_ERROR(check_output(tag, out, 0, y));
    for (std::size_t i = 0; i < 5; ++i) {
      if (in.size() <= i || in[i] == nullptr || in[i]->numel() != 1) {
        return run_error(tag, "input " + std::to_string(i) + " must be a scalar");
      }
    }
    MelParams r = m;
    if (index_value(*in[0], 0) != m.mel_bins || index_value(*in[1], 0) != m.dft_length) {
      return run_error(tag, "num_mel_bins / dft_length differ from the prepared values");
    }
    r.sample_rate = static_cast<double>(index_value(*in[2], 0));
    r.lower = in[3]->get_as_double(0);
    r.upper = in[4]->get_as_double(0);
    if (!(r.sample_rate > 0)) return run_error(tag, "sample_rate must be positive");
    if (!mel_weights(r, out[0]->data<float>())) {
      return run_error(tag, "a mel band edge falls outside the " +
                                std::to_string(m.dft_length / 2 + 1) + " spectrogram bins");
    }
    return Status::ok();
  });
  return p;
}

}  // namespace dnnfi
