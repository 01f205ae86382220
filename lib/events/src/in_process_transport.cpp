// The in-process transport: a broker inside the process, for unit tests and the monolith.
//
// It keeps the same contract as the networked transports, so code tested on it behaves alike on NATS
// and Kafka: every topic is an append-only log split into partitions by subject; each group keeps a
// committed offset per partition and at most one event per partition in flight, which gives per-subject
// order while the group's members (subscriptions, each with its own dispatch thread) share the work.
// A failed event stays at its partition's head until its retry time, blocking only its partition.
//
// Durability (`?file=PATH`): the log and every group's committed offsets are kept in a SQLite file as
// well as in memory. publish() returns once its batch is committed there (one transaction); the offsets
// that acks and give-ups move are written together, every group's and partition's in one transaction:
// by an ack once the oldest has waited kCursorWriteInterval, by a dispatch thread that finds nothing to
// handle, and when a subscription stops or the broker closes; opening
// the same file again (after a crash or a restart) reads both back: what was published and not yet
// acked by a group — or acked in the last moment before a crash — is delivered to it again, in its
// partition's order (at least once: the consumers' inboxes drop what they had handled). An offset per
// ack had been about half of the monolith's transactions on this one file (docs/benchmarks.md, 13). The file
// is written with lib/sqlite's settings (WAL, synchronous=NORMAL): a committed publish survives a crash of
// the process; a power loss may lose the last transactions, as it may of the services' own databases and of
// nats-server 2.9's store (docs/adr/0006-events.md). In-flight state (attempt numbers, retry times) is
// not kept: after a restart an unacked event starts again at attempt 1.
//
// Memory (with or without a file): an event is dropped — from memory and, at the next publish, from the
// file — once every group that holds a position in its partition has acked it AND it was published at
// least `retention` ago (default 1 minute; `?retention=` sets it). Why the window: a group sees the
// events published after it subscribed, and the window extends that to the events published up to
// `retention` before, so the groups of the monolith, which subscribe one module after the other during
// start-up while the relays of the modules already set up publish, all see the same events (today's
// semantics for the late subscribers of a start-up), without keeping every event forever. A group holds
// events while it has a member and for `retention` after its last member left (or after the file was
// opened, for a group read back from it); after that it is taken to have left the process — e.g. a
// module split out of the monolith — and holds nothing, so memory cannot grow for a group that never
// comes back. A group that subscribes (again) starts at its committed offset or, when that was dropped,
// at the oldest event kept. So what is held is at most the events of the last `retention` plus each
// group's unacked backlog.
//
// Brokers are looked up by the URL's name and the prefix. One without a file lives until the process
// exits, so a transport opened again with the same URL (a "restarted" consumer in a test) finds its
// group's offsets. One with a file lives while a transport or subscription uses it, then closes the
// file, so opening the URL again reads the file as a restarted process would. `ack_wait` does not
// apply: a handler cannot die without its process.
//
// Thread-safety: the broker's state is guarded by one mutex per broker; handlers run on dispatch
// threads without it. Publishes and subscribes write the file with the mutex held (so the file's order
// is the log's); acked offsets are written without it, under a mutex of their own held across the write
// (so a later offset is never overwritten by an earlier one).
#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "mercato/core/time.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::events {
namespace {

using Clock = std::chrono::steady_clock;

// How long an acked offset may wait in memory before it is written to the broker file (see the top).
constexpr auto kCursorWriteInterval = std::chrono::milliseconds(10);

constexpr std::string_view kScheme = "inprocess://";
constexpr std::chrono::milliseconds kDefaultRetention = std::chrono::minutes(1);

// inprocess://NAME[?file=PATH][&retention=DURATION]
struct BrokerSettings {
  std::string name;
  std::string file;  // empty: memory only
  std::chrono::milliseconds retention = kDefaultRetention;
  std::string prefix;
  int partitions = 8;

  friend bool operator==(const BrokerSettings&, const BrokerSettings&) = default;
};

// "250ms", "30s", "1m", "2h", "0s".
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data() || n < 0) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  constexpr std::int64_t kMaxMs = 8760LL * 3600 * 1000;  // a year, the bound of every configured duration
  std::int64_t factor = unit == "ms"  ? 1
                        : unit == "s" ? 1000
                        : unit == "m" ? 60000
                        : unit == "h" ? 3600000
                                      : 0;
  if (factor == 0 || n > kMaxMs / factor) return std::nullopt;
  return std::chrono::milliseconds(n * factor);
}

