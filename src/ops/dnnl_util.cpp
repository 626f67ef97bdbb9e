#include "ops/dnnl_util.h"

#include <omp.h>

#include <cstdlib>
#include <new>

namespace dnnfi::dnnl_util {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

namespace {

struct ScratchBuffer {
  void* data = nullptr;
  std::size_t size = 0;
  ~ScratchBuffer() { std::free(data); }
};

}  // namespace

void* thread_scratch(Scratch slot, std::size_t bytes) noexcept {
  thread_local std::array<ScratchBuffer, static_cast<std::size_t>(Scratch::kCount)> buffers;
  ScratchBuffer& b = buffers[static_cast<std::size_t>(slot)];
  if (bytes <= b.size && b.data != nullptr) return b.data;
  // Round up so that slowly growing requests do not reallocate every time.
  std::size_t want = std::max<std::size_t>(bytes, 4096);
  want = (want + want / 4 + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, want);
  if (p == nullptr) return nullptr;
  std::free(b.data);
  b.data = p;
  b.size = want;
  return p;
}

int current_threads() noexcept { return omp_get_max_threads(); }

Tag plain_tag(std::size_t rank) {
  switch (rank) {
    case 3:
      return Tag::ncw;
    case 4:
      return Tag::nchw;
    case 5:
      return Tag::ncdhw;
    default:
      return Tag::undef;
  }
}

Tag weights_tag(std::size_t spatial_rank, bool grouped, bool in_out_order) {
  static const Tag kTags[2][2][3] = {
      {{Tag::oiw, Tag::oihw, Tag::oidhw}, {Tag::bac, Tag::bacd, Tag::bacde}},
      {{Tag::goiw, Tag::goihw, Tag::goidhw}, {Tag::acbd, Tag::acbde, Tag::acbdef}}};
  if (spatial_rank < 1 || spatial_rank > 3) return Tag::undef;
  return kTags[grouped ? 1 : 0][in_out_order ? 1 : 0][spatial_rank - 1];
}

memory::dims to_dims(const Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

std::shared_ptr<void> reorder_to_new(const memory::desc& src_md, const void* src,
                                     const memory::desc& dst_md) {
  const std::size_t bytes = std::max<std::size_t>(dst_md.get_size(), 64);
  void* raw = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (raw == nullptr) throw std::bad_alloc();
  std::shared_ptr<void> buffer(raw, [](void* p) { std::free(p); });
  dnnl::engine& eng = cpu_engine();
  memory from(src_md, eng, const_cast<void*>(src));
  memory to(dst_md, eng, buffer.get());
  dnnl::stream& s = thread_stream();
  dnnl::reorder(from, to).execute(s, from, to);
  s.wait();
  return buffer;
}

std::string error_message(const std::string& node, const std::string& op, const char* what) {
  return "node '" + node + "' (" + op + "): oneDNN error: " + what;
}

}  // namespace dnnfi::dnnl_util
