// Softsign: x / (1 + |x|), elementwise on float tensors (opset 1). Same map kernel as the other
// unary ops (unary_common.h); the one formula serves both the reference and the optimised path.
#include <cmath>

#include "ops/ops.h"
#include "ops/unary_common.h"

namespace dnnfi {

namespace {

struct SoftsignOp {
  static constexpr unsigned kInts = unary::kNoInts;
  template <typename T>
  T ref(T x) const {
    return x / (T(1) + std::fabs(x));
  }
};

}  // namespace

Prepared prepare_softsign(const PrepareContext& ctx) {
  ctx.allow_attributes({});
  return unary::prepare_map(ctx, SoftsignOp{});
}

}  // namespace dnnfi
