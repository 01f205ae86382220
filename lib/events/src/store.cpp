// The outbox, inbox and dead-letter tables, written once over lib/sql for SQLite and PostgreSQL (store.hpp).
//
// The outbox keeps the whole CloudEvents envelope as JSON (attributes can be added without a schema
// change) plus the columns the relay orders and filters by. `seq` is the commit order the relay keeps.
// Sent rows stay until the retention purge, so an operator can see what left and when.
#include "mercato/events/store.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "mercato/core/ids.hpp"
#include "mercato/observability/tracing.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::events {

namespace outbox_signal {
namespace {
struct Signal {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t current = 0;  // guarded by mutex
};
// Never erased, so a Signal& stays valid without the registry's lock.
Signal& signal(const void* key) {
  static std::mutex registry_mutex;
  static std::unordered_map<const void*, std::unique_ptr<Signal>> registry;
  std::lock_guard lock(registry_mutex);
  auto& slot = registry[key];
  if (!slot) slot = std::make_unique<Signal>();
  return *slot;
}
}  // namespace

void raise(const void* key) noexcept {
  auto& s = signal(key);
  {
    std::lock_guard lock(s.mutex);
    ++s.current;
  }
  s.changed.notify_all();
}

std::uint64_t generation(const void* key) noexcept {
  auto& s = signal(key);
  std::lock_guard lock(s.mutex);
  return s.current;
}

bool wait(const void* key, std::uint64_t& seen, std::chrono::milliseconds timeout) {
  auto& s = signal(key);
  std::unique_lock lock(s.mutex);
  bool raised = s.changed.wait_for(lock, timeout, [&] { return s.current != seen; });
  seen = s.current;
  return raised;
}
}  // namespace outbox_signal

namespace {

std::int64_t now_ms() { return to_unix_ms(now_utc()); }

Result<std::optional<CloudEvent>> kept(const std::string& envelope) {
  auto e = from_json(envelope);
  if (!e) return Error::internal("a kept event is malformed: " + e.error().message);
  return std::optional<CloudEvent>(std::move(*e));
}

Result<OutboxRecord> read_outbox_record(const sql::Row& row) {
  auto e = from_json(row.text(1));
  if (!e) {
    return Error::internal("outbox row " + std::to_string(row.integer(0)) +
                           " holds a malformed event: " + e.error().message);
  }
  return OutboxRecord{row.integer(0), std::move(*e), static_cast<int>(row.integer(2))};
}

// Every table IF NOT EXISTS: on SQLite they are created so, unversioned (lib/sqlite keeps one version
// sequence per database and it belongs to the service; these tables change only by adding columns); on
// PostgreSQL they are the "events" component's migrations.
const std::vector<sql::Migration> kMigrations = {
    {1, "event tables",
     "CREATE TABLE IF NOT EXISTS event_outbox ("
     " seq {serial},"
     " event_id TEXT NOT NULL,"
     " type TEXT NOT NULL,"
     " envelope TEXT NOT NULL,"
     " created_at_ms {int64} NOT NULL,"
     " sent_at_ms {int64},"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " last_error TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX IF NOT EXISTS event_outbox_unsent ON event_outbox(seq) WHERE sent_at_ms IS NULL;"
     "CREATE TABLE IF NOT EXISTS event_inbox ("
     " consumer TEXT NOT NULL,"
     " event_id TEXT NOT NULL,"
     " handled_at_ms {int64} NOT NULL,"
     " PRIMARY KEY (consumer, event_id));"
     "CREATE INDEX IF NOT EXISTS event_inbox_by_time ON event_inbox(handled_at_ms);"
     "CREATE TABLE IF NOT EXISTS event_dead_letters ("
     " id TEXT PRIMARY KEY,"
     " consumer TEXT NOT NULL,"
     " envelope TEXT NOT NULL,"
     " error TEXT NOT NULL,"
     " attempts INTEGER NOT NULL,"
     " failed_at_ms {int64} NOT NULL);"},
    {2, "event memory",
     "CREATE TABLE IF NOT EXISTS event_memory ("
     " type TEXT NOT NULL,"
     " subject TEXT NOT NULL,"
     " envelope TEXT NOT NULL,"
     " kept_at_ms {int64} NOT NULL,"
     " PRIMARY KEY (type, subject));"
     "CREATE INDEX IF NOT EXISTS event_memory_by_time ON event_memory(kept_at_ms);"},
};

// Event streams (streams.hpp): outbox rows that name their stream and version are an aggregate's
// history, kept for good. Columns added to a released table: PostgreSQL runs it as the "events"
// migration 3; SQLite adds them when its table lacks them (ensure_schema).
const sql::Migration kStreams = {
    3, "event streams",
    "ALTER TABLE event_outbox ADD COLUMN stream_id TEXT;"
    "ALTER TABLE event_outbox ADD COLUMN stream_version {int64};"
    "CREATE UNIQUE INDEX event_streams ON event_outbox(stream_id, stream_version)"
    " WHERE stream_id IS NOT NULL;"
    "CREATE INDEX event_streams_by_position ON event_outbox(seq) WHERE stream_id IS NOT NULL;"};

// The relay lock: one publisher per database, so the commit order is the publish order even with
// several instances sharing a PostgreSQL database.
constexpr std::int64_t kRelayLockKey = 0x6d657263'6f757478;  // "merc" "outx"
// The lock space of join(): (kJoinLockSpace, the subject).
constexpr std::int32_t kJoinLockSpace = 0x6a6f696e;  // "join"

constexpr std::string_view kDeadLetterColumns = "id, consumer, envelope, error, attempts, failed_at_ms";

Result<DeadLetter> read_dead_letter(const sql::Row& row) {
  auto e = from_json(row.text(2));
  if (!e)
    return Error::internal("dead letter " + row.text(0) + " holds a malformed event: " + e.error().message);
  return DeadLetter{row.text(0), row.text(1), std::move(*e), row.text(3), static_cast<int>(row.integer(4)),
                    row.time(5)};
}

class SqlEventStore final : public EventStore {
 public:
  explicit SqlEventStore(sql::Database& db) : db_(db), lead_(db_.session_lock(kRelayLockKey)) {
    if (auto r = ensure_schema(db_); !r)
      throw std::runtime_error("cannot create the event tables: " + r.error().message);
  }

