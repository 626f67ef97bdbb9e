#include <gtest/gtest.h>
#include <sys/stat.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <vector>

#include "common/onnx_builder.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/file_bytes.h"
#include "core/npy.h"
#include "core/tensor.h"

namespace dnnfi {
namespace {

TEST(DType, HalfConversionsExactBitPatterns) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);               // largest finite half
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);               // rounds to +Inf
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // ties to even -> 0
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp ties to even -> 2
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half(std::nanf("")) & 0x7C00, 0x7C00);
  EXPECT_NE(float_to_half(std::nanf("")) & 0x03FF, 0);
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(half_to_float(0xFC00)));
  for (std::uint32_t h = 0; h < 0x10000; ++h) {  // every non-NaN half round-trips
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;
    EXPECT_EQ(float_to_half(half_to_float(static_cast<std::uint16_t>(h))), h) << h;
  }
}

TEST(DType, BFloat16Conversions) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(bfloat16_to_float(0x3F80), 1.0f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (down).
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(3.0f, -8)), 0x3F82);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
}

TEST(Tensor, StridesAndBitEqual) {
  EXPECT_EQ(shape_strides({2, 3, 4}), (std::vector<std::int64_t>{12, 4, 1}));
  EXPECT_EQ(shape_numel({}), 1);
  Tensor a = make_tensor<float>({2}, {1.0f, 2.0f});
  Tensor b = a.clone();
  EXPECT_TRUE(a.bit_equal(b));
  b.data<float>()[1] = -0.0f * 0.0f + 2.0f;
  EXPECT_TRUE(a.bit_equal(b));
  b.data<float>()[0] = std::bit_cast<float>(std::bit_cast<std::uint32_t>(1.0f) ^ 1u);
  EXPECT_FALSE(a.bit_equal(b));
}

TEST(Npy, RoundTripAndErrors) {
  const std::string dir = test::temp_dir("npy");
  Tensor t = make_tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  save_npy(dir + "/a.npy", t);
  Tensor u = load_npy(dir + "/a.npy");
  EXPECT_TRUE(t.bit_equal(u));
  Tensor i = make_tensor<std::int64_t>({3}, {-1, 0, 7});
  save_npy(dir + "/b.npy", i);
  EXPECT_TRUE(i.bit_equal(load_npy(dir + "/b.npy")));
  // Bytes written by numpy 1.24: np.save(f, np.arange(3, dtype=np.float32)).
  const std::string numpy_bytes =
      std::string("\x93NUMPY\x01\x00v\x00", 10) +
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" + std::string(60, ' ') + "\n" +
      std::string("\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40", 12);
  Tensor n = parse_npy(numpy_bytes, "numpy");
  EXPECT_EQ(n.shape(), (Shape{3}));
  EXPECT_EQ(n.data<float>()[2], 2.0f);
  EXPECT_THROW(parse_npy(numpy_bytes.substr(0, numpy_bytes.size() - 1), "cut"), InputError);
  EXPECT_THROW(parse_npy("garbage", "junk"), InputError);
  EXPECT_THROW(load_npy(dir + "/missing.npy"), InputError);
  EXPECT_THROW(load_npy(dir), InputError);  // a directory
  // A pipe has no size to take: it is read as a stream.
  const std::string fifo = dir + "/pipe.npy";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << serialize_npy(t); });
  Tensor p = load_npy(fifo);
  writer.join();
  EXPECT_TRUE(t.bit_equal(p));
  // An empty file reads as empty (and is then not an npy).
  std::ofstream(dir + "/empty.npy").close();
  std::string bytes = "stale";
  EXPECT_TRUE(read_file_bytes(dir + "/empty.npy", bytes));
  EXPECT_EQ(bytes, "");
  EXPECT_FALSE(read_file_bytes(dir + "/missing.npy", bytes));
  std::filesystem::remove_all(dir);
}

// A header dict as numpy writes it, padded to 64 bytes, then `data`.
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header +
         data;
}

