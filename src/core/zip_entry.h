// Reading one entry of a zip archive (libzip) without trusting its declared size: the buffer grows
// with the bytes that actually inflate, up to a limit, so a lying header or a zip bomb costs no
// more memory than the data that is really there (npz datasets, Keras 3 .keras files).
#pragma once

#include <zip.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

namespace dnnfi {

// The largest zip entry a reader accepts.
inline constexpr std::size_t kMaxZipEntryBytes = std::size_t{1} << 34;

// Reads the entry at `index`; throws Err (a dnnfi::Error subclass) whose message starts with
// `what` when it cannot be read, is corrupt, or inflates past kMaxZipEntryBytes.
template <typename Err>
std::string read_zip_entry(zip_t* z, zip_uint64_t index, const std::string& what) {
  struct Closer {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
  };
  std::unique_ptr<zip_file_t, Closer> f(zip_fopen_index(z, index, 0));
  if (!f) throw Err(what + ": cannot open the archive entry (" + zip_strerror(z) + ")");
  std::string bytes;
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::size_t got = 0;
  while (true) {
    if (bytes.size() - got < kChunk) bytes.resize(std::min(got + kChunk, kMaxZipEntryBytes + 1));
    if (got > kMaxZipEntryBytes) {
      throw Err(what + ": archive entry inflates past " + std::to_string(kMaxZipEntryBytes) +
                " bytes");
    }
    const zip_int64_t n = zip_fread(f.get(), bytes.data() + got, bytes.size() - got);
    if (n < 0) throw Err(what + ": corrupt archive entry (" + zip_file_strerror(f.get()) + ")");
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

}  // namespace dnnfi