Result<BrokerSettings> parse_settings(const TransportSettings& transport) {
  BrokerSettings s;
  s.prefix = transport.prefix;
  s.partitions = transport.partitions;
  std::string_view rest = transport.url;
  rest.remove_prefix(kScheme.size());
  auto query = rest.find('?');
  s.name = std::string(rest.substr(0, query));
  if (s.name.empty())
    return Error::validation("events.url", "inprocess:// needs a name, e.g. inprocess://shop");
  if (query == std::string_view::npos) return s;
  std::string_view params = rest.substr(query + 1);
  while (!params.empty()) {
    auto item = params.substr(0, params.find('&'));
    params.remove_prefix(std::min(params.size(), item.size() + 1));
    auto eq = item.find('=');
    auto key = item.substr(0, eq);
    auto value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    if (key == "file" && !value.empty()) {
      s.file = std::string(value);
    } else if (key == "retention" && parse_duration(value)) {
      s.retention = *parse_duration(value);
    } else if (key == "file" || key == "retention") {
      return Error::validation("events.url", "inprocess:// parameter '" + std::string(item) +
                                                 "': file needs a path, retention a duration such as 30s");
    } else {
      return Error::validation(
          "events.url", "unknown inprocess:// parameter '" + std::string(key) + "' (known: file, retention)");
    }
  }
  return s;
}

// --- the file -------------------------------------------------------------------------------------

// The broker's SQLite file: the log (`broker_events`, one row per event by topic, partition and
// position), where each partition's kept log starts (`broker_partitions`, so positions are never reused
// once the rows before are deleted) and each group's committed offsets (`broker_cursors`). The file
// records the partition count and the prefix it was written with: positions and offsets mean nothing
// under another count, so a mismatch refuses to open rather than misdeliver.
const std::vector<sql::Migration> kMigrations = {
    {1, "in-process broker",
     "CREATE TABLE broker_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
     "CREATE TABLE broker_events ("
     " topic TEXT NOT NULL, part INTEGER NOT NULL, position INTEGER NOT NULL,"
     " envelope TEXT NOT NULL, published_at_ms INTEGER NOT NULL,"
     " PRIMARY KEY (topic, part, position)) {without_rowid};"
     "CREATE TABLE broker_partitions ("
     " topic TEXT NOT NULL, part INTEGER NOT NULL, first_position INTEGER NOT NULL,"
     " PRIMARY KEY (topic, part)) {without_rowid};"
     "CREATE TABLE broker_cursors ("
     " consumer_group TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,"
     " next_position INTEGER NOT NULL,"
     " PRIMARY KEY (consumer_group, topic, part)) {without_rowid};"},
};

struct StoredEvent {
  std::string topic;
  int part;
  std::uint64_t position;
  CloudEvent event;
};
struct StoredCursor {
  std::string group;
  std::string topic;
  int part;
  std::uint64_t next;
};
struct StoredStart {
  std::string topic;
  int part;
  std::uint64_t first;
};
struct StoredLog {
  std::vector<StoredStart> starts;
  std::vector<StoredEvent> events;  // by topic, partition, position
  std::vector<StoredCursor> cursors;
};

class BrokerFile {
 public:
  // Opens (creating) the file and checks it belongs to a broker of these settings. Start-up only.
  static Result<std::unique_ptr<BrokerFile>> open(const BrokerSettings& s) {
    auto fail = [&](const std::string& why) {
      return Error::unavailable("inprocess://" + s.name + ": cannot use the broker file " + s.file + ": " +
                                why);
    };
    try {
      std::unique_ptr<BrokerFile> f(
          new BrokerFile(sql::Database::open(sqlite::DatabaseSettings{.path = s.file})));
      if (auto r = f->db_->migrate("inprocess-broker", kMigrations); !r) return fail(r.error().message);
      if (auto r = f->check_setting("partitions", std::to_string(s.partitions)); !r)
        return fail(r.error().message);
      if (auto r = f->check_setting("prefix", s.prefix); !r) return fail(r.error().message);
      return f;
    } catch (const std::exception& e) {  // lib/sqlite throws when the file cannot be opened or is no database
      return fail(e.what());
    }
  }

