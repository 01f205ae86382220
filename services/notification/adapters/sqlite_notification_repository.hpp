// NotificationRepository on the service's own SQLite file.
//
// Thread-safety: thread-safe (each call borrows a pooled connection; record_once runs in a
// BEGIN IMMEDIATE transaction, so concurrent calls for one (order_id, kind) are serialized).
#pragma once

#include "app/notification_repository.hpp"
#include "mercato/sqlite/sqlite.hpp"

namespace mercato::notification {

class SqliteNotificationRepository final : public NotificationRepository {
 public:
  // Applies the schema migrations (the event tables too); throws std::runtime_error if they fail (start-up
  // only).
  explicit SqliteNotificationRepository(sqlite::Database& db);

  Result<Recorded> record_once(const Notification& notification, const Deliver& deliver,
                               std::span<const events::CloudEvent> events) override;
  Result<std::vector<Notification>> list_for_customer(std::string_view customer_id, int limit,
                                                      std::optional<std::string_view> order_id) override;
  Result<void> ping() override;

 private:
  sqlite::Database& db_;
};

}  // namespace mercato::notification
