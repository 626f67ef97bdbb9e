#include "ops/strided_copy.h"

namespace dnnfi {

namespace {

// Calls f(word) with an unsigned integer of the element size: these kernels move bits, never
// interpret them.
template <typename F>
void dispatch_esize(std::size_t esize, F&& f) {
  switch (esize) {
    case 1:
      f(std::uint8_t{});
      break;
    case 2:
      f(std::uint16_t{});
      break;
    case 4:
      f(std::uint32_t{});
      break;
    case 8:
      f(std::uint64_t{});
      break;
    default:
      break;
  }
}

// Odometer over the outer axes [0, rank) of a layout: keeps the source and destination offsets of
// the current index.
struct Odometer {
  int rank;
  const std::int64_t* dims;
  const std::int64_t* ss;
  const std::int64_t* ds;
  std::int64_t idx[CopyLayout::kMaxRank] = {};
  std::int64_t src = 0;
  std::int64_t dst = 0;

  Odometer(int r, const std::int64_t* d, const std::int64_t* s, const std::int64_t* t,
           std::int64_t linear)
      : rank(r), dims(d), ss(s), ds(t) {
    for (int ax = rank - 1; ax >= 0; --ax) {
      idx[ax] = linear % dims[ax];
      linear /= dims[ax];
      src += idx[ax] * ss[ax];
      dst += idx[ax] * ds[ax];
    }
  }
  void next() {
    for (int ax = rank - 1; ax >= 0; --ax) {
      ++idx[ax];
      src += ss[ax];
      dst += ds[ax];
      if (idx[ax] < dims[ax]) return;
      src -= ss[ax] * dims[ax];
      dst -= ds[ax] * dims[ax];
      idx[ax] = 0;
    }
  }
};

template <typename T>
void copy_rows_typed(const T* src, T* dst, const CopyLayout& l, std::int64_t total_bytes) {
  const int outer_rank = l.rank - 1;
  const std::int64_t n = l.dims[outer_rank];
  const std::int64_t s = l.src_strides[outer_rank];
  const std::int64_t d = l.dst_strides[outer_rank];
  std::int64_t rows = 1;
  for (int ax = 0; ax < outer_rank; ++ax) rows *= l.dims[ax];
  parallel_chunks(rows, total_bytes, [&](std::int64_t begin, std::int64_t end) {
    Odometer od(outer_rank, l.dims, l.src_strides, l.dst_strides, begin);
    for (std::int64_t r = begin; r < end; ++r, od.next()) {
      const T* sp = src + od.src;
      T* dp = dst + od.dst;
      if (s == 1 && d == 1) {
        std::memcpy(dp, sp, static_cast<std::size_t>(n) * sizeof(T));
      } else if (d == 1) {
        for (std::int64_t i = 0; i < n; ++i) dp[i] = sp[i * s];
      } else {
        for (std::int64_t i = 0; i < n; ++i) dp[i * d] = sp[i * s];
      }
    }
  });
}

// The innermost destination axis (b, contiguous in dst) is not contiguous in src, but axis `a` is:
// a batched 2-D transpose, done in tiles so that both sides stay in cache.
template <typename T>
void transpose_tiled(const T* src, T* dst, const CopyLayout& l, int a, std::int64_t total_bytes) {
  constexpr std::int64_t kTile = 32;
  const int b = l.rank - 1;
  const std::int64_t na = l.dims[a], nb = l.dims[b];
  const std::int64_t dsa = l.dst_strides[a], ssb = l.src_strides[b];
  // The other axes, iterated by an odometer.
  std::int64_t od_dims[CopyLayout::kMaxRank], od_ss[CopyLayout::kMaxRank],
      od_ds[CopyLayout::kMaxRank];
  int od_rank = 0;
  std::int64_t outer = 1;
  for (int ax = 0; ax < b; ++ax) {
    if (ax == a) continue;
    od_dims[od_rank] = l.dims[ax];
    od_ss[od_rank] = l.src_strides[ax];
    od_ds[od_rank] = l.dst_strides[ax];
    outer *= l.dims[ax];
    ++od_rank;
  }
  const std::int64_t a_tiles = (na + kTile - 1) / kTile;
  parallel_chunks(outer * a_tiles, total_bytes, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t u = begin; u < end; ++u) {
      const Odometer od(od_rank, od_dims, od_ss, od_ds, u / a_tiles);
      const std::int64_t a0 = (u % a_tiles) * kTile;
      const std::int64_t a1 = std::min(a0 + kTile, na);
      const T* sp = src + od.src;
      T* dp = dst + od.dst;
      for (std::int64_t b0 = 0; b0 < nb; b0 += kTile) {
        const std::int64_t b1 = std::min(b0 + kTile, nb);
        for (std::int64_t i = a0; i < a1; ++i) {
          T* drow = dp + i * dsa;
          const T* scol = sp + i;
          for (std::int64_t j = b0; j < b1; ++j) drow[j] = scol[j * ssb];
        }
      }
    }
  });
}

}  // namespace

void simplify_layout(CopyLayout& l) {
  int r = 0;
  for (int ax = 0; ax < l.rank; ++ax) {
    if (l.dims[ax] == 1) continue;
    if (r > 0 && l.src_strides[r - 1] == l.src_strides[ax] * l.dims[ax] &&
        l.dst_strides[r - 1] == l.dst_strides[ax] * l.dims[ax]) {
      l.dims[r - 1] *= l.dims[ax];
      l.src_strides[r - 1] = l.src_strides[ax];
      l.dst_strides[r - 1] = l.dst_strides[ax];
      continue;
    }
    l.dims[r] = l.dims[ax];
    l.src_strides[r] = l.src_strides[ax];
    l.dst_strides[r] = l.dst_strides[ax];
    ++r;
  }
  l.rank = r;
}

void copy_strided(const void* src, void* dst, std::size_t esize, const CopyLayout& layout) {
  for (int ax = 0; ax < layout.rank; ++ax) {
    if (layout.dims[ax] == 0) return;
  }
  CopyLayout l = layout;
  simplify_layout(l);
  if (l.rank == 0) {
    std::memcpy(dst, src, esize);
    return;
  }
  std::int64_t total = static_cast<std::int64_t>(esize);
  for (int ax = 0; ax < l.rank; ++ax) total *= l.dims[ax];
  const int last = l.rank - 1;
  int a = -1;  // an outer axis contiguous in src, when the innermost one is not
  if (l.dst_strides[last] == 1 && l.src_strides[last] != 1 && l.dims[last] >= 4) {
    for (int ax = 0; ax < last; ++ax) {
      if (l.src_strides[ax] == 1 && l.dims[ax] >= 4) a = ax;
    }
  }
  dispatch_esize(esize, [&](auto word) {
    using T = decltype(word);
    if (a >= 0) {
      transpose_tiled(static_cast<const T*>(src), static_cast<T*>(dst), l, a, total);
    } else {
      copy_rows_typed(static_cast<const T*>(src), static_cast<T*>(dst), l, total);
    }
  });
}

void fill_elements(void* dst, const void* value, std::size_t esize, std::int64_t n) {
  if (n <= 0) return;
  dispatch_esize(esize, [&](auto word) {
    using T = decltype(word);
    T v;
    std::memcpy(&v, value, sizeof(T));
    T* d = static_cast<T*>(dst);
    std::fill(d, d + n, v);
  });
}

}  // namespace dnnfi
