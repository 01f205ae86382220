// The outbox, inbox and dead-letter tables on SQLite and PostgreSQL (store.hpp).
//
// The outbox keeps the whole CloudEvents envelope as JSON (attributes can be added without a schema
// change) plus the columns the relay orders and filters by. `seq` is the commit order the relay keeps.
// Sent rows stay until the retention purge, so an operator can see what left and when.
#include "mercato/events/store.hpp"

#include <condition_variable>
#include <mutex>

#include "mercato/core/ids.hpp"
#include "mercato/postgres/postgres.hpp"
#include "mercato/sqlite/sqlite.hpp"

namespace mercato::events {

namespace outbox_signal {
namespace {
std::mutex mutex;
std::condition_variable changed;
std::uint64_t current = 0;
}  // namespace

void raise() noexcept {
  {
    std::lock_guard lock(mutex);
    ++current;
  }
  changed.notify_all();
}

std::uint64_t generation() noexcept {
  std::lock_guard lock(mutex);
  return current;
}

bool wait(std::uint64_t& seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex);
  bool raised = changed.wait_for(lock, timeout, [&] { return current != seen; });
  seen = current;
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

Result<CloudEvent> decode(const std::string& envelope, std::int64_t seq) {
  auto e = from_json(envelope);
  if (!e)
    return Error::internal("outbox row " + std::to_string(seq) +
                           " holds a malformed event: " + e.error().message);
  return e;
}

// --- SQLite -------------------------------------------------------------------------------------

constexpr const char* kSqliteSchema =
    "CREATE TABLE IF NOT EXISTS event_outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " envelope TEXT NOT NULL,"
    " created_at_ms INTEGER NOT NULL,"
    " sent_at_ms INTEGER,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS event_outbox_unsent ON event_outbox(seq) WHERE sent_at_ms IS NULL;"
    "CREATE TABLE IF NOT EXISTS event_inbox ("
    " consumer TEXT NOT NULL,"
    " event_id TEXT NOT NULL,"
    " handled_at_ms INTEGER NOT NULL,"
    " PRIMARY KEY (consumer, event_id));"
    "CREATE INDEX IF NOT EXISTS event_inbox_by_time ON event_inbox(handled_at_ms);"
    "CREATE TABLE IF NOT EXISTS event_memory ("
    " type TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " envelope TEXT NOT NULL,"
    " kept_at_ms INTEGER NOT NULL,"
    " PRIMARY KEY (type, subject));"
    "CREATE INDEX IF NOT EXISTS event_memory_by_time ON event_memory(kept_at_ms);"
    "CREATE TABLE IF NOT EXISTS event_dead_letters ("
    " id TEXT PRIMARY KEY,"
    " consumer TEXT NOT NULL,"
    " envelope TEXT NOT NULL,"
    " error TEXT NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " failed_at_ms INTEGER NOT NULL);";

class SqliteEventStore final : public EventStore {
 public:
  explicit SqliteEventStore(sqlite::Database& db) : db_(db) {
    // CREATE ... IF NOT EXISTS rather than a versioned migration: lib/sqlite keeps one version sequence
    // per database and it belongs to the service; these tables change only by adding columns.
    auto r = ensure_schema(db_);
    if (!r) throw std::runtime_error("cannot create the event tables: " + r.error().message);
  }

  Result<std::vector<OutboxRecord>> unsent(std::size_t limit) override {
    return db_.with([&](sqlite::Connection& c) -> Result<std::vector<OutboxRecord>> {
      auto st = c.prepare(
          "SELECT seq, envelope, attempts FROM event_outbox WHERE sent_at_ms IS NULL ORDER BY seq LIMIT ?1");
      st.bind(1, static_cast<std::int64_t>(limit));
      std::vector<OutboxRecord> out;
      for (;;) {
        auto row = st.step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        auto e = decode(st.text(1), st.integer(0));
        if (!e) return std::move(e).error();
        out.push_back({st.integer(0), std::move(*e), static_cast<int>(st.integer(2))});
      }
      return out;
    });
  }

  Result<void> mark_sent(std::span<const std::int64_t> seqs) override {
    return db_.with([&](sqlite::Connection& c) -> Result<void> {
      if (auto r = c.begin_immediate(); !r) return r;
      auto ms = now_ms();
      for (auto seq : seqs) {
        auto st =
            c.prepare("UPDATE event_outbox SET sent_at_ms = ?2, attempts = attempts + 1 WHERE seq = ?1");
        st.bind(1, seq);
        st.bind(2, ms);
        if (auto r = st.run(); !r) return r;
      }
      return c.commit();
    });
  }

