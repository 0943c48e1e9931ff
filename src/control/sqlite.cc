#include "control/sqlite.h"

namespace lifeline::control {

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  std::string m = std::string("catalog: ") + sqlite3_errmsg(db);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return Status::Busy(m + " (catalog locked by another process)");
  if (rc == SQLITE_CONSTRAINT) return Status::FailedPrecondition(m);
  if (rc == SQLITE_FULL) return Status::NoSpace(m);
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::Corruption(m);
  return Status::IOError(m);
}

Status Stmt::Run() {
  auto r = Step();
  if (!r.ok()) return r.status();
  return Status::Ok();
}

int64_t Stmt::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Stmt::Text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, column));
}

bool Stmt::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Result<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = "catalog " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close(raw);
    return Status::IOError(m);
  }
  std::unique_ptr<Db> db(new Db(raw));
  // Another process (the CLI next to the vault) may hold the write lock for a moment.
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Db::ErrorStatus(std::string_view context) const {
  std::string m = std::string(context) + ": " + sqlite3_errmsg(db_);
  int rc = sqlite3_errcode(db_);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Busy(m);
  if (rc == SQLITE_CONSTRAINT) return Status::FailedPrecondition(m);
  if (rc == SQLITE_FULL) return Status::NoSpace(m);
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::Corruption(m);
  return Status::IOError(m);
}

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Busy("catalog: " + m);
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::Corruption("catalog: " + m);
    return Status::IOError("catalog: " + m);
  }
  return Status::Ok();
}

Result<Stmt> Db::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(it->second);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    return ErrorStatus("catalog: prepare");
  }
  cache_.emplace(sql, stmt);
  return Stmt(stmt);
}

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

}  // namespace lifeline::control
