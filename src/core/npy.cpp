#include "core/npy.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/file_bytes.h"

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

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 4), } padded with spaces and a newline. It is parsed strictly: exactly these three
// keys, a quoted descr, a True/False fortran_order, and a tuple of non-negative integers.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr" && !have_descr) {
        h.descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order" && !have_fortran) {
        h.fortran_order = boolean();
        have_fortran = true;
      } else if (key == "shape" && !have_shape) {
        h.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected or repeated key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail("text after the header dict");
    if (!have_descr || !have_fortran || !have_shape) {
      fail("the header must give 'descr', 'fortran_order' and 'shape'");
    }
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(what_ + ": malformed .npy header at byte " + std::to_string(pos_) + ": " +
                     why);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const auto end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (s_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    fail("expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      std::int64_t d = 0;
      const std::size_t start = pos_;
      while (peek() >= '0' && peek() <= '9') {
        if (pos_ - start >= 15) fail("dimension too large");
        d = d * 10 + (peek() - '0');
        ++pos_;
      }
      if (pos_ == start) fail("a shape holds non-negative integers only");
      shape.push_back(d);
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("a shape holds non-negative integers only");
      }
    }
    ++pos_;
    return shape;
  }

  const std::string& s_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

}  // namespace

namespace {

// Where the header of .npy bytes starting with `head` ends (the data's offset); `head` must hold
// at least the first 12 bytes, or the whole file if it is shorter.
std::size_t npy_data_start(std::string_view head, const std::string& what,
                           std::size_t& header_start) {
  if (head.size() < 10 || std::memcmp(head.data(), "\x93NUMPY", 6) != 0) {
    throw InputError(what + ": not a .npy file");
  }
  const int major = static_cast<unsigned char>(head[6]);
  std::size_t header_len = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(head[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(head[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (head.size() < 12) throw InputError(what + ": truncated .npy header");
    for (int i = 0; i < 4; ++i) {
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(head[8 + i])) << (8 * i);
    }
    header_start = 12;
  } else {
    throw InputError(what + ": unsupported .npy version " + std::to_string(major));
  }
  return header_start + header_len;
}

// The tensor a .npy file of `total` bytes describes, zero-filled, from its first bytes `head`
// (at least up to the data); `data_start` is set to the data's offset. Throws InputError when the
// header is bad or the data's size does not match it.
Tensor npy_tensor(std::string_view head, std::size_t total, const std::string& what,
                  std::size_t& data_start) {
  std::size_t header_start = 0;
  data_start = npy_data_start(head, what, header_start);
  if (data_start > head.size() || data_start > total) {
    throw InputError(what + ": truncated .npy header");
  }
  const std::string header_text(head.substr(header_start, data_start - header_start));
  const NpyHeader header = HeaderParser(header_text, what).parse();
  const std::string& descr = header.descr;
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
  if (header.fortran_order) {
    throw InputError(what + ": Fortran-order .npy arrays are not supported");
  }
  const Shape& shape = header.shape;
  std::int64_t numel = 1;
  for (std::int64_t d : shape) {
    if (d != 0 && numel > (std::int64_t{1} << 40) / d) throw InputError(what + ": array too large");
    numel *= d;
  }
  const std::size_t need = static_cast<std::size_t>(numel) * dtype_size(dtype);
  const std::size_t have = total - data_start;
  if (have != need) {
    throw InputError(what + ": " + (have < need ? "truncated" : "oversized") + " .npy data (" +
                     std::to_string(have) + " bytes, shape " + shape_to_string(shape) + " needs " +
                     std::to_string(need) + ")");
  }
  return Tensor(dtype, shape);
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& what) {
  std::size_t data_start = 0;
  Tensor t = npy_tensor(bytes, bytes.size(), what, data_start);
  if (t.nbytes()) std::memcpy(t.raw(), bytes.data() + data_start, t.nbytes());
  return t;
}

// A regular file's data is read straight into the tensor: no copy of the file in memory.
Tensor load_npy(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool regular = fs::is_regular_file(path, ec);
  const std::uintmax_t size = regular ? fs::file_size(path, ec) : 0;
  if (!regular || ec || size == 0) {  // a pipe or device, or an empty file
    std::string bytes;
    if (!read_file_bytes(path, bytes)) throw InputError(path + ": cannot open file");
    return parse_npy(bytes, path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open file");
  auto read = [&](std::string& head, std::size_t n) {
    const std::size_t from = head.size();
    head.resize(n);
    if (!in.read(head.data() + from, static_cast<std::streamsize>(n - from))) {
      throw InputError(path + ": cannot read file");
    }
  };
  const auto total = static_cast<std::size_t>(size);
  std::string head;
  read(head, std::min<std::size_t>(total, 12));
  std::size_t header_start = 0;
  const std::size_t data_start = npy_data_start(head, path, header_start);
  if (data_start > total) throw InputError(path + ": truncated .npy header");
  read(head, data_start);
  std::size_t start = 0;
  Tensor t = npy_tensor(head, total, path, start);
  if (t.nbytes() &&
      !in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()))) {
    throw InputError(path + ": cannot read file");
  }
  return t;
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
