// TEMPORARY during parallel development: ops of this group not implemented yet fail at load
// time. Delete each function as its real implementation lands; delete the file when empty.
#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_batch_normalization(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_lrn(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_softmax(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_log_softmax(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_reduce_mean(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_reduce_sum(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_reduce_max(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_resize(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_upsample(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_argmax(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_layer_normalization(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }
Prepared prepare_instance_normalization(const PrepareContext& ctx) { ctx.fail("not implemented yet"); }

}  // namespace dnnfi
