// Committed outbox events handed from the transaction that wrote them to the relay of their database,
// so that the relay publishes them without reading the rows back (docs/adr/0022-outbox-handoff.md).
//
// The rows stay the truth. A hand-off is only a shortcut: what is lost on the way (a full queue, a
// failed publish, a crash, a commit in another process) is still unsent in the table, and the relay's
// read round (Bus::relay_once) finds it. So every rule here may drop events, none may invent one:
// append_outbox and append_stream hand on their events from an after_commit action, which never runs
// for a transaction (or a group's savepoint) that did not commit.
//
// Keyed as outbox_signal (store.hpp): by the database the rows were written to. A key hands on only
// while one relay has claimed it; otherwise committed() only raises the signal.
//
// Thread-safety: every function is thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mercato/events/event.hpp"

namespace mercato::sql {
class Connection;
}  // namespace mercato::sql

namespace mercato::events::handoff {

struct Fresh {
  std::int64_t seq = 0;  // the outbox row's
  CloudEvent event;      // as the row holds it
};

// Whether a relay takes `key`'s events now: a writer that sees false need not build the hand-off.
bool claimed(const void* key) noexcept;

// The writer's last step (append_outbox, append_stream): after `c`'s transaction commits, committed()
// with `fresh` — or, when it is null (no relay claimed the key), only outbox_signal::raise.
void after_commit(sql::Connection& c, std::shared_ptr<std::vector<Fresh>> fresh);

// After a commit: queues `events` for the relay that claimed `key` (none: they are dropped), then
// raises the key's outbox_signal. Past `capacity` the queue drops everything and notes the loss.
void committed(const void* key, std::vector<Fresh> events) noexcept;

// The relay's side. claim: false when another relay holds the key (that one gets the hand-offs).
bool claim(const void* key, std::size_t capacity);
void release(const void* key) noexcept;

struct Taken {
  std::vector<Fresh> events;  // in the order of their commits
  bool lost = false;          // something was dropped since the last take or clear: read the table
};
// The oldest `limit` queued events.
Taken take(const void* key, std::size_t limit);
// Before a read round: what is queued will be read from the table.
void clear(const void* key) noexcept;
// After a read round published `seqs`: hand-offs of those rows that arrived meanwhile are dropped.
void forget(const void* key, std::span<const std::int64_t> seqs);

}  // namespace mercato::events::handoff
