#include "campaign/sqlite_statement.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace dnnfi::sqlite {

void throw_error(const std::string& path, sqlite3* db, std::string_view what) {
  std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
  const int code = db ? sqlite3_errcode(db) & 0xff : SQLITE_NOMEM;
  const int sys = db ? sqlite3_system_errno(db) : 0;
  if (sys != 0 && (code == SQLITE_CANTOPEN || code == SQLITE_IOERR || code == SQLITE_FULL ||
                   code == SQLITE_READONLY)) {
    msg += fmt::format(" ({})", std::strerror(sys));
  }
  throw InputError(fmt::format("{}: {}: {}", path, what, msg));
}

void exec(sqlite3* db, const std::string& path, std::string_view what, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw_error(path, db, what);
}

Statement::Statement(sqlite3* db, const std::string& path, std::string_view what,
                     std::string_view sql)
    : db_(db), path_(path), what_(what) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    fail();
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, std::int64_t v) {
  if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) fail();
  return *this;
}

Statement& Statement::bind(int i, double v) {
  if (std::isnan(v)) return bind_null(i);
  if (sqlite3_bind_double(stmt_, i, v) != SQLITE_OK) fail();
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  if (sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
      SQLITE_OK) {
    fail();
  }
  return *this;
}

Statement& Statement::bind_null(int i) {
  if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) fail();
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail();
}

int Statement::step_rc() { return sqlite3_step(stmt_); }

void Statement::run() {
  if (step()) {
    // A statement run for its effect that yields rows (a PRAGMA) is drained so it completes.
    while (step()) {
    }
  }
  reset();
}

void Statement::reset() {
  // sqlite3_reset repeats the last step's error, which step() has already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

std::int64_t Statement::int64(int i) const { return sqlite3_column_int64(stmt_, i); }

double Statement::real(int i) const {
  if (is_null(i)) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(stmt_, i);
}

std::string Statement::text(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)));
}

Transaction::Transaction(sqlite3* db, const std::string& path, std::string_view what)
    : db_(db), path_(path), what_(what) {
  exec(db_, path_, what_, "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  // Errors are ignored: after a failed COMMIT or a statement error SQLite may already have rolled
  // back, and a destructor has no one to report to. The caller is already throwing.
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  exec(db_, path_, what_, "COMMIT");
  open_ = false;
}

}  // namespace dnnfi::sqlite
