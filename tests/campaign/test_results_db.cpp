// The results database: every field round-trips (uint64 bit patterns, NaN payloads, Inf), the
// columns hold what docs/results_schema.md says (read with raw SQL, not through ResultsDb),
// batches are all-or-nothing, foreign files are refused by name, and merge gives the union.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "campaign/results_db.h"
#include "common/onnx_builder.h"
#include "core/error.h"
#include "results_records.h"

namespace dnnfi {
namespace {

namespace fs = std::filesystem;
using test::campaign_info;
using test::fault_record;
using test::input_records;
using test::trial_record;

// Expects `fn` to throw InputError whose message names `path` and contains `fragment`.
template <typename Fn>
void expect_input_error(Fn&& fn, const std::string& path, const std::string& fragment = "") {
  try {
    fn();
    ADD_FAILURE() << "no InputError (expected one naming " << path << ")";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
  }
}

// Raw SQL on the file, independent of ResultsDb: what another tool would see.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  sqlite3* get() { return db_; }
  void exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  }
  // The rows of a query, each column as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    std::vector<std::vector<std::string>> out;
    while (s && sqlite3_step(s) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        row.push_back(sqlite3_column_type(s, i) == SQLITE_NULL ? "NULL" : t);
      }
      out.push_back(row);
    }
    sqlite3_finalize(s);
    return out;
  }
  std::string scalar(const std::string& sql) {
    auto r = rows(sql);
    return r.empty() || r[0].empty() ? "<no row>" : r[0][0];
  }

 private:
  sqlite3* db_ = nullptr;
};

double from_bits(std::uint64_t b) { return std::bit_cast<double>(b); }
std::uint64_t to_bits(double d) { return std::bit_cast<std::uint64_t>(d); }

// A trial whose faults hold the awkward values: top-bit-set uint64 patterns, NaNs with payloads
// and sign, infinities, -0.0, a denormal, several bits, no coords.
TrialRecord awkward_trial(std::int64_t id) {
  TrialRecord t = trial_record(id, "sdc");
  t.golden_in_top5 = false;
  t.error = "line one, \"quoted\"";
  t.duration_s = std::numeric_limits<double>::infinity();
  FaultRecord a = fault_record(0, "conv1", "Conv", {63});
  a.dtype = "float64";
  a.bits_before = 0x8000000000000001ull;
  a.bits_after = 0xffffffffffffffffull;
  a.value_before = from_bits(0x7ff8000000000123ull);  // quiet NaN with a payload
  a.value_after = from_bits(0xfff0000000000001ull);   // negative signalling NaN
  FaultRecord b = fault_record(1, "", "Gemm", {1, 4, 30});
  b.coords = {};
  b.model = "random";
  b.value = "fc.weight";
  b.bits_before = 0;
  b.bits_after = 0x8000000000000000ull;
  b.value_before = -std::numeric_limits<double>::infinity();
  b.value_after = std::numeric_limits<double>::infinity();
  FaultRecord c = fault_record(2, "relu", "Relu", {});
  c.coords = {-1, 123456789012345};
  c.value_before = -0.0;
  c.value_after = std::numeric_limits<double>::denorm_min();
  t.faults = {a, b, c};
  return t;
}

