// ops/fp16_layout.h: the float16 fallback's whole-tensor conversions (widen NCHW float16 into
// NHWC float32, round NHWC float32 into NCHW float16 with the fused Add/Relu, round with the
// fused Add/Relu in place) against their scalar definitions, written out here from
// half_to_float / float_to_half: every bit must match, NaN payloads, -0, subnormals, overflow and
// ties included, on shapes whose channels and spatial sizes are and are not multiples of the
// 16x16 tiles.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "ops/fp16_layout.h"

namespace dnnfi {
namespace {

std::uint32_t float_bits(float f) { return std::bit_cast<std::uint32_t>(f); }

// The Relu node on float16: widen, max by `<` with 0, round.
std::uint16_t relu_oracle(std::uint16_t h) {
  const float x = half_to_float(h);
  return float_to_half(x < 0.0f ? 0.0f : x);
}

// Rounding, then the Add node (float16 inputs widened, float32 sum, rounded), then the Relu node.
std::uint16_t post_oracle(float y, const std::uint16_t* s, bool sum_first, bool relu) {
  std::uint16_t r = float_to_half(y);
  if (s != nullptr) {
    const float a = half_to_float(r), c = half_to_float(*s);
    r = float_to_half(sum_first ? c + a : a + c);
  }
  return relu ? relu_oracle(r) : r;
}

// float16 bit patterns: all finite (the vectorised tiles), or with a NaN now and then (signalling
// and quiet, either sign) so that some tiles hold one.
std::vector<std::uint16_t> random_halves(std::size_t n, bool with_nan, std::mt19937& rng) {
  std::vector<std::uint16_t> v(n);
  std::uniform_int_distribution<int> bits(0, 0xffff), pick(0, 199);
  const std::uint16_t nans[] = {0x7c01, 0x7dff, 0x7e00, 0xfc01, 0xfe3f};
  for (auto& h : v) {
    do {
      h = static_cast<std::uint16_t>(bits(rng));
    } while ((h & 0x7fff) > 0x7c00);
    if (with_nan && pick(rng) == 0) h = nans[pick(rng) % 5];
  }
  return v;
}

// float32 values that exercise the rounding: float16 subnormals and normals with random low bits
// (ties to even among them), exact ties, overflow to +-inf, +-0, +-inf, and (optionally) NaNs.
std::vector<float> random_floats(std::size_t n, bool with_nan, std::mt19937& rng) {
  std::vector<float> v(n);
  std::uniform_int_distribution<std::uint32_t> bits;
  std::uniform_int_distribution<int> kind(0, 99), exponent(100, 144);
  for (auto& f : v) {
    const std::uint32_t r = bits(rng);
    const std::uint32_t sign = r & 0x80000000u;
    const int k = kind(rng);
    std::uint32_t b;
    if (k < 80) {
      b = sign | static_cast<std::uint32_t>(exponent(rng)) << 23 | (r & 0x7fffffu);
    } else if (k < 90) {  // exactly halfway between two float16 values
      b = sign | static_cast<std::uint32_t>(exponent(rng)) << 23 | (r & 0x7fe000u) | 0x1000u;
    } else if (k < 94) {
      b = sign | 0x477ff000u;  // 65520: halfway past the largest float16, rounds to inf
    } else if (k < 97) {
      b = sign | (k == 95 ? 0x7f800000u : 0u);
    } else {
      b = with_nan ? (sign | 0x7f800000u | (r & 0x7fffffu) | 1u) : sign;
    }
    f = std::bit_cast<float>(b);
  }
  return v;
}

struct Geometry {
  std::int64_t batch, channels, spatial;
};
const Geometry kGeometries[] = {{1, 16, 16},  {2, 40, 49}, {1, 3, 7},    {1, 17, 50},
                                {2, 64, 196}, {1, 1, 1},   {1, 256, 49}, {1, 33, 15}};

TEST(Fp16Layout, WidenNchwToNhwcEqualsHalfToFloat) {
  std::mt19937 rng(7);
  for (const Geometry& g : kGeometries) {
    for (bool with_nan : {false, true}) {
      SCOPED_TRACE(std::to_string(g.channels) + "x" + std::to_string(g.spatial) +
                   (with_nan ? " with NaN" : ""));
      const std::int64_t n = g.batch * g.channels * g.spatial;
      const std::vector<std::uint16_t> x =
          random_halves(static_cast<std::size_t>(n), with_nan, rng);
      std::vector<float> y(static_cast<std::size_t>(n), -1.0f);
      fp16::widen_nchw_to_nhwc(x.data(), y.data(), g.batch, g.channels, g.spatial);
      int bad = 0;
      for (std::int64_t b = 0; b < g.batch; ++b) {
        for (std::int64_t c = 0; c < g.channels; ++c) {
          for (std::int64_t s = 0; s < g.spatial; ++s) {
            const std::uint16_t h =
                x[static_cast<std::size_t>((b * g.channels + c) * g.spatial + s)];
            const float got = y[static_cast<std::size_t>((b * g.spatial + s) * g.channels + c)];
            if (float_bits(got) != float_bits(half_to_float(h)) && ++bad <= 5) {
              ADD_FAILURE() << "b " << b << " c " << c << " s " << s << ": half " << std::hex << h
                            << " gave " << float_bits(got);
            }
          }
        }
      }
    }
  }
}

TEST(Fp16Layout, RoundNhwcToNchwEqualsRoundThenAddThenRelu) {
  std::mt19937 rng(11);
  for (const Geometry& g : kGeometries) {
    const std::int64_t n = g.batch * g.channels * g.spatial;
    const std::vector<float> y = random_floats(static_cast<std::size_t>(n), true, rng);
    // Summands without NaN: NaN + NaN may give either payload (the compiler may swap a float +).
    const std::vector<std::uint16_t> s = random_halves(static_cast<std::size_t>(n), false, rng);
    for (int variant = 0; variant < 5; ++variant) {
      fp16::RoundPost post;
      post.summand = variant >= 2 ? s.data() : nullptr;
      post.sum_first = variant == 3;
      post.relu = variant == 1 || variant == 4;
      SCOPED_TRACE(std::to_string(g.channels) + "x" + std::to_string(g.spatial) + " variant " +
                   std::to_string(variant));
      std::vector<std::uint16_t> h(static_cast<std::size_t>(n), 0x1234);
      fp16::round_nhwc_to_nchw(y.data(), h.data(), g.batch, g.channels, g.spatial, post);
      int bad = 0;
      for (std::int64_t b = 0; b < g.batch; ++b) {
        for (std::int64_t c = 0; c < g.channels; ++c) {
          for (std::int64_t sp = 0; sp < g.spatial; ++sp) {
            const auto i = static_cast<std::size_t>((b * g.channels + c) * g.spatial + sp);
            const float v = y[static_cast<std::size_t>((b * g.spatial + sp) * g.channels + c)];
            const std::uint16_t want = post_oracle(v, post.summand != nullptr ? &s[i] : nullptr,
                                                   post.sum_first, post.relu);
            if (h[i] != want && ++bad <= 5) {
              ADD_FAILURE() << "b " << b << " c " << c << " s " << sp << ": float " << std::hex
                            << float_bits(v) << " gave " << h[i] << ", want " << want;
            }
          }
        }
      }
    }
  }
}

TEST(Fp16Layout, RoundWithPostEqualsRoundThenAddThenRelu) {
  std::mt19937 rng(13);
  for (std::int64_t n : {1, 7, 8, 9, 100, 4099}) {
    const std::vector<float> y = random_floats(static_cast<std::size_t>(n), true, rng);
    const std::vector<std::uint16_t> s = random_halves(static_cast<std::size_t>(n), false, rng);
    for (int variant = 0; variant < 5; ++variant) {
      fp16::RoundPost post;
      post.summand = variant >= 2 ? s.data() : nullptr;
      post.sum_first = variant == 3;
      post.relu = variant == 1 || variant == 4;
      SCOPED_TRACE("n " + std::to_string(n) + " variant " + std::to_string(variant));
      std::vector<std::uint16_t> h(static_cast<std::size_t>(n), 0x1234);
      fp16::round_with_post(y.data(), h.data(), n, post);
      int bad = 0;
      for (std::size_t i = 0; i < h.size(); ++i) {
        const std::uint16_t want =
            post_oracle(y[i], post.summand != nullptr ? &s[i] : nullptr, post.sum_first, post.relu);
        if (h[i] != want && ++bad <= 5) {
          ADD_FAILURE() << i << ": float " << std::hex << float_bits(y[i]) << " gave " << h[i]
                        << ", want " << want;
        }
      }
    }
  }
}

// Hand-computed: a NaN summand (signalling or quiet) gives the quiet NaN of its payload; -0 stays
// -0 through the Relu; 1 + 2^-11 (a tie) rounds to even (1); the Relu turns -2^-24 into +0;
// 65504 + 32 = 65536 overflows to inf.
TEST(Fp16Layout, HandComputedPostOps) {
  const float y[] = {1.0f, 1.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 2.0f, 0.5f};
  const std::uint16_t s[] = {0x7c01,         0xfe05,          0x0000,          0x1000,
                             0x3c00 /* 1 */, 0x5000 /* 32 */, 0xc000 /* -2 */, 0x8001 /* -2^-24 */};
  // 2 + -2 = +0; 0.5 - 2^-24 rounds back to 0.5 (0x3800).
  const std::uint16_t want[] = {0x7e01, 0xfe05, 0x0000, 0x3c00, 0x0000, 0x7c00, 0x0000, 0x3800};
  fp16::RoundPost post;
  post.summand = s;
  post.relu = false;
  std::uint16_t h[8];
  fp16::round_with_post(y, h, 8, post);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h[i], want[i]) << i;
  // The same values as one 8-channel 1x1 NHWC tensor (one pixel), with the Relu: -0 + 0 = +0 in
  // float32 (element 2) and the NaNs are quieted, not cleared; -1 + 1 = +0.
  const std::uint16_t want_relu[] = {0x7e01, 0xfe05, 0x0000, 0x3c00,
                                     0x0000, 0x7c00, 0x0000, 0x3800};
  post.relu = true;
  fp16::round_nhwc_to_nchw(y, h, 1, 8, 1, post);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h[i], want_relu[i]) << i;
  // Without a summand: -0 rounds to -0 and the Relu keeps it; -2^-25 rounds (tie) to -0, kept.
  const float z[] = {-0.0f, -0x1p-25f, -0x1p-24f, 3.0f};
  const std::uint16_t want_z[] = {0x8000, 0x8000, 0x0000, 0x4200};
  post.summand = nullptr;
  fp16::round_with_post(z, h, 4, post);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h[i], want_z[i]) << i;
}

}  // namespace
}  // namespace dnnfi