std::string npy_error(const std::string& bytes) {
  try {
    parse_npy(bytes, "x.npy");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(Npy, HeaderIsParsedStrictly) {
  const std::string f4x2(8, '\0');
  auto dict = [](const std::string& shape, const std::string& extra = "") {
    return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", " + extra + "}";
  };
  EXPECT_EQ(parse_npy(npy_bytes(dict("(2,)"), f4x2), "ok").shape(), (Shape{2}));
  EXPECT_EQ(parse_npy(npy_bytes(dict("(1, 2)"), f4x2), "ok").shape(), (Shape{1, 2}));
  EXPECT_EQ(parse_npy(npy_bytes(dict("()"), f4x2.substr(4)), "ok").shape(), (Shape{}));
  // Not a tuple, a non-integer dim, a negative dim: once silently read as shape (12) or (3, 5).
  EXPECT_NE(npy_error(npy_bytes(dict("12"), f4x2)).find("x.npy: malformed .npy header"),
            std::string::npos)
      << npy_error(npy_bytes(dict("12"), f4x2));
  EXPECT_NE(npy_error(npy_bytes(dict("(3.5,)"), f4x2)).find("non-negative integers"),
            std::string::npos);
  EXPECT_NE(npy_error(npy_bytes(dict("(-2,)"), f4x2)).find("non-negative integers"),
            std::string::npos);
  EXPECT_NE(npy_error(npy_bytes(dict("(2,)", "'extra': 1, "), f4x2)).find("'extra'"),
            std::string::npos);
  EXPECT_NE(npy_error(npy_bytes("{'descr': '<f4', 'shape': (2,), }", f4x2)).find("fortran_order"),
            std::string::npos);
  EXPECT_NE(npy_error(npy_bytes(dict("(2,)") + " junk", f4x2)).find("after the header"),
            std::string::npos);
  // Data must be exactly what the shape needs: trailing bytes were once ignored.
  EXPECT_NE(npy_error(npy_bytes(dict("(2,)"), f4x2 + "xy")).find("oversized .npy data (10 bytes"),
            std::string::npos)
      << npy_error(npy_bytes(dict("(2,)"), f4x2 + "xy"));
  EXPECT_NE(npy_error(npy_bytes(dict("(3,)"), f4x2)).find("truncated .npy data (8 bytes"),
            std::string::npos);
}

// load_npy reads a regular file's header, then its data straight into the tensor: every file
// gives the tensor or the error its bytes give parse_npy. A 6 MB array takes the mapped,
// kernel-zeroed allocation (core/memory.h) outside sanitizer builds.
TEST(Npy, FilesGiveWhatTheirBytesGive) {
  const std::string dir = test::temp_dir("npy_files");
  const std::string f4x2(8, '\x01');
  auto dict = [](const std::string& shape) {
    return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  };
  const std::string good = npy_bytes(dict("(2,)"), f4x2);
  const std::vector<std::string> cases = {
      good,
      npy_bytes(dict("(2,)"), f4x2 + "xy"),              // oversized
      npy_bytes(dict("(3,)"), f4x2),                     // truncated data
      good.substr(0, 40),                                // truncated header
      good.substr(0, 9),                                 // shorter than a magic and version
      std::string("\x93NUMPY\x07\x00", 8) + "abcdefgh",  // unsupported version
      std::string("\x93NUMPY\x02\x00\xff\xff\x00\x00", 12) + "{",  // v2, header past the end
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string path = dir + "/c" + std::to_string(i) + ".npy";
    std::ofstream(path, std::ios::binary) << cases[i];
    std::string from_bytes, from_file;
    Tensor a, b;
    try {
      a = parse_npy(cases[i], path);
    } catch (const InputError& e) {
      from_bytes = e.what();
    }
    try {
      b = load_npy(path);
    } catch (const InputError& e) {
      from_file = e.what();
    }
    EXPECT_EQ(from_file, from_bytes) << "case " << i;
    EXPECT_TRUE(a.bit_equal(b)) << "case " << i;
  }
  const Tensor c0 = load_npy(dir + "/c0.npy");
  ASSERT_EQ(c0.shape(), (Shape{2}));
  EXPECT_EQ(std::memcmp(c0.raw(), f4x2.data(), 8), 0);
  Tensor big(DType::kFloat32, {3, 512, 1024});
  for (std::int64_t k = 0; k < big.numel(); ++k) {
    big.data<float>()[k] = static_cast<float>((k * 2654435761u) % 1000003u);
  }
  save_npy(dir + "/big.npy", big);
  EXPECT_TRUE(big.bit_equal(load_npy(dir + "/big.npy")));
  Tensor zeros(DType::kFloat32, {3, 512, 1024});  // fresh storage is zero-filled
  for (std::int64_t k = 0; k < zeros.numel(); k += 4099) ASSERT_EQ(zeros.data<float>()[k], 0.0f);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnnfi
