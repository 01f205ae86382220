// One SQL interface over SQLite and PostgreSQL: a repository is written once and runs on either engine,
// chosen by configuration (lib/storage). lib/sqlite and lib/postgres stay the drivers; this layer
// carries what differs between their dialects, so a repository does not (docs/adr/0010-sql-layer.md).
//
// SQL is written once, in PostgreSQL's style, with numbered placeholders `$1`, `$2` ... and a few
// `{tokens}` for what truly differs; each engine renders it (`render`):
//   {int64}          INTEGER            | BIGINT                                   (column type)
//   {seq}            INTEGER PRIMARY KEY | BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
//   {serial}         INTEGER PRIMARY KEY AUTOINCREMENT | BIGSERIAL PRIMARY KEY    (never reused)
//   {json}           TEXT               | JSONB
//   {blob}           BLOB               | BYTEA
//   {without_rowid}  WITHOUT ROWID      | (nothing)                                (after a CREATE TABLE)
//   {nocase:X}       X COLLATE NOCASE   | lower(X)     (a column or $N: an index, a comparison)
//   {now_ms}         the database clock in Unix milliseconds
//   {for_update}     (nothing: begin() holds the write lock) | FOR UPDATE
//   {for_update:T}   (nothing)          | FOR UPDATE OF T     (only table T's rows of a join)
//   {int64_set:$N}   a subquery of the integers of an int64_list parameter, for `x IN {int64_set:$1}`
// Upsert (ON CONFLICT ... DO UPDATE/NOTHING, conflict targets with a partial index's WHERE) and
// RETURNING are the same text on both (SQLite ≥ 3.35), so they need no token; `upsert()` writes the
// clause from column lists.
//
//   auto db = sql::Database::open(sqlite::DatabaseSettings{.path = "var/payment/payment.db"});
//   db->migrate("payment", {{1, "create payments", "CREATE TABLE payments (seq {seq}, id TEXT ...)"}});
//   auto payment = db->with([&](sql::Connection& c) -> Result<Payment> {
//     MERCATO_ASSIGN_OR_RETURN(auto rows, c.query("SELECT id, amount_cents FROM payments WHERE id = $1",
//                                                 {id}));
//     if (rows.empty()) return Error::not_found("payment " + std::string(id) + " not found");
//     return Payment{rows[0].text(0), rows[0].integer(1)};
//   });
//
// Values are bound, never spliced into SQL. Tests: src/sql_test.cpp runs every case on both engines.
//
// Traces: a `with` scope run under an ambient span context (mercato/observability/tracing.hpp — an
// event handler, a sync route, code that installed a ContextScope) is one CLIENT span, "<operation>
// <system>", with db.system (sqlite | postgresql), db.operation (the first statement's verb: SELECT,
// INSERT, ...) and, when it began a transaction, db.transaction = true — one span per borrowed
// connection, which is one per transaction as the repositories use it. Outside a span: no span.
// Thread-safety: Database is thread-safe (each `with` borrows a pooled connection exclusively);
// Connection and Rows are used by one thread at a time, inside `with`.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"
#include "mercato/postgres/postgres.hpp"
#include "mercato/sqlite/sqlite.hpp"

namespace mercato::sql {

enum class Dialect { kSqlite, kPostgres };

// `sql` as `dialect` runs it: placeholders and tokens rendered (see the top of this file). Text inside
// quotes is left alone. An unknown token is a programming error (std::logic_error).
std::string render(Dialect dialect, std::string_view sql);

// "ON CONFLICT (k1, k2) DO UPDATE SET c1 = excluded.c1, ..." (DO NOTHING when `columns` is empty).
std::string upsert(std::string_view conflict_columns, std::span<const std::string_view> columns);

// A bound value: text, a 64-bit integer (bool as 0/1, a time as Unix milliseconds), a list of integers
// (for {int64_set:$N}) or SQL NULL (nullopt, or an empty optional).
class Param {
 public:
  enum class Kind { kNull, kText, kInteger, kIntegerList };

  Param(std::nullopt_t) {}                                                 // NOLINT: implicit
  Param(std::string_view text) : kind_(Kind::kText), text_(text) {}        // NOLINT
  Param(const std::string& text) : kind_(Kind::kText), text_(text) {}      // NOLINT
  Param(const char* text) : kind_(Kind::kText), text_(text) {}             // NOLINT
  Param(SystemTime t) : kind_(Kind::kInteger), integer_(to_unix_ms(t)) {}  // NOLINT
  template <std::integral T>
  Param(T n) : kind_(Kind::kInteger), integer_(static_cast<std::int64_t>(n)) {}  // NOLINT
  template <typename T>
  Param(const std::optional<T>& value) : Param(value ? Param(*value) : Param(std::nullopt)) {}  // NOLINT

  static Param int64_list(std::span<const std::int64_t> values);

