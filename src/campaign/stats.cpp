#include "campaign/stats.h"

#include <algorithm>
#include <cmath>

namespace dnnfi {

// Wilson score interval (Wilson 1927; Agresti & Coull 1998): unlike the normal approximation it
// stays inside [0, 1] and keeps a useful width when k is 0 or n, which is the common case for rare
// outcomes such as SDCs from a single bit.
//   centre = (p + z^2 / 2n) / (1 + z^2 / n)
//   half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
Proportion wilson(std::int64_t k, std::int64_t n, double z) {
  Proportion r;
  r.k = k;
  r.n = n;
  if (n <= 0) return r;  // no data: p = 0, interval [0, 1]
  const double nd = static_cast<double>(n);
  const double p = static_cast<double>(k) / nd;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / nd;
  const double centre = (p + z2 / (2.0 * nd)) / denom;
  const double half = z / denom * std::sqrt(p * (1.0 - p) / nd + z2 / (4.0 * nd * nd));
  r.p = p;
  // At k = 0 (k = n) the bound is exactly 0 (1) in exact arithmetic; rounding would leave 1e-17.
  r.lo = k <= 0 ? 0.0 : std::clamp(centre - half, 0.0, 1.0);
  r.hi = k >= n ? 1.0 : std::clamp(centre + half, 0.0, 1.0);
  return r;
}

}  // namespace dnnfi
