#include "mercato/postgres/postgres.hpp"

#include <algorithm>
#include <stdexcept>

#include "libpq.hpp"

namespace mercato::postgres {

namespace {
const libpq::Api& pq() { return libpq::api(); }
}  // namespace

bool is_postgres_url(std::string_view url) noexcept {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

Rows::Rows(pg_result* result) : result_(result) {}
Rows::Rows(Rows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
Rows::~Rows() {
  if (result_ != nullptr) pq().clear(result_);
}
int Rows::size() const noexcept { return result_ == nullptr ? 0 : pq().ntuples(result_); }
int Rows::columns() const noexcept { return result_ == nullptr ? 0 : pq().nfields(result_); }
std::string Rows::text(int row, int column) const {
  return std::string(pq().getvalue(result_, row, column),
                     static_cast<std::size_t>(pq().getlength(result_, row, column)));
}
std::int64_t Rows::integer(int row, int column) const {
  return std::stoll(pq().getvalue(result_, row, column));
}
bool Rows::is_null(int row, int column) const { return pq().getisnull(result_, row, column) != 0; }
std::int64_t Rows::affected() const {
  const char* n = pq().cmd_tuples(result_);
  return n == nullptr || *n == '\0' ? 0 : std::stoll(n);
}

Connection::Connection(pg_conn* conn) : conn_(conn) {}
Connection::~Connection() { pq().finish(conn_); }

namespace {

Error failure(pg_conn* conn, const pg_result* result, std::string& sqlstate, std::string_view what) {
  const char* state = result != nullptr ? pq().result_error_field(result, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate = state != nullptr ? state : "";
  std::string message = result != nullptr ? pq().result_error_message(result) : pq().error_message(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  // Lost connections are the storage being unavailable, not a bug.
  if (pq().status(conn) != CONNECTION_OK) return Error::unavailable("postgres: " + message);
  return Error::internal(std::string(what) + ": " + message);
}

}  // namespace

Result<Rows> Connection::query(std::string_view sql, const std::vector<Param>& params) {
  sqlstate_.clear();
  const std::string* name = nullptr;
  for (const auto& entry : prepared_) {
    if (entry.first == sql) {
      name = &entry.second;
      break;
    }
  }
  if (name == nullptr) {
    std::string statement = "s" + std::to_string(prepared_.size());
    std::string text(sql);
    PGresult* prepared = pq().prepare(conn_, statement.c_str(), text.c_str(), 0, nullptr);
    Rows guard(prepared);
    if (prepared == nullptr || pq().result_status(prepared) != PGRES_COMMAND_OK) {
      return failure(conn_, prepared, sqlstate_, "prepare");
    }
    prepared_.emplace_back(std::move(text), std::move(statement));
    name = &prepared_.back().second;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.value() ? p.value()->c_str() : nullptr);
  PGresult* result = pq().exec_prepared(conn_, name->c_str(), static_cast<int>(values.size()), values.data(),
                                        nullptr, nullptr, 0);
  Rows rows(result);
  auto status = result != nullptr ? pq().result_status(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    return failure(conn_, result, sqlstate_, "query");
  return rows;
}

Result<void> Connection::exec(std::string_view sql) {
  sqlstate_.clear();
  std::string text(sql);
  PGresult* result = pq().exec(conn_, text.c_str());
  Rows guard(result);
  auto status = result != nullptr ? pq().result_status(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    return failure(conn_, result, sqlstate_, "exec");
  return {};
}

Result<void> Connection::begin() { return exec("BEGIN"); }
Result<void> Connection::commit() {
  // PostgreSQL answers COMMIT of a transaction a statement failed in with a plain "ROLLBACK" and no
  // error: a caller that went on after the failure (a group of scopes, sql.hpp) would take its work for
  // committed. Said here, as the error it is.
  if (pq().transaction_status(conn_) == PQTRANS_INERROR) {
    rollback();
    return Error::unavailable("postgres: the transaction had failed, so it was rolled back, not committed");
  }
  return after_commit_.committed(exec("COMMIT"));
}
void Connection::rollback() noexcept {
  after_commit_.clear();
  if (in_transaction()) {
    PGresult* r = pq().exec(conn_, "ROLLBACK");
    pq().clear(r);
  }
}
bool Connection::in_transaction() const noexcept {
  auto s = pq().transaction_status(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

bool Connection::ensure_alive() {
  if (pq().status(conn_) == CONNECTION_OK) return true;
  pq().reset(conn_);
  prepared_.clear();  // prepared statements die with the server session
  return pq().status(conn_) == CONNECTION_OK;
}

namespace {
void ignore_notice(void*, const char*) {}
}  // namespace

Database::~Database() = default;

std::unique_ptr<Database> Database::open(const DatabaseSettings& settings) {
  std::unique_ptr<Database> db(new Database(settings));
  std::size_t n = std::max<std::size_t>(settings.connections, 1);
  for (std::size_t i = 0; i < n; ++i) {
    pg_conn* conn = pq().connectdb(settings.url.c_str());
    if (conn == nullptr || pq().status(conn) != CONNECTION_OK) {
      std::string message = conn != nullptr ? pq().error_message(conn) : "out of memory";
      pq().finish(conn);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      throw std::runtime_error("cannot connect to PostgreSQL: " + message);
    }
    // Server notices ("relation already exists, skipping") are not errors; keep them out of the logs.
    pq().set_notice_processor(conn, ignore_notice, nullptr);
    db->pool_.add(std::make_unique<Connection>(conn));
  }
  return db;
}

Result<void> Database::migrate(std::string_view component, const std::vector<Migration>& migrations) {
  return with([&](Connection& c) -> Result<void> {
    // Session-level advisory lock: instances starting together apply each migration once.
    MERCATO_RETURN_IF_ERROR(c.query("SELECT pg_advisory_lock(7263541)"));
    struct Unlock {
      Connection& c;
      ~Unlock() { (void)c.query("SELECT pg_advisory_unlock(7263541)"); }
    } unlock{c};
    if (auto r = c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL,"
                        " version INTEGER NOT NULL, name TEXT NOT NULL,"
                        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (component, version))");
        !r) {
      return r;
    }
    MERCATO_ASSIGN_OR_RETURN(
        auto current_rows,
        c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1", {component}));
    auto current = current_rows.integer(0, 0);
    std::int64_t newest = migrations.empty() ? 0 : migrations.back().version;
    if (current > newest) {
      return Error::internal(std::string(component) + " database schema version " + std::to_string(current) +
                             " is newer than this build knows (" + std::to_string(newest) + ")");
    }
    for (const auto& m : migrations) {
      if (m.version <= current) continue;
      if (auto r = c.begin(); !r) return r;
      if (auto r = c.exec(m.sql); !r) {
        c.rollback();
        return Error::internal("migration " + std::string(component) + " " + std::to_string(m.version) +
                               " (" + m.name + ") failed: " + r.error().message);
      }
      if (auto r = c.query("INSERT INTO schema_migrations(component, version, name) VALUES ($1, $2, $3)",
                           {component, static_cast<std::int64_t>(m.version), m.name});
          !r) {
        c.rollback();
        return std::move(r).error();
      }
      if (auto r = c.commit(); !r) return r;
    }
    return {};
  });
}

Result<void> Database::ping() {
  return with([](Connection& c) -> Result<void> {
    MERCATO_RETURN_IF_ERROR(c.query("SELECT 1"));
    return {};
  });
}

}  // namespace mercato::postgres
