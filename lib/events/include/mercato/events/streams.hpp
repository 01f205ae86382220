// Event streams: the event store of an event-sourced aggregate, kept in the outbox table itself
// (docs/adr/0015-event-sourced-orders.md). An aggregate's events are outbox rows that also name their
// stream and their version in it; the outbox relay publishes them as it publishes every row (in `seq`
// order, at least once), and they are never purged. So a state change, its history and what the bus
// carries are one row each, written once.
//
//   c.begin();
//   auto position = events::append_stream(c, order_id, order.version, {placed});   // kConflict if stale
//   c.commit();
//   auto history = events::read_stream(c, order_id);                  // versions 1..n, oldest first
//   auto batch = events::read_streams(c, checkpoint, 500);           // a projector's next events
//
// Positions are the outbox's `seq`: global, increasing in commit order for stream events (on PostgreSQL
// an append takes a transaction lock held to commit, so no stream event with a lower position can commit
// after one with a higher — a projector that reads "after my checkpoint" skips nothing; on SQLite every
// writer is serialised anyway). Gaps are normal (commands and rolled-back appends take positions too).
//
// Thread-safety: functions run on the caller's connection.
#pragma once

#include <cstdint>
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
}  // namespace mercato::sql

namespace mercato::events {

struct StoredEvent {
  std::int64_t position = 0;  // global, in commit order
  std::string stream;
  std::int64_t version = 0;  // 1 for a stream's first event
  SystemTime recorded_at{};
  CloudEvent event;

  friend bool operator==(const StoredEvent&, const StoredEvent&) = default;
};

// Appends `events` to `stream` as versions expected_version + 1, + 2, ... — and so to the outbox — inside
// the caller's transaction. When the stream is not at `expected_version` (someone else appended first)
// the answer is version_conflict(): the caller rolls back, re-reads and decides again. Returns the
// position of the last event appended (0 when `events` is empty).
Result<std::int64_t> append_stream(sql::Connection& c, std::string_view stream, std::int64_t expected_version,
                                   std::span<const CloudEvent> events);

// A stream's past, recorded after it happened (an aggregate stored before streams existed): appended as
// append_stream does at version 0, but marked sent — its events were published when they happened.
Result<std::int64_t> record_past(sql::Connection& c, std::string_view stream,
                                 std::span<const CloudEvent> events);

// The conflict append_stream answers; is_version_conflict tells it from the caller's own kConflicts.
Error version_conflict(std::string_view stream, std::int64_t expected_version);
bool is_version_conflict(const Error& error) noexcept;

// `stream`'s events with after_version < version <= up_to_version (every one when up_to is unset), in
// version order.
Result<std::vector<StoredEvent>> read_stream(sql::Connection& c, std::string_view stream,
                                             std::int64_t after_version = 0,
                                             std::optional<std::int64_t> up_to_version = std::nullopt);

// Every stream's events after `position`, in position order, at most `limit`.
Result<std::vector<StoredEvent>> read_streams(sql::Connection& c, std::int64_t after_position,
                                              std::size_t limit);

// The position of the newest stream event (0 when there is none).
Result<std::int64_t> streams_head(sql::Connection& c);

// How far behind a reader at `position` is: the stream events after it and when the oldest of them
// was recorded (nullopt: none).
struct Backlog {
  std::int64_t events = 0;
  std::optional<SystemTime> oldest;
};
Result<Backlog> streams_after(sql::Connection& c, std::int64_t position);

}  // namespace mercato::events
