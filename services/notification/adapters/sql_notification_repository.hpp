// NotificationRepository on the service's own SQL database (SQLite; written over lib/sql, so it would run
// on PostgreSQL as well).
//
// Thread-safety: thread-safe (each call borrows a pooled connection; record_once runs in one
// transaction that serialises the calls for one (order_id, kind)).
#pragma once

#include "app/notification_repository.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::notification {

class SqlNotificationRepository final : public NotificationRepository {
 public:
  // Applies the schema migrations (the event tables too); throws std::runtime_error if they fail (start-up
  // only).
  explicit SqlNotificationRepository(sql::Database& db);

  Result<Recorded> record_once(const Notification& notification, const Deliver& deliver,
                               std::span<const events::CloudEvent> events) override;
  Result<std::vector<Notification>> list_for_customer(std::string_view customer_id, int limit,
                                                      std::optional<std::string_view> order_id) override;
  Result<void> ping() override;

 private:
  sql::Database& db_;
};

}  // namespace mercato::notification
