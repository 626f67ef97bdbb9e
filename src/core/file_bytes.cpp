#include "core/file_bytes.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dnnfi {

bool read_file_bytes(const std::string& path, std::string& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  const std::uintmax_t size = fs::is_regular_file(path, ec) ? fs::file_size(path, ec) : 0;
  if (ec || size == 0) {  // a pipe or device (no size to take), or an empty file
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return !in.bad();
  }
  out.resize(static_cast<std::size_t>(size));
  return static_cast<bool>(in.read(out.data(), static_cast<std::streamsize>(size)));
}

}  // namespace dnnfi
