// Zero-filled memory for tensors and arenas.
#pragma once

#include <cstddef>
#include <memory>

namespace dnnfi {

// `bytes` of zero-filled memory, 64-byte aligned, freed when the last copy of the pointer goes.
// Large blocks are mapped with their pages populated at once: writing fresh pages one fault at a
// time cost about 10 microseconds per 4 KiB page on the VMs dnnfi is measured on (a 50 MB
// activation store: 150 ms, populated: 11 ms). Under AddressSanitizer every block comes from the
// allocator it checks. Throws std::bad_alloc.
std::shared_ptr<void> allocate_zeroed(std::size_t bytes);

// While one is alive, allocate_zeroed on this thread maps blocks from 64 KiB up instead of 4 MiB:
// for a store of many mid-sized buffers made at once and kept (a kept golden run's activations),
// where the allocator's recycled memory is rarely there to take.
class MapSmallerBlocks {
 public:
  MapSmallerBlocks();
  ~MapSmallerBlocks();
  MapSmallerBlocks(const MapSmallerBlocks&) = delete;
  MapSmallerBlocks& operator=(const MapSmallerBlocks&) = delete;

 private:
  bool was_;
};

}  // namespace dnnfi
