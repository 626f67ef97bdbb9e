// What an inference-only session fuses into a convolution (see exec/fusion.h): an Add of a tensor
// of the output's shape (a residual connection), then a Relu or Clip. apply() is the reference
// semantics: the convolution's output rounded to float, plus the summand, then the activation, each
// step with the expressions of the separate Add, Relu and Clip kernels.
#pragma once

#include <cstdint>

namespace dnnfi {

struct ConvPostOps {
  enum class Activation { kNone, kRelu, kClip };
  bool sum = false;  // y += s, s being the fused node's 4th input
  Activation activation = Activation::kNone;
  float lo = 0.0f, hi = 0.0f;  // kClip bounds

  bool any() const { return sum || activation != Activation::kNone; }

  // y[i] = act(y[i] + s[i]) for i < n; s is ignored unless sum.
  void apply(float* y, const float* s, std::int64_t n) const {
    if (sum) {
      for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] + s[i];
    }
    if (activation == Activation::kRelu) {
      for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] < 0.0f ? 0.0f : y[i];
    } else if (activation == Activation::kClip) {
      for (std::int64_t i = 0; i < n; ++i) {
        const float v = y[i] < lo ? lo : y[i];
        y[i] = v > hi ? hi : v;
      }
    }
  }
};

}  // namespace dnnfi
