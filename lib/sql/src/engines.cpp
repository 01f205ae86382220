// The two engines behind sql::Connection and sql::Database: thin adapters over the drivers in lib/sqlite
// and lib/postgres. What differs between the dialects beyond the SQL text (render) lives here: how a
// transaction starts, how a failure is classified, how a key is locked, how one holder is chosen.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "mercato/observability/tracing.hpp"
#include "mercato/sql/pool_metrics.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::sql {
namespace {

// --- SQLite -------------------------------------------------------------------------------------

Failure sqlite_failure(int code) {
  switch (code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Failure::kUniqueViolation;
    case SQLITE_CONSTRAINT_CHECK:
      return Failure::kCheckViolation;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Failure::kForeignKeyViolation;
    default:
      return Failure::kOther;
  }
}

std::string json_array(const std::vector<std::int64_t>& values, char open, char close) {
  std::string out(1, open);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + close;
}

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite::Connection& c, const Database* database)
      : Connection(Dialect::kSqlite, database), c_(c) {}

  Result<Rows> query(std::string_view sql, const Params& params) override {
    note_statement(sql);
    failure_ = Failure::kNone;
    // Cached under the dialect-neutral text: rendering it was 1.5% of a product read.
    auto st = c_.prepare_keyed(sql, [sql] { return render(Dialect::kSqlite, sql); });
    for (std::size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i) + 1;
      const auto& p = params[i];
      switch (p.kind()) {
        case Param::Kind::kNull:
          st.bind_null(index);
          break;
        case Param::Kind::kText:
          st.bind(index, p.text());
          break;
        case Param::Kind::kInteger:
          st.bind(index, p.integer());
          break;
        case Param::Kind::kIntegerList:
          st.bind(index, json_array(p.list(), '[', ']'));  // read by json_each ({int64_set})
          break;
      }
    }
    int columns = st.column_count();
    std::vector<Rows::Cell> cells;
    std::int64_t returned = 0;
    for (;;) {
      auto row = st.step();
      if (!row) {
        failure_ = sqlite_failure(c_.last_error_code());
        return std::move(row).error();
      }
      if (!*row) break;
      ++returned;
      if (returned == 1) cells.reserve(static_cast<std::size_t>(columns));
      for (int i = 0; i < columns; ++i) {
        Rows::Cell cell;
        cell.null = st.is_null(i);
        cell.is_integer = st.is_integer(i);
        if (cell.is_integer) {
          cell.integer = st.integer(i);
        } else if (!cell.null) {
          cell.text = st.text(i);
        }
        cells.push_back(std::move(cell));
      }
    }
    return Rows(columns, std::move(cells), st.read_only() ? returned : c_.changes());
  }

  Result<void> exec(std::string_view sql) override { return c_.exec(render(Dialect::kSqlite, sql)); }
  Result<void> begin() override {
    note_begin();
    return c_.begin_immediate();
  }
  Result<void> commit() override { return c_.commit(); }
  void rollback() noexcept override { c_.rollback(); }
  bool in_transaction() const noexcept override { return c_.in_transaction(); }
  void after_commit(std::function<void()> action) override { c_.after_commit(std::move(action)); }
  // BEGIN IMMEDIATE already made this transaction the only writer.
  Result<void> lock(std::string_view) override { return {}; }
  Result<void> lock(std::int32_t, std::string_view) override { return {}; }

 private:
  sqlite::Connection& c_;
};

// The use of a database's pool (pool_metrics.hpp), counted on every lend. Shared with the metrics
// callback, which may outlive the database.
struct PoolUse {
  std::size_t size = 0;
  std::atomic<std::int64_t> in_use{0};
  std::atomic<std::int64_t> waiting{0};
};

// Counts one caller for the duration of a scope (a lend may end in an exception from `fn`).
class Counted {
 public:
  explicit Counted(std::atomic<std::int64_t>& n) : n_(n) { n_.fetch_add(1, std::memory_order_relaxed); }
  ~Counted() { n_.fetch_sub(1, std::memory_order_relaxed); }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;

 private:
  std::atomic<std::int64_t>& n_;
};

// What pool_metrics.hpp asks of a database: lib/sql's engines implement it, test doubles need not.
class MeteredPool {
 public:
  virtual ~MeteredPool() = default;
  virtual std::shared_ptr<PoolUse> pool_use() const = 0;
};

