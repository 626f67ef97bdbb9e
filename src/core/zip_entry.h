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

// The largest zip entry a reader accepts by default.
inline constexpr std::size_t kMaxZipEntryBytes = std::size_t{1} << 34;

// Reads the entry at `index`; throws Err (a dnnfi::Error subclass) whose message starts with
// `what` when it cannot be read, is corrupt, or declares or inflates to more than max_bytes.
template <typename Err>
std::string read_zip_entry(zip_t* z, zip_uint64_t index, const std::string& what,
                           std::size_t max_bytes = kMaxZipEntryBytes) {
  struct Closer {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
  };
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z, index, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && st.size > max_bytes) {
    throw Err(what + " too large (" + std::to_string(st.size) + " bytes declared, limit " +
              std::to_string(max_bytes) + ")");
  }
  std::unique_ptr<zip_file_t, Closer> f(zip_fopen_index(z, index, 0));
  if (!f) throw Err(what + ": cannot open the archive entry (" + zip_strerror(z) + ")");
  std::string bytes;
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::size_t got = 0;
  while (true) {
    if (bytes.size() - got < kChunk) bytes.resize(std::min(got + kChunk, max_bytes + 1));
    if (got > max_bytes) {
      throw Err(what + ": archive entry inflates past " + std::to_string(max_bytes) + " bytes");
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