  Result<std::vector<OutboxRecord>> unsent(std::size_t limit) override {
    return db_.with([&](sql::Connection& c) -> Result<std::vector<OutboxRecord>> {
      return sql::read_all(c.query("SELECT seq, envelope, attempts FROM event_outbox WHERE sent_at_ms IS "
                                   "NULL ORDER BY seq LIMIT $1",
                                   {limit}),
                           read_outbox_record);
    });
  }

  Result<void> mark_sent(std::span<const std::int64_t> seqs) override {
    if (seqs.empty()) return {};
    return db_.with([&](sql::Connection& c) {
      return c.run(
          "UPDATE event_outbox SET sent_at_ms = $2, attempts = attempts + 1 WHERE seq IN {int64_set:$1}",
          {sql::Param::int64_list(seqs), now_ms()});
    });
  }

  Result<void> mark_failed(std::int64_t seq, std::string_view error) override {
    return db_.with([&](sql::Connection& c) {
      return c.run("UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1",
                   {seq, error});
    });
  }

  Result<std::size_t> purge(SystemTime before) override {
    return db_.with([&](sql::Connection& c) -> Result<std::size_t> {
      std::int64_t n = 0;
      for (const char* sql : {"DELETE FROM event_outbox WHERE sent_at_ms IS NOT NULL AND sent_at_ms < $1"
                              " AND stream_id IS NULL",
                              "DELETE FROM event_inbox WHERE handled_at_ms < $1",
                              "DELETE FROM event_memory WHERE kept_at_ms < $1"}) {
        MERCATO_ASSIGN_OR_RETURN(auto r, c.query(sql, {before}));
        n += r.affected();
      }
      return static_cast<std::size_t>(n);
    });
  }

  const void* signal_key() const noexcept override { return &db_; }

  Result<void> group(const std::function<void()>& fn) override {
    if (db_.dialect() == sql::Dialect::kSqlite) return db_.group(fn);
    fn();
    return {};
  }

