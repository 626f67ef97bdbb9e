// Statistics for campaign results: binomial proportions with Wilson score intervals.
#pragma once

#include <cstdint>

namespace dnnfi {

struct Proportion {
  std::int64_t k = 0;
  std::int64_t n = 0;
  double p = 0.0;   // k / n (0 when n == 0)
  double lo = 0.0;  // Wilson score interval at confidence `z` (1.96: 95%)
  double hi = 1.0;
  double half_width() const { return (hi - lo) / 2.0; }
};

// k successes in n trials (0 <= k <= n). n == 0 gives p = 0 and the uninformative [0, 1].
Proportion wilson(std::int64_t k, std::int64_t n, double z = 1.959963984540054);

}  // namespace dnnfi
