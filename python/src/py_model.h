// dnnfi._dnnfi.Model: one model file, with the sessions the CLI would make for it, created on
// first use per set of input shapes and shared by every Python thread:
//   run()    an inference session as `dnnfi run` makes it (fused, channels-last; planned store),
//            or with golden=True as `dnnfi run --golden` (unfused, every value kept);
//   inject() an unfused session, its Injector and a golden run, as `dnnfi inject` does.
// Every long call releases the GIL. The pure-Python class dnnfi.Model wraps this one.
#pragma once

#include <pybind11/pybind11.h>

namespace dnnfi::python {

void bind_model(pybind11::module_& m);

}  // namespace dnnfi::python
