// The extension module dnnfi._dnnfi. The pure-Python package (python/dnnfi) is the public API;
// this module holds the C++ side: Model, Golden, Campaign, and the exception classes, which
// mirror core/error.h (dnnfi.Error > LoadError, NodeError > UnsupportedError, InputError) and
// carry the one-line message the CLI prints after "dnnfi: error: ".
#include <pybind11/pybind11.h>

#include "core/error.h"
#include "py_campaign.h"
#include "py_model.h"

namespace py = pybind11;

PYBIND11_MODULE(_dnnfi, m) {
  m.doc() = "C++ core of the dnnfi package (use the dnnfi package, not this module)";
  m.attr("__version__") = DNNFI_VERSION;
  // pybind11 tries translators newest first, so subclasses are registered after their bases.
  auto error = py::register_exception<dnnfi::Error>(m, "Error", PyExc_Exception);
  py::register_exception<dnnfi::LoadError>(m, "LoadError", error);
  auto node_error = py::register_exception<dnnfi::NodeError>(m, "NodeError", error);
  py::register_exception<dnnfi::InputError>(m, "InputError", error);
  py::register_exception<dnnfi::UnsupportedError>(m, "UnsupportedError", node_error);
  dnnfi::python::bind_model(m);
  dnnfi::python::bind_campaign(m);
}