// Group commit (Database::group): the connection of the group's transaction, which every `with` of the
// group's thread on the same database borrows; a scope's transaction is a savepoint in it. Per thread:
// a group is one thread's run of scopes, and another thread's `with` borrows a connection of its own
// (on SQLite it then waits for the group's write lock, as for any transaction).
struct GroupScope {
  const Database* database = nullptr;
  Connection* outer = nullptr;
};
thread_local GroupScope* tl_group = nullptr;

class SavepointConnection final : public Connection {
 public:
  explicit SavepointConnection(Connection& outer)
      : Connection(outer.dialect(), outer.database()), c_(outer) {}
  ~SavepointConnection() override {
    if (open_) rollback();
  }
  // What a statement ran into is the outer connection's to know; a repository asks this one
  // (last_failure: a unique violation is its conflict, a stream's version conflict).
  Result<Rows> query(std::string_view sql, const Params& params) override {
    auto r = c_.query(sql, params);
    failure_ = c_.last_failure();
    return r;
  }
  Result<void> exec(std::string_view sql) override {
    auto r = c_.exec(sql);
    failure_ = c_.last_failure();
    return r;
  }
  Result<void> begin() override {
    note_begin();
    if (open_) return Error::internal("a transaction is already open in this scope");
    MERCATO_RETURN_IF_ERROR(c_.exec("SAVEPOINT scope"));
    open_ = true;
    return {};
  }
  Result<void> commit() override {
    if (!open_) return Error::internal("no transaction is open in this scope");
    open_ = false;
    auto released = c_.exec("RELEASE scope");
    auto actions = std::exchange(actions_, {});
    if (released) {
      for (auto& action : actions) c_.after_commit(std::move(action));
    }
    return released;
  }
  void rollback() noexcept override {
    if (!open_) return;
    open_ = false;
    actions_.clear();
    (void)c_.exec("ROLLBACK TO scope");
    (void)c_.exec("RELEASE scope");
  }
  bool in_transaction() const noexcept override { return open_; }
  // A scope's actions wait for its release and then for the group's commit; a scope rolled back
  // forgets its own, as a transaction rolled back does (Connection::after_commit): an action may act on
  // what the scope wrote, which was undone.
  void after_commit(std::function<void()> action) override {
    if (open_) {
      actions_.push_back(std::move(action));
    } else {
      c_.after_commit(std::move(action));
    }
  }
  Result<void> lock(std::string_view key) override { return c_.lock(key); }
  Result<void> lock(std::int32_t space, std::string_view key) override { return c_.lock(space, key); }

 private:
  Connection& c_;
  bool open_ = false;
  std::vector<std::function<void()>> actions_;  // this scope's, until its release
};

// What both engines' databases share: the driver database it owns lending its
// connections wrapped (and counting the lends), and migrations rendered for the dialect.
template <typename Driver, typename Wrapper>
class EngineDatabase : public Database, public MeteredPool {
 public:
  EngineDatabase(Dialect dialect, std::unique_ptr<Driver> owned, Driver& db, std::size_t connections)
      : Database(dialect), owned_(std::move(owned)), db_(db), use_(std::make_shared<PoolUse>()) {
    use_->size = connections;
  }
  Result<void> ping() override {
    // Inside a group on this database (a storage pool's group commit runs readiness checks in one too)
    // the group holds the connection the driver's ping would wait for, on SQLite forever: ask through
    // the group's connection instead.
    if (tl_group != nullptr && tl_group->database == this) {
      auto r = tl_group->outer->query("SELECT 1");
      if (!r) return std::move(r).error();
      return {};
    }
    return db_.ping();
  }
  std::shared_ptr<PoolUse> pool_use() const override { return use_; }

  Result<void> group(const std::function<void()>& fn) override {
    if (tl_group != nullptr) {
      fn();
      return {};
    }
    Result<void> out;
    db_.with([&](auto& raw) {
      Counted in_use(use_->in_use);
      Wrapper c(raw, this);
      if (auto r = c.begin(); !r) {
        out = std::move(r).error();
        return;
      }
      GroupScope scope{this, &c};
      tl_group = &scope;
      try {
        fn();
      } catch (...) {
        tl_group = nullptr;
        c.rollback();
        throw;
      }
      tl_group = nullptr;
      out = c.commit();
    });
    return out;
  }

