// TEMPORARY during parallel development: ops of this group not implemented yet fail at load
// time. Delete each function as its real implementation lands; delete the file when empty.
#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_relu(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_leaky_relu(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_clip(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_sigmoid(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_tanh(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_hard_sigmoid(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_hard_swish(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_elu(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_selu(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_softplus(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_sqrt(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_exp(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_log(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_neg(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_abs(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_erf(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_reciprocal(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_not(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_identity(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_dropout(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_cast(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }

}  // namespace dnnfi
