// Faults as plain values: where (FaultSite), what (FaultModel), both (Fault), and what happened
// when it was applied (AppliedFault). Mechanism only: which faults to draw is the sampler's job.
//
// Bit numbering: bit 0 is the least significant bit of the value as stored (TensorFI, TensorFI2,
// TensorFI+ count the same way); the sign bit of an fp32 is bit 31. See docs/fault_models.md.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace dnnfi {

enum class SiteKind : std::uint8_t {
  kNodeOutput,  // an output of a node (joins such as Add/Concat included)
  kWeight,      // an initializer; the fault lasts for the whole inference
  kGraphInput,  // a graph input
};

struct FaultSite {
  SiteKind kind = SiteKind::kNodeOutput;
  int node = -1;                // producing node (kNodeOutput), else -1
  int output = 0;               // output index of that node
  int value = -1;               // value id of the tensor that is corrupted
  std::int64_t flat_index = 0;  // element, row-major in ONNX logical layout
};

enum class FaultModelKind : std::uint8_t {
  kBitFlip,         // flip `bits`
  kStuckAt0,        // force `bits` to 0
  kStuckAt1,        // force `bits` to 1
  kSetZero,         // all bits zero
  kSetValue,        // the value `value`, converted to the element dtype (saturating for integers)
  kRandomValue,     // uniform in [lo, hi), drawn from `seed` (so the fault stays replayable)
  kCallback,        // user function on the raw element
  kTensorCallback,  // user function on the whole tensor of the site (e.g. a Python callable)
};

struct FaultModel {
  FaultModelKind kind = FaultModelKind::kBitFlip;
  std::vector<int> bits;  // for kBitFlip / kStuckAt*: bit positions, 0 = least significant
  double value = 0.0;     // kSetValue
  double lo = 0.0;        // kRandomValue range
  double hi = 1.0;
  std::uint64_t seed = 0;  // kRandomValue
  // kCallback: receives the element's dtype and a pointer to its bytes, modifies it in place.
  std::function<void(DType, void*)> callback;
  // kTensorCallback: receives the site's whole tensor (a Tensor aliasing the trial's private copy:
  // dense, row-major, the site's dtype and shape) and may change any of its elements in place.
  // The AppliedFault records the element at the site's flat_index. It runs on the thread that
  // runs the trial; whatever it throws propagates out of Injector::run_trial.
  std::function<void(Tensor&)> tensor_callback;
};

struct Fault {
  FaultSite site;
  FaultModel model;
};

// A fault as applied: the element's bits before and after (zero-extended to 64 bits) and the
// values they mean.
struct AppliedFault {
  Fault fault;
  std::size_t index = 0;  // position of the fault in the trial's fault list
  DType dtype = DType::kUndefined;
  std::uint64_t bits_before = 0;
  std::uint64_t bits_after = 0;
  double value_before = 0.0;
  double value_after = 0.0;
};

std::string site_kind_name(SiteKind k);
std::string fault_model_kind_name(FaultModelKind k);
// Parses "bitflip", "stuck0", "stuck1", "zero", "value", "random"; throws InputError otherwise.
FaultModelKind parse_fault_model_kind(const std::string& s);

}  // namespace dnnfi