 protected:
  void lend(const std::function<void(Connection&)>& fn) override {
    if (tl_group != nullptr && tl_group->database == this) {
      SavepointConnection c(*tl_group->outer);
      fn(c);
      return;
    }
    std::optional<Counted> waiting(std::in_place, use_->waiting);
    // A span only under an ambient context (sql.hpp, "Traces"): the relay's polls and other background
    // reads belong to no request and stay out of the traces.
    const auto* ambient = obs::ambient();
    obs::Span span;
    if (ambient != nullptr) span = ambient->tracer->start("", obs::SpanKind::kClient, ambient->context);
    db_.with([&](auto& raw) {
      waiting.reset();
      Counted in_use(use_->in_use);
      Wrapper c(raw, this);
      fn(c);
      if (span.recording()) {
        std::string_view system = dialect() == Dialect::kSqlite ? "sqlite" : "postgresql";
        std::string_view operation = c.first_operation().empty() ? "OTHER" : c.first_operation();
        span.rename(std::string(operation) + " " + std::string(system));
        span.set("db.system", system);
        span.set("db.operation", operation);
        span.set("db.statement_count", std::int64_t{c.statements()});
        if (c.began_transaction()) span.set("db.transaction", true);
      }
    });
  }
  template <typename DriverMigration>
  std::vector<DriverMigration> rendered(const std::vector<Migration>& migrations) const {
    std::vector<DriverMigration> out;
    out.reserve(migrations.size());
    for (const auto& m : migrations) out.push_back({m.version, m.name, m.text(dialect())});
    return out;
  }

  std::unique_ptr<Driver> owned_;
  Driver& db_;
  std::shared_ptr<PoolUse> use_;
};

class SqliteDatabase final : public EngineDatabase<sqlite::Database, SqliteConnection> {
 public:
  SqliteDatabase(std::unique_ptr<sqlite::Database> owned, sqlite::Database& db, std::size_t connections)
      : EngineDatabase(Dialect::kSqlite, std::move(owned), db, connections) {}

  // One version sequence per file: the service's.
  Result<void> migrate(std::string_view, const std::vector<Migration>& migrations) override {
    return db_.migrate(rendered<sqlite::Migration>(migrations));
  }
  // The service holds its file alone (exclusive locking mode, or its own processes only).
  std::unique_ptr<SessionLock> session_lock(std::int64_t) override {
    struct Held final : SessionLock {
      Result<bool> try_hold() override { return true; }
    };
    return std::make_unique<Held>();
  }
};

// --- PostgreSQL ---------------------------------------------------------------------------------

Failure postgres_failure(std::string_view sqlstate) {
  if (sqlstate.empty()) return Failure::kNone;
  if (sqlstate == postgres::kUniqueViolation) return Failure::kUniqueViolation;
  if (sqlstate == "23514") return Failure::kCheckViolation;
  if (sqlstate == "23503") return Failure::kForeignKeyViolation;
  return Failure::kOther;
}

postgres::Param to_postgres(const Param& p) {
  switch (p.kind()) {
    case Param::Kind::kText:
      return postgres::Param(p.text());
    case Param::Kind::kInteger:
      return postgres::Param(p.integer());
    case Param::Kind::kIntegerList:
      return postgres::Param(json_array(p.list(), '{', '}'));  // an array literal ({int64_set})
    case Param::Kind::kNull:
      break;
  }
  return postgres::Param(std::nullopt);
}

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(postgres::Connection& c, const Database* database)
      : Connection(Dialect::kPostgres, database), c_(c) {}

  Result<Rows> query(std::string_view sql, const Params& params) override {
    note_statement(sql);
    failure_ = Failure::kNone;
    std::vector<postgres::Param> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(to_postgres(p));
    auto result = c_.query(render(Dialect::kPostgres, sql), values);
    if (!result) {
      failure_ = postgres_failure(c_.last_sqlstate());
      return std::move(result).error();
    }
    int columns = result->columns();
    std::vector<Rows::Cell> cells;
    cells.reserve(static_cast<std::size_t>(result->size()) * static_cast<std::size_t>(columns));
    for (int r = 0; r < result->size(); ++r) {
      for (int i = 0; i < columns; ++i) {
        Rows::Cell cell;
        cell.null = result->is_null(r, i);
        if (!cell.null) cell.text = result->text(r, i);
        cells.push_back(std::move(cell));
      }
    }
    return Rows(columns, std::move(cells), result->affected());
  }

  Result<void> exec(std::string_view sql) override {
    auto r = c_.exec(render(Dialect::kPostgres, sql));
    failure_ = r ? Failure::kNone : postgres_failure(c_.last_sqlstate());
    return r;
  }
  Result<void> begin() override {
    note_begin();
    return c_.begin();
  }
  Result<void> commit() override { return c_.commit(); }
  void rollback() noexcept override { c_.rollback(); }
  bool in_transaction() const noexcept override { return c_.in_transaction(); }
  void after_commit(std::function<void()> action) override { c_.after_commit(std::move(action)); }
  Result<void> lock(std::string_view key) override {
    return done(query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {key}));
  }
  Result<void> lock(std::int32_t space, std::string_view key) override {
    return done(query("SELECT pg_advisory_xact_lock($1, hashtext($2))", {space, key}));
  }

 private:
  static Result<void> done(Result<Rows> r) {
    if (!r) return std::move(r).error();
    return {};
  }
  postgres::Connection& c_;
};