  Result<StoredLog> load(int partitions) {
    return db_->with([&](sql::Connection& c) -> Result<StoredLog> {
      StoredLog log;
      auto part_of = [&](const sql::Row& row, int column) -> Result<int> {
        auto p = row.integer(column);
        if (p < 0 || p >= partitions) return Error::internal("a row names partition " + std::to_string(p));
        return static_cast<int>(p);
      };
      auto starts = c.query("SELECT topic, part, first_position FROM broker_partitions");
      if (!starts) return std::move(starts).error();
      for (auto row : *starts) {
        auto p = part_of(row, 1);
        if (!p) return std::move(p).error();
        log.starts.push_back({row.text(0), *p, static_cast<std::uint64_t>(row.integer(2))});
      }
      auto events =
          c.query("SELECT topic, part, position, envelope FROM broker_events ORDER BY topic, part, position");
      if (!events) return std::move(events).error();
      for (auto row : *events) {
        auto p = part_of(row, 1);
        if (!p) return std::move(p).error();
        auto e = from_json(row.text(3));
        if (!e) {
          return Error::internal("the event at " + row.text(0) + "/" + std::to_string(*p) + "/" +
                                 std::to_string(row.integer(2)) + " is malformed: " + e.error().message);
        }
        log.events.push_back({row.text(0), *p, static_cast<std::uint64_t>(row.integer(2)), std::move(*e)});
      }
      auto cursors = c.query("SELECT consumer_group, topic, part, next_position FROM broker_cursors");
      if (!cursors) return std::move(cursors).error();
      for (auto row : *cursors) {
        auto p = part_of(row, 2);
        if (!p) return std::move(p).error();
        log.cursors.push_back({row.text(0), row.text(1), *p, static_cast<std::uint64_t>(row.integer(3))});
      }
      return log;
    });
  }

  // One transaction: the batch's events, and the rows the memory no longer holds deleted.
  Result<void> append(const std::vector<StoredEvent>& events, const std::vector<StoredStart>& trimmed) {
    const auto now_ms = to_unix_ms(now_utc());
    return db_->with([&](sql::Connection& c) -> Result<void> {
      if (auto r = c.begin(); !r) return r;
      for (const auto& t : trimmed) {
        if (auto r = c.run("DELETE FROM broker_events WHERE topic = $1 AND part = $2 AND position < $3",
                           {t.topic, t.part, static_cast<std::int64_t>(t.first)});
            !r)
          return r;
        if (auto r = c.run("INSERT INTO broker_partitions(topic, part, first_position) VALUES ($1, $2, $3) "
                           "ON CONFLICT (topic, part) DO UPDATE SET first_position = excluded.first_position",
                           {t.topic, t.part, static_cast<std::int64_t>(t.first)});
            !r)
          return r;
      }
      for (const auto& e : events) {
        if (auto r =
                c.run("INSERT INTO broker_events(topic, part, position, envelope, published_at_ms) "
                      "VALUES ($1, $2, $3, $4, $5)",
                      {e.topic, e.part, static_cast<std::int64_t>(e.position), to_json(e.event), now_ms});
            !r)
          return r;
      }
      return c.commit();
    });
  }

  // A write that changes nothing: whether the file takes writes (again).
  Result<void> touch() {
    return db_->with([](sql::Connection& c) {
      return c.run("UPDATE broker_settings SET value = value WHERE name = 'partitions'");
    });
  }

  // Acked positions of any groups, in one transaction.
  struct GroupCursor {
    std::string group;
    std::string topic;
    int part;
    std::uint64_t next;
  };
  Result<void> save_acked(const std::vector<GroupCursor>& cursors) {
    if (cursors.empty()) return {};
    return db_->with([&](sql::Connection& c) -> Result<void> {
      if (auto r = c.begin(); !r) return r;
      for (const auto& n : cursors) {
        if (auto r = c.run("INSERT INTO broker_cursors(consumer_group, topic, part, next_position) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT (consumer_group, topic, part) "
                           "DO UPDATE SET next_position = excluded.next_position",
                           {n.group, n.topic, n.part, static_cast<std::int64_t>(n.next)});
            !r)
          return r;
      }
      return c.commit();
    });
  }

