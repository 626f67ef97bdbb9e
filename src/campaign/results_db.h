// The results database of a campaign: one SQLite file (WAL mode) per output directory, a real
// database users can query (schema: docs/results_schema.md). Trials are appended in
// transactions, so a crash at any moment leaves only whole, committed trials behind; resume reads
// the committed trial ids back. Every error is an InputError naming the file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;

namespace dnnfi {

// What identifies and describes a campaign run (one row of table `campaign`).
struct CampaignInfo {
  std::string config_yaml;  // the resolved configuration as run (replay/resume read it back)
  std::string config_hash;  // sha256 of the config minus execution keys (threads, shard,
                            // output): equal for every shard of one campaign
  std::string model_path;
  std::string model_sha256;
  std::string dnnfi_version;
  std::string machine;  // hostname, OS, CPU model, cores
  std::uint64_t seed = 0;
  std::int64_t trials_planned = 0;  // -1: until the target interval half-width is reached
  int shard_index = 0;              // k of --shard k/N (0-based); 0/1 for a whole run
  int shard_count = 1;
  std::string started_at;  // ISO 8601 UTC

  bool operator==(const CampaignInfo&) const = default;
};

// One input of the golden pass (table `inputs`).
struct InputRecord {
  std::int64_t index = 0;          // position in the campaign's input list (trials refer to it)
  std::int64_t dataset_index = 0;  // sample number in the dataset
  std::int64_t label = -1;         // ground truth (-1: none)
  std::int64_t golden_label = -1;  // fault-free top-1
  bool correct = false;

  bool operator==(const InputRecord&) const = default;
};

// One fault of a trial (table `faults`).
struct FaultRecord {
  int ordinal = 0;              // position in the trial's fault list
  std::string site_kind;        // node_output | weight | graph_input
  std::string node;             // producing node name ("" for weights and inputs)
  std::string op_type;          // producing node's op type, or the first consumer's for weights
  std::string value;            // name of the faulted tensor as in the model file
  std::int64_t flat_index = 0;  // row-major index in ONNX layout
  std::vector<std::int64_t> coords;
  std::string model;      // bitflip | stuck0 | stuck1 | zero | value | random
  std::vector<int> bits;  // bit positions, 0 = least significant
  std::string dtype;
  std::uint64_t bits_before = 0;  // raw element bits, zero-extended
  std::uint64_t bits_after = 0;
  double value_before = 0.0;
  double value_after = 0.0;

  // Every field; doubles compare bit for bit, so a NaN equals a NaN with the same bits.
  bool same_result(const FaultRecord& o) const;
};

// One trial (table `trials`, with its faults).
struct TrialRecord {
  std::int64_t id = 0;           // trial number i: its input and faults depend only on (seed, i)
  std::int64_t input_index = 0;  // into `inputs`
  std::int64_t label = -1;       // ground truth of that input
  std::int64_t golden_label = -1;
  std::int64_t faulty_label = -1;  // -1 for DUE/hang
  bool golden_in_top5 = true;      // the golden label is in the faulty top-5
  std::string outcome;             // masked | sdc | tolerable | due | hang
  std::string error;               // DUE/hang reason
  std::int64_t nodes_computed = 0;
  double duration_s = 0.0;
  std::vector<FaultRecord> faults;

  // Everything except the trial's costs, duration_s (which differs between runs) and
  // nodes_computed (which depends on how it ran: strategy, batched passes); doubles compare bit
  // for bit.
  bool same_result(const TrialRecord& o) const;
};

class ResultsDb {
 public:
  // Creates a new database at `path` (fails if the file exists) with the schema and the campaign
  // row.
  static ResultsDb create(const std::string& path, const CampaignInfo& info);
  // Opens an existing database; throws InputError if it is missing or not a dnnfi results file,
  // or, unless read_only, if the file is write-protected.
  static ResultsDb open(const std::string& path, bool read_only);

  ResultsDb(ResultsDb&&) noexcept;
  ResultsDb& operator=(ResultsDb&&) noexcept;
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;
  ~ResultsDb();

  const std::string& path() const { return path_; }
  CampaignInfo campaign() const;

  // The golden pass, written once (one transaction).
  void write_inputs(std::span<const InputRecord> inputs);
  std::vector<InputRecord> inputs() const;

  // Appends trials and their faults in one transaction; a trial id already present is an error
  // (and nothing of the batch is written).
  void append_trials(std::span<const TrialRecord> trials);
  std::vector<std::int64_t> trial_ids() const;  // ascending
  std::int64_t trial_count() const;
  // Trials with this outcome ("sdc", "masked"...).
  std::int64_t outcome_count(const std::string& outcome) const;
  std::optional<TrialRecord> trial(std::int64_t id) const;
  // Trials with ids in [first, last), ascending, with their faults (all in memory: read a large
  // campaign in id ranges).
  std::vector<TrialRecord> trials(std::int64_t first = 0, std::int64_t last = INT64_MAX) const;
  // Deletes trials with id >= first (used when a target-width campaign stops at a checkpoint).
  void delete_trials_from(std::int64_t first);

  sqlite3* handle() const { return db_; }  // for summary/export queries

 private:
  ResultsDb(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  std::string path_;
  sqlite3* db_ = nullptr;
};

// Merges shard databases into `out` (which must not exist): every shard must have the same
// config_hash and inputs, trial ids must not overlap. The result holds the same campaign (shard
// 0/1), inputs and trials as a single run. Throws InputError naming the file at fault. Written as
// `out` + ".tmp" and renamed at the end, so a failed merge leaves no `out` behind.
void merge_results(const std::string& out, std::span<const std::string> shards);

}  // namespace dnnfi
