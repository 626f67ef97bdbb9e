// The SQL schema of the results database, in one place for results_db.cpp, results_merge.cpp and
// the summary queries. docs/results_schema.md documents every column; change both together and
// bump kResultsSchemaVersion when an existing file would no longer read correctly.
#pragma once

namespace dnnfi {

inline constexpr int kResultsSchemaVersion = 1;
inline constexpr const char* kResultsApplication = "dnnfi";
// Also written to the SQLite header (PRAGMA application_id) so that file(1) and other tools can
// tell a results database from any other SQLite file: "DNFI" in ASCII.
inline constexpr int kResultsApplicationId = 0x444e4649;

// Only primary keys are indexed. The summary queries scan `faults` once and join `trials` on its
// primary key; secondary indexes on faults(node / op_type / bit, trial_id) left them no faster
// (200k trials: 0.3-0.4 s either way) and made appends 2-4x slower, and appends are the hot path.
// Users who run point queries can add an index to their copy (docs/results_schema.md).
//
// Conventions: integers that are uint64 in C++ (seed, bits_before/after) are stored as their
// int64 two's-complement bit pattern; booleans are 0/1; SQLite has no NaN (it stores NULL), so
// each fault value is kept both as REAL for queries and as its exact IEEE-754 bits.
inline constexpr const char* kResultsSchemaSql = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE campaign (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  config_yaml TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  model_path TEXT NOT NULL,
  model_sha256 TEXT NOT NULL,
  dnnfi_version TEXT NOT NULL,
  machine TEXT NOT NULL,
  seed INTEGER NOT NULL,
  trials_planned INTEGER NOT NULL,
  shard_index INTEGER NOT NULL,
  shard_count INTEGER NOT NULL,
  started_at TEXT NOT NULL
);
CREATE TABLE inputs (
  input_index INTEGER PRIMARY KEY,
  dataset_index INTEGER NOT NULL,
  label INTEGER NOT NULL,
  golden_label INTEGER NOT NULL,
  correct INTEGER NOT NULL CHECK (correct IN (0, 1))
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  input_index INTEGER NOT NULL,
  label INTEGER NOT NULL,
  golden_label INTEGER NOT NULL,
  faulty_label INTEGER NOT NULL,
  golden_in_top5 INTEGER NOT NULL CHECK (golden_in_top5 IN (0, 1)),
  outcome TEXT NOT NULL,
  error TEXT NOT NULL,
  nodes_computed INTEGER NOT NULL,
  duration_s REAL
);
CREATE TABLE faults (
  trial_id INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  site_kind TEXT NOT NULL,
  node TEXT NOT NULL,
  op_type TEXT NOT NULL,
  value TEXT NOT NULL,
  flat_index INTEGER NOT NULL,
  coords TEXT NOT NULL,
  model TEXT NOT NULL,
  bits TEXT NOT NULL,
  bit INTEGER,
  dtype TEXT NOT NULL,
  bits_before INTEGER NOT NULL,
  bits_after INTEGER NOT NULL,
  value_before REAL,
  value_after REAL,
  value_before_f64 INTEGER NOT NULL,
  value_after_f64 INTEGER NOT NULL,
  PRIMARY KEY (trial_id, ordinal)
) WITHOUT ROWID;
)sql";

inline constexpr const char* kCampaignColumns =
    "config_yaml, config_hash, model_path, model_sha256, dnnfi_version, machine, seed, "
    "trials_planned, shard_index, shard_count, started_at";
inline constexpr const char* kInputColumns =
    "input_index, dataset_index, label, golden_label, correct";
inline constexpr const char* kTrialColumns =
    "id, input_index, label, golden_label, faulty_label, golden_in_top5, outcome, error, "
    "nodes_computed, duration_s";
inline constexpr const char* kFaultColumns =
    "trial_id, ordinal, site_kind, node, op_type, value, flat_index, coords, model, bits, bit, "
    "dtype, bits_before, bits_after, value_before, value_after, value_before_f64, value_after_f64";

}  // namespace dnnfi
