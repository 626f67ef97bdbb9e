// Test helper (header-only): prepares an op once and runs the same kernel many times, from several
// threads at several OpenMP thread counts — for the determinism and thread-safety checks of the
// oneDNN-backed kernels (conv, gemm, pool tests).
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/op_runner.h"

namespace dnnfi::test {

// One prepared kernel run repeatedly at 1 and 2 OpenMP threads, from 3 threads at once: every
// result at a given thread count must be bitwise identical to the first one at that count.
inline void expect_deterministic_concurrent(const OpCall& call) {
  PreparedOp op(call);
  auto run = [&] {
    OpResult r = op.run(call.inputs);
    EXPECT_TRUE(r.status.is_ok()) << r.status.message();
    return std::move(r.outputs);
  };
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    const std::vector<Tensor> first = run();
    std::vector<std::vector<Tensor>> results(3);
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t) {
      workers.emplace_back([&, t] {
        omp_set_num_threads(threads);
        for (int rep = 0; rep < 3; ++rep) results[t] = run();
      });
    }
    for (auto& w : workers) w.join();
    for (const auto& r : results) {
      ASSERT_EQ(r.size(), first.size());
      for (std::size_t i = 0; i < r.size(); ++i) {
        EXPECT_TRUE(r[i].bit_equal(first[i])) << "threads=" << threads << " output " << i;
      }
    }
  }
  omp_set_num_threads(1);
}

}  // namespace dnnfi::test
