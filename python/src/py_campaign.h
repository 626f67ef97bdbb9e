// dnnfi._dnnfi.Campaign: a campaign configuration (a YAML file, or YAML text from a Python dict)
// plus the overrides the CLI takes as flags, run by the same run_campaign as `dnnfi campaign`
// into the same results database. run() releases the GIL; its progress callback takes the GIL,
// checks for signals (Ctrl-C) and stops the campaign cleanly, committed trials kept.
#pragma once

#include <pybind11/pybind11.h>

namespace dnnfi::python {

void bind_campaign(pybind11::module_& m);

}  // namespace dnnfi::python
