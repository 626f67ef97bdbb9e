// The PyTorch-exported architecture fixtures under tests/models/data (see its MANIFEST.md) and the
// bundled default model.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "campaign/campaign.h"
#include "fi/injector.h"

namespace dnnfi::test {

struct Fixture {
  std::string name;
  std::string model;     // path to model.onnx
  std::string input;     // input.npy
  std::string expected;  // expected.npy (PyTorch's output)
};

std::vector<Fixture> model_fixtures();
Fixture default_model_fixture();

// A campaign of the bundled default model on `samples` of Debian's Fashion-MNIST test images (0:
// all 10,000) with the model's preprocessing, `trials` trials of the default fault model into
// `out`, one thread, seed 7; without labels unless `labelled`.
CampaignConfig fmnist_campaign_config(const std::string& out, std::int64_t trials,
                                      std::int64_t samples, bool labelled = true);

// A fixture prepared for fault injection: session (for the input's shape), injector, golden run.
struct LoadedFixture {
  std::shared_ptr<const Session> session;
  std::unique_ptr<Injector> injector;
  GoldenRun golden;
};
// channels_last: a channels-last fault-injection session (SessionOptions::channels_last).
LoadedFixture load_for_injection(const Fixture& f, bool channels_last = false);

// A fault at a random element of a random float32 value of the session (node outputs, folded
// ones included, weights, graph inputs); its model is left to the caller, which draws it from
// `gen` next.
Fault random_fp32_site_fault(const Session& s, std::mt19937_64& gen);

// Bit flips on random elements of the values of dtype `dtype` (activations and weights alike),
// each run with the cone, superlayer and full strategies, which must agree bit for bit on the
// outputs and the outcome (reported as gtest failures); each applied flip must change exactly the
// drawn bit of a `dtype` value. Odd trials flip `odd_trial_bit`, even ones a random bit of the
// dtype's width (a high exponent bit on every other trial makes sure faults are not all masked).
// Also checks that a bit one past the width is refused. Returns what the trials did.
struct BitFlipTally {
  int trials = 0;
  int weights = 0;     // `dtype` initializers among the sites
  int not_masked = 0;  // trials whose outcome is not kMasked
  int weight_sdc = 0;  // ... of which the fault was on a weight
};
BitFlipTally check_bit_flips_cone_equals_full(const LoadedFixture& l, DType dtype, int trials,
                                              int odd_trial_bit, std::uint64_t seed);

// Runs the session `make` builds on `input` as a plain session, with the reference kernels, fused
// and channels-last (what `dnnfi run` prepares) and on two threads, and checks each float32
// output against `expected`: max abs difference <= rel_tol * max|expected|, the same top-1 (gtest
// failures). Records each difference as a test property named after `oracle`.
void expect_session_variants_match(
    const std::function<std::shared_ptr<const Session>(SessionOptions)>& make, const Tensor& input,
    const Tensor& expected, double rel_tol, const std::string& oracle);

// A 16-bit float tensor (float16 or bfloat16) from its bit patterns, and one element's bits.
Tensor tensor_from_bits16(DType dtype, Shape shape, const std::vector<std::uint16_t>& bits);
std::uint16_t bits16_at(const Tensor& t, std::int64_t i);

}  // namespace dnnfi::test
