// The event tables in a service's own database: the transactional outbox, the inbox (events already
// handled, per consumer) and the dead letters — SQLite or PostgreSQL, whichever holds the service's data.
//
// Writing side, inside the repository's own transaction (this is what makes the state change and its
// events one atomic unit, and an effect and its inbox record one atomic unit):
//
//   c.begin();                        // a sql::Connection (mercato/sql/sql.hpp)
//   ... INSERT INTO orders ...;
//   events::append_outbox(c, {events::make_event("order", "order.created", id, data)});
//   c.commit();                       // the relay is woken after the commit, never before
//
//   c.begin();
//   auto first = events::record_handled(c, "payment", event.id);   // false: a duplicate delivery
//   if (first && *first) { ... the effect ... }
//   c.commit();
//
// Reading side (the relay and the dead-letter admin): EventStore, opened on the same database.
// Tables are created by ensure_schema (idempotent; PostgreSQL through its "events" migrations).
//
// Thread-safety: the free functions run on the caller's connection; EventStore is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"
#include "mercato/events/event.hpp"

namespace mercato::sql {
class Connection;
class Database;
}  // namespace mercato::sql

namespace mercato::events {

// Must run inside a transaction on `c`; wakes every outbox relay of this process after the commit.
Result<void> append_outbox(sql::Connection& c, std::span<const CloudEvent> events);
// The same for the events `events_of` makes of `changed`, the state a repository's change left (nothing
// when `events_of` is empty): a change and the events describing it commit together.
//   MERCATO_RETURN_IF_ERROR(events::append_outbox_of(c, events_of, *payment));
template <typename EventsOf, typename T>
Result<void> append_outbox_of(sql::Connection& c, const EventsOf& events_of, const T& changed) {
  if (!events_of) return {};
  auto events = events_of(changed);
  return append_outbox(c, events);
}
// Records that `consumer` handled `event_id`: true the first time, false when it already had (the
// caller then skips its effect and commits nothing new). Must run inside the effect's transaction.
Result<bool> record_handled(sql::Connection& c, std::string_view consumer, std::string_view event_id);

struct OutboxRecord {
  std::int64_t seq = 0;
  CloudEvent event;
  int attempts = 0;
};

struct DeadLetter {
  std::string id;
  std::string consumer;
  CloudEvent event;
  std::string error;
  int attempts = 0;
  SystemTime failed_at{};
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // The oldest unsent events, in the order they were committed.
  virtual Result<std::vector<OutboxRecord>> unsent(std::size_t limit) = 0;
  virtual Result<void> mark_sent(std::span<const std::int64_t> seqs) = 0;
  // Counts a failed publish of `seq` and keeps the error for operators.
  virtual Result<void> mark_failed(std::int64_t seq, std::string_view error) = 0;
  // Deletes sent outbox rows and inbox records older than `before`; returns how many went.
  virtual Result<std::size_t> purge(SystemTime before) = 0;
  virtual Result<std::int64_t> unsent_count() = 0;
  // What this store's commits raise outbox_signal with (below).
  virtual const void* signal_key() const noexcept = 0;

  // For a consumer whose handler has no state of its own to change (or whose effect is idempotent by
  // its own key and already committed): records the event as handled and appends `outgoing` to the
  // outbox, in one transaction; true the first time, false (and nothing appended) for a duplicate.
  // A saga participant answers a command this way when the command changed nothing (a rejection, or
  // a repeat of something already done).
  virtual Result<bool> handle_once(std::string_view consumer, std::string_view event_id,
                                   std::span<const CloudEvent> outgoing = {}) = 0;

  // Choreography: an effect that needs two events about one subject, which travel on different topics
  // and so arrive in either order (payment charges once it has both the order.created that says what
  // to charge and the inventory.reserved that says the stock is held). join() keeps `event` (the latest
  // of its type for its subject) and looks for its partner of `partner_type`, in one transaction that
  // is serialised per subject, so of two partners arriving at once the second always finds the first.
  //   duplicate: `consumer` had handled the event already; nothing kept.
  //   no partner: the event is kept and recorded in the inbox (its part is done until the partner comes).
  //   partner: the event is kept but not recorded — the caller runs the effect and records the event
  //     with its answer (answer_command), so a crash before that delivers it again.
  // Kept events go with the inbox records of the same age (purge). Stores that keep no events answer
  // kInternal.
  struct Joined {
    bool duplicate = false;
    std::optional<CloudEvent> partner;
  };
  virtual Result<Joined> join(std::string_view consumer, const CloudEvent& event,
                              std::string_view partner_type);

  virtual Result<void> add_dead_letter(std::string_view consumer, const CloudEvent& event,
                                       std::string_view error, int attempts) = 0;
  virtual Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) = 0;
  // How many dead letters are stored (the operators' gauge).
  virtual Result<std::int64_t> dead_letter_count() = 0;
  virtual Result<std::optional<DeadLetter>> dead_letter(std::string_view id) = 0;
  virtual Result<void> remove_dead_letter(std::string_view id) = 0;
  virtual Result<void> update_dead_letter(std::string_view id, std::string_view error) = 0;

  // Runs fn() — the handlers of one delivered broker message that carries several events — as one unit
  // of the store's database: on SQLite one transaction (sql::Database::group), each handler's own
  // transaction a savepoint in it, so a batch costs one commit instead of one per event; the Error is
  // the group's commit's (none of fn's work kept). On PostgreSQL fn runs as it is: a group there holds
  // the row locks of every event's effect (stock shared across partitions) until the last one, and the
  // partitions' consumers wait on each other (measured: less than half the throughput; ADR 0020).
  virtual Result<void> group(const std::function<void()>& fn) {
    fn();
    return {};
  }

  // Only one relay per database publishes (several instances share a PostgreSQL database): true while
  // this process holds the relay lock. SQLite is single-process (exclusive lock), so always true.
  virtual Result<bool> try_lead() = 0;
};

// Creates the event tables if missing (idempotent). A repository that appends to the outbox or records
// the inbox calls this in its constructor; open_store does too.
Result<void> ensure_schema(sql::Database& db);

// A saga participant's reply to `command` when its effect appended nothing (a refusal, or a repeat of
// something already done): records the command as handled and appends `answer`, if any, in one
// transaction. A duplicate delivery is Ok and appends nothing.
Result<void> answer_command(EventStore& store, std::string_view consumer, const CloudEvent& command,
                            const std::optional<CloudEvent>& answer = std::nullopt);

std::unique_ptr<EventStore> open_store(sql::Database& db);

// The signal an outbox relay waits on, one per store: append_outbox raises the key of the connection's
// database after commit (sql::Connection::database()), and a relay waits on its store's
// (EventStore::signal_key()). Each raise bumps that key's generation, so everyone waiting on it sees it.
// One per store, not one per process: in the monolith every module's commit had woken every module's
// relay and the projector, each for a round that mostly found nothing, queueing for the module's one
// database connection with the handlers (docs/benchmarks.md, 13). Keys are addresses; a key's entry is
// kept for the process's life (a few bytes per database ever opened).
namespace outbox_signal {
void raise(const void* key) noexcept;
std::uint64_t generation(const void* key) noexcept;
// Waits until the key's generation differs from `seen` or `timeout` passed; updates `seen`.
bool wait(const void* key, std::uint64_t& seen, std::chrono::milliseconds timeout);
}  // namespace outbox_signal

}  // namespace mercato::events