  Result<void> mark_failed(std::int64_t seq, std::string_view error) override {
    return db_.with([&](sqlite::Connection& c) -> Result<void> {
      auto st = c.prepare("UPDATE event_outbox SET attempts = attempts + 1, last_error = ?2 WHERE seq = ?1");
      st.bind(1, seq);
      st.bind(2, error);
      return st.run();
    });
  }

  Result<std::size_t> purge(SystemTime before) override {
    return db_.with([&](sqlite::Connection& c) -> Result<std::size_t> {
      std::size_t n = 0;
      auto st = c.prepare("DELETE FROM event_outbox WHERE sent_at_ms IS NOT NULL AND sent_at_ms < ?1");
      st.bind(1, to_unix_ms(before));
      if (auto r = st.run(); !r) return std::move(r).error();
      n += static_cast<std::size_t>(c.changes());
      auto st2 = c.prepare("DELETE FROM event_inbox WHERE handled_at_ms < ?1");
      st2.bind(1, to_unix_ms(before));
      if (auto r = st2.run(); !r) return std::move(r).error();
      n += static_cast<std::size_t>(c.changes());
      auto st3 = c.prepare("DELETE FROM event_memory WHERE kept_at_ms < ?1");
      st3.bind(1, to_unix_ms(before));
      if (auto r = st3.run(); !r) return std::move(r).error();
      n += static_cast<std::size_t>(c.changes());
      return n;
    });
  }

  Result<std::int64_t> unsent_count() override {
    return db_.with([&](sqlite::Connection& c) -> Result<std::int64_t> {
      auto st = c.prepare("SELECT COUNT(*) FROM event_outbox WHERE sent_at_ms IS NULL");
      auto row = st.step();
      if (!row) return std::move(row).error();
      return st.integer(0);
    });
  }

  Result<bool> handle_once(std::string_view consumer, std::string_view event_id,
                           std::span<const CloudEvent> outgoing) override {
    return db_.with([&](sqlite::Connection& c) -> Result<bool> {
      if (auto r = c.begin_immediate(); !r) return std::move(r).error();
      auto first = record_handled(c, consumer, event_id);
      if (!first || !*first) return first;
      if (auto r = append_outbox(c, outgoing); !r) return std::move(r).error();
      if (auto r = c.commit(); !r) return std::move(r).error();
      return first;
    });
  }

  Result<Joined> join(std::string_view consumer, const CloudEvent& event,
                      std::string_view partner_type) override {
    return db_.with([&](sqlite::Connection& c) -> Result<Joined> {
      // BEGIN IMMEDIATE takes the write lock first: joins (of any subject) run one at a time.
      if (auto r = c.begin_immediate(); !r) return std::move(r).error();
      auto seen = c.prepare("SELECT 1 FROM event_inbox WHERE consumer = ?1 AND event_id = ?2");
      seen.bind(1, consumer);
      seen.bind(2, event.id);
      auto row = seen.step();
      if (!row) return std::move(row).error();
      if (*row) return Joined{.duplicate = true};
      auto keep = c.prepare(
          "INSERT INTO event_memory(type, subject, envelope, kept_at_ms) VALUES (?1, ?2, ?3, ?4)"
          " ON CONFLICT(type, subject) DO UPDATE SET envelope = excluded.envelope,"
          " kept_at_ms = excluded.kept_at_ms");
      keep.bind(1, event.type);
      keep.bind(2, event.subject);
      keep.bind(3, to_json(event));
      keep.bind(4, now_ms());
      if (auto r = keep.run(); !r) return std::move(r).error();
      auto find = c.prepare("SELECT envelope FROM event_memory WHERE type = ?1 AND subject = ?2");
      find.bind(1, partner_type);
      find.bind(2, event.subject);
      auto found = find.step();
      if (!found) return std::move(found).error();
      Joined joined;
      if (*found) {
        auto partner = kept(find.text(0));
        if (!partner) return std::move(partner).error();
        joined.partner = std::move(*partner);
      } else if (auto first = record_handled(c, consumer, event.id); !first) {
        return std::move(first).error();
      }
      if (auto r = c.commit(); !r) return std::move(r).error();
      return joined;
    });
  }

