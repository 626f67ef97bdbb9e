// TEMPORARY during parallel development: ops of this group not implemented yet fail at load
// time. Delete each function as its real implementation lands; delete the file when empty.
#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_concat(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_split(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_slice(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_flatten(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_reshape(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_transpose(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_squeeze(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_unsqueeze(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_pad(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_shape(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_gather(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_constant(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_constant_of_shape(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_expand(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_range(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_tile(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }

}  // namespace dnnfi