  // A group's next position in a partition: set when acks are written, or only when it has none
  // (`if_absent`, a group's first subscription), so the file knows the group before its first ack.
  Result<void> save_cursors(const std::string& group, const std::vector<StoredStart>& next, bool if_absent) {
    return db_->with([&](sql::Connection& c) -> Result<void> {
      if (next.size() > 1) {
        if (auto r = c.begin(); !r) return r;
      }
      for (const auto& n : next) {
        if (auto r =
                c.run(if_absent ? "INSERT INTO broker_cursors(consumer_group, topic, part, next_position) "
                                  "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
                                : "INSERT INTO broker_cursors(consumer_group, topic, part, next_position) "
                                  "VALUES ($1, $2, $3, $4) ON CONFLICT (consumer_group, topic, part) "
                                  "DO UPDATE SET next_position = excluded.next_position",
                      {group, n.topic, n.part, static_cast<std::int64_t>(n.first)});
            !r)
          return r;
      }
      return c.in_transaction() ? c.commit() : Result<void>{};
    });
  }

 private:
  explicit BrokerFile(std::unique_ptr<sql::Database> db) : db_(std::move(db)) {}

  Result<void> check_setting(const std::string& name, const std::string& value) {
    return db_->with([&](sql::Connection& c) -> Result<void> {
      auto rows = c.query("SELECT value FROM broker_settings WHERE name = $1", {name});
      if (!rows) return std::move(rows).error();
      if (rows->empty())
        return c.run("INSERT INTO broker_settings(name, value) VALUES ($1, $2)", {name, value});
      if ((*rows)[0].text(0) != value) {
        return Error::conflict("it was written with " + name + " '" + (*rows)[0].text(0) + "', not '" +
                               value + "' (drain it with the old setting, or move it aside)");
      }
      return {};
    });
  }

  std::unique_ptr<sql::Database> db_;
};

// --- the broker -----------------------------------------------------------------------------------

struct Entry {
  CloudEvent event;
  Clock::time_point published;
};

struct PartitionCursor {
  std::uint64_t offset = 0;  // next event to deliver (everything before is acked)
  bool in_flight = false;
  int attempt = 0;  // deliveries so far of the event at `offset`
  Clock::time_point not_before{};
};

struct Partition {
  std::uint64_t base = 0;         // the position of log.front(): the events before it are dropped
  std::uint64_t stored_base = 0;  // where the file's rows of this partition start
  std::deque<Entry> log;
  std::map<std::string, PartitionCursor, std::less<>> cursors;  // by group

  std::uint64_t end() const noexcept { return base + log.size(); }
};

struct GroupState {
  int members = 0;
  Clock::time_point last_left{};  // when its last member left, or when the file it was read from opened
};

struct Claim {
  std::string topic;
  int partition;
  std::uint64_t offset;
  CloudEvent event;
  int attempt;
};

class Broker {
 public:
  Broker(BrokerSettings settings, std::unique_ptr<BrokerFile> file)
      : settings_(std::move(settings)), file_(std::move(file)) {}
  ~Broker() { flush_acked(); }  // every subscription flushed when it stopped; this is the last word
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  const BrokerSettings& settings() const noexcept { return settings_; }

  // Reads the file back (at open, before anyone else sees the broker).
  Result<void> restore() {
    auto log = file_->load(settings_.partitions);
    if (!log) {
      return Error::unavailable("inprocess://" + settings_.name + ": cannot read the broker file " +
                                settings_.file + ": " + log.error().message);
    }
    const auto now = Clock::now();
    auto corrupt = [&](const std::string& why) {
      return Error::unavailable("inprocess://" + settings_.name + ": the broker file " + settings_.file +
                                " is inconsistent: " + why);
    };
    for (const auto& s : log->starts) {
      auto& p = partition(s.topic, s.part);
      p.base = p.stored_base = s.first;
    }
    for (auto& e : log->events) {
      auto& p = partition(e.topic, e.part);
      if (e.position != p.end()) {
        return corrupt("in " + e.topic + "/" + std::to_string(e.part) + " position " +
                       std::to_string(p.end()) + " is followed by " + std::to_string(e.position));
      }
      // The window starts again at open: a group subscribing during this start-up sees what the
      // previous run kept (see the top of this file).
      p.log.push_back({std::move(e.event), now});
    }
    for (const auto& c : log->cursors) {
      auto& p = partition(c.topic, c.part);
      if (c.next > p.end()) {
        return corrupt("group " + c.group + " acked " + c.topic + "/" + std::to_string(c.part) + " up to " +
                       std::to_string(c.next) + " but the log ends at " + std::to_string(p.end()));
      }
      p.cursors[c.group].offset = std::max(c.next, p.base);
      groups_[c.group].last_left = now;
    }
    return {};
  }

