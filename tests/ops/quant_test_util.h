// Helpers shared by the quantization op tests (test_quantize.cpp, test_quantize_kernels.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "common/op_runner.h"
#include "ops/kernel_harness.h"

namespace dnnfi::quant_test {

using test::OpCall;
using test::run_op;

using U8 = std::uint8_t;
using I8 = std::int8_t;

template <typename T>
inline std::vector<T> values(const Tensor& t) {
  return {t.data<T>(), t.data<T>() + t.numel()};
}

inline Tensor f32(Shape s, std::vector<float> v) { return make_tensor<float>(std::move(s), v); }
inline Tensor u8(Shape s, std::vector<U8> v) { return make_tensor<U8>(std::move(s), v); }
inline Tensor i8(Shape s, std::vector<I8> v) { return make_tensor<I8>(std::move(s), v); }
inline Tensor i32(Shape s, std::vector<std::int32_t> v) {
  return make_tensor<std::int32_t>(std::move(s), v);
}
inline Tensor scalar_f32(float v) { return f32({}, {v}); }

// Runs with the reference and the optimised kernels (the same kernel for these ops: the check
// keeps holding if an optimised one is added) and returns output `i` of the last run after
// checking both agree bit for bit.
inline Tensor run_both(OpCall call, std::size_t i = 0) {
  call.reference = true;
  test::OpResult ref = run_op(call);
  EXPECT_TRUE(ref.status.is_ok()) << ref.status.message();
  call.reference = false;
  test::OpResult opt = run_op(call);
  EXPECT_TRUE(opt.status.is_ok()) << opt.status.message();
  EXPECT_TRUE(opt.outputs.at(i).bit_equal(ref.outputs.at(i)));
  return opt.outputs.at(i);
}

template <typename T>
inline Tensor random_int(Shape shape, std::mt19937& gen) {
  Tensor t(dtype_of<T>(), std::move(shape));
  std::uniform_int_distribution<int> d(std::numeric_limits<T>::lowest(),
                                       std::numeric_limits<T>::max());
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(d(gen));
  return t;
}

}  // namespace dnnfi::quant_test