  Result<void> add_dead_letter(std::string_view consumer, const CloudEvent& event, std::string_view error,
                               int attempts) override {
    return db_.with([&](sqlite::Connection& c) -> Result<void> {
      auto st = c.prepare(
          "INSERT INTO event_dead_letters(id, consumer, envelope, error, attempts, failed_at_ms)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      st.bind(1, new_uuid());
      st.bind(2, consumer);
      st.bind(3, to_json(event));
      st.bind(4, error);
      st.bind(5, static_cast<std::int64_t>(attempts));
      st.bind(6, now_ms());
      return st.run();
    });
  }

  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) override {
    return db_.with([&](sqlite::Connection& c) -> Result<std::vector<DeadLetter>> {
      auto st = c.prepare(
          "SELECT id, consumer, envelope, error, attempts, failed_at_ms FROM event_dead_letters"
          " ORDER BY failed_at_ms, id LIMIT ?1");
      st.bind(1, static_cast<std::int64_t>(limit));
      std::vector<DeadLetter> out;
      for (;;) {
        auto row = st.step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        auto d = read(st);
        if (!d) return std::move(d).error();
        out.push_back(std::move(*d));
      }
      return out;
    });
  }

  Result<std::optional<DeadLetter>> dead_letter(std::string_view id) override {
    return db_.with([&](sqlite::Connection& c) -> Result<std::optional<DeadLetter>> {
      auto st = c.prepare(
          "SELECT id, consumer, envelope, error, attempts, failed_at_ms FROM event_dead_letters WHERE id = "
          "?1");
      st.bind(1, id);
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (!*row) return std::optional<DeadLetter>();
      auto d = read(st);
      if (!d) return std::move(d).error();
      return std::optional<DeadLetter>(std::move(*d));
    });
  }

  Result<void> remove_dead_letter(std::string_view id) override {
    return db_.with([&](sqlite::Connection& c) -> Result<void> {
      auto st = c.prepare("DELETE FROM event_dead_letters WHERE id = ?1");
      st.bind(1, id);
      return st.run();
    });
  }

  Result<void> update_dead_letter(std::string_view id, std::string_view error) override {
    return db_.with([&](sqlite::Connection& c) -> Result<void> {
      auto st = c.prepare(
          "UPDATE event_dead_letters SET error = ?2, attempts = attempts + 1, failed_at_ms = ?3 WHERE id = "
          "?1");
      st.bind(1, id);
      st.bind(2, error);
      st.bind(3, now_ms());
      return st.run();
    });
  }

  Result<bool> try_lead() override { return true; }

 private:
  static Result<DeadLetter> read(const sqlite::Statement& st) {
    auto e = from_json(st.text(2));
    if (!e)
      return Error::internal("dead letter " + st.text(0) + " holds a malformed event: " + e.error().message);
    return DeadLetter{st.text(0),
                      st.text(1),
                      std::move(*e),
                      st.text(3),
                      static_cast<int>(st.integer(4)),
                      from_unix_ms(st.integer(5))};
  }

  sqlite::Database& db_;
};

// --- PostgreSQL ---------------------------------------------------------------------------------

const std::vector<postgres::Migration> kPostgresMigrations = {
    {1, "event tables",
     "CREATE TABLE event_outbox ("
     " seq BIGSERIAL PRIMARY KEY,"
     " event_id TEXT NOT NULL,"
     " type TEXT NOT NULL,"
     " envelope TEXT NOT NULL,"
     " created_at_ms BIGINT NOT NULL,"
     " sent_at_ms BIGINT,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " last_error TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX event_outbox_unsent ON event_outbox(seq) WHERE sent_at_ms IS NULL;"
     "CREATE TABLE event_inbox ("
     " consumer TEXT NOT NULL,"
     " event_id TEXT NOT NULL,"
     " handled_at_ms BIGINT NOT NULL,"
     " PRIMARY KEY (consumer, event_id));"
     "CREATE INDEX event_inbox_by_time ON event_inbox(handled_at_ms);"
     "CREATE TABLE event_dead_letters ("
     " id TEXT PRIMARY KEY,"
     " consumer TEXT NOT NULL,"
     " envelope TEXT NOT NULL,"
     " error TEXT NOT NULL,"
     " attempts INTEGER NOT NULL,"
     " failed_at_ms BIGINT NOT NULL);"},
    {2, "event memory",
     "CREATE TABLE event_memory ("
     " type TEXT NOT NULL,"
     " subject TEXT NOT NULL,"
     " envelope TEXT NOT NULL,"
     " kept_at_ms BIGINT NOT NULL,"
     " PRIMARY KEY (type, subject));"
     "CREATE INDEX event_memory_by_time ON event_memory(kept_at_ms);"},
};

// The relay lock: one publisher per database, so the commit order is the publish order even with
// several instances. A session-level advisory lock is released when its connection closes, so a
// killed leader hands over at once.
constexpr std::int64_t kRelayLockKey = 0x6d657263'6f757478;  // "merc" "outx"
// The advisory lock space of join(): (kJoinLockSpace, hash of the subject).
constexpr std::int64_t kJoinLockSpace = 0x6a6f696e;  // "join"

class PostgresEventStore final : public EventStore {
 public:
  explicit PostgresEventStore(postgres::Database& db) : db_(db) {
    if (auto r = ensure_schema(db_); !r)
      throw std::runtime_error("cannot create the event tables: " + r.error().message);
  }