  Result<std::int64_t> unsent_count() override {
    return db_.with([&](sql::Connection& c) -> Result<std::int64_t> {
      MERCATO_ASSIGN_OR_RETURN(auto rows,
                               c.query("SELECT COUNT(*) FROM event_outbox WHERE sent_at_ms IS NULL"));
      return rows[0].integer(0);
    });
  }

  Result<bool> handle_once(std::string_view consumer, std::string_view event_id,
                           std::span<const CloudEvent> outgoing) override {
    return db_.with([&](sql::Connection& c) -> Result<bool> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      auto first = record_handled(c, consumer, event_id);
      if (!first || !*first) return first;
      MERCATO_RETURN_IF_ERROR(append_outbox(c, outgoing));
      MERCATO_RETURN_IF_ERROR(c.commit());
      return first;
    });
  }

  Result<Joined> join(std::string_view consumer, const CloudEvent& event,
                      std::string_view partner_type) override {
    return db_.with([&](sql::Connection& c) -> Result<Joined> {
      // Serialises the joins of one subject (all joins on SQLite, whose begin() takes the write lock;
      // on PostgreSQL instances share the database): held until commit.
      MERCATO_RETURN_IF_ERROR(c.begin());
      MERCATO_RETURN_IF_ERROR(c.lock(kJoinLockSpace, event.subject));
      MERCATO_ASSIGN_OR_RETURN(
          auto seen,
          c.query("SELECT 1 FROM event_inbox WHERE consumer = $1 AND event_id = $2", {consumer, event.id}));
      if (!seen.empty()) {
        MERCATO_RETURN_IF_ERROR(c.commit());
        return Joined{.duplicate = true};
      }
      MERCATO_RETURN_IF_ERROR(
          c.query("INSERT INTO event_memory(type, subject, envelope, kept_at_ms) VALUES ($1, $2, $3, $4)"
                  " ON CONFLICT (type, subject) DO UPDATE SET envelope = excluded.envelope,"
                  " kept_at_ms = excluded.kept_at_ms",
                  {event.type, event.subject, to_json(event), now_ms()}));
      MERCATO_ASSIGN_OR_RETURN(auto found,
                               c.query("SELECT envelope FROM event_memory WHERE type = $1 AND subject = $2",
                                       {partner_type, event.subject}));
      Joined joined;
      if (!found.empty()) {
        MERCATO_ASSIGN_OR_RETURN(auto partner, kept(found[0].text(0)));
        joined.partner = std::move(partner);
      } else {
        MERCATO_RETURN_IF_ERROR(record_handled(c, consumer, event.id));
      }
      MERCATO_RETURN_IF_ERROR(c.commit());
      return joined;
    });
  }

  Result<void> add_dead_letter(std::string_view consumer, const CloudEvent& event, std::string_view error,
                               int attempts) override {
    return db_.with([&](sql::Connection& c) {
      return c.run(
          "INSERT INTO event_dead_letters(id, consumer, envelope, error, attempts, failed_at_ms)"
          " VALUES ($1, $2, $3, $4, $5, $6)",
          {new_uuid(), consumer, to_json(event), error, attempts, now_ms()});
    });
  }

  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) override {
    return db_.with([&](sql::Connection& c) -> Result<std::vector<DeadLetter>> {
      static const std::string kSql = "SELECT " + std::string(kDeadLetterColumns) +
                                      " FROM event_dead_letters ORDER BY failed_at_ms, id LIMIT $1";
      return sql::read_all(c.query(kSql, {limit}), read_dead_letter);
    });
  }

  Result<std::int64_t> dead_letter_count() override {
    return db_.with([&](sql::Connection& c) -> Result<std::int64_t> {
      MERCATO_ASSIGN_OR_RETURN(auto rows, c.query("SELECT COUNT(*) FROM event_dead_letters"));
      return rows[0].integer(0);
    });
  }

  Result<std::optional<DeadLetter>> dead_letter(std::string_view id) override {
    return db_.with([&](sql::Connection& c) -> Result<std::optional<DeadLetter>> {
      static const std::string kSql =
          "SELECT " + std::string(kDeadLetterColumns) + " FROM event_dead_letters WHERE id = $1";
      MERCATO_ASSIGN_OR_RETURN(auto rows, c.query(kSql, {id}));
      if (rows.empty()) return std::optional<DeadLetter>();
      MERCATO_ASSIGN_OR_RETURN(auto d, read_dead_letter(rows[0]));
      return std::optional<DeadLetter>(std::move(d));
    });
  }

  Result<void> remove_dead_letter(std::string_view id) override {
    return db_.with(
        [&](sql::Connection& c) { return c.run("DELETE FROM event_dead_letters WHERE id = $1", {id}); });
  }

  Result<void> update_dead_letter(std::string_view id, std::string_view error) override {
    return db_.with([&](sql::Connection& c) {
      return c.run(
          "UPDATE event_dead_letters SET error = $2, attempts = attempts + 1, failed_at_ms = $3 WHERE id = "
          "$1",
          {id, error, now_ms()});
    });
  }

  Result<bool> try_lead() override { return lead_->try_hold(); }

 private:
  sql::Database& db_;
  std::unique_ptr<sql::Database::SessionLock> lead_;
};

}  // namespace

