// Thin RAII wrappers over the SQLite C API for the results database (src/campaign, src/report).
// Every failure becomes one InputError line: "<file>: <what>: <sqlite message>", so callers never
// look at result codes except where a code has a meaning of its own (a duplicate primary key).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace dnnfi::sqlite {

// Throws InputError "<path>: <what>: <sqlite3_errmsg(db)>", adding the OS error for I/O and
// open failures (the sqlite message alone, "unable to open database file", does not say why).
[[noreturn]] void throw_error(const std::string& path, sqlite3* db, std::string_view what);

// Runs SQL that returns no rows (may hold several statements).
void exec(sqlite3* db, const std::string& path, std::string_view what, const char* sql);

class Statement {
 public:
  // `what` names the operation in error messages ("cannot append trials").
  Statement(sqlite3* db, const std::string& path, std::string_view what, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQL (?1, ?2, ...).
  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, double v);  // NaN binds as NULL: SQLite has no NaN
  Statement& bind(int i, std::string_view v);
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind_null(int i);

  // True while a row is available; throws on error.
  bool step();
  // Steps once and returns the raw (extended) result code without throwing, for callers that
  // give a code its own message.
  int step_rc();
  // Runs a statement that returns no rows and resets it for the next use.
  void run();
  // Resets for the next use and clears the bindings.
  void reset();

  // Columns are 0-based, as in the SQLite API.
  bool is_null(int i) const;
  std::int64_t int64(int i) const;
  double real(int i) const;  // NULL reads as NaN (the inverse of bind(double))
  std::string text(int i) const;

  [[noreturn]] void fail() const { throw_error(path_, db_, what_); }

 private:
  sqlite3* db_;
  std::string path_;
  std::string what_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE (takes the write lock up front, so a busy database fails at BEGIN rather than
// halfway through a batch); ROLLBACK in the destructor unless commit() succeeded, so an exception
// anywhere in between leaves the database as it was.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path, std::string_view what);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  sqlite3* db_;
  std::string path_;
  std::string what_;
  bool open_ = true;
};

}  // namespace dnnfi::sqlite