  Result<std::vector<OutboxRecord>> unsent(std::size_t limit) override {
    return db_.with([&](postgres::Connection& c) -> Result<std::vector<OutboxRecord>> {
      auto rows = c.query(
          "SELECT seq, envelope, attempts FROM event_outbox WHERE sent_at_ms IS NULL ORDER BY seq LIMIT $1",
          {static_cast<std::int64_t>(limit)});
      if (!rows) return std::move(rows).error();
      std::vector<OutboxRecord> out;
      for (int i = 0; i < rows->size(); ++i) {
        auto e = decode(rows->text(i, 1), rows->integer(i, 0));
        if (!e) return std::move(e).error();
        out.push_back({rows->integer(i, 0), std::move(*e), static_cast<int>(rows->integer(i, 2))});
      }
      return out;
    });
  }

  Result<void> mark_sent(std::span<const std::int64_t> seqs) override {
    if (seqs.empty()) return {};
    std::string list = "{";
    for (std::size_t i = 0; i < seqs.size(); ++i) list += (i ? "," : "") + std::to_string(seqs[i]);
    list += "}";
    return db_.with([&](postgres::Connection& c) -> Result<void> {
      auto r = c.query(
          "UPDATE event_outbox SET sent_at_ms = $2, attempts = attempts + 1 WHERE seq = ANY($1::bigint[])",
          {list, now_ms()});
      if (!r) return std::move(r).error();
      return {};
    });
  }

  Result<void> mark_failed(std::int64_t seq, std::string_view error) override {
    return db_.with([&](postgres::Connection& c) -> Result<void> {
      auto r = c.query("UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1",
                       {seq, error});
      if (!r) return std::move(r).error();
      return {};
    });
  }

  Result<std::size_t> purge(SystemTime before) override {
    return db_.with([&](postgres::Connection& c) -> Result<std::size_t> {
      auto a = c.query("DELETE FROM event_outbox WHERE sent_at_ms IS NOT NULL AND sent_at_ms < $1",
                       {to_unix_ms(before)});
      if (!a) return std::move(a).error();
      auto b = c.query("DELETE FROM event_inbox WHERE handled_at_ms < $1", {to_unix_ms(before)});
      if (!b) return std::move(b).error();
      auto m = c.query("DELETE FROM event_memory WHERE kept_at_ms < $1", {to_unix_ms(before)});
      if (!m) return std::move(m).error();
      return static_cast<std::size_t>(a->affected() + b->affected() + m->affected());
    });
  }

  Result<std::int64_t> unsent_count() override {
    return db_.with([&](postgres::Connection& c) -> Result<std::int64_t> {
      auto rows = c.query("SELECT COUNT(*) FROM event_outbox WHERE sent_at_ms IS NULL");
      if (!rows) return std::move(rows).error();
      return rows->integer(0, 0);
    });
  }

  Result<bool> handle_once(std::string_view consumer, std::string_view event_id,
                           std::span<const CloudEvent> outgoing) override {
    return db_.with([&](postgres::Connection& c) -> Result<bool> {
      if (auto r = c.begin(); !r) return std::move(r).error();
      auto first = record_handled(c, consumer, event_id);
      if (!first || !*first) return first;
      if (auto r = append_outbox(c, outgoing); !r) return std::move(r).error();
      if (auto r = c.commit(); !r) return std::move(r).error();
      return first;
    });
  }

