#include "common/op_runner.h"

#include <cmath>
#include <random>
#include <sstream>

#include "core/error.h"
#include "ops/registry.h"

namespace dnnfi::test {

Attribute attr_int(std::int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute attr_float(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
Attribute attr_string(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}
Attribute attr_ints(std::vector<std::int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute attr_floats(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}
Attribute attr_tensor(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

PreparedOp::PreparedOp(const OpCall& call) {
  node_.name = "test_" + call.op_type;
  node_.op_type = call.op_type;
  node_.domain = call.domain;
  node_.attributes = call.attributes;
  std::vector<TensorInfo> infos;
  std::vector<const Tensor*> constants;
  for (std::size_t i = 0; i < call.inputs.size(); ++i) {
    const auto& in = call.inputs[i];
    infos.push_back(in ? in->info() : TensorInfo{});
    const bool is_const = i < call.constant.size() ? call.constant[i] : i > 0;
    constants.push_back(in && is_const ? &*in : nullptr);
    node_.inputs.push_back(in ? static_cast<int>(i) : kNoValue);
  }
  for (std::size_t i = 0; i < call.num_outputs; ++i) {
    node_.outputs.push_back(100 + static_cast<int>(i));
  }
  const OpRow* row = find_op(call.domain, call.op_type, call.opset);
  if (row == nullptr) throw NodeError("op " + call.op_type + " not registered");
  PrepareContext ctx(node_, call.opset, "test", infos, constants, call.reference);
  prepared_ = row->prepare(ctx);
}

OpResult PreparedOp::run(const std::vector<std::optional<Tensor>>& inputs) const {
  OpResult r;
  std::vector<const Tensor*> in_ptrs;
  for (const auto& in : inputs) in_ptrs.push_back(in ? &*in : nullptr);
  for (const TensorInfo& info : prepared_.outputs) r.outputs.emplace_back(info.dtype, info.shape);
  std::vector<Tensor*> out_ptrs;
  for (Tensor& t : r.outputs) out_ptrs.push_back(&t);
  r.status = prepared_.kernel->run(in_ptrs, out_ptrs);
  return r;
}

OpResult run_op(const OpCall& call) { return PreparedOp(call).run(call.inputs); }

// Copies between NCHW and NHWC element orders; `to_nhwc` chooses the direction.
Tensor permute_nchw(const Tensor& t, bool to_nhwc) {
  const Shape& s = t.shape();
  Tensor r(DType::kFloat32, s);
  const float* src = t.data<float>();
  float* dst = r.data<float>();
  for (std::int64_t n = 0; n < s[0]; ++n)
    for (std::int64_t c = 0; c < s[1]; ++c)
      for (std::int64_t h = 0; h < s[2]; ++h)
        for (std::int64_t w = 0; w < s[3]; ++w) {
          const std::int64_t nchw = ((n * s[1] + c) * s[2] + h) * s[3] + w;
          const std::int64_t nhwc = ((n * s[2] + h) * s[3] + w) * s[1] + c;
          if (to_nhwc) {
            dst[nhwc] = src[nchw];
          } else {
            dst[nchw] = src[nhwc];
          }
        }
  return r;
}

Tensor to_nhwc(const Tensor& nchw) { return permute_nchw(nchw, true); }
Tensor from_nhwc(const Tensor& nhwc_bytes) { return permute_nchw(nhwc_bytes, false); }

Tensor random_tensor(Shape shape, std::uint32_t seed, float lo, float hi) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t.span<float>()) v = dist(gen);
  return t;
}

std::string compare_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  std::ostringstream os;
  if (actual.shape() != expected.shape()) {
    os << "shape " << shape_to_string(actual.shape())
       << " != " << shape_to_string(expected.shape());
    return os.str();
  }
  if (actual.dtype() != expected.dtype()) {
    os << "dtype " << dtype_name(actual.dtype()) << " != " << dtype_name(expected.dtype());
    return os.str();
  }
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual.get_as_double(i);
    const double e = expected.get_as_double(i);
    if (std::isnan(a) && std::isnan(e)) continue;
    if (a == e) continue;
    if (!(std::abs(a - e) <= atol + rtol * std::abs(e))) {
      os << "element " << i << ": " << a << " != " << e;
      return os.str();
    }
  }
  return "";
}

}  // namespace dnnfi::test
