// Ops whose output shape depends on the values of an input (NonZero, Compress, Unique). Shapes in
// this engine are static — fixed at load time for every trial, which is what lets a fault site
// (node, output, flat index) mean the same element in every run — so these ops cannot be
// supported. Their rows exist so that a model using one fails at load time with that reason
// instead of a bare "unsupported op".
#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_data_dependent_shape(const PrepareContext& ctx) {
  ctx.unsupported("the output shape of " + ctx.node().op_type +
                  " depends on input values (data-dependent shape); this engine needs static "
                  "shapes known at load time");
}

}  // namespace dnnfi