  Result<Joined> join(std::string_view consumer, const CloudEvent& event,
                      std::string_view partner_type) override {
    return db_.with([&](postgres::Connection& c) -> Result<Joined> {
      if (auto r = c.begin(); !r) return std::move(r).error();
      // Serialises the joins of one subject (instances share the database): held until commit.
      if (auto r = c.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", {kJoinLockSpace, event.subject});
          !r)
        return std::move(r).error();
      auto seen =
          c.query("SELECT 1 FROM event_inbox WHERE consumer = $1 AND event_id = $2", {consumer, event.id});
      if (!seen) return std::move(seen).error();
      if (!seen->empty()) {
        if (auto r = c.commit(); !r) return std::move(r).error();
        return Joined{.duplicate = true};
      }
      auto keep = c.query(
          "INSERT INTO event_memory(type, subject, envelope, kept_at_ms) VALUES ($1, $2, $3, $4)"
          " ON CONFLICT (type, subject) DO UPDATE SET envelope = excluded.envelope,"
          " kept_at_ms = excluded.kept_at_ms",
          {event.type, event.subject, to_json(event), now_ms()});
      if (!keep) return std::move(keep).error();
      auto found = c.query("SELECT envelope FROM event_memory WHERE type = $1 AND subject = $2",
                           {partner_type, event.subject});
      if (!found) return std::move(found).error();
      Joined joined;
      if (!found->empty()) {
        auto partner = kept(found->text(0, 0));
        if (!partner) return std::move(partner).error();
        joined.partner = std::move(*partner);
      } else if (auto first = record_handled(c, consumer, event.id); !first) {
        return std::move(first).error();
      }
      if (auto r = c.commit(); !r) return std::move(r).error();
      return joined;
    });
  }

  Result<void> add_dead_letter(std::string_view consumer, const CloudEvent& event, std::string_view error,
                               int attempts) override {
    return db_.with([&](postgres::Connection& c) -> Result<void> {
      auto r = c.query(
          "INSERT INTO event_dead_letters(id, consumer, envelope, error, attempts, failed_at_ms)"
          " VALUES ($1, $2, $3, $4, $5, $6)",
          {new_uuid(), consumer, to_json(event), error, static_cast<std::int64_t>(attempts), now_ms()});
      if (!r) return std::move(r).error();
      return {};
    });
  }

  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) override {
    return db_.with([&](postgres::Connection& c) -> Result<std::vector<DeadLetter>> {
      auto rows = c.query(
          "SELECT id, consumer, envelope, error, attempts, failed_at_ms FROM event_dead_letters"
          " ORDER BY failed_at_ms, id LIMIT $1",
          {static_cast<std::int64_t>(limit)});
      if (!rows) return std::move(rows).error();
      std::vector<DeadLetter> out;
      for (int i = 0; i < rows->size(); ++i) {
        auto d = read(*rows, i);
        if (!d) return std::move(d).error();
        out.push_back(std::move(*d));
      }
      return out;
    });
  }

  Result<std::optional<DeadLetter>> dead_letter(std::string_view id) override {
    return db_.with([&](postgres::Connection& c) -> Result<std::optional<DeadLetter>> {
      auto rows = c.query(
          "SELECT id, consumer, envelope, error, attempts, failed_at_ms FROM event_dead_letters WHERE id = "
          "$1",
          {id});
      if (!rows) return std::move(rows).error();
      if (rows->empty()) return std::optional<DeadLetter>();
      auto d = read(*rows, 0);
      if (!d) return std::move(d).error();
      return std::optional<DeadLetter>(std::move(*d));
    });
  }

  Result<void> remove_dead_letter(std::string_view id) override {
    return db_.with([&](postgres::Connection& c) -> Result<void> {
      auto r = c.query("DELETE FROM event_dead_letters WHERE id = $1", {id});
      if (!r) return std::move(r).error();
      return {};
    });
  }

  Result<void> update_dead_letter(std::string_view id, std::string_view error) override {
    return db_.with([&](postgres::Connection& c) -> Result<void> {
      auto r = c.query(
          "UPDATE event_dead_letters SET error = $2, attempts = attempts + 1, failed_at_ms = $3 WHERE id = "
          "$1",
          {id, error, now_ms()});
      if (!r) return std::move(r).error();
      return {};
    });
  }

