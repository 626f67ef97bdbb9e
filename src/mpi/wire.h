// The messages of the MPI campaign driver and their binary encoding (cereal). Rank 0 hands out
// chunks of work; workers return the records a one-process run would have written.
//
//   rank 0 -> worker: kSetup (once), kInputs (before the first trial chunk), kWork, kHeartbeat,
//                     kStop
//   worker -> rank 0: kHeartbeat (from setup on, while it loads the model too), kReady or
//                     kSetupFailed (once), kResult or kChunkFailed per chunk, kBye (after kStop)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "campaign/results_db.h"
#include "campaign/trial_worker.h"

namespace dnnfi::wire {

enum Tag : int {
  kSetup = 1,
  kReady,
  kSetupFailed,
  kInputs,
  kWork,
  kResult,
  kChunkFailed,
  kHeartbeat,
  kStop,
  kBye,
};

struct Setup {
  std::string config_yaml;   // the resolved config (campaign_config_yaml), absolute paths
  std::string model_sha256;  // a worker checks that its copy of the model is the same file
  double timeout_s = 30.0;   // silence after which each side gives the other up
};

struct Ready {
  int threads = 1;
};

// A chunk of work: golden records of inputs (positions[k] is dataset sample samples[k]; the
// trial ids in streamed[k], if any, are streamed in its fault-free run) or trials (ids, grouped
// by input so one golden run serves several).
struct Work {
  std::int64_t chunk = 0;
  bool golden = false;
  std::vector<std::int64_t> positions;
  std::vector<std::int64_t> samples;
  std::vector<std::vector<std::int64_t>> streamed;  // empty, or one list per position
  std::vector<std::int64_t> ids;
};

struct Result {
  std::int64_t chunk = 0;
  double seconds = 0.0;  // the worker's time on the chunk (rank 0 sizes later chunks by it)
  std::vector<InputRecord> inputs;
  std::vector<TrialRecord> trials;
};

// A worker's error: setup (kSetupFailed, chunk -1) or a chunk's (kChunkFailed).
struct Failure {
  std::int64_t chunk = -1;
  std::string message;
};

struct Stop {
  bool failed = false;      // the campaign ended with an error (workers exit with status 2)
  bool ranks_lost = false;  // a rank died: end without MPI_Finalize (MpiWorld::skip_finalize)
};

std::string encode(const Setup& m);
std::string encode(const Ready& m);
std::string encode(const TrialInputs& m);
std::string encode(const Work& m);
std::string encode(const Result& m);
std::string encode(const Failure& m);
std::string encode(const Stop& m);

// Decoders throw Error naming the message kind when the bytes do not decode.
void decode(const std::string& bytes, Setup& m);
void decode(const std::string& bytes, Ready& m);
void decode(const std::string& bytes, TrialInputs& m);
void decode(const std::string& bytes, Work& m);
void decode(const std::string& bytes, Result& m);
void decode(const std::string& bytes, Failure& m);
void decode(const std::string& bytes, Stop& m);

}  // namespace dnnfi::wire
