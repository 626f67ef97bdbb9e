#include "fi/fault_model.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/error.h"

namespace dnnfi {

std::string site_kind_name(SiteKind k) {
  switch (k) {
    case SiteKind::kNodeOutput:
      return "node_output";
    case SiteKind::kWeight:
      return "weight";
    case SiteKind::kGraphInput:
      return "input";
  }
  return "?";
}

std::string fault_model_kind_name(FaultModelKind k) {
  switch (k) {
    case FaultModelKind::kBitFlip:
      return "bitflip";
    case FaultModelKind::kStuckAt0:
      return "stuck0";
    case FaultModelKind::kStuckAt1:
      return "stuck1";
    case FaultModelKind::kSetZero:
      return "zero";
    case FaultModelKind::kSetValue:
      return "value";
    case FaultModelKind::kRandomValue:
      return "random";
    case FaultModelKind::kCallback:
      return "callback";
    case FaultModelKind::kTensorCallback:
      return "tensor_callback";
  }
  return "?";
}

FaultModelKind parse_fault_model_kind(const std::string& s) {
  for (auto k :
       {FaultModelKind::kBitFlip, FaultModelKind::kStuckAt0, FaultModelKind::kStuckAt1,
        FaultModelKind::kSetZero, FaultModelKind::kSetValue, FaultModelKind::kRandomValue}) {
    if (fault_model_kind_name(k) == s) return k;
  }
  throw InputError("unknown fault model '" + s +
                   "' (expected bitflip, stuck0, stuck1, zero, value or random)");
}

int dtype_bits(DType t) { return static_cast<int>(dtype_size(t) * 8); }

void validate_fault_model(const FaultModel& model, DType dtype) {
  const int width = dtype_bits(dtype);
  if (width == 0) throw InputError("cannot inject into a tensor of undefined dtype");
  switch (model.kind) {
    case FaultModelKind::kBitFlip:
    case FaultModelKind::kStuckAt0:
    case FaultModelKind::kStuckAt1:
      if (model.bits.empty())
        throw InputError("fault model " + fault_model_kind_name(model.kind) +
                         " needs at least one bit");
      for (int b : model.bits) {
        if (b < 0 || b >= width) {
          throw InputError("bit " + std::to_string(b) + " is out of range for " +
                           std::string(dtype_name(dtype)) + " (0.." + std::to_string(width - 1) +
                           ", 0 = least significant)");
        }
      }
      break;
    case FaultModelKind::kRandomValue:
      if (!(model.lo <= model.hi) || !std::isfinite(model.lo) || !std::isfinite(model.hi)) {
        throw InputError("random-value fault needs a finite range lo <= hi");
      }
      break;
    case FaultModelKind::kCallback:
      if (!model.callback) throw InputError("callback fault model without a callback");
      break;
    case FaultModelKind::kTensorCallback:
      if (!model.tensor_callback) {
        throw InputError("tensor_callback fault model without a callback");
      }
      break;
    default:
      break;
  }
}

std::uint64_t element_bits(DType dtype, const void* element) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, element, dtype_size(dtype));  // little-endian host: low bytes first
  return bits;
}

