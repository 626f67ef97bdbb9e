// TEMPORARY during parallel development: ops of this group not implemented yet fail at load
// time. Delete each function as its real implementation lands; delete the file when empty.
#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_max_pool(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_average_pool(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_global_average_pool(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_global_max_pool(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }

}  // namespace dnnfi
