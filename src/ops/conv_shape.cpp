#include "ops/conv_shape.h"

#include <string>

namespace dnnfi {

namespace {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

AutoPad read_auto_pad(const PrepareContext& ctx) {
  const std::string s = ctx.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET") return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  ctx.fail("auto_pad '" + s + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
}

// Bound on strides, dilations and pads: far beyond any real model, and small enough that the
// window arithmetic below (extent, padded size, output size) cannot overflow int64.
constexpr std::int64_t kMaxWindowAttr = std::int64_t{1} << 24;

// An ints attribute of exactly `n` values (or the fallback), each in [min, kMaxWindowAttr].
std::vector<std::int64_t> read_ints(const PrepareContext& ctx, const std::string& name,
                                    std::size_t n, std::int64_t fallback, std::int64_t min) {
  std::vector<std::int64_t> v = ctx.attr_ints(name, std::vector<std::int64_t>(n, fallback));
  if (v.size() != n) {
    ctx.fail("attribute '" + name + "' has " + std::to_string(v.size()) + " values, expected " +
             std::to_string(n));
  }
  for (std::int64_t x : v) {
    if (x < min)
      ctx.fail("attribute '" + name + "' has value " + std::to_string(x) + " < " +
               std::to_string(min));
    if (x > kMaxWindowAttr)
      ctx.fail("attribute '" + name + "' has value " + std::to_string(x) + " > " +
               std::to_string(kMaxWindowAttr));
  }
  return v;
}

// Reads the attributes common to every window op and fills rank, in, kernel, strides, dilations
// and (when auto_pad is NOTSET) explicit pads.
Window read_common(const PrepareContext& ctx, const Shape& in_spatial,
                   const std::vector<std::int64_t>& kernel, bool allow_dilations,
                   AutoPad& auto_pad) {
  Window w;
  w.rank = in_spatial.size();
  if (w.rank < 1 || w.rank > 3) {
    ctx.unsupported("only 1, 2 or 3 spatial dims are supported, got " + std::to_string(w.rank));
  }
  if (kernel.size() != w.rank) {
    ctx.fail("kernel has " + std::to_string(kernel.size()) + " spatial dims, input has " +
             std::to_string(w.rank));
  }
  for (std::int64_t k : kernel) {
    if (k < 1 || k > kMaxWindowAttr) {
      ctx.fail("kernel dims must be in [1, " + std::to_string(kMaxWindowAttr) + "], got " +
               std::to_string(k));
    }
  }
  w.in = in_spatial;
  w.kernel = kernel;
  w.strides = read_ints(ctx, "strides", w.rank, 1, 1);
  w.dilations = allow_dilations ? read_ints(ctx, "dilations", w.rank, 1, 1)
                                : std::vector<std::int64_t>(w.rank, 1);
  auto_pad = read_auto_pad(ctx);
  w.pad_begin.assign(w.rank, 0);
  w.pad_end.assign(w.rank, 0);
  if (auto_pad == AutoPad::kNotSet) {
    const std::vector<std::int64_t> pads = read_ints(ctx, "pads", 2 * w.rank, 0, 0);
    for (std::size_t i = 0; i < w.rank; ++i) {
      w.pad_begin[i] = pads[i];
      w.pad_end[i] = pads[w.rank + i];
    }
  }
  return w;
}

}  // namespace

Window3 to_window3(const Window& w) {
  Window3 g;
  const std::size_t lead = 3 - w.rank;
  for (std::size_t i = 0; i < 3; ++i) {
    const bool used = i >= lead;
    const std::size_t j = i - lead;
    g.in[i] = used ? w.in[j] : 1;
    g.out[i] = used ? w.out[j] : 1;
    g.kernel[i] = used ? w.kernel[j] : 1;
    g.strides[i] = used ? w.strides[j] : 1;
    g.dilations[i] = used ? w.dilations[j] : 1;
    g.pad_begin[i] = used ? w.pad_begin[j] : 0;
    g.pad_end[i] = used ? w.pad_end[j] : 0;
  }
  return g;
}

Window resolve_window(const PrepareContext& ctx, const Shape& in_spatial,
                      const std::vector<std::int64_t>& kernel, bool ceil_mode,
                      bool allow_dilations) {
  AutoPad auto_pad = AutoPad::kNotSet;
  Window w = read_common(ctx, in_spatial, kernel, allow_dilations, auto_pad);
  w.out.assign(w.rank, 0);
  for (std::size_t i = 0; i < w.rank; ++i) {
    const std::int64_t in = w.in[i], s = w.strides[i], ext = w.extent(i);
    if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
      w.out[i] = (in + s - 1) / s;
      const std::int64_t total = std::max<std::int64_t>(0, (w.out[i] - 1) * s + ext - in);
      const std::int64_t small = total / 2, large = total - small;
      w.pad_begin[i] = auto_pad == AutoPad::kSameUpper ? small : large;
      w.pad_end[i] = total - w.pad_begin[i];
      continue;
    }
    const std::int64_t span = in + w.pad_begin[i] + w.pad_end[i] - ext;
    if (span < 0) {
      ctx.fail("the kernel (extent " + std::to_string(ext) + ") is larger than the padded input (" +
               std::to_string(in + w.pad_begin[i] + w.pad_end[i]) + ") on spatial axis " +
               std::to_string(i));
    }
    std::int64_t out = span / s + 1;
    if (ceil_mode && span % s != 0) {
      ++out;
      // The last window must start inside the input or its left padding.
      if ((out - 1) * s >= in + w.pad_begin[i]) --out;
    }
    w.out[i] = out;
  }
  return w;
}

