#include "ops/qconv_dnnl.h"

#include <cstring>
#include <exception>

#include "ops/dnnl_util.h"
#include "ops/quant_common.h"

namespace dnnfi::qconv {

std::unique_ptr<DnnlIntConv> DnnlIntConv::make(const QConvGeom& g, const Tensor* const_weights) {
  if (!g.fast || g.w_dtype != DType::kInt8 || g.batch == 0 || g.out_channels == 0) {
    return nullptr;
  }
  std::unique_ptr<DnnlIntConv> c(new DnnlIntConv(g, const_weights));
  if (c->plan() == nullptr) return nullptr;
  return c;
}

DnnlIntConv::DnnlIntConv(const QConvGeom& g, const Tensor* const_weights) : g_(g) {
  for (std::size_t i = 0; i < g.win.rank; ++i) {
    padded_ = padded_ || g.win.pad_begin[i] != 0 || g.win.pad_end[i] != 0;
  }
  if (const_weights != nullptr) {
    weights_ = *const_weights;
    std::vector<std::int32_t> sums(static_cast<std::size_t>(g.out_channels));
    for (std::int64_t m = 0; m < g.out_channels; ++m) {
      sums[m] = weight_sum(weights_.data<std::int8_t>(), m);
    }
    wsum_ = std::move(sums);
  }
}

Status DnnlIntConv::run(const Plan& p, const void* x, std::int32_t xzp, const void* w,
                        std::int32_t* raw, const char* op) const noexcept {
  try {
    const std::size_t bytes = p.padded_md.get_size();
    void* padded = dnnl_util::thread_scratch(dnnl_util::Scratch::kSrc, bytes);
    if (padded == nullptr) return Status::error("out of memory");
    if (padded_) std::memset(padded, static_cast<unsigned char>(xzp), bytes);
    dnnl::engine& eng = dnnl_util::cpu_engine();
    dnnl_util::memory from(p.user_src_md, eng, const_cast<void*>(x));
    dnnl_util::memory to(p.interior_md, eng, padded);
    p.pad_r.execute(dnnl_util::thread_stream(), from, to);
    return run_conv_plan(*p.conv, padded, w, nullptr, nullptr, raw, "", op);
  } catch (const std::exception& e) {
    return Status::error(std::string(op) + ": " + e.what());
  }
}

std::int32_t DnnlIntConv::weight_sum(const std::int8_t* w, std::int64_t m) const {
  if (!wsum_.empty() && w == weights_.data<std::int8_t>()) return wsum_[m];
  const std::int64_t depth =
      g_.in_channels / g_.group * g_.w3.kernel[0] * g_.w3.kernel[1] * g_.w3.kernel[2];
  std::int32_t sum = 0;
  for (std::int64_t k = 0; k < depth; ++k) sum += w[m * depth + k];
  return sum;
}

std::unique_ptr<DnnlIntConv::Plan> DnnlIntConv::build() const {
  using dnnl_util::memory;
  using Tag = memory::format_tag;
  const Window& win = g_.win;
  memory::dims strides, dilations, zero;
  memory::dims src{g_.batch, g_.in_channels}, padded{g_.batch, g_.in_channels};
  memory::dims offsets{0, 0}, dst{g_.batch, g_.out_channels}, wd;
  if (g_.group > 1) {
    wd = {g_.group, g_.out_channels / g_.group, g_.in_channels / g_.group};
  } else {
    wd = {g_.out_channels, g_.in_channels};
  }
  for (std::size_t i = 0; i < win.rank; ++i) {
    strides.push_back(win.strides[i]);
    dilations.push_back(win.dilations[i] - 1);  // oneDNN counts dilation from 0
    zero.push_back(0);
    src.push_back(win.in[i]);
    padded.push_back(win.in[i] + win.pad_begin[i] + win.pad_end[i]);
    offsets.push_back(win.pad_begin[i]);
    dst.push_back(win.out[i]);
    wd.push_back(win.kernel[i]);
  }
  const auto x_type = g_.x_dtype == DType::kUInt8 ? memory::data_type::u8 : memory::data_type::s8;
  const std::size_t rank = win.rank + 2;
  const Tag channels_last = rank == 3 ? Tag::nwc : rank == 4 ? Tag::nhwc : Tag::ndhwc;
  auto plan = std::make_unique<Plan>();
  plan->user_src_md =
      memory::desc(src, x_type, g_.src_nhwc ? channels_last : dnnl_util::plain_tag(rank));
  plan->padded_md = memory::desc(padded, x_type, channels_last);
  plan->interior_md = plan->padded_md.submemory_desc(src, offsets);
  dnnl::engine& eng = dnnl_util::cpu_engine();
  plan->pad_r =
      dnnl::reorder(dnnl::reorder::primitive_desc(eng, plan->user_src_md, eng, plan->interior_md));
  const memory::desc user_dst(dst, memory::data_type::s32,
                              g_.dst_nhwc ? channels_last : dnnl_util::plain_tag(rank));
  const memory::desc user_weights(wd, memory::data_type::s8,
                                  dnnl_util::weights_tag(win.rank, g_.group > 1, false));
  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, plan->padded_md,
      memory::desc(wd, memory::data_type::s8, Tag::any), memory::desc(),
      memory::desc(dst, memory::data_type::s32, Tag::any), strides, dilations, zero, zero);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, eng);
  const std::string impl = pd.impl_info_str();
  if (impl.find("vnni") == std::string::npos && impl.find("amx") == std::string::npos) {
    return nullptr;  // may saturate int16 pairs: not exact
  }
  plan->conv = finish_conv_plan(pd, dnnl::convolution_forward(pd), plan->padded_md, user_weights,
                                user_dst, weights_.empty() ? nullptr : &weights_, &packed_);
  return plan;
}

// The oneDNN path applies to this run: a plan at this thread count and every w zero point 0 (a
// fault may have changed one).
const DnnlIntConv::Plan* dnnl_plan(const DnnlIntConv* dn, const Tensor* wzp,
                                   std::int64_t out_channels) {
  if (dn == nullptr) return nullptr;
  for (std::int64_t m = 0; m < out_channels; ++m) {
    if (quant::zero_point_at(wzp, m) != 0) return nullptr;
  }
  return dn->plan();
}

}  // namespace dnnfi::qconv
