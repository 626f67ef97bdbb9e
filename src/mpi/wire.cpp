#include "mpi/wire.h"

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <sstream>

#include "core/error.h"

namespace dnnfi {

// Every field, in declaration order (both ends are the same build of dnnfi).
template <class Archive>
void serialize(Archive& a, InputRecord& r) {
  a(r.index, r.dataset_index, r.label, r.golden_label, r.correct);
}

template <class Archive>
void serialize(Archive& a, FaultRecord& f) {
  a(f.ordinal, f.site_kind, f.node, f.op_type, f.value, f.flat_index, f.coords, f.model, f.bits,
    f.dtype, f.bits_before, f.bits_after, f.value_before, f.value_after);
}

template <class Archive>
void serialize(Archive& a, TrialRecord& t) {
  a(t.id, t.input_index, t.label, t.golden_label, t.faulty_label, t.golden_in_top5, t.outcome,
    t.error, t.nodes_computed, t.duration_s, t.faults);
}

template <class Archive>
void serialize(Archive& a, TrialInputs& m) {
  a(m.inputs, m.eligible, m.deferred);
}

namespace wire {

template <class Archive>
void serialize(Archive& a, Setup& m) {
  a(m.config_yaml, m.model_sha256, m.timeout_s);
}
template <class Archive>
void serialize(Archive& a, Ready& m) {
  a(m.threads);
}
template <class Archive>
void serialize(Archive& a, Work& m) {
  a(m.chunk, m.golden, m.positions, m.samples, m.streamed, m.ids);
}
template <class Archive>
void serialize(Archive& a, Result& m) {
  a(m.chunk, m.seconds, m.inputs, m.trials);
}
template <class Archive>
void serialize(Archive& a, Failure& m) {
  a(m.chunk, m.message);
}
template <class Archive>
void serialize(Archive& a, Stop& m) {
  a(m.failed, m.ranks_lost);
}

namespace {

template <class T>
std::string encode_any(const T& m) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::BinaryOutputArchive ar(out);
    ar(const_cast<T&>(m));  // cereal's serialize() takes non-const; it only reads here
  }
  return std::move(out).str();
}

template <class T>
void decode_any(const std::string& bytes, T& m, const char* what) {
  try {
    std::istringstream in(bytes, std::ios::binary);
    cereal::BinaryInputArchive ar(in);
    ar(m);
    if (in.peek() != std::char_traits<char>::eof()) throw Error("trailing bytes");
  } catch (const std::exception& e) {
    throw Error(std::string("MPI: malformed ") + what + " message (" + e.what() + ")");
  }
}

}  // namespace

std::string encode(const Setup& m) { return encode_any(m); }
std::string encode(const Ready& m) { return encode_any(m); }
std::string encode(const TrialInputs& m) { return encode_any(m); }
std::string encode(const Work& m) { return encode_any(m); }
std::string encode(const Result& m) { return encode_any(m); }
std::string encode(const Failure& m) { return encode_any(m); }
std::string encode(const Stop& m) { return encode_any(m); }

void decode(const std::string& b, Setup& m) { decode_any(b, m, "setup"); }
void decode(const std::string& b, Ready& m) { decode_any(b, m, "ready"); }
void decode(const std::string& b, TrialInputs& m) { decode_any(b, m, "inputs"); }
void decode(const std::string& b, Work& m) { decode_any(b, m, "work"); }
void decode(const std::string& b, Result& m) { decode_any(b, m, "result"); }
void decode(const std::string& b, Failure& m) { decode_any(b, m, "failure"); }
void decode(const std::string& b, Stop& m) { decode_any(b, m, "stop"); }

}  // namespace wire
}  // namespace dnnfi
