#include "adapters/sql_notification_repository.hpp"

#include <optional>
#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::notification {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
// `seq` orders notifications as they were recorded (newest first in lists) even if the clock steps back.
const std::vector<sql::Migration> kMigrations = {
    {1, "create notifications",
     "CREATE TABLE notifications ("
     " seq {serial},"
     " id TEXT NOT NULL UNIQUE,"
     " customer_id TEXT NOT NULL,"
     " order_id TEXT NOT NULL,"
     " kind TEXT NOT NULL"
     "  CHECK (kind IN ('order_confirmed', 'order_cancelled', 'payment_failed', 'shipment_created')),"
     " message TEXT NOT NULL,"
     " created_at_ms {int64} NOT NULL,"
     " UNIQUE (order_id, kind));"  // sent at most once per order and kind, whatever the application does
     "CREATE INDEX notifications_customer ON notifications(customer_id, seq DESC);"},
};

constexpr std::string_view kColumns = "id, customer_id, order_id, kind, message, created_at_ms";

Result<Notification> read_row(const sql::Row& row) {
  auto kind = parse_kind(row.text(3));
  if (!kind)
    return Error::internal("notification " + row.text(0) + " has unknown kind '" + row.text(3) + "'");
  return Notification{row.text(0), row.text(1), row.text(2), *kind, row.text(4), row.time(5)};
}

// The notification already recorded for (order_id, kind), if any.
Result<std::optional<Notification>> select_pair(sql::Connection& c, std::string_view order_id, Kind kind) {
  static const std::string kSql =
      "SELECT " + std::string(kColumns) + " FROM notifications WHERE order_id = $1 AND kind = $2";
  MERCATO_ASSIGN_OR_RETURN(auto rows, c.query(kSql, {order_id, to_string(kind)}));
  if (rows.empty()) return std::optional<Notification>{};
  MERCATO_ASSIGN_OR_RETURN(auto n, read_row(rows[0]));
  return std::optional<Notification>{std::move(n)};
}

}  // namespace

SqlNotificationRepository::SqlNotificationRepository(sql::Database& db) : db_(db) {
  if (auto r = db_.migrate("notification", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<Recorded> SqlNotificationRepository::record_once(const Notification& notification,
                                                        const Deliver& deliver,
                                                        std::span<const events::CloudEvent> events) {
  return db_.with([&](sql::Connection& c) -> Result<Recorded> {
    // The pair is locked before the lookup (on SQLite begin() takes the write lock), so of two concurrent
    // requests for one pair the second waits here and then finds the first one's row.
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_RETURN_IF_ERROR(c.lock(notification.order_id + "/" + std::string(to_string(notification.kind))));
    MERCATO_ASSIGN_OR_RETURN(auto existing, select_pair(c, notification.order_id, notification.kind));
    if (existing) return Recorded{std::move(*existing), false};  // the lease rolls back

    static const std::string kSql =
        "INSERT INTO notifications(" + std::string(kColumns) + ") VALUES ($1, $2, $3, $4, $5, $6)";
    MERCATO_RETURN_IF_ERROR(
        c.run(kSql, {notification.id, notification.customer_id, notification.order_id,
                     to_string(notification.kind), notification.message, notification.created_at}));
    // The event goes in before delivery, so a failure to append it cannot follow an email already
    // handed over; the relay is woken only once COMMIT made the row and the event visible together.
    MERCATO_RETURN_IF_ERROR(events::append_outbox(c, events));
    // Deliver after the row is written and before COMMIT: a failed delivery rolls the row (and the
    // event) back, and a failed insert never reaches the mail outbox. (A crash between delivery and
    // COMMIT can deliver without recording; a retry then delivers again — at least once, never silently
    // lost.)
    MERCATO_RETURN_IF_ERROR(deliver(notification));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return Recorded{notification, true};
  });
}

Result<std::vector<Notification>> SqlNotificationRepository::list_for_customer(
    std::string_view customer_id, int limit, std::optional<std::string_view> order_id) {
  return db_.with([&](sql::Connection& c) -> Result<std::vector<Notification>> {
    static const std::string kSql =
        "SELECT " + std::string(kColumns) +
        " FROM notifications WHERE customer_id = $1 AND (CAST($3 AS TEXT) IS NULL OR order_id = $3)"
        " ORDER BY seq DESC LIMIT $2";
    // The cast gives PostgreSQL the type of $3 where it is only tested for NULL.
    return sql::read_all(c.query(kSql, {customer_id, limit, order_id}), read_row);
  });
}

Result<void> SqlNotificationRepository::ping() { return db_.ping(); }

}  // namespace mercato::notification