  Result<void> publish(std::span<const CloudEvent> events) {
    std::unique_lock lock(mutex);
    const auto now = Clock::now();
    std::vector<std::pair<Partition*, const CloudEvent*>> placed;
    std::vector<StoredEvent> rows;
    std::map<Partition*, std::uint64_t> next;  // the batch's next position per partition
    for (const auto& e : events) {
      auto topic = topic_of(e.type);
      int index = partition_of(e.subject, settings_.partitions);
      auto& p = partition(topic, index);
      placed.emplace_back(&p, &e);
      if (file_) {
        auto [it, fresh] = next.try_emplace(&p, p.end());
        rows.push_back({topic, index, it->second++, e});
      }
    }
    // The publisher pays for dropping what no group needs: bounded work, and no thread of its own.
    for (auto& [name, topic] : topics_) {
      for (auto& p : topic) trim(p, now);
    }
    if (file_) {
      std::vector<StoredStart> trimmed;
      for (auto& [name, topic] : topics_) {
        for (int i = 0; i < settings_.partitions; ++i) {
          auto& p = topic[static_cast<std::size_t>(i)];
          if (p.base != p.stored_base) trimmed.push_back({name, i, p.base});
        }
      }
      auto written = file_->append(rows, trimmed);
      note(written);
      // Nothing is delivered that the file does not hold: an Error means "not published".
      if (!written) return written;
      for (const auto& t : trimmed) topics_[t.topic][static_cast<std::size_t>(t.part)].stored_base = t.first;
    }
    for (auto [p, e] : placed) p->log.push_back({*e, now});
    lock.unlock();
    changed.notify_all();
    return {};
  }

  // A member joins `group`: the group gets a position in every partition of `topics` it has none in yet
  // (the oldest event kept), recorded in the file before it counts.
  Result<void> join(const std::string& group, const std::set<std::string>& topics) {
    std::lock_guard lock(mutex);
    std::vector<StoredStart> fresh;
    for (const auto& t : topics) {
      auto& log = topic_log(t);
      for (int i = 0; i < settings_.partitions; ++i) {
        auto& p = log[static_cast<std::size_t>(i)];
        if (!p.cursors.contains(group)) fresh.push_back({t, i, p.base});
      }
    }
    if (file_ && !fresh.empty()) {
      auto saved = file_->save_cursors(group, fresh, true);
      note(saved);
      if (!saved) return saved;
    }
    for (const auto& f : fresh)
      topics_[f.topic][static_cast<std::size_t>(f.part)].cursors[group].offset = f.first;
    ++groups_[group].members;
    return {};
  }

  void leave(const std::string& group) {
    std::lock_guard lock(mutex);
    auto& g = groups_[group];
    --g.members;
    g.last_left = Clock::now();
  }

  // Under the lock: the first partition of `topics` with an event ready for `group`, skipping (and
  // acking) events of types not in `wanted`.
  std::optional<Claim> claim(const std::string& group, const std::set<std::string>& topics,
                             const std::set<std::string>& wanted, Clock::time_point now,
                             Clock::time_point& next_wake) {
    for (const auto& topic : topics) {
      auto& log = topic_log(topic);
      for (int i = 0; i < settings_.partitions; ++i) {
        auto& p = log[static_cast<std::size_t>(i)];
        auto& cur = p.cursors[group];
        if (cur.in_flight) continue;
        // A group that was away longer than the window finds its events dropped: it goes on from the
        // oldest one kept.
        cur.offset = std::max(cur.offset, p.base);
        const auto from = cur.offset;
        while (cur.offset < p.end() && !wanted.contains(p.log[cur.offset - p.base].event.type)) ++cur.offset;
        // Skipping acks too: what this group skipped last may be all that kept the partition's head.
        if (cur.offset != from) trim(p, now);
        if (cur.offset >= p.end()) continue;
        if (cur.not_before > now) {
          next_wake = std::min(next_wake, cur.not_before);
          continue;
        }
        cur.in_flight = true;
        ++cur.attempt;
        return Claim{topic, i, cur.offset, p.log[cur.offset - p.base].event, cur.attempt};
      }
    }
    return std::nullopt;
  }