Result<void> append_outbox(sql::Connection& c, std::span<const CloudEvent> events) {
  if (!c.in_transaction())
    return Error::internal("append_outbox must run inside the state change's transaction");
  auto ms = now_ms();
  const auto* ambient = obs::ambient();
  for (const auto& e : events) {
    if (auto r = validate(e); !r) return r;
    // An event built without a trace context, stored by code running under a span (an event handler,
    // a sync route): it continues that span's trace (tracing.hpp, "ambient").
    std::string envelope;
    if (e.traceparent.empty() && ambient != nullptr) {
      CloudEvent traced = e;
      traced.traceparent = ambient->context.to_traceparent();
      envelope = to_json(traced);
    } else {
      envelope = to_json(e);
    }
    MERCATO_RETURN_IF_ERROR(
        c.query("INSERT INTO event_outbox(event_id, type, envelope, created_at_ms) VALUES ($1, $2, $3, $4)",
                {e.id, e.type, envelope, ms}));
  }
  c.after_commit([key = c.database()] { outbox_signal::raise(key); });
  return {};
}

Result<bool> record_handled(sql::Connection& c, std::string_view consumer, std::string_view event_id) {
  MERCATO_ASSIGN_OR_RETURN(auto r, c.query("INSERT INTO event_inbox(consumer, event_id, handled_at_ms) "
                                           "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                           {consumer, event_id, now_ms()}));
  return r.affected() == 1;
}

Result<void> ensure_schema(sql::Database& db) {
  if (db.dialect() == sql::Dialect::kPostgres) {
    auto all = kMigrations;
    all.push_back(kStreams);
    return db.migrate("events", all);
  }
  return db.with([](sql::Connection& c) -> Result<void> {
    for (const auto& m : kMigrations) {
      if (auto r = c.exec(m.text(sql::Dialect::kSqlite)); !r) return r;
    }
    MERCATO_ASSIGN_OR_RETURN(
        auto streams, c.query("SELECT 1 FROM pragma_table_info('event_outbox') WHERE name = 'stream_id'"));
    if (!streams.empty()) return {};
    // Two processes may open one SQLite file at once (a test's and the service's): the write lock makes
    // the check and the change one step.
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_ASSIGN_OR_RETURN(
        auto again, c.query("SELECT 1 FROM pragma_table_info('event_outbox') WHERE name = 'stream_id'"));
    if (again.empty()) MERCATO_RETURN_IF_ERROR(c.exec(kStreams.text(sql::Dialect::kSqlite)));
    return c.commit();
  });
}

Result<EventStore::Joined> EventStore::join(std::string_view, const CloudEvent& event, std::string_view) {
  return Error::internal("this event store keeps no events (joining " + event.type + ")");
}

Result<void> answer_command(EventStore& store, std::string_view consumer, const CloudEvent& command,
                            const std::optional<CloudEvent>& answer) {
  auto outgoing = answer ? std::span<const CloudEvent>(&*answer, 1) : std::span<const CloudEvent>();
  MERCATO_RETURN_IF_ERROR(store.handle_once(consumer, command.id, outgoing));
  return {};
}

std::unique_ptr<EventStore> open_store(sql::Database& db) { return std::make_unique<SqlEventStore>(db); }

}  // namespace mercato::events
