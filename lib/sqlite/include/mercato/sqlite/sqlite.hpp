// SQLite storage adapter: a small pool of connections to one database file, prepared statements,
// transactions and versioned migrations.
//
// SQLite is the embedded default store of every service (one file per service). The file is opened in
// WAL mode so readers never block the writer, with a busy timeout so concurrent writers queue briefly
// instead of failing, and with foreign keys on.
//
//   auto db = sqlite::Database::open({.path = "var/user/user.db", .connections = 1});
//   db->migrate({{1, "create users", "CREATE TABLE users (...)"}});
//   auto user = db->with([&](sqlite::Connection& c) -> Result<User> {
//     auto st = c.prepare("SELECT id, email FROM users WHERE id = ?1");
//     st.bind(1, id);
//     ...
//   });
//
// Thread-safety: Database is thread-safe (each call borrows a connection exclusively); Connection and
// Statement are used by one thread at a time, inside `with`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/commit_actions.hpp"
#include "mercato/core/pool.hpp"
#include "mercato/core/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace mercato::sqlite {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();  // resets the (cached) statement and clears its bindings

  void bind(int index, std::string_view text);
  void bind(int index, std::int64_t value);
  void bind_null(int index);

  // Advances: true when a row is available, false when done; an Error on failure.
  Result<bool> step();
  // Runs to completion (for statements that return no rows).
  Result<void> run();

  std::string text(int column) const;
  std::int64_t integer(int column) const;
  bool is_null(int column) const;
  bool is_integer(int column) const;
  int column_count() const;
  // True for a statement that writes nothing (a SELECT).
  bool read_only() const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  explicit Connection(sqlite3* db);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepared once per connection and cached by SQL text.
  Statement prepare(std::string_view sql) {
    return prepare_keyed(sql, [sql] { return std::string(sql); });
  }
  // The same, cached under `key` and prepared from `make_sql()` only the first time: for a caller whose
  // SQL text is derived from the key by a fixed rule (lib/sql renders its dialect-neutral text), so a
  // cached statement costs no rendering.
  template <class MakeSql>
  Statement prepare_keyed(std::string_view key, MakeSql make_sql) {
    if (sqlite3_stmt* cached = find_cached(key)) return Statement(db_, cached);
    return prepare_new(key, make_sql());
  }
  Result<void> exec(std::string_view sql);
  // The extended result code of the last failure, e.g. SQLITE_CONSTRAINT_UNIQUE.
  int last_error_code() const noexcept;
  std::int64_t changes() const noexcept;

  // BEGIN IMMEDIATE: takes the write lock up front, so a read-then-write transaction cannot fail with
  // SQLITE_BUSY halfway through.
  Result<void> begin_immediate();
  Result<void> commit();
  void rollback() noexcept;
  bool in_transaction() const noexcept;
  // Runs `action` right after the current transaction commits (never if it rolls back): how the outbox
  // wakes its relay only once the events it wakes it for are visible.
  void after_commit(std::function<void()> action) { after_commit_.add(std::move(action)); }

 private:
  sqlite3_stmt* find_cached(std::string_view key) const noexcept;
  Statement prepare_new(std::string_view key, const std::string& sql);

  sqlite3* db_;
  std::vector<std::pair<std::string, sqlite3_stmt*>> cache_;  // by key
  core::CommitActions after_commit_;
};

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

struct DatabaseSettings {
  std::string path;  // ":memory:" is not supported (each connection would see its own db)
  // 1: one connection in exclusive locking mode (no other process can open the file while it is
  // open; fastest). More: a pool of shared-lock connections, so readers on several threads overlap.
  std::size_t connections = 1;
  std::chrono::milliseconds busy_timeout{5000};
  // The page size of a database this call creates (a power of two, 512..65536); an existing file keeps
  // the one it was made with (in WAL mode SQLite cannot change it). 2048 rather than SQLite's 4096: a
  // commit writes every page it changed whole to the WAL, and the services' transactions change a few
  // rows in each of several tables and indexes, so smaller pages are fewer bytes written per commit
  // (docs/benchmarks.md, 22: 9-22% more confirmed orders/s; 1024 was no better than 4096).
  std::size_t page_size = 2048;
};

// What SQLite accepts as a page size: a power of two in 512..65536.
constexpr bool is_page_size(std::size_t bytes) noexcept {
  return bytes >= 512 && bytes <= 65536 && (bytes & (bytes - 1)) == 0;
}

class Database {
 public:
  // Creates the parent directory if needed. Throws std::runtime_error when the file cannot be opened
  // (start-up only).
  static std::unique_ptr<Database> open(const DatabaseSettings& settings);
  ~Database();

  // Applies, in order and each in its own transaction, the migrations whose version is not yet recorded
  // in `schema_migrations`. Refuses to run against a database that has a newer version than it knows.
  Result<void> migrate(const std::vector<Migration>& migrations);
  int schema_version();

  template <typename F>
  auto with(F&& fn) {
    auto lease = pool_.borrow();
    return fn(*lease);
  }

  // A cheap query proving the file is readable; used by readiness checks.
  Result<void> ping();

 private:
  explicit Database(DatabaseSettings settings);

  DatabaseSettings settings_;
  // A transaction left open by an early return must not leak to the next user.
  core::Pool<Connection> pool_{{}, [](Connection& c) { c.rollback(); }};
};

}  // namespace mercato::sqlite