  // After the handler: the event is done (acked, its offset committed to the file first) or comes back
  // at `retry_at`. Called without the lock; takes it.
  void settle(const std::string& group, const Claim& work, bool done, Clock::time_point retry_at) {
    Result<void> saved;
    if (done && file_) {
      // Without the lock. A failed write is not a failed ack — the event was handled, and the offset
      // stays to be written with the next ones; until then a restart would deliver it again (at least
      // once).
      saved = write_acked(BrokerFile::GroupCursor{group, work.topic, work.partition, work.offset + 1}, false);
    }
    {
      std::lock_guard lock(mutex);
      if (done && file_) note(saved);
      auto& p = topics_[work.topic][static_cast<std::size_t>(work.partition)];
      auto& cur = p.cursors[group];
      cur.in_flight = false;
      if (done) {
        cur.offset = work.offset + 1;
        cur.attempt = 0;
        cur.not_before = {};
        trim(p, Clock::now());
      } else {
        cur.not_before = retry_at;
      }
    }
    changed.notify_all();
  }

  // Notes an acked offset; writes every noted one when `now` asks so or the oldest has waited
  // kCursorWriteInterval. While acks keep coming the file lags memory by about that; when they stop, a
  // dispatch thread that runs out of work writes the rest (see the top of this file).
  Result<void> write_acked(std::optional<BrokerFile::GroupCursor> acked, bool now) {
    std::lock_guard lock(cursors_mutex_);
    if (acked) {
      if (unwritten_.empty()) unwritten_since_ = Clock::now();
      unwritten_[{acked->group, acked->topic, acked->part}] = acked->next;
      has_unwritten_.store(true, std::memory_order_relaxed);
    }
    if (unwritten_.empty() || (!now && Clock::now() - unwritten_since_ < kCursorWriteInterval)) return {};
    std::vector<BrokerFile::GroupCursor> batch;
    batch.reserve(unwritten_.size());
    for (const auto& [key, next] : unwritten_)
      batch.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), next});
    auto r = file_->save_acked(batch);
    if (r) unwritten_.clear();
    has_unwritten_.store(!unwritten_.empty(), std::memory_order_relaxed);
    return r;
  }
  // Whether acked offsets wait to be written (a dispatch thread with nothing to do writes them).
  bool has_unwritten() const noexcept { return has_unwritten_.load(std::memory_order_relaxed); }

  // Writes the acked offsets still in memory only (a subscription stopping, the broker closing).
  void flush_acked() {
    if (!file_) return;
    auto r = write_acked(std::nullopt, true);
    std::lock_guard lock(mutex);
    note(r);
  }

  // Whether the file takes writes. After a failed write it tries one of its own, so a broker that
  // became idle after the failure does not stay unready once the disk is back.
  Result<void> health() {
    std::lock_guard lock(mutex);
    if (file_error_.empty()) return {};
    note(file_->touch());
    if (!file_error_.empty())
      return Error::unavailable("the broker file " + settings_.file + ": " + file_error_);
    return {};
  }

  std::size_t retained() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (auto& [name, topic] : topics_) {
      for (auto& p : topic) n += p.log.size();
    }
    return n;
  }

  std::mutex mutex;
  std::condition_variable changed;

 private:
  std::vector<Partition>& topic_log(const std::string& topic) {
    auto& t = topics_[topic];
    if (t.empty()) t.resize(static_cast<std::size_t>(settings_.partitions));
    return t;
  }
  Partition& partition(const std::string& topic, int index) {
    return topic_log(topic)[static_cast<std::size_t>(index)];
  }

  // Whether `group` still holds events: it has a member, or had one within the window.
  bool holds(const std::string& group, Clock::time_point now) {
    const auto& g = groups_[group];
    return g.members > 0 || now - g.last_left < settings_.retention;
  }

  // Drops the partition's head while every group holding events has acked it and it is older than the
  // window (the top of this file says why both).
  void trim(Partition& p, Clock::time_point now) {
    std::uint64_t acked = p.end();
    for (const auto& [group, cur] : p.cursors) {
      if (holds(group, now)) acked = std::min(acked, cur.offset);
    }
    while (p.base < acked && !p.log.empty() && now - p.log.front().published >= settings_.retention) {
      p.log.pop_front();
      ++p.base;
    }
  }

  void note(const Result<void>& write) { file_error_ = write ? std::string() : write.error().message; }

  BrokerSettings settings_;
  std::unique_ptr<BrokerFile> file_;                      // null: memory only
  std::map<std::string, std::vector<Partition>> topics_;  // guarded by mutex, as all below
  std::map<std::string, GroupState> groups_;
  std::string file_error_;
  // Acked offsets not yet in the file, by (group, topic, partition), and since when the oldest waits.
  std::mutex cursors_mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> unwritten_;  // guarded by cursors_mutex_
  Clock::time_point unwritten_since_;                                             // guarded by cursors_mutex_
  std::atomic<bool> has_unwritten_{false};
};

