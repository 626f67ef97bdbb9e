// Fault models on every dtype: exact bit patterns (bit 0 = least significant bit).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "fi/fault_model.h"

namespace dnnfi {
namespace {

FaultModel flip(std::vector<int> bits) {
  return FaultModel{FaultModelKind::kBitFlip, std::move(bits)};
}

template <typename T>
T apply(const FaultModel& m, DType dt, T v, AppliedFault* rec = nullptr) {
  validate_fault_model(m, dt);
  AppliedFault a = apply_fault_model(m, dt, &v);
  if (rec) *rec = a;
  return v;
}

TEST(FaultModels, Float32BitFlips) {
  AppliedFault rec;
  EXPECT_EQ(apply(flip({31}), DType::kFloat32, 1.0f, &rec), -1.0f);
  EXPECT_EQ(rec.bits_before, 0x3F800000u);
  EXPECT_EQ(rec.bits_after, 0xBF800000u);
  EXPECT_EQ(rec.value_before, 1.0);
  EXPECT_EQ(rec.value_after, -1.0);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(apply(flip({0}), DType::kFloat32, 1.0f)), 0x3F800001u);
  // Bit 30 is the exponent's top bit: 1.0 (0x3F800000) -> 0x7F800000 = +Inf.
  EXPECT_TRUE(std::isinf(apply(flip({30}), DType::kFloat32, 1.0f)));
  // 0.5 (0x3F000000) -> 0x7F000000 = 2^127
  EXPECT_EQ(apply(flip({30}), DType::kFloat32, 0.5f), std::ldexp(1.0f, 127));
  // 2.0 (0x40000000) -> bit 30 cleared -> 0.0
  EXPECT_EQ(apply(flip({30}), DType::kFloat32, 2.0f), 0.0f);
  // Two bits at once: sign and bit 23 (exponent LSB) of 1.0 -> -0.5
  EXPECT_EQ(apply(flip({31, 23}), DType::kFloat32, 1.0f), -0.5f);
}

TEST(FaultModels, Float16AndBFloat16) {
  // fp16 1.0 = 0x3C00; sign bit 15.
  EXPECT_EQ(apply<std::uint16_t>(flip({15}), DType::kFloat16, 0x3C00), 0xBC00);
  AppliedFault rec;
  apply<std::uint16_t>(flip({14}), DType::kFloat16, 0x3C00, &rec);  // -> 0x7C00 = +Inf
  EXPECT_TRUE(std::isinf(rec.value_after));
  EXPECT_EQ(rec.value_before, 1.0);
  // bf16 1.0 = 0x3F80; bit 14 -> 0x7F80 = +Inf
  apply<std::uint16_t>(flip({14}), DType::kBFloat16, 0x3F80, &rec);
  EXPECT_EQ(rec.bits_after, 0x7F80u);
  EXPECT_TRUE(std::isinf(rec.value_after));
  EXPECT_THROW(validate_fault_model(flip({16}), DType::kFloat16), InputError);
}

TEST(FaultModels, Float64) {
  EXPECT_EQ(apply(flip({63}), DType::kFloat64, 1.0), -1.0);
  EXPECT_EQ(apply(flip({52}), DType::kFloat64, 1.0), 0.5);  // exponent LSB
  EXPECT_EQ(std::bit_cast<std::uint64_t>(apply(flip({0}), DType::kFloat64, 1.0)),
            0x3FF0000000000001ull);
}

TEST(FaultModels, Integers) {
  EXPECT_EQ(apply<std::int8_t>(flip({7}), DType::kInt8, 5), -123);
  EXPECT_EQ(apply<std::uint8_t>(flip({7}), DType::kUInt8, 5), 133);
  EXPECT_EQ(apply<std::int32_t>(flip({31}), DType::kInt32, 1), INT32_MIN + 1);
  EXPECT_EQ(apply<std::int64_t>(flip({62}), DType::kInt64, 0), std::int64_t{1} << 62);
  EXPECT_EQ(apply<std::int64_t>(flip({0, 1}), DType::kInt64, 4), 7);
  EXPECT_THROW(validate_fault_model(flip({8}), DType::kInt8), InputError);
  EXPECT_THROW(validate_fault_model(flip({-1}), DType::kInt32), InputError);
  EXPECT_NO_THROW(validate_fault_model(flip({63}), DType::kInt64));
}

TEST(FaultModels, StuckAtZeroValue) {
  FaultModel s0{FaultModelKind::kStuckAt0, {31, 30}};
  FaultModel s1{FaultModelKind::kStuckAt1, {31}};
  EXPECT_EQ(apply(s0, DType::kFloat32, -2.0f), 0.0f);   // 0xC0000000 -> 0
  EXPECT_EQ(apply(s0, DType::kFloat32, 1.0f), 1.0f);    // bits already 0 / 1: bit 30 of 1.0 is 0
  EXPECT_EQ(apply(s1, DType::kFloat32, -3.0f), -3.0f);  // already set: unchanged
  EXPECT_EQ(apply(s1, DType::kFloat32, 3.0f), -3.0f);
  EXPECT_EQ(apply<std::uint8_t>(FaultModel{FaultModelKind::kStuckAt1, {0, 1}}, DType::kUInt8, 4),
            7);
  EXPECT_EQ(apply(FaultModel{FaultModelKind::kSetZero}, DType::kFloat32, -7.5f), 0.0f);
  EXPECT_FALSE(std::signbit(apply(FaultModel{FaultModelKind::kSetZero}, DType::kFloat32, -7.5f)));
  FaultModel v{FaultModelKind::kSetValue};
  v.value = 1000.0;
  EXPECT_EQ(apply<std::int8_t>(v, DType::kInt8, 0), 127);  // saturates
  EXPECT_EQ(apply(v, DType::kFloat32, 0.0f), 1000.0f);
  EXPECT_EQ(apply<std::uint16_t>(v, DType::kFloat16, 0), float_to_half(1000.0f));
  v.value = -1.0;
  EXPECT_EQ(apply<std::uint32_t>(v, DType::kUInt32, 5), 0u);
  v.value = std::nan("");
  EXPECT_EQ(apply<std::int32_t>(v, DType::kInt32, 5), 0);
  EXPECT_TRUE(std::isnan(apply(v, DType::kFloat32, 0.0f)));
}

TEST(FaultModels, RandomValueIsSeededAndInRange) {
  FaultModel r{FaultModelKind::kRandomValue};
  r.lo = -2.0;
  r.hi = 3.0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    r.seed = seed;
    const float a = apply(r, DType::kFloat32, 0.0f);
    const float b = apply(r, DType::kFloat32, 100.0f);
    EXPECT_EQ(a, b);
    EXPECT_GE(a, -2.0f);
    EXPECT_LE(a, 3.0f);
  }
  r.seed = 1;
  const float x = apply(r, DType::kFloat32, 0.0f);
  r.seed = 2;
  EXPECT_NE(apply(r, DType::kFloat32, 0.0f), x);
  r.lo = 5.0;
  r.hi = 1.0;
  EXPECT_THROW(validate_fault_model(r, DType::kFloat32), InputError);
}

TEST(FaultModels, Callback) {
  FaultModel c{FaultModelKind::kCallback};
  EXPECT_THROW(validate_fault_model(c, DType::kFloat32), InputError);
  c.callback = [](DType dt, void* p) {
    ASSERT_EQ(dt, DType::kFloat32);
    float f;
    std::memcpy(&f, p, 4);
    f *= 10.0f;
    std::memcpy(p, &f, 4);
  };
  AppliedFault rec;
  EXPECT_EQ(apply(c, DType::kFloat32, 1.5f, &rec), 15.0f);
  EXPECT_EQ(rec.value_before, 1.5);
  EXPECT_EQ(rec.value_after, 15.0);
}

TEST(FaultModels, Names) {
  for (auto k :
       {FaultModelKind::kBitFlip, FaultModelKind::kStuckAt0, FaultModelKind::kStuckAt1,
        FaultModelKind::kSetZero, FaultModelKind::kSetValue, FaultModelKind::kRandomValue}) {
    EXPECT_EQ(parse_fault_model_kind(fault_model_kind_name(k)), k);
  }
  EXPECT_THROW(parse_fault_model_kind("cosmic"), InputError);
}

}  // namespace
}  // namespace dnnfi
