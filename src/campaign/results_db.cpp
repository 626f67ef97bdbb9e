#include "campaign/results_db.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <filesystem>

#include "campaign/results_schema.h"
#include "campaign/sqlite_statement.h"
#include "core/error.h"

namespace dnnfi {

namespace {

namespace fs = std::filesystem;
using sqlite::Statement;
using sqlite::Transaction;

// Another process (summary while a campaign runs, a second shard writing next door) may hold the
// write lock briefly; wait for it rather than fail.
constexpr int kBusyTimeoutMs = 10000;

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

std::string join_ints(const auto& v) { return fmt::format("{}", fmt::join(v, ",")); }

template <typename T>
std::vector<T> parse_ints(const std::string& path, const std::string& column, std::int64_t trial,
                          const std::string& s) {
  std::vector<T> out;
  const char* p = s.data();
  const char* end = s.data() + s.size();
  while (p < end) {
    T v{};
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || (next != end && *next != ',')) {
      throw InputError(
          fmt::format("{}: trial {}: faults.{} is not a comma-separated integer "
                      "list: '{}'",
                      path, trial, column, s));
    }
    out.push_back(v);
    p = next == end ? end : next + 1;
  }
  return out;
}

std::int64_t as_int64(std::uint64_t v) { return std::bit_cast<std::int64_t>(v); }
std::uint64_t as_uint64(std::int64_t v) { return std::bit_cast<std::uint64_t>(v); }

void remove_database_files(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
}

// Applies the connection settings. Called only once the file is known to be a results database
// (open) or is being created, so that a foreign file is never converted to WAL.
void configure_for_writing(sqlite3* db, const std::string& path) {
  // WAL: readers (dnnfi summary during a run) never block the writer, and a commit is one append.
  // A file system without shared memory keeps the rollback journal, which is just as crash-safe,
  // so the mode the pragma reports is not checked.
  // synchronous=NORMAL: with WAL a committed transaction survives a crash of the process; only an
  // OS crash or power loss can drop the last commits, and resume recomputes those trials exactly
  // because a trial depends only on (seed, id). FULL would fsync every batch.
  // foreign_keys: faults.trial_id must name a trial, and deleting a trial deletes its faults.
  // A 64 MiB page cache and a checkpoint every 16384 pages (64 MiB of WAL): appends touch the same
  // right-edge pages batch after batch, so a rare checkpoint copies each page once instead of
  // once per ~1000 pages of WAL; this took the commit cost per trial from ~13 to ~7 us of CPU
  // (bench/results/mpi.md). Closing the last connection still checkpoints and removes the WAL.
  sqlite::exec(db, path, "cannot configure results database",
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
               "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=16384;");
}

sqlite3* open_connection(const std::string& path, int flags, std::string_view what) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    try {
      sqlite::throw_error(path, db, what);
    } catch (...) {
      sqlite3_close_v2(db);
      throw;
    }
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return db;
}

// Checks that `db` is a dnnfi results database of a schema this build reads.
void check_meta(sqlite3* db, const std::string& path) {
  sqlite3_stmt* probe = nullptr;
  const int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'application'", -1,
                                    &probe, nullptr);
  sqlite3_finalize(probe);
  if (rc != SQLITE_OK) {
    const int code = rc & 0xff;
    if (code == SQLITE_NOTADB) {
      throw InputError(fmt::format("{}: not a dnnfi results database (not an SQLite file)", path));
    }
    if (code == SQLITE_ERROR) {  // no such table: meta
      throw InputError(
          fmt::format("{}: not a dnnfi results database ({})", path, sqlite3_errmsg(db)));
    }
    sqlite::throw_error(path, db, "cannot read results database");
  }
  Statement q(db, path, "cannot read results database", "SELECT key, value FROM meta");
  std::string application, version;
  while (q.step()) {
    if (q.text(0) == "application") application = q.text(1);
    if (q.text(0) == "schema_version") version = q.text(1);
  }
  if (application != kResultsApplication) {
    throw InputError(fmt::format("{}: not a dnnfi results database (meta.application is '{}')",
                                 path, application));
  }
  if (version != std::to_string(kResultsSchemaVersion)) {
    throw InputError(
        fmt::format("{}: results database schema version '{}' is not supported (this dnnfi "
                    "reads version {})",
                    path, version, kResultsSchemaVersion));
  }
}

void bind_trial(Statement& s, const TrialRecord& t) {
  s.bind(1, t.id)
      .bind(2, t.input_index)
      .bind(3, t.label)
      .bind(4, t.golden_label)
      .bind(5, t.faulty_label)
      .bind(6, t.golden_in_top5 ? 1 : 0)
      .bind(7, t.outcome)
      .bind(8, t.error)
      .bind(9, t.nodes_computed)
      .bind(10, t.duration_s);
}

