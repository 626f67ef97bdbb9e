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
#include "ops/registry.h"

namespace dnnfi::test {

class PreparedOp {
 public:
  explicit PreparedOp(const OpCall& call) : call_(call) {
    node_.name = "test_" + call.op_type;
    node_.op_type = call.op_type;
    node_.attributes = call.attributes;
    std::vector<TensorInfo> infos;
    std::vector<const Tensor*> constants;
    for (std::size_t i = 0; i < call_.inputs.size(); ++i) {
      const auto& in = call_.inputs[i];
      infos.push_back(in ? in->info() : TensorInfo{});
      const bool is_const = i < call_.constant.size() ? call_.constant[i] : i > 0;
      constants.push_back(in && is_const ? &*in : nullptr);
      node_.inputs.push_back(in ? static_cast<int>(i) : kNoValue);
    }
    for (std::size_t i = 0; i < call_.num_outputs; ++i) node_.outputs.push_back(100 + int(i));
    const OpRow* row = find_op("", call_.op_type, call_.opset);
    if (row == nullptr) throw std::runtime_error("op not registered");
    PrepareContext ctx(node_, call_.opset, "test", infos, constants, call_.reference);
    prepared_ = row->prepare(ctx);
  }

  // Runs on fresh outputs; the status must be OK.
  std::vector<Tensor> run() const {
    std::vector<const Tensor*> in;
    for (const auto& t : call_.inputs) in.push_back(t ? &*t : nullptr);
    std::vector<Tensor> outs;
    for (const TensorInfo& info : prepared_.outputs) outs.emplace_back(info.dtype, info.shape);
    std::vector<Tensor*> out;
    for (Tensor& t : outs) out.push_back(&t);
    const Status s = prepared_.kernel->run(in, out);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return outs;
  }

 private:
  OpCall call_;
  Node node_;
  Prepared prepared_;
};

// One prepared kernel run repeatedly at 1 and 2 OpenMP threads, from 3 threads at once: every
// result at a given thread count must be bitwise identical to the first one at that count.
inline void expect_deterministic_concurrent(const OpCall& call) {
  PreparedOp op(call);
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    const std::vector<Tensor> first = op.run();
    std::vector<std::vector<Tensor>> results(3);
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t) {
      workers.emplace_back([&, t] {
        omp_set_num_threads(threads);
        for (int rep = 0; rep < 3; ++rep) results[t] = op.run();
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
