#include "core/memory.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace dnnfi {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMapLarge = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kMapLarge = false;
#else
constexpr bool kMapLarge = true;
#endif
#else
constexpr bool kMapLarge = true;
#endif

// Below this, the allocator's own memory: buffers made and freed per input (a streamed run's
// arena, an input tensor) come back from it without faults, where mapping them anew each time
// measured slower.
constexpr std::size_t kMapBytes = std::size_t{4} << 20;
constexpr std::size_t kMapSmallerBytes = std::size_t{64} << 10;
thread_local bool map_smaller = false;

}  // namespace

MapSmallerBlocks::MapSmallerBlocks() : was_(map_smaller) { map_smaller = true; }
MapSmallerBlocks::~MapSmallerBlocks() { map_smaller = was_; }

std::shared_ptr<void> allocate_zeroed(std::size_t bytes) {
  if (kMapLarge && bytes >= (map_smaller ? kMapSmallerBytes : kMapBytes)) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p != MAP_FAILED) {  // page-aligned, zero-filled by the kernel
      return std::shared_ptr<void>(p, [bytes](void* q) { ::munmap(q, bytes); });
    }
  }
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace dnnfi
