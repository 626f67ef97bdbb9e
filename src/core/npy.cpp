#include "core/npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace dnnfi {

namespace {

struct DescrEntry {
  const char* descr;
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16},
    {"|i1", DType::kInt8},    {"|u1", DType::kUInt8},   {"<i2", DType::kInt16},
    {"<u2", DType::kUInt16},  {"<i4", DType::kInt32},   {"<u4", DType::kUInt32},
    {"<i8", DType::kInt64},   {"<u8", DType::kUInt64},  {"|b1", DType::kBool},
};

// Value of `key` in the header dict, as the raw text up to the next top-level comma/brace.
std::string header_field(const std::string& header, const std::string& key,
                         const std::string& what) {
  const std::string k = "'" + key + "'";
  const auto pos = header.find(k);
  if (pos == std::string::npos) throw InputError(what + ": .npy header lacks '" + key + "'");
  auto p = header.find(':', pos + k.size());
  if (p == std::string::npos) throw InputError(what + ": malformed .npy header");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p < header.size() && header[p] == '(') {
    const auto end = header.find(')', p);
    if (end == std::string::npos) throw InputError(what + ": malformed .npy shape");
    return header.substr(p, end - p + 1);
  }
  auto end = p;
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(p, end - p);
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    throw InputError(what + ": not a .npy file");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0;
  std::size_t header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw InputError(what + ": truncated .npy header");
    for (int i = 0; i < 4; ++i) {
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    }
    header_start = 12;
  } else {
    throw InputError(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) throw InputError(what + ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_len);
  std::string descr = header_field(header, "descr", what);
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) {
    descr = descr.substr(1, descr.size() - 2);
  }
  DType dtype = DType::kUndefined;
  for (const auto& e : kDescrs) {
    if (descr == e.descr) dtype = e.dtype;
  }
  if (descr == "<i1" || descr == "i1") dtype = DType::kInt8;
  if (descr == "<u1" || descr == "u1") dtype = DType::kUInt8;
  if (descr == "<b1") dtype = DType::kBool;
  if (dtype == DType::kUndefined) {
    throw InputError(what + ": unsupported .npy dtype '" + descr + "'");
  }
  const std::string fortran = header_field(header, "fortran_order", what);
  if (fortran.find("True") != std::string::npos) {
    throw InputError(what + ": Fortran-order .npy arrays are not supported");
  }
  const std::string shape_text = header_field(header, "shape", what);
  Shape shape;
  std::string num;
  for (char c : shape_text) {
    if (c >= '0' && c <= '9') {
      num += c;
    } else if (!num.empty()) {
      if (num.size() > 15) throw InputError(what + ": .npy dimension too large");
      shape.push_back(std::stoll(num));
      num.clear();
    } else if (c == '-') {
      throw InputError(what + ": negative .npy dimension");
    }
  }
  std::int64_t numel = 1;
  for (std::int64_t d : shape) {
    if (d != 0 && numel > (std::int64_t{1} << 40) / d) throw InputError(what + ": array too large");
    numel *= d;
  }
  const std::size_t data_start = header_start + header_len;
  const std::size_t need = static_cast<std::size_t>(numel) * dtype_size(dtype);
  if (bytes.size() - data_start < need) {
    throw InputError(what + ": truncated .npy data (" + std::to_string(bytes.size() - data_start) +
                     " bytes, shape " + shape_to_string(shape) + " needs " + std::to_string(need) +
                     ")");
  }
  Tensor t(dtype, shape);
  if (need) std::memcpy(t.raw(), bytes.data() + data_start, need);
  return t;
}

Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_npy(ss.str(), path);
}

std::string serialize_npy(const Tensor& t) {
  std::string descr;
  for (const auto& e : kDescrs) {
    if (e.dtype == t.dtype()) descr = e.descr;
  }
  if (t.dtype() == DType::kBFloat16) descr = "<u2";  // NumPy has no bfloat16: raw bits
  std::string shape = "(";
  for (std::size_t i = 0; i < t.rank(); ++i) {
    shape += std::to_string(t.dim(i));
    shape += t.rank() == 1 ? "," : (i + 1 < t.rank() ? ", " : "");
  }
  shape += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so that the data starts on a 64-byte boundary, header ends with '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  const std::string bytes = serialize_npy(t);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path + ": cannot write file");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw InputError(path + ": write failed");
}

}  // namespace dnnfi