TEST(ResultsDb, RoundTripsEveryField) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  CampaignInfo info = campaign_info();
  info.seed = 0xfedcba9876543210ull;  // top bit set: stored as a negative int64
  info.trials_planned = -1;
  info.machine = "h\xc3\xb6st";  // UTF-8
  const std::vector<InputRecord> inputs = input_records(5);
  const TrialRecord t = awkward_trial(7);
  {
    ResultsDb db = ResultsDb::create(path, info);
    db.write_inputs(inputs);
    db.append_trials(std::vector<TrialRecord>{t});
  }
  const ResultsDb db = ResultsDb::open(path, /*read_only=*/true);
  EXPECT_EQ(db.path(), path);
  const CampaignInfo got_info = db.campaign();
  EXPECT_EQ(got_info.seed, 0xfedcba9876543210ull);
  EXPECT_EQ(got_info.trials_planned, -1);
  EXPECT_EQ(got_info.machine, "h\xc3\xb6st");
  EXPECT_EQ(got_info.config_yaml, info.config_yaml);
  EXPECT_TRUE(got_info == info);
  EXPECT_TRUE(db.inputs() == inputs);

  const std::optional<TrialRecord> got = db.trial(7);
  ASSERT_TRUE(got.has_value());
  // Field by field against the values set above, so a bug shared by writer and same_result
  // cannot hide.
  EXPECT_EQ(got->id, 7);
  EXPECT_EQ(got->input_index, t.input_index);
  EXPECT_EQ(got->label, t.label);
  EXPECT_EQ(got->golden_label, t.golden_label);
  EXPECT_EQ(got->faulty_label, t.faulty_label);
  EXPECT_FALSE(got->golden_in_top5);
  EXPECT_EQ(got->outcome, "sdc");
  EXPECT_EQ(got->error, "line one, \"quoted\"");
  EXPECT_EQ(got->nodes_computed, t.nodes_computed);
  EXPECT_TRUE(std::isinf(got->duration_s) && got->duration_s > 0);
  ASSERT_EQ(got->faults.size(), 3u);
  const FaultRecord& a = got->faults[0];
  EXPECT_EQ(a.ordinal, 0);
  EXPECT_EQ(a.site_kind, "node_output");
  EXPECT_EQ(a.node, "conv1");
  EXPECT_EQ(a.op_type, "Conv");
  EXPECT_EQ(a.value, "conv1_out");
  EXPECT_EQ(a.flat_index, 7);
  EXPECT_EQ(a.coords, (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(a.model, "bitflip");
  EXPECT_EQ(a.bits, std::vector<int>{63});
  EXPECT_EQ(a.dtype, "float64");
  EXPECT_EQ(a.bits_before, 0x8000000000000001ull);
  EXPECT_EQ(a.bits_after, 0xffffffffffffffffull);
  EXPECT_EQ(to_bits(a.value_before), 0x7ff8000000000123ull);
  EXPECT_EQ(to_bits(a.value_after), 0xfff0000000000001ull);
  const FaultRecord& b = got->faults[1];
  EXPECT_EQ(b.ordinal, 1);
  EXPECT_EQ(b.site_kind, "weight");
  EXPECT_EQ(b.node, "");
  EXPECT_EQ(b.value, "fc.weight");
  EXPECT_TRUE(b.coords.empty());
  EXPECT_EQ(b.model, "random");
  EXPECT_EQ(b.bits, (std::vector<int>{1, 4, 30}));
  EXPECT_EQ(b.bits_before, 0u);
  EXPECT_EQ(b.bits_after, 0x8000000000000000ull);
  EXPECT_EQ(b.value_before, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(b.value_after, std::numeric_limits<double>::infinity());
  const FaultRecord& c = got->faults[2];
  EXPECT_EQ(c.coords, (std::vector<std::int64_t>{-1, 123456789012345}));
  EXPECT_TRUE(c.bits.empty());
  EXPECT_EQ(to_bits(c.value_before), to_bits(-0.0));
  EXPECT_EQ(c.value_after, std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(got->same_result(t));
}

TEST(ResultsDb, SameResultIgnoresOnlyCosts) {
  const TrialRecord t = awkward_trial(1);
  TrialRecord u = t;
  u.duration_s = 99.0;
  EXPECT_TRUE(t.same_result(u)) << "duration_s differs between runs";
  u.nodes_computed += 5;
  EXPECT_TRUE(t.same_result(u)) << "nodes_computed depends on the strategy and batching";
  EXPECT_TRUE(t.same_result(t)) << "NaN equals NaN with the same bits";
  u = t;
  u.faults[0].value_before = from_bits(0x7ff8000000000124ull);  // another NaN payload
  EXPECT_FALSE(t.same_result(u));
  u = t;
  u.faults[2].value_before = 0.0;  // +0.0 == -0.0 numerically, but not bit for bit
  EXPECT_FALSE(t.same_result(u));
  u = t;
  u.faults[1].bits_after ^= 1;
  EXPECT_FALSE(t.same_result(u));
  u = t;
  u.faults.pop_back();
  EXPECT_FALSE(t.same_result(u));
  u = t;
  u.golden_in_top5 = !u.golden_in_top5;
  EXPECT_FALSE(t.same_result(u));
  u = t;
  u.error += ".";
  EXPECT_FALSE(t.same_result(u));
  u = t;
  u.faults[0].coords[1] = 9;
  EXPECT_FALSE(t.same_result(u));
}

// The stored columns as docs/results_schema.md describes them, read with plain SQL.
TEST(ResultsDb, ColumnsHoldTheDocumentedEncoding) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  CampaignInfo info = campaign_info();
  info.seed = 0xfedcba9876543210ull;
  {
    ResultsDb db = ResultsDb::create(path, info);
    db.write_inputs(input_records(3));
    db.append_trials(std::vector<TrialRecord>{awkward_trial(3)});
  }
  RawDb raw(path);
  EXPECT_EQ(raw.scalar("SELECT value FROM meta WHERE key = 'application'"), "dnnfi");
  EXPECT_EQ(raw.scalar("SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  // 0xfedcba9876543210 as int64 two's complement: 0xfedcba9876543210 - 2^64.
  EXPECT_EQ(raw.scalar("SELECT seed FROM campaign"), "-81985529216486896");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM campaign"), "1");
  EXPECT_EQ(raw.scalar("SELECT correct FROM inputs WHERE input_index = 1"), "1");
  const auto rows = raw.rows(
      "SELECT ordinal, coords, bits, bit, bits_before, bits_after, value_before, value_after, "
      "typeof(value_after) FROM faults WHERE trial_id = 3 ORDER BY ordinal");
  ASSERT_EQ(rows.size(), 3u);
  // 0x8000000000000001 -> -2^63 + 1; 0xffffffffffffffff -> -1.
  EXPECT_EQ(rows[0], (std::vector<std::string>{"0", "0,1,2,3", "63", "63", "-9223372036854775807",
                                               "-1", "NULL", "NULL", "null"}));
  EXPECT_EQ(rows[1][1], "");
  EXPECT_EQ(rows[1][2], "1,4,30");
  EXPECT_EQ(rows[1][3], "NULL") << "bit is NULL unless exactly one bit";
  EXPECT_EQ(rows[1][5], "-9223372036854775808");
  EXPECT_EQ(rows[1][6], "-Inf");
  EXPECT_EQ(rows[1][7], "Inf");
  EXPECT_EQ(rows[2][1], "-1,123456789012345");
  EXPECT_EQ(rows[2][3], "NULL");
  EXPECT_EQ(raw.scalar("SELECT golden_in_top5 || outcome FROM trials WHERE id = 3"), "0sdc");
}

TEST(ResultsDb, TrialIdsRangesAndDelete) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  ResultsDb db = ResultsDb::create(path, campaign_info());
  std::vector<TrialRecord> odd, even;
  for (int i = 0; i < 10; ++i) {
    (i % 2 ? odd : even)
        .push_back(trial_record(i, "masked",
                                {fault_record(0, "n" + std::to_string(i), "Conv", {i}),
                                 fault_record(1, "m", "Relu", {i + 1})}));
  }
  db.append_trials(odd);
  db.append_trials(even);
  EXPECT_EQ(db.trial_ids(), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(db.trial_count(), 10);
  const std::vector<TrialRecord> mid = db.trials(3, 7);
  ASSERT_EQ(mid.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(mid[i].id, 3 + i);
    ASSERT_EQ(mid[i].faults.size(), 2u);
    EXPECT_EQ(mid[i].faults[0].node, "n" + std::to_string(3 + i));
    EXPECT_EQ(mid[i].faults[1].bits, std::vector<int>{4 + i});
  }
  EXPECT_EQ(db.trials().size(), 10u);
  EXPECT_FALSE(db.trial(10).has_value());
  EXPECT_FALSE(db.trial(-1).has_value());

  db.delete_trials_from(5);
  EXPECT_EQ(db.trial_ids(), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  RawDb raw(path);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM faults"), "10") << "faults of deleted trials stay";
  EXPECT_EQ(raw.scalar("SELECT MAX(trial_id) FROM faults"), "4");
}

TEST(ResultsDb, DuplicateTrialIdWritesNothingOfTheBatch) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  ResultsDb db = ResultsDb::create(path, campaign_info());
  db.append_trials(std::vector<TrialRecord>{trial_record(0, "masked"), trial_record(1, "sdc")});
  // 10 and 11 come before the duplicate: they must not stay behind.
  const std::vector<TrialRecord> batch = {trial_record(10, "masked"), trial_record(11, "masked"),
                                          trial_record(1, "due")};
  expect_input_error([&] { db.append_trials(batch); }, path, "trial 1");
  EXPECT_EQ(db.trial_ids(), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(db.trial(1)->outcome, "sdc");
  RawDb raw(path);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM faults"), "2");

  const std::vector<TrialRecord> twice = {trial_record(20, "masked"), trial_record(20, "sdc")};
  expect_input_error([&] { db.append_trials(twice); }, path, "trial 20");
  EXPECT_EQ(db.trial_count(), 2);
  db.append_trials(std::vector<TrialRecord>{trial_record(2, "masked")});  // still usable
  EXPECT_EQ(db.trial_count(), 3);
}

TEST(ResultsDb, FailureMidBatchLeavesDatabaseUnchanged) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  ResultsDb db = ResultsDb::create(path, campaign_info());
  db.append_trials(std::vector<TrialRecord>{trial_record(0, "masked")});

  // A fault that breaks the (trial_id, ordinal) key, in the third trial of the batch.
  std::vector<TrialRecord> batch = {trial_record(1, "masked"), trial_record(2, "masked"),
                                    trial_record(3, "masked")};
  batch[2].faults.push_back(batch[2].faults[0]);
  expect_input_error([&] { db.append_trials(batch); }, path, "ordinal 0");
  EXPECT_EQ(db.trial_ids(), std::vector<std::int64_t>{0});

  // A full disk, simulated by a page limit: the batch needs far more pages than remain.
  RawDb raw(path);
  const std::string pages = raw.scalar("PRAGMA page_count");
  ASSERT_EQ(sqlite3_exec(db.handle(), ("PRAGMA max_page_count=" + pages).c_str(), nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  std::vector<TrialRecord> big;
  for (int i = 1; i <= 200; ++i) {
    big.push_back(trial_record(i, "due"));
    big.back().error = std::string(2000, 'x');
  }
  expect_input_error([&] { db.append_trials(big); }, path, "full");
  EXPECT_EQ(db.trial_ids(), std::vector<std::int64_t>{0});
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM trials"), "1");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM faults"), "1");
  EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
}

TEST(ResultsDb, WriteInputsRejectsDuplicates) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  ResultsDb db = ResultsDb::create(path, campaign_info());
  std::vector<InputRecord> in = input_records(3);
  in.push_back(in[1]);
  expect_input_error([&] { db.write_inputs(in); }, path, "input 1");
  EXPECT_TRUE(db.inputs().empty());
}

TEST(ResultsDb, OpenRefusesFilesThatAreNotResultsDatabases) {
  const std::string dir = test::temp_dir("resdb");
  const std::string text = dir + "/notes.db";
  {
    std::ofstream f(text);
    for (int i = 0; i < 200; ++i) f << "this is not an SQLite file\n";
  }
  for (bool ro : {true, false}) {
    expect_input_error([&] { ResultsDb::open(text, ro); }, text, "not a dnnfi results database");
  }

  const std::string foreign = dir + "/foreign.db";
  {
    RawDb raw(foreign);
    raw.exec("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x')");
  }
  for (bool ro : {true, false}) {
    expect_input_error([&] { ResultsDb::open(foreign, ro); }, foreign,
                       "not a dnnfi results database");
  }
  // Opening for writing must not have converted the foreign file to WAL.
  EXPECT_EQ(RawDb(foreign).scalar("PRAGMA journal_mode"), "delete");

  const std::string other_app = dir + "/other.db";
  RawDb(other_app).exec(
      "CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('application', 'x'), "
      "('schema_version', '1')");
  expect_input_error([&] { ResultsDb::open(other_app, true); }, other_app,
                     "not a dnnfi results database");

  const std::string future = dir + "/future.db";
  ResultsDb::create(future, campaign_info());
  RawDb(future).exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  expect_input_error([&] { ResultsDb::open(future, true); }, future, "schema version");

  expect_input_error([&] { ResultsDb::open(dir + "/missing.db", true); }, dir + "/missing.db");
  EXPECT_FALSE(fs::exists(dir + "/missing.db")) << "open must not create the file";
  expect_input_error([&] { ResultsDb::open(dir, true); }, dir);
}

TEST(ResultsDb, CreateRefusesAnExistingFile) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  {
    ResultsDb db = ResultsDb::create(path, campaign_info());
    db.append_trials(std::vector<TrialRecord>{trial_record(0, "sdc")});
  }
  expect_input_error([&] { ResultsDb::create(path, campaign_info("other")); }, path,
                     "already exists");
  const ResultsDb db = ResultsDb::open(path, true);
  EXPECT_EQ(db.campaign().config_hash, "hash-a");
  EXPECT_EQ(db.trial_count(), 1);
}

TEST(ResultsDb, UnwritableLocationIsAnInputError) {
  const std::string dir = test::temp_dir("resdb");
  // A regular file where a directory should be: fails for every user, root included.
  const std::string file = dir + "/plain_file";
  std::ofstream(file) << "x";
  const std::string under_file = file + "/results.db";
  expect_input_error([&] { ResultsDb::create(under_file, campaign_info()); }, under_file,
                     "cannot create");
  const std::string no_dir = dir + "/no/such/dir/results.db";
  expect_input_error([&] { ResultsDb::create(no_dir, campaign_info()); }, no_dir);
  EXPECT_FALSE(fs::exists(dir + "/no"));
}

TEST(ResultsDb, WriteProtectedLocationIsAnInputError) {
  // /proc refuses new files and writes even to root.
  expect_input_error([&] { ResultsDb::create("/proc/dnnfi-results.db", campaign_info()); },
                     "/proc/dnnfi-results.db");
  expect_input_error([&] { ResultsDb::open("/proc/version", false); }, "/proc/version");
  if (geteuid() == 0) return;  // permission bits do not bind root; the /proc checks above do
  const std::string dir = test::temp_dir("resdb");
  const std::string locked = dir + "/locked";
  fs::create_directory(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  expect_input_error([&] { ResultsDb::create(locked + "/results.db", campaign_info()); },
                     locked + "/results.db");
  const std::string ro_file = dir + "/ro.db";
  ResultsDb::create(ro_file, campaign_info());
  fs::permissions(ro_file, fs::perms::owner_read);
  expect_input_error([&] { ResultsDb::open(ro_file, false); }, ro_file, "read-only");
  fs::permissions(locked, fs::perms::owner_all);
}

TEST(ResultsDb, ReadOnlyConnectionRefusesWrites) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  ResultsDb::create(path, campaign_info());
  ResultsDb db = ResultsDb::open(path, /*read_only=*/true);
  expect_input_error([&] { db.append_trials(std::vector<TrialRecord>{trial_record(0, "sdc")}); },
                     path, "readonly");
  expect_input_error([&] { db.delete_trials_from(0); }, path);
  EXPECT_EQ(ResultsDb::open(path, true).trial_count(), 0);
}

TEST(ResultsDb, ReadersSeeCommittedTrialsWhileTheWriterIsOpen) {
  const std::string path = test::temp_dir("resdb") + "/results.db";
  ResultsDb writer = ResultsDb::create(path, campaign_info());
  writer.append_trials(std::vector<TrialRecord>{trial_record(0, "sdc")});
  const ResultsDb reader = ResultsDb::open(path, true);
  EXPECT_EQ(reader.trial_count(), 1);
  writer.append_trials(std::vector<TrialRecord>{trial_record(1, "masked")});
  EXPECT_EQ(reader.trial_count(), 2);
  ResultsDb moved = std::move(writer);
  moved.append_trials(std::vector<TrialRecord>{trial_record(2, "masked")});
  EXPECT_EQ(reader.trial_count(), 3);
}

// What the sqlite3 command-line shell, a tool users will point at the file, reports.
TEST(ResultsDb, IsAPlainWalDatabaseForTheSqliteShell) {
  ASSERT_EQ(std::system("command -v sqlite3 >/dev/null 2>&1"), 0)
      << "the sqlite3 shell is a test dependency (scripts/install_deps.sh)";
  const std::string dir = test::temp_dir("resdb");
  const std::string path = dir + "/results.db";
  {
    ResultsDb db = ResultsDb::create(path, campaign_info());
    db.append_trials(std::vector<TrialRecord>{trial_record(0, "sdc"), trial_record(1, "masked")});
  }
  const std::string out = dir + "/shell.txt";
  const std::string cmd = "sqlite3 '" + path +
                          "' 'PRAGMA journal_mode; PRAGMA integrity_check; PRAGMA "
                          "foreign_key_check; PRAGMA application_id; SELECT COUNT(*) FROM "
                          "trials; SELECT outcome FROM trials ORDER BY id' >'" +
                          out + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // application_id 0x444e4649 ("DNFI") = 1145980489.
  EXPECT_EQ(text, "wal\nok\n1145980489\n2\nsdc\nmasked\n");
}

// --- merge ---------------------------------------------------------------------------------

struct Shards {
  std::string dir;
  std::vector<std::string> paths;
  std::vector<TrialRecord> trials;  // every trial written, all shards
};

// Two shards of one campaign: shard 0 holds the even ids of 0..9, shard 1 the odd ones.
Shards make_shards() {
  Shards s;
  s.dir = test::temp_dir("merge");
  for (int k = 0; k < 2; ++k) {
    s.paths.push_back(s.dir + "/shard" + std::to_string(k) + ".db");
    CampaignInfo info = campaign_info("hash-a", k, 2);
    info.config_yaml += "shard: " + std::to_string(k) + "/2\n";
    ResultsDb db = ResultsDb::create(s.paths.back(), info);
    db.write_inputs(input_records(4));
    std::vector<TrialRecord> mine;
    for (int i = k; i < 10; i += 2) {
      mine.push_back(i == 3 ? awkward_trial(i)
                            : trial_record(i, i % 3 ? "masked" : "sdc",
                                           {fault_record(0, "n" + std::to_string(i), "Conv", {i}),
                                            fault_record(1, "", "Gemm", {})}));
    }
    db.append_trials(mine);
    s.trials.insert(s.trials.end(), mine.begin(), mine.end());
  }
  return s;
}

TEST(MergeResults, GivesTheUnionAsOneWholeRun) {
  const Shards s = make_shards();
  const std::string out = s.dir + "/merged.db";
  merge_results(out, s.paths);
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_FALSE(fs::exists(out + ".tmp-wal"));

  const ResultsDb db = ResultsDb::open(out, true);
  CampaignInfo expected = campaign_info("hash-a", 0, 1);
  expected.config_yaml += "shard: 0/2\n";  // shard 0's, as documented
  EXPECT_TRUE(db.campaign() == expected);
  EXPECT_TRUE(db.inputs() == input_records(4));
  EXPECT_EQ(db.trial_ids(), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  for (const TrialRecord& t : s.trials) {
    const auto got = db.trial(t.id);
    ASSERT_TRUE(got.has_value()) << t.id;
    EXPECT_TRUE(got->same_result(t)) << "trial " << t.id;
  }
  EXPECT_EQ(RawDb(out).scalar("PRAGMA journal_mode"), "wal");
}

TEST(MergeResults, RefusesShardsOfAnotherCampaign) {
  Shards s = make_shards();
  const std::string other = s.dir + "/other.db";
  ResultsDb db = ResultsDb::create(other, campaign_info("hash-b", 1, 2));
  db.write_inputs(input_records(4));
  db.append_trials(std::vector<TrialRecord>{trial_record(11, "sdc")});
  const std::string out = s.dir + "/merged.db";
  const std::vector<std::string> paths = {s.paths[0], other};
  expect_input_error([&] { merge_results(out, paths); }, other, "config_hash");
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST(MergeResults, RefusesOverlappingTrialIds) {
  Shards s = make_shards();
  ResultsDb::open(s.paths[1], false)
      .append_trials(std::vector<TrialRecord>{trial_record(4, "due")});  // 4 is shard 0's
  const std::string out = s.dir + "/merged.db";
  expect_input_error([&] { merge_results(out, s.paths); }, s.paths[1], "trial 4");
  try {
    merge_results(out, s.paths);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(s.paths[0]), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_FALSE(fs::exists(out + ".tmp-wal"));
}

TEST(MergeResults, RefusesDifferentInputs) {
  Shards s = make_shards();
  const std::string other = s.dir + "/other.db";
  ResultsDb db = ResultsDb::create(other, campaign_info("hash-a", 1, 2));
  std::vector<InputRecord> inputs = input_records(4);
  inputs[2].golden_label += 1;
  db.write_inputs(inputs);
  const std::string out = s.dir + "/merged.db";
  const std::vector<std::string> paths = {s.paths[0], other};
  expect_input_error([&] { merge_results(out, paths); }, other, "input 2");
  inputs.pop_back();
  const std::string fewer = s.dir + "/fewer.db";
  ResultsDb::create(fewer, campaign_info("hash-a", 1, 2)).write_inputs(inputs);
  const std::vector<std::string> paths2 = {s.paths[0], fewer};
  expect_input_error([&] { merge_results(out, paths2); }, fewer, "3 inputs");
  EXPECT_FALSE(fs::exists(out));
}

TEST(MergeResults, RefusesAnExistingOutput) {
  Shards s = make_shards();
  const std::string out = s.dir + "/merged.db";
  std::ofstream(out) << "keep me";
  expect_input_error([&] { merge_results(out, s.paths); }, out, "already exists");
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "keep me");
  expect_input_error([&] { merge_results(out, std::vector<std::string>{}); }, out);
  const std::string missing = s.dir + "/missing.db";
  expect_input_error(
      [&] {
        merge_results(s.dir + "/m2.db", std::vector<std::string>{s.paths[0], missing});
      },
      missing);
  EXPECT_FALSE(fs::exists(s.dir + "/m2.db"));
}

}  // namespace
}  // namespace dnnfi
