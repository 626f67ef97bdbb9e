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

// Below this, the allocator's own (usually recycled) memory.
constexpr std::size_t kMapBytes = std::size_t{4} << 20;

}  // namespace

std::shared_ptr<void> allocate_zeroed(std::size_t bytes) {
  if (kMapLarge && bytes >= kMapBytes) {
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
