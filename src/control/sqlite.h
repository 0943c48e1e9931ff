// A thin SQLite wrapper: one connection, cached prepared statements, Status-based errors.
// Not thread-safe by itself: the owner (Catalog) serialises every use under its mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lifeline::control {

// A borrowed, cached statement; resets and clears its bindings when it goes out of scope.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binding indices start at 1, as in SQLite.
  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view value);
  Stmt& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Stmt& Bind(int index, const std::string& value) { return Bind(index, std::string_view(value)); }
  Stmt& BindNull(int index);

  // true: a row is available; false: done.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3_stmt* stmt_;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status Exec(const std::string& sql);
  // Prepared once per distinct SQL text, then reused.
  Result<Stmt> Prepare(const std::string& sql);
  int64_t LastInsertId() const;
  int Changes() const;
  Status ErrorStatus(std::string_view context) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// Runs BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db* db) : db_(db) {}
  Status Begin() {
    Status s = db_->Exec("BEGIN IMMEDIATE");
    active_ = s.ok();
    return s;
  }
  Status Commit() {
    Status s = db_->Exec("COMMIT");
    if (s.ok()) active_ = false;
    return s;
  }
  ~Transaction() {
    if (active_) (void)db_->Exec("ROLLBACK");
  }

 private:
  Db* db_;
  bool active_ = false;
};

}  // namespace lifeline::control
