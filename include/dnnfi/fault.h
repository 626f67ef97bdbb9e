// dnnfi fault injection: faults as plain values, a seeded sampler, and an Injector that applies
// faults to a golden (fault-free) run and propagates them by one of three strategies with
// bit-identical results (cone: only what the fault reaches; superlayer: TensorFI+'s algorithm;
// full: whole-graph rerun).
//
// Worked example: flip bit 30 (an exponent bit; bit 0 is the least significant) of element 100
// of a ReLU's output and classify the outcome.
//
//   #include <dnnfi/dnnfi.h>
//   #include <dnnfi/fault.h>
//
//   auto session = dnnfi::Session::create(dnnfi::load_model("models/fmnist_resnet.onnx"));
//   dnnfi::Injector injector(session);
//   dnnfi::GoldenRun golden = injector.golden({dnnfi::load_npy("models/fmnist_sample_input.npy")});
//   dnnfi::Fault fault{injector.site_by_name("/stem/stem.2/Relu", 100),
//                      dnnfi::FaultModel{dnnfi::FaultModelKind::kBitFlip, {30}}};
//   dnnfi::TrialWorkspace ws;                       // one per thread, reused across trials
//   dnnfi::TrialResult r = injector.run_trial(golden, {&fault, 1}, dnnfi::TrialOptions{}, ws);
//   // r.outcome == dnnfi::Outcome::kSDC; r.applied[0] holds the value before and after.
//
// Many faults drawn the way TensorFI+ draws them (uniform node, element, bit), reproducibly:
//
//   dnnfi::FaultSampler sampler(*session, dnnfi::SamplerConfig{});
//   for (std::uint64_t i = 0; i < 1000; ++i) {
//     std::vector<dnnfi::Fault> faults = sampler.sample(/*seed=*/42, i);  // depends on (42, i)
//     dnnfi::TrialResult t = injector.run_trial(golden, faults, dnnfi::TrialOptions{}, ws);
//   }
//
// A Session and a GoldenRun are shared read-only by any number of threads; each thread needs its
// own TrialWorkspace.
#pragma once

#include "fi/fault.h"
#include "fi/fault_model.h"
#include "fi/injector.h"
#include "fi/sampler.h"
