// Output comparison with the ONNX backend test runner's semantics
// (onnx/backend/test/runner: assert_similar_outputs -> numpy.testing.assert_allclose).
#pragma once

#include <string>

#include "core/tensor.h"

namespace dnnfi::conformance {

// The runner's defaults (onnx/backend/test/loader: rtol = 1e-3, atol = 1e-7).
inline constexpr double kRtol = 1e-3;
inline constexpr double kAtol = 1e-7;

// "" when `actual` matches `expected`, else one line naming the first mismatch. Dtype and shape
// must be equal. Floating dtypes: |actual - expected| <= atol + rtol * |expected| elementwise,
// NaN matches NaN, an infinity matches only the same infinity. Integer and bool dtypes: exact.
std::string compare_outputs(const Tensor& actual, const Tensor& expected, double rtol = kRtol,
                            double atol = kAtol);

}  // namespace dnnfi::conformance
