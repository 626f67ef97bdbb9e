// merge_results (declared in results_db.h): shard databases -> one database that reads as if the
// campaign had run unsharded.
#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>

#include "campaign/results_db.h"
#include "campaign/results_schema.h"
#include "campaign/sqlite_statement.h"
#include "core/error.h"

namespace dnnfi {

namespace {

namespace fs = std::filesystem;
using sqlite::Statement;
using sqlite::Transaction;

bool has_trial(const ResultsDb& db, std::int64_t id) {
  Statement q(db.handle(), db.path(), "cannot read trials", "SELECT 1 FROM trials WHERE id = ?1");
  q.bind(1, id);
  return q.step();
}

void check_same_inputs(const ResultsDb& first, const std::vector<InputRecord>& expected,
                       const ResultsDb& shard) {
  const std::vector<InputRecord> got = shard.inputs();
  if (got.size() != expected.size()) {
    throw InputError(
        fmt::format("{}: has {} inputs but {} has {} (not a shard of the same "
                    "campaign)",
                    shard.path(), got.size(), first.path(), expected.size()));
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(got[i] == expected[i])) {
      throw InputError(
          fmt::format("{}: input {} differs from input {} of {} (not a shard of the "
                      "same campaign)",
                      shard.path(), got[i].index, expected[i].index, first.path()));
    }
  }
}

// Copies the trials and faults of `shards[k]` into `out` with SQL, so a shard of millions of
// trials is never held in memory; the primary key of `trials` detects overlapping ids.
void copy_trials(const ResultsDb& out, const std::vector<ResultsDb>& shards, std::size_t k) {
  sqlite3* db = out.handle();
  const ResultsDb& shard = shards[k];
  const std::string what = fmt::format("cannot merge {}", shard.path());
  // The shard's path is bound as a value, not spliced into the SQL: any file name is safe.
  Statement attach(db, out.path(), what, "ATTACH DATABASE ?1 AS shard");
  attach.bind(1, shard.path()).run();
  try {
    Transaction tx(db, out.path(), what);
    {
      Statement copy(
          db, out.path(), what,
          fmt::format("INSERT INTO main.trials ({0}) SELECT {0} FROM shard.trials", kTrialColumns));
      const int rc = copy.step_rc();
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        // The failed statement was undone, so main holds only earlier shards' trials.
        Statement overlap(db, out.path(), what,
                          "SELECT s.id FROM shard.trials AS s JOIN main.trials AS m ON m.id = s.id "
                          "ORDER BY s.id LIMIT 1");
        if (overlap.step()) {
          const std::int64_t id = overlap.int64(0);
          for (std::size_t j = 0; j < k; ++j) {
            if (has_trial(shards[j], id)) {
              throw InputError(
                  fmt::format("{}: trial {} is also in {} (shards of one campaign "
                              "never share a trial id)",
                              shard.path(), id, shards[j].path()));
            }
          }
        }
      }
      if (rc != SQLITE_DONE) copy.fail();
      Statement copy_faults(db, out.path(), what,
                            fmt::format("INSERT INTO main.faults ({0}) SELECT {0} FROM "
                                        "shard.faults",
                                        kFaultColumns));
      copy_faults.run();
    }
    tx.commit();
  } catch (...) {
    sqlite3_exec(db, "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  sqlite::exec(db, out.path(), what, "DETACH DATABASE shard");
}

void merge_into(const std::string& tmp, const std::vector<ResultsDb>& shards) {
  // Shards differ only in execution keys (threads, shard, output), which config_hash leaves out:
  // shard 0's row, made whole-run (0/1), describes the merged campaign. Its config_yaml still
  // names shard 0's execution keys.
  CampaignInfo info = shards[0].campaign();
  info.shard_index = 0;
  info.shard_count = 1;
  ResultsDb out = ResultsDb::create(tmp, info);
  out.write_inputs(shards[0].inputs());
  for (std::size_t k = 0; k < shards.size(); ++k) copy_trials(out, shards, k);
  // Fold the WAL into the main file before it is closed and renamed: only the main file moves.
  sqlite::exec(out.handle(), tmp, "cannot finish merge", "PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace

void merge_results(const std::string& out, std::span<const std::string> shards) {
  if (shards.empty()) throw InputError(fmt::format("{}: no shard databases to merge", out));
  std::error_code ec;
  if (fs::exists(out, ec)) {
    throw InputError(fmt::format("{}: already exists (merge never overwrites a database)", out));
  }
  const std::string tmp = out + ".tmp";
  if (fs::exists(tmp, ec)) {
    throw InputError(
        fmt::format("{}: already exists (left by an interrupted merge? remove it)", tmp));
  }

  // Every check that needs only the shards happens before anything is written.
  for (std::size_t k = 1; k < shards.size(); ++k) {
    for (std::size_t j = 0; j < k; ++j) {
      if (fs::equivalent(shards[k], shards[j], ec)) {
        throw InputError(
            fmt::format("{}: given twice to merge (also as {})", shards[k], shards[j]));
      }
    }
  }
  std::vector<ResultsDb> dbs;
  dbs.reserve(shards.size());
  for (const std::string& path : shards) dbs.push_back(ResultsDb::open(path, /*read_only=*/true));
  const CampaignInfo first = dbs[0].campaign();
  const std::vector<InputRecord> inputs = dbs[0].inputs();
  for (std::size_t k = 1; k < dbs.size(); ++k) {
    const CampaignInfo c = dbs[k].campaign();
    if (c.config_hash != first.config_hash) {
      throw InputError(
          fmt::format("{}: config_hash {} differs from {} of {} (not a shard of the "
                      "same campaign)",
                      dbs[k].path(), c.config_hash, first.config_hash, dbs[0].path()));
    }
    check_same_inputs(dbs[0], inputs, dbs[k]);
  }

  try {
    merge_into(tmp, dbs);
    if (fs::exists(tmp + "-wal", ec)) {
      throw InputError(
          fmt::format("{}: cannot finish merge: its write-ahead log was not folded "
                      "into the file",
                      tmp));
    }
    fs::rename(tmp, out, ec);
    if (ec) {
      throw InputError(fmt::format("{}: cannot rename {} to it: {}", out, tmp, ec.message()));
    }
  } catch (...) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(tmp + suffix, ec);
    throw;
  }
}

}  // namespace dnnfi
