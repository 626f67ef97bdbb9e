// Copy this file to add an op (see docs/adding_an_op.md); it is not compiled.
//
// 1. prepare_<op>: validate attributes (allow_attributes first), arity and dtypes; compute output
//    TensorInfos; read shape-like inputs with ctx.require_constant; capture everything the kernel
//    needs by value. Throw via ctx.fail() — never at run time.
// 2. The kernel: const, no exceptions, no heap allocation it keeps; bounds-check every index or
//    shape read from tensor data and return Status::error naming the node on violation.
// 3. Add a row to kOpTable in registry.cpp and the declaration to ops.h.
// 4. Tests: hand-computed goldens in tests/ops/, reference vs optimised if there are two kernels,
//    and the conformance cases for the op must pass.
#include "ops/ops.h"

namespace dnnfi {

Prepared prepare_myop(const PrepareContext& ctx) {
  ctx.allow_attributes({"alpha"});
  ctx.require_inputs(1, 1);
  ctx.require_dtype(0, {DType::kFloat32});
  const float alpha = ctx.attr_float("alpha", 1.0f);
  Prepared p;
  p.outputs = {ctx.input(0)};
  p.kernel = make_kernel([alpha](std::span<const Tensor* const> in, std::span<Tensor* const> out) {
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    for (std::int64_t i = 0, n = in[0]->numel(); i < n; ++i) y[i] = alpha * x[i];
    return Status::ok();
  });
  return p;
}

}  // namespace dnnfi
