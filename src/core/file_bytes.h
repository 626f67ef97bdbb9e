// Whole-file reads for the model and data loaders.
#pragma once

#include <cstddef>
#include <string>

namespace dnnfi {

// Reads all of `path` into `out` in one allocation (the size is taken from the file; a file
// whose size cannot be taken, such as a pipe, is read as a stream). False when it cannot be opened
// or read, or is a directory; the caller names the error.
bool read_file_bytes(const std::string& path, std::string& out);

// A regular file's bytes mapped read-only, its pages mapped up front: a parser reads the file in
// place, with no copy of it and no page fault per 4 KiB. Empty (ok() false) when the file cannot
// be mapped: not a regular file, empty, or refused by the system; callers then read it as a
// stream. The mapping is released with the object.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  bool ok() const { return data_ != nullptr; }
  const char* data() const { return static_cast<const char*>(data_); }
  std::size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dnnfi