Window resolve_transpose_window(const PrepareContext& ctx, const Shape& in_spatial,
                                const std::vector<std::int64_t>& kernel) {
  AutoPad auto_pad = AutoPad::kNotSet;
  Window w = read_common(ctx, in_spatial, kernel, /*allow_dilations=*/true, auto_pad);
  w.output_padding = read_ints(ctx, "output_padding", w.rank, 0, 0);
  for (std::size_t i = 0; i < w.rank; ++i) {
    if (w.output_padding[i] >= std::max(w.strides[i], w.dilations[i])) {
      ctx.fail("output_padding must be smaller than the stride or the dilation");
    }
  }
  std::vector<std::int64_t> target;
  if (ctx.has_attr("output_shape")) {
    target = ctx.attr_ints("output_shape");
    // Some exporters write the full [N, C, spatial...] shape; only the spatial part matters.
    if (target.size() == w.rank + 2) target.erase(target.begin(), target.begin() + 2);
    if (target.size() != w.rank) {
      ctx.fail("attribute 'output_shape' has " + std::to_string(target.size()) +
               " values, expected " + std::to_string(w.rank));
    }
  } else if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
    for (std::size_t i = 0; i < w.rank; ++i) target.push_back(w.in[i] * w.strides[i]);
  }
  w.out.assign(w.rank, 0);
  for (std::size_t i = 0; i < w.rank; ++i) {
    const std::int64_t natural = w.strides[i] * (w.in[i] - 1) + w.output_padding[i] + w.extent(i);
    if (!target.empty()) {
      if (target[i] < 1) ctx.fail("output_shape values must be >= 1");
      const std::int64_t total = natural - target[i];
      // Floor division, as in the spec's reference implementation: an output_shape one larger
      // than the natural size adds the extra cell at the end.
      const std::int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      if (auto_pad == AutoPad::kSameUpper) {
        w.pad_begin[i] = half;
        w.pad_end[i] = total - half;
      } else {
        w.pad_begin[i] = total - half;
        w.pad_end[i] = half;
      }
      w.out[i] = target[i];
    } else {
      w.out[i] = natural - w.pad_begin[i] - w.pad_end[i];
      if (w.out[i] < 1)
        ctx.fail("the pads leave an empty output on spatial axis " + std::to_string(i));
    }
  }
  return w;
}

}  // namespace dnnfi