  Result<bool> try_lead() override {
    // A connection of its own holds the lock (a pooled one would be lent to other work). While its
    // session lives the lock is ours; a failed round trip means the session (and the lock) is gone.
    std::lock_guard lock(lead_mutex_);
    if (!lock_db_) lock_db_ = postgres::Database::open({.url = db_.url(), .connections = 1});
    return lock_db_->with([&](postgres::Connection& c) -> Result<bool> {
      if (leading_) {
        if (c.query("SELECT 1")) return true;
        leading_ = false;
        if (!c.ensure_alive()) return Error::unavailable("relay lock connection lost");
      }
      auto rows = c.query("SELECT pg_try_advisory_lock($1)", {kRelayLockKey});
      if (!rows) return std::move(rows).error();
      leading_ = rows->text(0, 0) == "t";
      return leading_;
    });
  }

 private:
  static Result<DeadLetter> read(const postgres::Rows& rows, int i) {
    auto e = from_json(rows.text(i, 2));
    if (!e)
      return Error::internal("dead letter " + rows.text(i, 0) +
                             " holds a malformed event: " + e.error().message);
    return DeadLetter{rows.text(i, 0),
                      rows.text(i, 1),
                      std::move(*e),
                      rows.text(i, 3),
                      static_cast<int>(rows.integer(i, 4)),
                      from_unix_ms(rows.integer(i, 5))};
  }

  postgres::Database& db_;
  std::mutex lead_mutex_;
  std::unique_ptr<postgres::Database> lock_db_;
  bool leading_ = false;
};

}  // namespace

Result<void> append_outbox(sqlite::Connection& c, std::span<const CloudEvent> events) {
  auto ms = now_ms();
  for (const auto& e : events) {
    if (auto r = validate(e); !r) return r;
    auto st = c.prepare(
        "INSERT INTO event_outbox(event_id, type, envelope, created_at_ms) VALUES (?1, ?2, ?3, ?4)");
    st.bind(1, e.id);
    st.bind(2, e.type);
    st.bind(3, to_json(e));
    st.bind(4, ms);
    if (auto r = st.run(); !r) return r;
  }
  c.after_commit(outbox_signal::raise);
  return {};
}

Result<void> append_outbox(postgres::Connection& c, std::span<const CloudEvent> events) {
  if (!c.in_transaction())
    return Error::internal("append_outbox must run inside the state change's transaction");
  auto ms = now_ms();
  for (const auto& e : events) {
    if (auto r = validate(e); !r) return r;
    auto r =
        c.query("INSERT INTO event_outbox(event_id, type, envelope, created_at_ms) VALUES ($1, $2, $3, $4)",
                {e.id, e.type, to_json(e), ms});
    if (!r) return std::move(r).error();
  }
  c.after_commit(outbox_signal::raise);
  return {};
}

Result<bool> record_handled(sqlite::Connection& c, std::string_view consumer, std::string_view event_id) {
  auto st = c.prepare(
      "INSERT INTO event_inbox(consumer, event_id, handled_at_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO "
      "NOTHING");
  st.bind(1, consumer);
  st.bind(2, event_id);
  st.bind(3, now_ms());
  if (auto r = st.run(); !r) return std::move(r).error();
  return c.changes() == 1;
}

Result<bool> record_handled(postgres::Connection& c, std::string_view consumer, std::string_view event_id) {
  auto r = c.query(
      "INSERT INTO event_inbox(consumer, event_id, handled_at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      {consumer, event_id, now_ms()});
  if (!r) return std::move(r).error();
  return r->affected() == 1;
}

Result<void> ensure_schema(sqlite::Database& db) {
  return db.with([](sqlite::Connection& c) { return c.exec(kSqliteSchema); });
}

Result<void> ensure_schema(postgres::Database& db) { return db.migrate("events", kPostgresMigrations); }

Result<EventStore::Joined> EventStore::join(std::string_view, const CloudEvent& event, std::string_view) {
  return Error::internal("this event store keeps no events (joining " + event.type + ")");
}

Result<void> answer_command(EventStore& store, std::string_view consumer, const CloudEvent& command,
                            const std::optional<CloudEvent>& answer) {
  auto outgoing = answer ? std::span<const CloudEvent>(&*answer, 1) : std::span<const CloudEvent>();
  auto first = store.handle_once(consumer, command.id, outgoing);
  if (!first) return std::move(first).error();
  return {};
}

std::unique_ptr<EventStore> open_store(sqlite::Database& db) {
  return std::make_unique<SqliteEventStore>(db);
}
std::unique_ptr<EventStore> open_store(postgres::Database& db) {
  return std::make_unique<PostgresEventStore>(db);
}

}  // namespace mercato::events
