// Dtype-agnostic data movement for the shape ops: copies between strided views (Slice, Transpose,
// Expand, Tile), the concat/split layout, element fills, and splitting big copies over OpenMP
// threads. Everything works on element sizes (1, 2, 4 or 8 bytes), never on dtypes.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace dnnfi {

// Copies smaller than this run on the calling thread: below it the OpenMP fork costs more than
// it saves.
inline constexpr std::int64_t kParallelCopyBytes = 256 * 1024;

// A strided view pair: element (i0, i1, ...) is read at sum(i_k * src_strides[k]) and written at
// sum(i_k * dst_strides[k]) (strides in elements, relative to the pointers passed to copy_strided;
// source strides may be 0 (broadcast) or negative (reversed slice)).
struct CopyLayout {
  static constexpr int kMaxRank = 32;  // Tile uses two axes per tensor axis
  int rank = 0;
  std::int64_t dims[kMaxRank] = {};
  std::int64_t src_strides[kMaxRank] = {};
  std::int64_t dst_strides[kMaxRank] = {};
};

// Drops unit axes and merges neighbours that are contiguous in both views, so that the innermost
// axis is as long as possible. The copy it describes is unchanged.
void simplify_layout(CopyLayout& layout);

// Copies every element of the view. Contiguous rows become memcpy, a moved innermost axis becomes
// a tiled 2-D transpose, big copies are split over OpenMP threads. Does nothing if a dim is 0.
void copy_strided(const void* src, void* dst, std::size_t esize, const CopyLayout& layout);

// Writes n copies of the element at `value` (esize bytes) to dst.
void fill_elements(void* dst, const void* value, std::size_t esize, std::int64_t n);

// Calls f(begin, end) on consecutive parts of [0, n), one per OpenMP thread when work_bytes is big
// enough, else once on the calling thread.
template <typename F>
void parallel_chunks(std::int64_t n, std::int64_t work_bytes, F&& f) {
  if (n <= 0) return;
  if (n == 1 || work_bytes < kParallelCopyBytes || omp_get_max_threads() <= 1 ||
      omp_in_parallel()) {
    f(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t t = omp_get_num_threads();
    const std::int64_t id = omp_get_thread_num();
    const std::int64_t base = n / t, rem = n % t;
    const std::int64_t begin = id * base + std::min(id, rem);
    const std::int64_t end = begin + base + (id < rem ? 1 : 0);
    if (begin < end) f(begin, end);
  }
}

// The concat/split layout: a joined buffer of `outer` rows, each the concatenation of one row of
// every piece k (row_offsets[k] .. row_offsets[k+1] bytes within the joined row). Copies pieces
// into the joined buffer (Concat) or the joined buffer into the pieces (Split). piece(k) returns
// piece k's base pointer, or nullptr to skip it (an omitted Split output).
template <typename PieceFn>
void copy_joined(std::byte* joined, std::int64_t outer, const std::int64_t* row_offsets,
                 std::size_t num_pieces, bool into_joined, PieceFn&& piece) {
  const std::int64_t row = row_offsets[num_pieces];
  const std::int64_t total = outer * row;
  if (total == 0) return;
  parallel_chunks(total, total, [&](std::int64_t lo, std::int64_t hi) {
    std::int64_t o = lo / row;
    std::int64_t r = lo % row;
    // The piece holding byte r: the last k with row_offsets[k] <= r (skips empty pieces).
    std::size_t k = static_cast<std::size_t>(
        std::upper_bound(row_offsets, row_offsets + num_pieces + 1, r) - row_offsets - 1);
    std::int64_t pos = lo;
    while (pos < hi) {
      const std::int64_t piece_row = row_offsets[k + 1] - row_offsets[k];
      const std::int64_t within = r - row_offsets[k];
      const std::int64_t n = std::min(hi - pos, piece_row - within);
      std::byte* p = static_cast<std::byte*>(piece(k));
      if (p != nullptr) {
        std::byte* pp = p + o * piece_row + within;
        std::byte* jj = joined + pos;
        if (into_joined) {
          std::memcpy(jj, pp, static_cast<std::size_t>(n));
        } else {
          std::memcpy(pp, jj, static_cast<std::size_t>(n));
        }
      }
      pos += n;
      r += n;
      if (r == row) {
        r = 0;
        ++o;
        k = 0;
      }
      while (k < num_pieces && row_offsets[k + 1] <= r) ++k;
    }
  });
}

}  // namespace dnnfi
