// Runs a libhdf5 reader in a child process. Debian's libhdf5 (1.10) has memory-safety bugs on
// malformed files that dnnfi cannot fix or guard against from outside (fuzz/ found a heap
// overflow in H5G__node_by_idx and leaks on error paths), so the Keras front end never calls
// libhdf5 in the program's own process: a forked child reads the file and sends back what it
// read; if the child crashes, the caller gets a LoadError naming the file instead.
// Internal to src/keras.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "keras/keras_format.h"

namespace dnnfi::keras {

// What a reader takes out of an HDF5 file: the model config text (Keras 2 .h5; empty for a
// Keras 3 weights file) and the weights.
struct H5Contents {
  std::string config;
  Weights weights;
};

// Calls read() in a forked child and returns its result. A dnnfi::Error thrown by read() is
// rethrown here as a LoadError with the same message; a child that dies (signal, sanitizer
// report, out of memory) gives "<what>: corrupt HDF5 file (the HDF5 library crashed reading it:
// ...)", and one still busy after 10 s plus 1 s per 10 MB of file_bytes is killed (libhdf5 can
// loop on malformed files) with a LoadError saying so. With DNNFI_H5_IN_PROCESS=1 in the
// environment read() runs in this process instead (for debugging the reader under a debugger or a
// fuzzer).
H5Contents read_h5_sandboxed(const std::string& what, std::uint64_t file_bytes,
                             const std::function<H5Contents()>& read);

}  // namespace dnnfi::keras
