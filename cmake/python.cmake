# Decides whether the Python package is built (DNNFI_PYTHON: AUTO, ON or OFF) and finds Python 3
# and pybind11 for it. Sets DNNFI_PYTHON_ENABLED and, when enabled, DNNFI_PYTHON_INSTALL_DIR.
#
# The interpreter is Debian's /usr/bin/python3 unless Python3_EXECUTABLE says otherwise, so that a
# python3 earlier on PATH (pyenv, a venv) does not get an extension built for its own headers.
set(DNNFI_PYTHON_ENABLED OFF)
string(TOUPPER "${DNNFI_PYTHON}" _dnnfi_python)
if(NOT _dnnfi_python MATCHES "^(AUTO|ON|OFF|TRUE|FALSE|YES|NO|1|0)$")
  message(FATAL_ERROR "DNNFI_PYTHON must be AUTO, ON or OFF (got '${DNNFI_PYTHON}')")
endif()
if(_dnnfi_python MATCHES "^(OFF|FALSE|NO|0)$")
  return()
endif()
if(DNNFI_SANITIZE OR DNNFI_FUZZ)
  if(_dnnfi_python STREQUAL "AUTO")
    message(STATUS "dnnfi: Python package skipped in a sanitizer build (python3 cannot load an "
                   "ASan-instrumented extension without LD_PRELOAD)")
    return()
  endif()
  message(FATAL_ERROR "DNNFI_PYTHON=ON cannot be combined with DNNFI_SANITIZE or DNNFI_FUZZ: "
                      "python3 cannot load an ASan-instrumented extension without LD_PRELOAD")
endif()

if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "The Python the package is built for")
endif()
find_package(Python3 COMPONENTS Interpreter Development.Module QUIET)
if(Python3_FOUND)
  find_package(pybind11 CONFIG QUIET)
endif()
if(NOT Python3_FOUND OR NOT pybind11_FOUND)
  if(_dnnfi_python STREQUAL "AUTO")
    message(STATUS "dnnfi: Python package skipped: needs python3-dev and pybind11-dev "
                   "(bash scripts/install_deps.sh installs them)")
    return()
  endif()
  message(FATAL_ERROR "DNNFI_PYTHON=ON needs Python 3 development files and pybind11 "
                      "(apt-get install python3-dev pybind11-dev python3-numpy)")
endif()

# Where `cmake --install BUILD --component python` puts the package: the interpreter's
# site-packages for modules installed by root outside Debian's packages
# (/usr/local/lib/python3.11/dist-packages on Debian 12), or the user's site-packages when the
# build runs as another user.
string(CONCAT _dnnfi_site_py "import os, site, sysconfig; print(sysconfig.get_path('platlib') "
       "if os.geteuid() == 0 else site.getusersitepackages())")
execute_process(
  COMMAND "${Python3_EXECUTABLE}" -c "${_dnnfi_site_py}"
  OUTPUT_VARIABLE _dnnfi_site OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _dnnfi_site_rc)
if(NOT _dnnfi_site_rc EQUAL 0 OR _dnnfi_site STREQUAL "")
  set(_dnnfi_site "${Python3_SITEARCH}")
endif()
set(DNNFI_PYTHON_INSTALL_DIR "${_dnnfi_site}" CACHE PATH
    "Where the python install component puts the dnnfi package")
set(DNNFI_PYTHON_ENABLED ON)
message(STATUS "dnnfi: Python package for ${Python3_EXECUTABLE} (${Python3_VERSION}); "
               "install dir ${DNNFI_PYTHON_INSTALL_DIR}")