// A connection of its own holds the lock (a pooled one would be lent to other work). While its session
// lives the lock is ours; a failed round trip means the session (and the lock) is gone. A killed holder's
// session ends with it, so another process takes over at once.
class AdvisoryLock final : public Database::SessionLock {
 public:
  AdvisoryLock(std::string url, std::int64_t key) : url_(std::move(url)), key_(key) {}

  Result<bool> try_hold() override {
    std::lock_guard lock(mutex_);
    if (!db_) db_ = postgres::Database::open({.url = url_, .connections = 1});
    return db_->with([&](postgres::Connection& c) -> Result<bool> {
      if (held_) {
        if (c.query("SELECT 1")) return true;
        held_ = false;
        if (!c.ensure_alive()) return Error::unavailable("the connection holding a lock is lost");
      }
      MERCATO_ASSIGN_OR_RETURN(auto rows, c.query("SELECT pg_try_advisory_lock($1)", {key_}));
      held_ = rows.text(0, 0) == "t";
      return held_;
    });
  }

 private:
  std::string url_;
  std::int64_t key_;
  std::mutex mutex_;
  std::unique_ptr<postgres::Database> db_;  // guarded by mutex_
  bool held_ = false;                       // guarded by mutex_
};

class PostgresDatabase final : public EngineDatabase<postgres::Database, PostgresConnection> {
 public:
  PostgresDatabase(std::unique_ptr<postgres::Database> owned, postgres::Database& db, std::size_t connections)
      : EngineDatabase(Dialect::kPostgres, std::move(owned), db, connections) {}

  Result<void> migrate(std::string_view component, const std::vector<Migration>& migrations) override {
    return db_.migrate(component, rendered<postgres::Migration>(migrations));
  }
  std::unique_ptr<SessionLock> session_lock(std::int64_t key) override {
    return std::make_unique<AdvisoryLock>(db_.url(), key);
  }
};

}  // namespace

std::unique_ptr<Database> Database::open(const sqlite::DatabaseSettings& settings) {
  auto db = sqlite::Database::open(settings);
  auto& ref = *db;
  return std::make_unique<SqliteDatabase>(std::move(db), ref, std::max<std::size_t>(settings.connections, 1));
}

std::unique_ptr<Database> Database::open(const postgres::DatabaseSettings& settings) {
  auto db = postgres::Database::open(settings);
  auto& ref = *db;
  return std::make_unique<PostgresDatabase>(std::move(db), ref,
                                            std::max<std::size_t>(settings.connections, 1));
}

void export_pool_metrics(Database& db, obs::Registry& registry, const obs::Labels& labels) {
  auto* metered = dynamic_cast<MeteredPool*>(&db);
  if (metered == nullptr) return;
  auto use = metered->pool_use();
  auto& size = registry.gauge("mercato_db_pool_connections", "Connections in the database pool", labels);
  auto& in_use =
      registry.gauge("mercato_db_pool_in_use", "Database connections lent to a caller now", labels);
  auto& waiting =
      registry.gauge("mercato_db_pool_waiting", "Callers waiting for a database connection now", labels);
  size.set(static_cast<double>(use->size));
  registry.on_collect([use, &in_use, &waiting] {
    in_use.set(static_cast<double>(use->in_use.load(std::memory_order_relaxed)));
    waiting.set(static_cast<double>(use->waiting.load(std::memory_order_relaxed)));
  });
}

}  // namespace mercato::sql
