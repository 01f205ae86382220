#include "mercato/sqlite/sqlite.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <stdexcept>

namespace mercato::sqlite {
namespace {

Error sqlite_error(sqlite3* db, std::string_view what) {
  return Error::internal(std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

void Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void Statement::bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::bind_null(int index) { sqlite3_bind_null(stmt_, index); }

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, "sqlite step failed");
}

Result<void> Statement::run() {
  for (;;) {
    MERCATO_ASSIGN_OR_RETURN(bool has_row, step());
    if (!has_row) return {};
  }
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

bool Statement::is_integer(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_INTEGER; }

int Statement::column_count() const { return sqlite3_column_count(stmt_); }

bool Statement::read_only() const { return sqlite3_stmt_readonly(stmt_) != 0; }

Connection::Connection(sqlite3* db) : db_(db) {}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

sqlite3_stmt* Connection::find_cached(std::string_view key) const noexcept {
  for (const auto& [text, stmt] : cache_) {
    if (text == key) return stmt;
  }
  return nullptr;
}

Statement Connection::prepare_new(std::string_view key, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                         nullptr) != SQLITE_OK) {
    // A statement that does not compile is a programming error, found by the first test that runs it.
    throw std::logic_error("cannot prepare SQL: " + std::string(sqlite3_errmsg(db_)) + ": " + sql);
  }
  cache_.emplace_back(std::string(key), stmt);
  return Statement(db_, stmt);
}

Result<void> Connection::exec(std::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string m = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return Error::internal("sqlite exec failed: " + m);
  }
  return {};
}

int Connection::last_error_code() const noexcept { return sqlite3_extended_errcode(db_); }

std::int64_t Connection::changes() const noexcept { return sqlite3_changes64(db_); }

Result<void> Connection::begin_immediate() { return exec("BEGIN IMMEDIATE"); }

Result<void> Connection::commit() { return after_commit_.committed(exec("COMMIT")); }

void Connection::rollback() noexcept {
  after_commit_.clear();
  if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

bool Connection::in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }

Database::Database(DatabaseSettings settings) : settings_(std::move(settings)) {}

Database::~Database() = default;

std::unique_ptr<Database> Database::open(const DatabaseSettings& settings) {
  if (settings.path.empty() || settings.path == ":memory:") {
    throw std::runtime_error("database path must name a file");
  }
  if (!is_page_size(settings.page_size))
    throw std::runtime_error("cannot open database " + settings.path + ": page size " +
                             std::to_string(settings.page_size) + " is not a power of two in 512..65536");
  auto parent = std::filesystem::path(settings.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::unique_ptr<Database> db(new Database(settings));
  std::size_t n = std::max<std::size_t>(settings.connections, 1);
  for (std::size_t i = 0; i < n; ++i) {
    sqlite3* handle = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(settings.path.c_str(), &handle, flags, nullptr) != SQLITE_OK) {
      std::string message = handle != nullptr ? sqlite3_errmsg(handle) : "out of memory";
      sqlite3_close_v2(handle);
      throw std::runtime_error("cannot open database " + settings.path + ": " + message);
    }
    sqlite3_extended_result_codes(handle, 1);
    sqlite3_busy_timeout(handle, static_cast<int>(settings.busy_timeout.count()));
    auto conn = std::make_unique<Connection>(handle);
    // One connection: exclusive locking mode. The service owns its file (database per service), so
    // no other process may open it while the service runs, and SQLite then skips the two fcntl()
    // lock calls it otherwise makes per transaction — the largest syscall cost of a read in profiles.
    // It must be set before WAL mode, which then keeps its index in memory instead of a -shm file.
    if (n == 1) {
      if (auto r = conn->exec("PRAGMA locking_mode=EXCLUSIVE"); !r) {
        throw std::runtime_error("cannot configure database " + settings.path + ": " + r.error().message);
      }
    }
    // Before WAL mode, which creates the file's first page: only a new database takes it.
    if (auto r = conn->exec("PRAGMA page_size=" + std::to_string(settings.page_size)); !r) {
      throw std::runtime_error("cannot configure database " + settings.path + ": " + r.error().message);
    }
    // WAL: readers do not block the writer. synchronous=NORMAL is durable across process crashes in WAL
    // mode (an OS crash can lose the last transactions, not corrupt the file); set FULL for more.
    for (const char* pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
      if (auto r = conn->exec(pragma); !r) {
        throw std::runtime_error("cannot configure database " + settings.path + ": " + r.error().message);
      }
    }
    db->pool_.add(std::move(conn));
  }
  return db;
}

int Database::schema_version() {
  return with([](Connection& c) -> int {
    auto st = c.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    auto row = st.step();
    return row && *row ? static_cast<int>(st.integer(0)) : 0;
  });
}

Result<void> Database::migrate(const std::vector<Migration>& migrations) {
  return with([&](Connection& c) -> Result<void> {
    if (auto r = c.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))");
        !r) {
      return r;
    }
    int current = 0;
    {
      auto st = c.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      MERCATO_RETURN_IF_ERROR(st.step());
      current = static_cast<int>(st.integer(0));
    }
    int newest = migrations.empty() ? 0 : migrations.back().version;
    if (current > newest) {
      return Error::internal("database schema version " + std::to_string(current) +
                             " is newer than this build knows (" + std::to_string(newest) + ")");
    }
    for (const auto& m : migrations) {
      if (m.version <= current) continue;
      if (auto r = c.begin_immediate(); !r) return r;
      if (auto r = c.exec(m.sql); !r) {
        c.rollback();
        return Error::internal("migration " + std::to_string(m.version) + " (" + m.name +
                               ") failed: " + r.error().message);
      }
      auto st = c.prepare("INSERT INTO schema_migrations(version, name) VALUES (?1, ?2)");
      st.bind(1, static_cast<std::int64_t>(m.version));
      st.bind(2, m.name);
      if (auto r = st.run(); !r) {
        c.rollback();
        return r;
      }
      if (auto r = c.commit(); !r) return r;
    }
    return {};
  });
}

Result<void> Database::ping() {
  return with([](Connection& c) -> Result<void> {
    auto st = c.prepare("SELECT count(*) FROM sqlite_schema");
    MERCATO_RETURN_IF_ERROR(st.step());
    return {};
  });
}

}  // namespace mercato::sqlite