// The brokers of this process by name and prefix. One without a file is kept until the process exits
// (the only place its events live); one with a file only while in use (the file keeps the rest).
class Registry {
 public:
  static Registry& instance() {
    static Registry registry;
    return registry;
  }

  Result<std::shared_ptr<Broker>> acquire(const BrokerSettings& s) {
    auto key = s.name + "/" + s.prefix;
    std::shared_ptr<Broker> found;  // declared before the lock: released after it
    std::lock_guard lock(mutex_);
    if (auto it = memory_.find(key); it != memory_.end()) found = it->second;
    if (auto it = durable_.find(key); !found && it != durable_.end()) found = it->second.lock();
    if (found) {
      if (found->settings() == s) return found;
      const auto& open = found->settings();
      return Error::validation(
          "events.url",
          "inprocess://" + s.name + " (prefix " + s.prefix + ") is already open in this process " +
              (open.file.empty() ? "without a file" : "with file " + open.file) + ", retention " +
              std::to_string(open.retention.count()) + "ms and " + std::to_string(open.partitions) +
              " partitions: every user of one broker must name it alike");
    }
    if (s.file.empty()) {
      auto broker = std::make_shared<Broker>(s, nullptr);
      memory_[key] = broker;
      return broker;
    }
    for (auto it = durable_.begin(); it != durable_.end();) {
      auto live = it->second.lock();
      if (!live) {  // closed: forget it
        it = durable_.erase(it);
        continue;
      }
      // Two brokers on one file would interleave two logs; SQLite's lock would only make the second wait.
      if (live->settings().file == s.file) {
        found = std::move(live);
        return Error::validation("events.url",
                                 "the broker file " + s.file + " is already used by inprocess://" +
                                     found->settings().name + " (prefix " + found->settings().prefix + ")");
      }
      ++it;
    }
    auto file = BrokerFile::open(s);
    if (!file) return std::move(file).error();
    auto broker = std::make_shared<Broker>(s, std::move(*file));
    if (auto r = broker->restore(); !r) return std::move(r).error();
    durable_[key] = broker;
    return broker;
  }

  std::optional<std::size_t> retained(const std::string& name, const std::string& prefix) {
    std::shared_ptr<Broker> found;
    {
      std::lock_guard lock(mutex_);
      auto key = name + "/" + prefix;
      if (auto it = memory_.find(key); it != memory_.end()) found = it->second;
      if (auto it = durable_.find(key); !found && it != durable_.end()) found = it->second.lock();
    }
    if (!found) return std::nullopt;
    return found->retained();
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Broker>> memory_;
  std::map<std::string, std::weak_ptr<Broker>> durable_;
};

class InProcessSubscription final : public Subscription {
 public:
  InProcessSubscription(std::shared_ptr<Broker> broker, SubscriptionOptions options, Handler handler,
                        std::set<std::string> topics)
      : broker_(std::move(broker)),
        options_(std::move(options)),
        handler_(std::move(handler)),
        topics_(std::move(topics)) {
    wanted_.insert(options_.types.begin(), options_.types.end());
    thread_ = std::thread([this] { dispatch(); });
  }
  ~InProcessSubscription() override { stop(); }

