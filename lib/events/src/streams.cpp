// Event streams in the outbox table (streams.hpp).
#include "mercato/events/streams.hpp"

#include <limits>

#include "mercato/events/store.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::events {
namespace {

// The lock space of stream appends on PostgreSQL (one key): appends commit in position order.
constexpr std::int32_t kAppendLockSpace = 0x73747265;  // "stre"
// The field a version conflict names: the one fact that tells it from the caller's own conflicts.
constexpr std::string_view kVersionField = "expected_version";

Result<StoredEvent> read_stored(const sql::Row& row) {
  auto e = from_json(row.text(4));
  if (!e) {
    return Error::internal("stream event " + std::to_string(row.integer(0)) +
                           " is malformed: " + e.error().message);
  }
  return StoredEvent{row.integer(0), row.text(1), row.integer(2), row.time(3), std::move(*e)};
}

constexpr std::string_view kColumns =
    "SELECT seq, stream_id, stream_version, created_at_ms, envelope FROM event_outbox ";

}  // namespace

Error version_conflict(std::string_view stream, std::int64_t expected_version) {
  return Error::conflict("stream " + std::string(stream) + " is no longer at version " +
                             std::to_string(expected_version) + ": another change came first",
                         std::string(kVersionField));
}

bool is_version_conflict(const Error& error) noexcept {
  return error.code == ErrorCode::kConflict && error.field == kVersionField;
}

Result<std::int64_t> append_stream(sql::Connection& c, std::string_view stream, std::int64_t expected_version,
                                   std::span<const CloudEvent> events) {
  if (!c.in_transaction()) return Error::internal("append_stream must run inside the change's transaction");
  if (events.empty()) return std::int64_t{0};
  // Held until commit: the positions of stream events commit in order (streams.hpp). On SQLite begin()
  // already holds the one write lock.
  MERCATO_RETURN_IF_ERROR(c.lock(kAppendLockSpace, "streams"));
  // A stream behind `expected_version` (the caller read a version that was never written) would leave a
  // gap: that is the check made here. A stream ahead of it is caught by the unique index on (stream,
  // version), whoever commits first — so a new stream (expected 0: the hot path, a placement) needs no
  // read at all.
  if (expected_version > 0) {
    MERCATO_ASSIGN_OR_RETURN(
        auto head,
        c.query("SELECT COALESCE(MAX(stream_version), 0) FROM event_outbox WHERE stream_id = $1", {stream}));
    if (head[0].integer(0) != expected_version) return version_conflict(stream, expected_version);
  }
  auto ms = to_unix_ms(now_utc());
  std::int64_t version = expected_version;
  std::int64_t position = 0;
  for (const auto& e : events) {
    MERCATO_RETURN_IF_ERROR(validate(e));
    auto inserted = c.query(
        "INSERT INTO event_outbox(event_id, type, envelope, created_at_ms, stream_id, stream_version)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        {e.id, e.type, to_json(e), ms, stream, ++version});
    if (!inserted) {
      if (c.last_failure() == sql::Failure::kUniqueViolation)
        return version_conflict(stream, expected_version);
      return std::move(inserted).error();
    }
    position = (*inserted)[0].integer(0);
  }
  c.after_commit([key = c.database()] { outbox_signal::raise(key); });
  return position;
}

Result<std::int64_t> record_past(sql::Connection& c, std::string_view stream,
                                 std::span<const CloudEvent> events) {
  MERCATO_ASSIGN_OR_RETURN(auto position, append_stream(c, stream, 0, events));
  MERCATO_RETURN_IF_ERROR(
      c.run("UPDATE event_outbox SET sent_at_ms = created_at_ms WHERE stream_id = $1", {stream}));
  return position;
}

Result<std::vector<StoredEvent>> read_stream(sql::Connection& c, std::string_view stream,
                                             std::int64_t after_version,
                                             std::optional<std::int64_t> up_to_version) {
  static const std::string kSql = std::string(kColumns) +
                                  "WHERE stream_id = $1 AND stream_version > $2 AND stream_version <= $3"
                                  " ORDER BY stream_version";
  return sql::read_all(c.query(kSql, {stream, after_version,
                                      up_to_version.value_or(std::numeric_limits<std::int64_t>::max())}),
                       read_stored);
}

Result<std::vector<StoredEvent>> read_streams(sql::Connection& c, std::int64_t after_position,
                                              std::size_t limit) {
  static const std::string kSql =
      std::string(kColumns) + "WHERE seq > $1 AND stream_id IS NOT NULL ORDER BY seq LIMIT $2";
  return sql::read_all(c.query(kSql, {after_position, limit}), read_stored);
}

Result<std::int64_t> streams_head(sql::Connection& c) {
  MERCATO_ASSIGN_OR_RETURN(
      auto rows, c.query("SELECT COALESCE(MAX(seq), 0) FROM event_outbox WHERE stream_id IS NOT NULL"));
  return rows[0].integer(0);
}

Result<Backlog> streams_after(sql::Connection& c, std::int64_t position) {
  MERCATO_ASSIGN_OR_RETURN(
      auto rows,
      c.query(
          "SELECT COUNT(*), MIN(created_at_ms) FROM event_outbox WHERE stream_id IS NOT NULL AND seq > $1",
          {position}));
  return Backlog{rows[0].integer(0), rows[0].optional_time(1)};
}

}  // namespace mercato::events
