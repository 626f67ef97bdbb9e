// The tensor-callback fault model (FaultModelKind::kTensorCallback): a user function that corrupts
// a site's whole tensor in place, as the Python package's custom faults do.
#include <gtest/gtest.h>

#include <stdexcept>

#include "common/fixtures.h"
#include "core/error.h"
#include "fi/fault_model.h"
#include "fi/injector.h"

namespace dnnfi {
namespace {

TEST(TensorCallback, RecordsTheSiteElementBeforeAndAfter) {
  Tensor t = make_tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  FaultModel m{FaultModelKind::kTensorCallback};
  EXPECT_THROW(validate_fault_model(m, DType::kFloat32), InputError);
  m.tensor_callback = [](Tensor& x) {
    for (float& f : x.span<float>()) f *= -2.0f;
    x = Tensor(DType::kInt8, {1});  // rebinding the argument leaves the faulted tensor alone
  };
  validate_fault_model(m, DType::kFloat32);
  const AppliedFault a = apply_fault_model_at(m, t, 4);
  EXPECT_EQ(a.dtype, DType::kFloat32);
  EXPECT_EQ(a.value_before, 5.0);
  EXPECT_EQ(a.value_after, -10.0);
  EXPECT_EQ(a.bits_before, 0x40A00000u);
  EXPECT_EQ(a.bits_after, 0xC1200000u);
  ASSERT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.data<float>()[0], -2.0f);
  EXPECT_EQ(t.data<float>()[5], -12.0f);
  EXPECT_EQ(fault_model_kind_name(FaultModelKind::kTensorCallback), "tensor_callback");
}

TEST(TensorCallback, ElementKindsThroughApplyAt) {
  Tensor t = make_tensor<float>({3}, {1, 1, 1});
  const AppliedFault a = apply_fault_model_at(FaultModel{FaultModelKind::kBitFlip, {31}}, t, 1);
  EXPECT_EQ(a.value_after, -1.0);
  EXPECT_EQ(t.data<float>()[0], 1.0f);
  EXPECT_EQ(t.data<float>()[1], -1.0f);
}

// Zeroing a whole node output with a callback gives the same trial, in every strategy, as one
// kSetZero fault per element; the golden run is never touched.
TEST(TensorCallback, SameAsElementFaultsInEveryStrategy) {
  test::LoadedFixture fx = test::load_for_injection(test::default_model_fixture());
  const std::string node = "/stem/stem.2/Relu";
  const FaultSite site = fx.injector->site_by_name(node, 7);
  const Tensor golden_copy = fx.golden.store[site.value].clone();
  int calls = 0;
  Fault cb{site, FaultModel{FaultModelKind::kTensorCallback}};
  cb.model.tensor_callback = [&](Tensor& x) {
    ++calls;
    EXPECT_EQ(x.shape(), fx.session->info(site.value).shape);
    for (float& f : x.span<float>()) f = 0.0f;
  };
  std::vector<Fault> zeros;
  for (std::int64_t i = 0; i < fx.session->info(site.value).numel(); ++i) {
    zeros.push_back(
        Fault{fx.injector->site_by_name(node, i), FaultModel{FaultModelKind::kSetZero}});
  }
  TrialOptions o;
  o.keep_outputs = true;
  TrialWorkspace ws;
  for (Strategy s : {Strategy::kCone, Strategy::kSuperlayer, Strategy::kFull}) {
    o.strategy = s;
    const TrialResult a = fx.injector->run_trial(fx.golden, {&cb, 1}, o, ws);
    const TrialResult b = fx.injector->run_trial(fx.golden, zeros, o, ws);
    ASSERT_EQ(a.outputs.size(), 1u);
    EXPECT_TRUE(a.outputs[0].bit_equal(b.outputs[0])) << strategy_name(s);
    EXPECT_EQ(a.outcome, b.outcome);
    ASSERT_EQ(a.applied.size(), 1u);
    EXPECT_EQ(a.applied[0].value_before, golden_copy.get_as_double(7));
    EXPECT_EQ(a.applied[0].value_after, 0.0);
    EXPECT_NE(a.outcome, Outcome::kMasked);  // a whole activation zeroed changes the logits
  }
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(fx.golden.store[site.value].bit_equal(golden_copy));
}

// A callback that throws: the exception leaves run_trial, and the workspace still gives the
// fault-free answer next time.
TEST(TensorCallback, ThrowLeavesTheWorkspaceUsable) {
  test::LoadedFixture fx = test::load_for_injection(test::default_model_fixture());
  Fault bad{fx.injector->site_by_name("/stem/stem.2/Relu", 0),
            FaultModel{FaultModelKind::kTensorCallback}};
  bad.model.tensor_callback = [](Tensor& x) {
    for (float& f : x.span<float>()) f = 1e30f;
    throw std::runtime_error("user code failed");
  };
  TrialOptions o;
  o.keep_outputs = true;
  TrialWorkspace ws;
  EXPECT_THROW(fx.injector->run_trial(fx.golden, {&bad, 1}, o, ws), std::runtime_error);
  // A fault that writes the golden value back changes nothing: masked, outputs as golden.
  const Graph& g = fx.session->graph();
  Fault same{bad.site, FaultModel{FaultModelKind::kSetValue}};
  same.model.value = fx.golden.store[bad.site.value].get_as_double(0);
  const TrialResult r = fx.injector->run_trial(fx.golden, {&same, 1}, o, ws);
  EXPECT_EQ(r.outcome, Outcome::kMasked);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].bit_equal(fx.golden.store[g.outputs[0]]));
}

}  // namespace
}  // namespace dnnfi
