// The worked examples of include/dnnfi/dnnfi.h and fault.h, as written there.
#include <dnnfi/dnnfi.h>
#include <dnnfi/fault.h>
#include <gtest/gtest.h>

namespace {

TEST(PublicApi, WorkedExamplesRun) {
  const std::string root = std::string(DNNFI_SOURCE_DIR) + "/";
  auto session = dnnfi::Session::create(dnnfi::load_model(root + "models/fmnist_resnet.onnx"));
  std::vector<dnnfi::Tensor> inputs{dnnfi::load_npy(root + "models/fmnist_sample_input.npy")};
  std::vector<dnnfi::Tensor> outputs;
  ASSERT_TRUE(session->run_once(inputs, outputs).is_ok());
  const float* logits = outputs[0].data<float>();
  int best = 0;
  for (int c = 1; c < 10; ++c) {
    if (logits[c] > logits[best]) best = c;
  }
  EXPECT_EQ(best, 9);

  dnnfi::Injector injector(session);
  dnnfi::GoldenRun golden = injector.golden(inputs);
  dnnfi::Fault fault{injector.site_by_name("/stem/stem.2/Relu", 100),
                     dnnfi::FaultModel{dnnfi::FaultModelKind::kBitFlip, {30}}};
  dnnfi::TrialWorkspace ws;
  dnnfi::TrialResult r = injector.run_trial(golden, {&fault, 1}, dnnfi::TrialOptions{}, ws);
  EXPECT_EQ(r.outcome, dnnfi::Outcome::kSDC);
  ASSERT_EQ(r.applied.size(), 1u);
  EXPECT_EQ(r.applied[0].bits_after, r.applied[0].bits_before ^ (1u << 30));

  dnnfi::FaultSampler sampler(*session, dnnfi::SamplerConfig{});
  int changed = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    std::vector<dnnfi::Fault> faults = sampler.sample(42, i);
    changed += injector.run_trial(golden, faults, dnnfi::TrialOptions{}, ws).outcome !=
               dnnfi::Outcome::kMasked;
  }
  EXPECT_GT(changed, 0);
}

}  // namespace
