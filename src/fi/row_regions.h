// Region-limited propagation for the cone strategy (fi/injector.h). A fault corrupts one element;
// through a convolution it reaches only the output rows whose windows cover that element's row,
// and through elementwise ops only the same rows. So while a corrupted NCHW activation differs
// from the golden one in a band of rows, the nodes it feeds recompute only the band of output
// rows it can reach, on slabs of their inputs, instead of the whole tensor.
//
// Each node gets a row rule once (RowRules): how rows of its inputs reach rows of its output.
//   kPointwise  output row h reads row h of each sliced input: elementwise unary and binary ops
//               (the other operands broadcast along H), BatchNormalization, Dequantize/
//               QuantizeLinear, Concat on an axis other than H, Transpose (rows move to the
//               axis the permutation gives them: Keras channels-last models hold them on axis 1).
//   kWindow     2-D Conv / QLinearConv / ConvInteger, MaxPool (without Indices), AveragePool,
//               LpPool: output row o reads input rows [o*s - pad_top, o*s - pad_top + extent).
//   kNone       everything else (Gemm, global pools, Reshape, Softmax...): the whole tensor.
// A band is computed by a variant of the node prepared for the slab's height (and, for a window
// at the border, that slab's own padding); variants are made on first use and shared by every
// thread (while one thread prepares a variant, the others compute that node whole instead of
// waiting for it). Band heights are rounded up to 1, 2, 4, 8... rows so that few variants exist.
//
// A node whose kernel computes rows in place (Kernel::run_rows: depthwise convolution, elementwise
// ops, BatchNormalization, channel Concat) needs neither slabs nor variants: the injector hands it
// the band and the golden value of each input and the exact rows reached.
//
// Exactness: a variant must give the rows of the whole node bit for bit. The kernels' summation
// order does not depend on the height, but a kernel choice can (a gemm-based 1x1 convolution
// below 14x14 outputs becomes a blocked one): so each variant is checked once, on the golden
// run's own slabs, against the golden rows, and a variant that does not reproduce them is never
// used (the next larger band, or the whole node, runs instead).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "exec/session.h"

namespace dnnfi {

// How a value's bytes hold its rows: along `axis` of its ONNX shape, or, for an NHWC-held value
// (Session::nhwc) of shape [N, C, H, W], the rows of H, each W * C elements long.
struct RowLayout {
  int axis = 2;
  bool nhwc = false;
};

// Rows [lo, hi) of axis 2 of an NCHW tensor.
struct RowSpan {
  std::int64_t lo = 0, hi = 0;
  bool empty() const { return hi <= lo; }
  std::int64_t size() const { return hi > lo ? hi - lo : 0; }
};

struct RowRule {
  enum class Kind : std::uint8_t { kNone, kPointwise, kWindow };
  Kind kind = Kind::kNone;
  std::vector<std::uint8_t> sliced;  // per node input: a rank-4 input of the full height
  std::int64_t in_h = 0, out_h = 0;
  // kWindow: along H.
  std::int64_t extent = 1, stride = 1, pad_top = 0, pad_bottom = 0;
  std::vector<std::int64_t> pads;  // the node's explicit pads (H begin, W begin, H end, W end)
};

// A node prepared for a band of output rows.
struct RowVariant {
  std::unique_ptr<Kernel> kernel;  // null when the variant could not be prepared
  // 0 not checked yet, 1 reproduces the golden rows, 2 does not (never used).
  std::atomic<int> verified{0};
  // Set once `kernel` is prepared (by the thread that asked first).
  std::atomic<bool> ready{false};
};

class RowRegions {
 public:
  // Values smaller than this are never held as bands: below it the copies and lookups of a band
  // cost more than the rows they save (measured on the small-width Keras application fixtures:
  // 0.066 vs 0.051 ms a trial).
  static constexpr std::size_t kMinBandBytes = 32 << 10;

  explicit RowRegions(std::shared_ptr<const Session> session,
                      std::size_t min_band_bytes = kMinBandBytes);

  const RowRule& rule(int node) const { return rules_[static_cast<std::size_t>(node)]; }
  // A non-constant rank-4 value of at least kMinBandBytes: its corrupted copy may be held as a
  // band of rows along axis().
  bool row_value(int value) const { return axis_[static_cast<std::size_t>(value)] >= 0; }
  // The band axis of a row value: 2 (H of NCHW) unless a Transpose moved it (Keras NHWC: 1).
  int axis(int value) const { return axis_[static_cast<std::size_t>(value)]; }
  // The axis, and whether the value's bytes are NHWC (Session::nhwc; then axis() is 2).
  RowLayout layout(int value) const { return {axis(value), session_->nhwc(value)}; }
  std::int64_t height(int value) const;
  // The row of element `flat_index` of a row value.
  std::int64_t row_of(int value, std::int64_t flat_index) const;

  // Output rows reached from rows `in` of the sliced inputs (clipped to the output; may be empty
  // when a stride skips them).
  RowSpan reached(int node, RowSpan in) const;
  // Input rows read for output rows `out`, and the padding of that slab (kWindow: what of the
  // node's own padding falls inside the band; kPointwise: none).
  RowSpan needed(int node, RowSpan out, std::int64_t& pad_top, std::int64_t& pad_bottom) const;
  // The variant computing `rows` output rows from a slab with that padding, prepared on first
  // use by the asking thread; null when the node has no rule or the variant is not valid, and
  // (with *busy set) while another thread prepares it: the caller then computes the node whole,
  // which gives the same values.
  RowVariant* variant(int node, std::int64_t rows, std::int64_t pad_top, std::int64_t pad_bottom,
                      bool* busy = nullptr) const;

 private:
  std::shared_ptr<const Session> session_;
  std::vector<RowRule> rules_;
  std::vector<std::int8_t> axis_;  // per value; -1 when not a row value
  mutable std::mutex mu_;
  using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t>;
  mutable std::vector<std::map<Key, std::unique_ptr<RowVariant>>> variants_;
};

// Band copies on tensors of any dtype, rows taken as `layout` says (for NCHW and axis 2: planes
// of N*C, rows of W elements; for NHWC: planes of N, rows of W*C elements). A slab is the dense
// tensor of some rows: the shape with dim `axis` set to their count, in the same layout.
// Copies rows `want` of a value into the slab `dst`: rows inside `band` from `dirty` (a full-size
// tensor valid there), the others from `golden`.
void gather_rows(const Tensor& golden, const Tensor* dirty, RowLayout layout, RowSpan band,
                 RowSpan want, void* dst);
// Copies the slab `src` into rows `rows` of `dst`.
void scatter_rows(const void* src, RowLayout layout, RowSpan rows, Tensor& dst);
// Copies rows `rows` of `src` into the same rows of `dst`.
void copy_rows(const Tensor& src, RowLayout layout, RowSpan rows, Tensor& dst);
// The smallest band within `within` outside which `a` and `b` are bitwise equal (empty if equal).
RowSpan diff_rows(const Tensor& a, const Tensor& b, RowLayout layout, RowSpan within);
// True when the slab equals rows `rows` of `t` bitwise.
bool slab_equals_rows(const void* slab, const Tensor& t, RowLayout layout, RowSpan rows);

}  // namespace dnnfi
