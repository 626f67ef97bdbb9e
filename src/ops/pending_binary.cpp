// TEMPORARY during parallel development: ops of this group not implemented yet fail at load
// time. Delete each function as its real implementation lands; delete the file when empty.
#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_add(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_sub(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_mul(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_div(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_pow(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_min(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_max(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_sum(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_mean(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_equal(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_less(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_greater(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_where(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_prelu(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }

}  // namespace dnnfi