void bind_fault(Statement& s, std::int64_t trial_id, const FaultRecord& f) {
  s.bind(1, trial_id)
      .bind(2, f.ordinal)
      .bind(3, f.site_kind)
      .bind(4, f.node)
      .bind(5, f.op_type)
      .bind(6, f.value)
      .bind(7, f.flat_index)
      .bind(8, join_ints(f.coords))
      .bind(9, f.model)
      .bind(10, join_ints(f.bits));
  if (f.bits.size() == 1) {
    s.bind(11, f.bits[0]);
  } else {
    s.bind_null(11);
  }
  s.bind(12, f.dtype)
      .bind(13, as_int64(f.bits_before))
      .bind(14, as_int64(f.bits_after))
      .bind(15, f.value_before)
      .bind(16, f.value_after)
      .bind(17, std::bit_cast<std::int64_t>(f.value_before))
      .bind(18, std::bit_cast<std::int64_t>(f.value_after));
}

// Columns in kTrialColumns order.
TrialRecord read_trial(const Statement& s) {
  TrialRecord t;
  t.id = s.int64(0);
  t.input_index = s.int64(1);
  t.label = s.int64(2);
  t.golden_label = s.int64(3);
  t.faulty_label = s.int64(4);
  t.golden_in_top5 = s.int64(5) != 0;
  t.outcome = s.text(6);
  t.error = s.text(7);
  t.nodes_computed = s.int64(8);
  t.duration_s = s.real(9);
  return t;
}

// Columns in kFaultColumns order (column 0, trial_id, is read by the caller).
FaultRecord read_fault(const Statement& s, const std::string& path) {
  FaultRecord f;
  const std::int64_t trial = s.int64(0);
  f.ordinal = static_cast<int>(s.int64(1));
  f.site_kind = s.text(2);
  f.node = s.text(3);
  f.op_type = s.text(4);
  f.value = s.text(5);
  f.flat_index = s.int64(6);
  f.coords = parse_ints<std::int64_t>(path, "coords", trial, s.text(7));
  f.model = s.text(8);
  f.bits = parse_ints<int>(path, "bits", trial, s.text(9));
  f.dtype = s.text(11);
  f.bits_before = as_uint64(s.int64(12));
  f.bits_after = as_uint64(s.int64(13));
  // The exact bits, not the REAL columns: those hold NULL for NaN.
  f.value_before = std::bit_cast<double>(s.int64(16));
  f.value_after = std::bit_cast<double>(s.int64(17));
  return f;
}

}  // namespace

bool FaultRecord::same_result(const FaultRecord& o) const {
  return ordinal == o.ordinal && site_kind == o.site_kind && node == o.node &&
         op_type == o.op_type && value == o.value && flat_index == o.flat_index &&
         coords == o.coords && model == o.model && bits == o.bits && dtype == o.dtype &&
         bits_before == o.bits_before && bits_after == o.bits_after &&
         same_bits(value_before, o.value_before) && same_bits(value_after, o.value_after);
}

bool TrialRecord::same_result(const TrialRecord& o) const {
  if (!(id == o.id && input_index == o.input_index && label == o.label &&
        golden_label == o.golden_label && faulty_label == o.faulty_label &&
        golden_in_top5 == o.golden_in_top5 && outcome == o.outcome && error == o.error &&
        faults.size() == o.faults.size())) {
    return false;
  }
  for (std::size_t i = 0; i < faults.size(); ++i) {
    if (!faults[i].same_result(o.faults[i])) return false;
  }
  return true;
}

