// PostgreSQL storage adapter (libpq): a pool of connections, prepared statements only, transactions and
// versioned migrations — the same shape as lib/sqlite, so a repository reads alike on both.
//
// Every statement goes through PQprepare/PQexecPrepared with its values as parameters: no SQL is ever
// built from input. Statements are prepared once per connection and cached by their text.
//
//   auto db = postgres::Database::open({.url = "postgresql://mercato@127.0.0.1:5432/shop"});
//   db->migrate({{1, "create users", "CREATE TABLE users (...)"}});
//   auto user = db->with([&](postgres::Connection& c) -> Result<User> {
//     auto rows = c.query("SELECT id, email FROM users WHERE id = $1", {id});
//     ...
//   });
//
// Calls block the calling thread for one round trip to the server (acceptable on loopback and in a
// small pool; an asynchronous adapter on libpq's non-blocking API is the next step for high load).
// Thread-safety: Database is thread-safe (each call borrows a connection exclusively); Connection and
// Rows are used by one thread at a time, inside `with`.
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

struct pg_conn;
struct pg_result;

namespace mercato::postgres {

// A statement parameter: text (SQL NULL when nullopt). Integers convert implicitly.
class Param {
 public:
  Param(std::string_view text) : value_(std::string(text)) {}  // NOLINT: implicit by design
  Param(const std::string& text) : value_(text) {}             // NOLINT
  Param(const char* text) : value_(std::string(text)) {}       // NOLINT
  Param(std::int64_t n) : value_(std::to_string(n)) {}         // NOLINT
  Param(std::nullopt_t) {}                                     // NOLINT
  const std::optional<std::string>& value() const noexcept { return value_; }

 private:
  std::optional<std::string> value_;
};

class Rows {
 public:
  explicit Rows(pg_result* result);
  Rows(Rows&& other) noexcept;
  Rows& operator=(Rows&&) = delete;
  ~Rows();

  int size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  int columns() const noexcept;
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  bool is_null(int row, int column) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  std::int64_t affected() const;

 private:
  pg_result* result_;
};

class Connection {
 public:
  explicit Connection(pg_conn* conn);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a prepared statement; `$1`, `$2` ... refer to `params`.
  Result<Rows> query(std::string_view sql, const std::vector<Param>& params = {});
  // For schema changes and transaction control only (no parameters, several statements allowed).
  Result<void> exec(std::string_view sql);
  // The SQLSTATE of the last failure, e.g. "23505" (unique_violation).
  const std::string& last_sqlstate() const noexcept { return sqlstate_; }

  Result<void> begin();
  Result<void> commit();
  void rollback() noexcept;
  // Runs `action` right after the current transaction commits (never if it rolls back): how the outbox
  // wakes its relay only once the events it wakes it for are visible.
  void after_commit(std::function<void()> action) { after_commit_.add(std::move(action)); }
  bool in_transaction() const noexcept;
  // Re-establishes a broken connection (the server restarted); false if that failed.
  bool ensure_alive();

 private:
  pg_conn* conn_;
  std::vector<std::pair<std::string, std::string>> prepared_;  // SQL text → statement name
  std::string sqlstate_;
  core::CommitActions after_commit_;
};

inline constexpr std::string_view kUniqueViolation = "23505";

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

struct DatabaseSettings {
  std::string url;  // libpq connection URI or key=value string
  std::size_t connections = 4;
};

class Database {
 public:
  // Throws std::runtime_error when the server cannot be reached (start-up only).
  static std::unique_ptr<Database> open(const DatabaseSettings& settings);
  ~Database();

  // Applies, in order and each in its own transaction, the migrations of `component` (e.g. "user")
  // not yet recorded in `schema_migrations`; an advisory lock keeps two instances starting at once from
  // racing. Versions are per component, so services sharing one database (each with its own tables)
  // keep separate histories.
  Result<void> migrate(std::string_view component, const std::vector<Migration>& migrations);

  template <typename F>
  auto with(F&& fn) {
    auto lease = pool_.borrow();
    return fn(*lease);
  }

  Result<void> ping();
  const std::string& url() const noexcept { return settings_.url; }

 private:
  explicit Database(DatabaseSettings settings) : settings_(std::move(settings)) {}

  DatabaseSettings settings_;
  // A connection the server dropped is re-established before use; a transaction left open by an early
  // return must not leak to the next user.
  core::Pool<Connection> pool_{[](Connection& c) { c.ensure_alive(); }, [](Connection& c) { c.rollback(); }};
};

// True for "postgres://..." and "postgresql://..." URLs: how services choose their storage engine.
bool is_postgres_url(std::string_view url) noexcept;

}  // namespace mercato::postgres