double element_value(DType dtype, const void* p) {
  switch (dtype) {
    case DType::kFloat32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case DType::kFloat64: {
      double d;
      std::memcpy(&d, p, 8);
      return d;
    }
    case DType::kFloat16: {
      std::uint16_t h;
      std::memcpy(&h, p, 2);
      return half_to_float(h);
    }
    case DType::kBFloat16: {
      std::uint16_t h;
      std::memcpy(&h, p, 2);
      return bfloat16_to_float(h);
    }
    case DType::kInt8:
      return *static_cast<const std::int8_t*>(p);
    case DType::kUInt8:
      return *static_cast<const std::uint8_t*>(p);
    case DType::kBool:
      return *static_cast<const std::uint8_t*>(p);
    case DType::kInt16: {
      std::int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case DType::kUInt16: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case DType::kInt32: {
      std::int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::kUInt32: {
      std::uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::kInt64: {
      std::int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case DType::kUInt64: {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case DType::kUndefined:
      return 0.0;
  }
  return 0.0;
}

namespace {

template <typename I>
void store_int(double v, void* p) {
  I out;
  if (std::isnan(v)) {
    out = 0;
  } else if (v >= static_cast<double>(std::numeric_limits<I>::max())) {
    out = std::numeric_limits<I>::max();
  } else if (v <= static_cast<double>(std::numeric_limits<I>::lowest())) {
    out = std::numeric_limits<I>::lowest();
  } else {
    out = static_cast<I>(v);
  }
  std::memcpy(p, &out, sizeof(I));
}

// Stores v converted to the dtype: round-to-nearest for floats, truncation toward zero with
// saturation (NaN -> 0) for integers.
void store_value(DType dtype, double v, void* p) {
  switch (dtype) {
    case DType::kFloat32: {
      const float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
      break;
    }
    case DType::kFloat64:
      std::memcpy(p, &v, 8);
      break;
    case DType::kFloat16: {
      const auto h = float_to_half(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case DType::kBFloat16: {
      const auto h = float_to_bfloat16(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case DType::kInt8:
      store_int<std::int8_t>(v, p);
      break;
    case DType::kUInt8:
      store_int<std::uint8_t>(v, p);
      break;
    case DType::kBool:
      *static_cast<std::uint8_t*>(p) = (v != 0.0) ? 1 : 0;
      break;
    case DType::kInt16:
      store_int<std::int16_t>(v, p);
      break;
    case DType::kUInt16:
      store_int<std::uint16_t>(v, p);
      break;
    case DType::kInt32:
      store_int<std::int32_t>(v, p);
      break;
    case DType::kUInt32:
      store_int<std::uint32_t>(v, p);
      break;
    case DType::kInt64:
      store_int<std::int64_t>(v, p);
      break;
    case DType::kUInt64:
      store_int<std::uint64_t>(v, p);
      break;
    case DType::kUndefined:
      break;
  }
}

}  // namespace

AppliedFault apply_fault_model(const FaultModel& model, DType dtype, void* element) {
  AppliedFault a;
  a.dtype = dtype;
  const std::size_t size = dtype_size(dtype);
  a.bits_before = element_bits(dtype, element);
  a.value_before = element_value(dtype, element);
  std::uint64_t mask = 0;
  for (int b : model.bits) mask |= std::uint64_t{1} << b;
  std::uint64_t bits = a.bits_before;
  switch (model.kind) {
    case FaultModelKind::kBitFlip:
      bits ^= mask;
      break;
    case FaultModelKind::kStuckAt0:
      bits &= ~mask;
      break;
    case FaultModelKind::kStuckAt1:
      bits |= mask;
      break;
    case FaultModelKind::kSetZero:
      bits = 0;
      break;
    case FaultModelKind::kSetValue:
      store_value(dtype, model.value, element);
      break;
    case FaultModelKind::kRandomValue: {
      std::mt19937_64 gen(model.seed);
      // 53 random bits -> [0,1), so the draw is identical on every platform.
      const double u = static_cast<double>(gen() >> 11) * 0x1.0p-53;
      store_value(dtype, model.lo + u * (model.hi - model.lo), element);
      break;
    }
    case FaultModelKind::kCallback:
      model.callback(dtype, element);
      break;
    case FaultModelKind::kTensorCallback:  // needs the tensor: apply_fault_model_at
      break;
  }
  if (model.kind == FaultModelKind::kBitFlip || model.kind == FaultModelKind::kStuckAt0 ||
      model.kind == FaultModelKind::kStuckAt1 || model.kind == FaultModelKind::kSetZero) {
    std::memcpy(element, &bits, size);
  }
  a.bits_after = element_bits(dtype, element);
  a.value_after = element_value(dtype, element);
  return a;
}

AppliedFault apply_fault_model_at(const FaultModel& model, Tensor& tensor,
                                  std::int64_t flat_index) {
  const DType dtype = tensor.dtype();
  auto* element = static_cast<std::uint8_t*>(tensor.raw()) +
                  static_cast<std::size_t>(flat_index) * dtype_size(dtype);
  if (model.kind != FaultModelKind::kTensorCallback) {
    return apply_fault_model(model, dtype, element);
  }
  AppliedFault a;
  a.dtype = dtype;
  a.bits_before = element_bits(dtype, element);
  a.value_before = element_value(dtype, element);
  Tensor view = tensor;  // aliases the data: the callback may write elements, not rebind `tensor`
  model.tensor_callback(view);
  a.bits_after = element_bits(dtype, element);
  a.value_after = element_value(dtype, element);
  return a;
}

}  // namespace dnnfi