  Kind kind() const noexcept { return kind_; }
  const std::string& text() const noexcept { return text_; }
  std::int64_t integer() const noexcept { return integer_; }
  const std::vector<std::int64_t>& list() const noexcept { return list_; }

 private:
  Kind kind_ = Kind::kNull;
  std::string text_;
  std::int64_t integer_ = 0;
  std::vector<std::int64_t> list_;
};

using Params = std::vector<Param>;

class Rows;

// One row of a result, read by column index (0-based). A NULL reads as "" / 0 / false; ask is_null or
// the optional_ readers where NULL means something.
class Row {
 public:
  Row(const Rows& rows, std::size_t index) : rows_(&rows), index_(index) {}
  bool is_null(int column) const;
  std::string text(int column) const;
  std::int64_t integer(int column) const;
  bool boolean(int column) const;
  SystemTime time(int column) const;  // a Unix-milliseconds column
  std::optional<std::string> optional_text(int column) const;
  std::optional<std::int64_t> optional_integer(int column) const;
  std::optional<SystemTime> optional_time(int column) const;

 private:
  const Rows* rows_;
  std::size_t index_;
};

// A statement's result, read in full: its rows (none for a write without RETURNING) and how many rows
// it changed.
class Rows {
 public:
  struct Cell {
    bool null = true;
    bool is_integer = false;  // SQLite hands integers over as such; PostgreSQL as text
    std::int64_t integer = 0;
    std::string text;
  };

  Rows(int columns, std::vector<Cell> cells, std::int64_t affected)
      : columns_(columns), cells_(std::move(cells)), affected_(affected) {}

  std::size_t size() const noexcept { return columns_ == 0 ? 0 : cells_.size() / columns_; }
  bool empty() const noexcept { return size() == 0; }
  Row operator[](std::size_t i) const { return Row(*this, i); }
  // Rows inserted, updated or deleted (a SELECT: rows returned).
  std::int64_t affected() const noexcept { return affected_; }
  const Cell& cell(std::size_t row, int column) const;

  class Iterator {
   public:
    Iterator(const Rows& rows, std::size_t i) : rows_(&rows), i_(i) {}
    Row operator*() const { return Row(*rows_, i_); }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& other) const { return i_ == other.i_; }

   private:
    const Rows* rows_;
    std::size_t i_;
  };
  Iterator begin() const { return Iterator(*this, 0); }
  Iterator end() const { return Iterator(*this, size()); }

 private:
  int columns_;
  std::vector<Cell> cells_;
  std::int64_t affected_;
};

namespace detail {
template <typename R>
struct ResultValue;
template <typename T>
struct ResultValue<Result<T>> {
  using type = T;
};
}  // namespace detail

// Every row of `rows` decoded by `read` (const Row& -> Result<T>), or the first failure (the query's or
// a row's):   return sql::read_all(c.query("SELECT ... WHERE order_id = $1", {id}), read_payment);
template <typename Read>
auto read_all(Result<Rows> rows, Read&& read)
    -> Result<std::vector<typename detail::ResultValue<std::invoke_result_t<Read&, const Row&>>::type>> {
  using T = typename detail::ResultValue<std::invoke_result_t<Read&, const Row&>>::type;
  if (!rows) return std::move(rows).error();
  std::vector<T> out;
  out.reserve(rows->size());
  for (auto row : *rows) {
    MERCATO_ASSIGN_OR_RETURN(auto item, read(row));
    out.push_back(std::move(item));
  }
  return out;
}

// What the last failed statement ran into, for the error mapping a repository does (a taken email is
// a conflict, a CHECK firing a refused change).
enum class Failure { kNone, kUniqueViolation, kCheckViolation, kForeignKeyViolation, kOther };

class Database;

class Connection {
 public:
  virtual ~Connection() = default;
  Dialect dialect() const noexcept { return dialect_; }
  // The database that lent this connection (what a per-database signal is keyed by: the outbox's).
  const Database* database() const noexcept { return database_; }

  // Runs one statement (rendered for the dialect, prepared once per connection and cached).
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  // The same, for a statement whose rows and count are not needed.
  Result<void> run(std::string_view sql, const Params& params = {});
  // A SELECT that, when `for_update`, locks what it reads ({for_update} appended): the read of a
  // read-modify-write, so a concurrent writer waits for this one.
  Result<Rows> select(std::string_view sql, const Params& params, bool for_update);
  // Runs statements without parameters (schema changes); tokens are rendered.
  virtual Result<void> exec(std::string_view sql) = 0;
  Failure last_failure() const noexcept { return failure_; }
  // What this scope ran, for its span: the first statement's verb ("SELECT"), how many statements, and
  // whether one began a transaction.
  std::string_view first_operation() const noexcept { return first_operation_; }
  int statements() const noexcept { return statements_; }
  bool began_transaction() const noexcept { return began_transaction_; }