ResultsDb ResultsDb::create(const std::string& path, const CampaignInfo& info) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    throw InputError(
        fmt::format("{}: already exists (a results database is never overwritten)", path));
  }
  ResultsDb r(path, open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                    "cannot create results database"));
  try {
    configure_for_writing(r.db_, path);
    const std::string what = "cannot create results database";
    sqlite::exec(r.db_, path, what,
                 fmt::format("PRAGMA application_id={}", kResultsApplicationId).c_str());
    Transaction tx(r.db_, path, what);
    sqlite::exec(r.db_, path, what, kResultsSchemaSql);
    {
      Statement meta(r.db_, path, what, "INSERT INTO meta (key, value) VALUES (?1, ?2)");
      meta.bind(1, "application").bind(2, kResultsApplication).run();
      meta.bind(1, "schema_version").bind(2, std::to_string(kResultsSchemaVersion)).run();
      Statement row(r.db_, path, what,
                    fmt::format("INSERT INTO campaign (id, {}) VALUES "
                                "(0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                                kCampaignColumns));
      row.bind(1, info.config_yaml)
          .bind(2, info.config_hash)
          .bind(3, info.model_path)
          .bind(4, info.model_sha256)
          .bind(5, info.dnnfi_version)
          .bind(6, info.machine)
          .bind(7, as_int64(info.seed))
          .bind(8, info.trials_planned)
          .bind(9, info.shard_index)
          .bind(10, info.shard_count)
          .bind(11, info.started_at)
          .run();
    }
    tx.commit();
  } catch (...) {
    // The file is ours (it did not exist): leave nothing half-made for resume to trip on.
    sqlite3_close_v2(r.db_);
    r.db_ = nullptr;
    remove_database_files(path);
    throw;
  }
  return r;
}

ResultsDb ResultsDb::open(const std::string& path, bool read_only) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw InputError(fmt::format("{}: no such results database", path));
  if (!fs::is_regular_file(status)) {
    throw InputError(fmt::format("{}: not a dnnfi results database (not a regular file)", path));
  }
  ResultsDb r(path, open_connection(path, read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE,
                                    "cannot open results database"));
  check_meta(r.db_, path);
  if (!read_only) {
    // SQLite silently opens a write-protected file read-only; say so now rather than at the first
    // append, hours into a resumed campaign.
    if (sqlite3_db_readonly(r.db_, "main") == 1) {
      throw InputError(
          fmt::format("{}: cannot open results database for writing: the file is "
                      "read-only",
                      path));
    }
    configure_for_writing(r.db_, path);
  }
  return r;
}

ResultsDb::ResultsDb(ResultsDb&& o) noexcept
    : path_(std::move(o.path_)), db_(std::exchange(o.db_, nullptr)) {}

ResultsDb& ResultsDb::operator=(ResultsDb&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    path_ = std::move(o.path_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

// Closing the last connection checkpoints the WAL into the main file and deletes it.
ResultsDb::~ResultsDb() { sqlite3_close_v2(db_); }

CampaignInfo ResultsDb::campaign() const {
  Statement q(db_, path_, "cannot read campaign",
              fmt::format("SELECT {} FROM campaign WHERE id = 0", kCampaignColumns));
  if (!q.step()) {
    throw InputError(fmt::format("{}: not a dnnfi results database (no campaign row)", path_));
  }
  CampaignInfo c;
  c.config_yaml = q.text(0);
  c.config_hash = q.text(1);
  c.model_path = q.text(2);
  c.model_sha256 = q.text(3);
  c.dnnfi_version = q.text(4);
  c.machine = q.text(5);
  c.seed = as_uint64(q.int64(6));
  c.trials_planned = q.int64(7);
  c.shard_index = static_cast<int>(q.int64(8));
  c.shard_count = static_cast<int>(q.int64(9));
  c.started_at = q.text(10);
  return c;
}

void ResultsDb::write_inputs(std::span<const InputRecord> inputs) {
  const std::string what = "cannot write inputs";
  Transaction tx(db_, path_, what);
  {
    Statement ins(
        db_, path_, what,
        fmt::format("INSERT INTO inputs ({}) VALUES (?1, ?2, ?3, ?4, ?5)", kInputColumns));
    for (const InputRecord& in : inputs) {
      ins.bind(1, in.index)
          .bind(2, in.dataset_index)
          .bind(3, in.label)
          .bind(4, in.golden_label)
          .bind(5, in.correct ? 1 : 0);
      const int rc = ins.step_rc();
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        throw InputError(
            fmt::format("{}: {}: input {} is already in the database", path_, what, in.index));
      }
      if (rc != SQLITE_DONE) ins.fail();
      ins.reset();
    }
  }
  tx.commit();
}

std::vector<InputRecord> ResultsDb::inputs() const {
  Statement q(db_, path_, "cannot read inputs",
              fmt::format("SELECT {} FROM inputs ORDER BY input_index", kInputColumns));
  std::vector<InputRecord> out;
  while (q.step()) {
    InputRecord in;
    in.index = q.int64(0);
    in.dataset_index = q.int64(1);
    in.label = q.int64(2);
    in.golden_label = q.int64(3);
    in.correct = q.int64(4) != 0;
    out.push_back(in);
  }
  return out;
}

void ResultsDb::append_trials(std::span<const TrialRecord> trials) {
  if (trials.empty()) return;
  const std::string what = "cannot append trials";
  // A repeat inside the batch would also fail on the primary key below; finding it first gives
  // the message that fits.
  std::vector<std::int64_t> ids;
  ids.reserve(trials.size());
  for (const TrialRecord& t : trials) ids.push_back(t.id);
  std::sort(ids.begin(), ids.end());
  if (auto it = std::adjacent_find(ids.begin(), ids.end()); it != ids.end()) {
    throw InputError(
        fmt::format("{}: {}: trial {} appears twice in one batch (nothing of the "
                    "batch was written)",
                    path_, what, *it));
  }
  // Statements are declared after the transaction so they are finalized before it rolls back.
  Transaction tx(db_, path_, what);
  {
    Statement ins_trial(db_, path_, what,
                        fmt::format("INSERT INTO trials ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                    "?8, ?9, ?10)",
                                    kTrialColumns));
    Statement ins_fault(db_, path_, what,
                        fmt::format("INSERT INTO faults ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                    "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                                    kFaultColumns));
    for (const TrialRecord& t : trials) {
      bind_trial(ins_trial, t);
      const int rc = ins_trial.step_rc();
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        throw InputError(
            fmt::format("{}: {}: trial {} is already in the database (nothing of "
                        "the batch was written)",
                        path_, what, t.id));
      }
      if (rc != SQLITE_DONE) ins_trial.fail();
      ins_trial.reset();
      for (const FaultRecord& f : t.faults) {
        bind_fault(ins_fault, t.id, f);
        const int frc = ins_fault.step_rc();
        if (frc == SQLITE_CONSTRAINT_PRIMARYKEY) {
          throw InputError(
              fmt::format("{}: {}: trial {} has two faults with ordinal {} (nothing "
                          "of the batch was written)",
                          path_, what, t.id, f.ordinal));
        }
        if (frc != SQLITE_DONE) ins_fault.fail();
        ins_fault.reset();
      }
    }
  }
  tx.commit();
}