  void stop() override {
    {
      std::lock_guard lock(broker_->mutex);
      if (stopping_) return;
      stopping_ = true;
    }
    broker_->changed.notify_all();
    if (thread_.joinable()) thread_.join();
    broker_->flush_acked();  // a stopped member's acks are in the file before it is gone
    broker_->leave(options_.group);
  }

 private:
  void dispatch() {
    std::unique_lock lock(broker_->mutex);
    bool wrote_idle = false;  // since the last claimed event
    while (!stopping_) {
      auto now = Clock::now();
      auto next_wake = now + std::chrono::seconds(1);
      auto work = broker_->claim(options_.group, topics_, wanted_, now, next_wake);
      if (!work) {
        if (!wrote_idle && broker_->has_unwritten()) {
          // Nothing to handle: the acked offsets waiting for company are written now, without the
          // broker's lock (the write takes it to record a failure), and the claim is tried again. Once
          // per idle spell, so a file that refuses writes does not make this loop spin.
          wrote_idle = true;
          lock.unlock();
          broker_->flush_acked();
          lock.lock();
          continue;
        }
        broker_->changed.wait_until(lock, next_wake);
        continue;
      }
      wrote_idle = false;
      lock.unlock();
      auto result = handler_(Delivery{work->event, work->attempt});
      bool done = result.ok();
      if (!done && work->attempt >= options_.max_deliver && options_.on_give_up) {
        done = options_.on_give_up(work->event, result.error(), work->attempt).ok();
      }
      broker_->settle(options_.group, *work, done, Clock::now() + retry_backoff(options_, work->attempt));
      lock.lock();
    }
  }

  std::shared_ptr<Broker> broker_;
  SubscriptionOptions options_;
  Handler handler_;
  std::set<std::string> topics_;
  std::set<std::string> wanted_;
  bool stopping_ = false;  // guarded by broker_->mutex
  std::thread thread_;
};

class InProcessTransport final : public Transport {
 public:
  explicit InProcessTransport(std::shared_ptr<Broker> broker) : broker_(std::move(broker)) {}

  Result<void> publish(std::span<const CloudEvent> events) override {
    for (const auto& e : events) {
      if (auto r = validate(e); !r) return r;
    }
    return broker_->publish(events);
  }

  Result<std::unique_ptr<Subscription>> subscribe(const SubscriptionOptions& options,
                                                  Handler handler) override {
    if (options.group.empty()) return Error::validation("group", "a subscription needs a consumer group");
    if (options.types.empty())
      return Error::validation("types", "a subscription needs at least one event type");
    if (options.max_deliver > 0 && !options.on_give_up)
      return Error::validation("on_give_up", "a subscription with max_deliver needs a give-up hook");
    std::set<std::string> topics;
    for (const auto& type : options.types) topics.insert(topic_of(type));
    if (auto r = broker_->join(options.group, topics); !r) return std::move(r).error();
    return std::unique_ptr<Subscription>(
        std::make_unique<InProcessSubscription>(broker_, options, std::move(handler), std::move(topics)));
  }

  // The broker is this process; with a file, whether the file takes writes.
  Result<void> ping() override { return broker_->health(); }
  std::string_view kind() const noexcept override { return "inprocess"; }

 private:
  std::shared_ptr<Broker> broker_;
};

}  // namespace

Result<std::unique_ptr<Transport>> open_in_process(const TransportSettings& settings) {
  auto s = parse_settings(settings);
  if (!s) return std::move(s).error();
  auto broker = Registry::instance().acquire(*s);
  if (!broker) return std::move(broker).error();
  return std::unique_ptr<Transport>(std::make_unique<InProcessTransport>(std::move(*broker)));
}

std::optional<std::size_t> in_process_retained(const TransportSettings& settings) {
  auto s = parse_settings(settings);
  if (!s) return std::nullopt;
  return Registry::instance().retained(s->name, s->prefix);
}

}  // namespace mercato::events