  // Starts a transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so writers run
  // one at a time and a read-then-write cannot fail halfway with SQLITE_BUSY; on PostgreSQL it is BEGIN,
  // and a read-modify-write locks what it reads ({for_update}, lock()).
  virtual Result<void> begin() = 0;
  virtual Result<void> commit() = 0;
  virtual void rollback() noexcept = 0;
  virtual bool in_transaction() const noexcept = 0;
  // Runs `action` right after the current transaction commits (never if it rolls back).
  virtual void after_commit(std::function<void()> action) = 0;
  // Inside a transaction: waits until no other transaction holds `key` (in `space`), and holds it until
  // this one ends — serialising the transactions about one thing that is not a row yet. On SQLite
  // begin() already serialises every writer, so this does nothing; on PostgreSQL a transaction-scoped
  // advisory lock.
  virtual Result<void> lock(std::string_view key) = 0;
  virtual Result<void> lock(std::int32_t space, std::string_view key) = 0;

 protected:
  Connection(Dialect dialect, const Database* database) : dialect_(dialect), database_(database) {}
  // Each engine's query/exec/begin call these (cheap: a counter, and the first verb kept once).
  void note_statement(std::string_view sql) noexcept;
  void note_begin() noexcept { began_transaction_ = true; }
  Failure failure_ = Failure::kNone;

 private:
  Dialect dialect_;
  const Database* database_;
  std::string_view first_operation_;
  int statements_ = 0;
  bool began_transaction_ = false;
};

// A schema change. `sql` is written once with tokens; `sqlite` or `postgres`, when set, replace it on
// that engine — where the schemas really differ (the tables a released migration created on each engine
// stay as they were).
struct Migration {
  int version;
  std::string name;
  std::string sql;
  std::string sqlite = {};
  std::string postgres = {};

  std::string text(Dialect dialect) const;
};

class Database {
 public:
  // Open the engine (start-up only: std::runtime_error when it cannot be reached).
  static std::unique_ptr<Database> open(const sqlite::DatabaseSettings& settings);
  static std::unique_ptr<Database> open(const postgres::DatabaseSettings& settings);
  virtual ~Database() = default;

  Dialect dialect() const noexcept { return dialect_; }

  // Applies, in order and each in its own transaction, the migrations not yet applied. On PostgreSQL
  // their versions are per `component` (services may share a database); on SQLite the file has one
  // version sequence, the service's, and `component` is not recorded.
  virtual Result<void> migrate(std::string_view component, const std::vector<Migration>& migrations) = 0;
  // A cheap query proving the database answers; the readiness check.
  virtual Result<void> ping() = 0;
  // A database-wide lock that one holder at a time keeps, among the processes sharing the database, until
  // its process ends: how one relay among several instances is chosen. SQLite's file is one process's
  // alone, so there it is always held; on PostgreSQL a session advisory lock on a connection of the
  // lock's own (each SessionLock is a holder of its own).
  class SessionLock {
   public:
    virtual ~SessionLock() = default;
    // True while held (taking it when free); thread-safe.
    virtual Result<bool> try_hold() = 0;
  };
  virtual std::unique_ptr<SessionLock> session_lock(std::int64_t key) = 0;

  // Runs fn(Connection&) on a borrowed connection and returns what it returns. A transaction still
  // open when fn returns (an early error return) is rolled back.
  template <typename F>
  auto with(F&& fn) -> std::invoke_result_t<F&, Connection&> {
    using R = std::invoke_result_t<F&, Connection&>;
    if constexpr (std::is_void_v<R>) {
      lend([&](Connection& c) { fn(c); });
    } else {
      std::optional<R> out;
      lend([&](Connection& c) { out.emplace(fn(c)); });
      return std::move(*out);
    }
  }

  // Group commit: runs fn() with every `with` on this database from this thread inside one transaction,
  // committed once fn returns — one commit (on SQLite one WAL append, on PostgreSQL one WAL flush) for
  // the work of many scopes. A scope's own begin()/commit()/rollback() become a savepoint, its release
  // and a rollback to it, so one scope's failure undoes only its own work; a kept scope's after_commit
  // actions run after the group's commit, an undone scope's never. The Error is the group's BEGIN's or
  // COMMIT's: then no scope's work was kept. Meanwhile the group holds one connection (on SQLite the
  // write lock) until fn returns. Inside a group (of any database) fn runs as it is. On PostgreSQL a
  // statement failing outside a scope's transaction aborts the whole group, so it is meant for scopes
  // that each begin() (the event handlers of one delivery, events/store.hpp).
  virtual Result<void> group(const std::function<void()>& fn) {
    fn();
    return {};
  }

 protected:
  explicit Database(Dialect dialect) : dialect_(dialect) {}
  virtual void lend(const std::function<void(Connection&)>& fn) = 0;

 private:
  Dialect dialect_;
};

}  // namespace mercato::sql