std::vector<std::int64_t> ResultsDb::trial_ids() const {
  Statement q(db_, path_, "cannot read trials", "SELECT id FROM trials ORDER BY id");
  std::vector<std::int64_t> ids;
  while (q.step()) ids.push_back(q.int64(0));
  return ids;
}

std::int64_t ResultsDb::trial_count() const {
  Statement q(db_, path_, "cannot read trials", "SELECT COUNT(*) FROM trials");
  q.step();
  return q.int64(0);
}

std::int64_t ResultsDb::outcome_count(const std::string& outcome) const {
  Statement q(db_, path_, "cannot read trials", "SELECT COUNT(*) FROM trials WHERE outcome = ?1");
  q.bind(1, outcome);
  q.step();
  return q.int64(0);
}

std::optional<TrialRecord> ResultsDb::trial(std::int64_t id) const {
  std::vector<TrialRecord> t = trials(id, id == INT64_MAX ? id : id + 1);
  if (t.empty()) return std::nullopt;
  return std::move(t.front());
}

std::vector<TrialRecord> ResultsDb::trials(std::int64_t first, std::int64_t last) const {
  const std::string what = "cannot read trials";
  std::vector<TrialRecord> out;
  {
    Statement q(
        db_, path_, what,
        fmt::format("SELECT {} FROM trials WHERE id >= ?1 AND id < ?2 ORDER BY id", kTrialColumns));
    q.bind(1, first).bind(2, last);
    while (q.step()) out.push_back(read_trial(q));
  }
  // Both lists are in id order: one merge pass attaches the faults to their trials.
  Statement q(db_, path_, what,
              fmt::format("SELECT {} FROM faults WHERE trial_id >= ?1 AND trial_id < ?2 "
                          "ORDER BY trial_id, ordinal",
                          kFaultColumns));
  q.bind(1, first).bind(2, last);
  std::size_t i = 0;
  while (q.step()) {
    const std::int64_t trial_id = q.int64(0);
    while (i < out.size() && out[i].id < trial_id) ++i;
    if (i == out.size()) break;
    if (out[i].id == trial_id) out[i].faults.push_back(read_fault(q, path_));
  }
  return out;
}

void ResultsDb::delete_trials_from(std::int64_t first) {
  const std::string what = "cannot delete trials";
  Transaction tx(db_, path_, what);
  {
    // Faults explicitly, so this does not depend on the foreign_keys setting of the connection.
    Statement del_faults(db_, path_, what, "DELETE FROM faults WHERE trial_id >= ?1");
    del_faults.bind(1, first).run();
    Statement del_trials(db_, path_, what, "DELETE FROM trials WHERE id >= ?1");
    del_trials.bind(1, first).run();
  }
  tx.commit();
}

}  // namespace dnnfi
