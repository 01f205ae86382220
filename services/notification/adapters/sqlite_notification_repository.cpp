#include "adapters/sqlite_notification_repository.hpp"

#include <optional>
#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::notification {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
// `seq` orders notifications as they were recorded (newest first in lists) even if the clock steps back.
const std::vector<sqlite::Migration> kMigrations = {
    {1, "create notifications",
     "CREATE TABLE notifications ("
     " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
     " id TEXT NOT NULL UNIQUE,"
     " customer_id TEXT NOT NULL,"
     " order_id TEXT NOT NULL,"
     " kind TEXT NOT NULL"
     "  CHECK (kind IN ('order_confirmed', 'order_cancelled', 'payment_failed', 'shipment_created')),"
     " message TEXT NOT NULL,"
     " created_at_ms INTEGER NOT NULL,"
     " UNIQUE (order_id, kind));"  // sent at most once per order and kind, whatever the application does
     "CREATE INDEX notifications_customer ON notifications(customer_id, seq DESC);"},
};

constexpr std::string_view kColumns = "id, customer_id, order_id, kind, message, created_at_ms";

Result<Notification> read_row(const sqlite::Statement& st) {
  auto kind = parse_kind(st.text(3));
  if (!kind) return Error::internal("notification " + st.text(0) + " has unknown kind '" + st.text(3) + "'");
  return Notification{st.text(0), st.text(1), st.text(2), *kind, st.text(4), from_unix_ms(st.integer(5))};
}

// The notification already recorded for (order_id, kind), if any.
Result<std::optional<Notification>> select_pair(sqlite::Connection& c, std::string_view order_id, Kind kind) {
  static const std::string kSql =
      "SELECT " + std::string(kColumns) + " FROM notifications WHERE order_id = ?1 AND kind = ?2";
  auto st = c.prepare(kSql);
  st.bind(1, order_id);
  st.bind(2, to_string(kind));
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Notification>{};
  auto n = read_row(st);
  if (!n) return std::move(n).error();
  return std::optional<Notification>{std::move(*n)};
}

}  // namespace

SqliteNotificationRepository::SqliteNotificationRepository(sqlite::Database& db) : db_(db) {
  if (auto r = db_.migrate(kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<Recorded> SqliteNotificationRepository::record_once(const Notification& notification,
                                                           const Deliver& deliver,
                                                           std::span<const events::CloudEvent> events) {
  return db_.with([&](sqlite::Connection& c) -> Result<Recorded> {
    // The write lock is taken before the lookup, so of two concurrent requests for one pair the second
    // waits here and then finds the first one's row.
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto existing = select_pair(c, notification.order_id, notification.kind);
    if (!existing) return std::move(existing).error();
    if (*existing) return Recorded{std::move(**existing), false};  // the lease rolls back

    static const std::string kSql =
        "INSERT INTO notifications(" + std::string(kColumns) + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    {
      auto st = c.prepare(kSql);
      st.bind(1, notification.id);
      st.bind(2, notification.customer_id);
      st.bind(3, notification.order_id);
      st.bind(4, to_string(notification.kind));
      st.bind(5, notification.message);
      st.bind(6, to_unix_ms(notification.created_at));
      if (auto r = st.run(); !r) return std::move(r).error();
    }
    // The event goes in before delivery, so a failure to append it cannot follow an email already
    // handed over; the relay is woken only once COMMIT made the row and the event visible together.
    if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    // Deliver after the row is written and before COMMIT: a failed delivery rolls the row (and the
    // event) back, and a failed insert never reaches the mail outbox. (A crash between delivery and
    // COMMIT can deliver without recording; a retry then delivers again — at least once, never silently
    // lost.)
    if (auto sent = deliver(notification); !sent) return std::move(sent).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return Recorded{notification, true};
  });
}

Result<std::vector<Notification>> SqliteNotificationRepository::list_for_customer(
    std::string_view customer_id, int limit, std::optional<std::string_view> order_id) {
  return db_.with([&](sqlite::Connection& c) -> Result<std::vector<Notification>> {
    static const std::string kSql =
        "SELECT " + std::string(kColumns) +
        " FROM notifications WHERE customer_id = ?1 AND (?3 IS NULL OR order_id = ?3)"
        " ORDER BY seq DESC LIMIT ?2";
    auto st = c.prepare(kSql);
    st.bind(1, customer_id);
    st.bind(2, static_cast<std::int64_t>(limit));
    if (order_id) {
      st.bind(3, *order_id);
    } else {
      st.bind_null(3);
    }
    std::vector<Notification> out;
    for (;;) {
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      auto n = read_row(st);
      if (!n) return std::move(n).error();
      out.push_back(std::move(*n));
    }
    return out;
  });
}

Result<void> SqliteNotificationRepository::ping() { return db_.ping(); }

}  // namespace mercato::notification
