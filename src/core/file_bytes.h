// Whole-file reads for the model and data loaders.
#pragma once

#include <string>

namespace dnnfi {

// Reads all of `path` into `out` in one allocation (the size is taken from the file; a file
// whose size cannot be taken, such as a pipe, is read as a stream). False when it cannot be opened
// or read, or is a directory; the caller names the error.
bool read_file_bytes(const std::string& path, std::string& out);

}  // namespace dnnfi
