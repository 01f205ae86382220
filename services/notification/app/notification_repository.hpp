// Where sent notifications are recorded. The use cases see only this interface; the SQL adapter passes
// the same contract test on SQLite and PostgreSQL (adapters/notification_repository_test.cpp).
//
// Recording a notification takes the events it publishes and appends them to the transactional outbox
// in the same transaction (lib/events/include/mercato/events/store.hpp): a recording that fails or is a
// repeat leaves no event, and a committed one always has its events.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/notification.hpp"
#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::notification {

// Sends a notification that is about to be recorded; an error cancels the recording.
using Deliver = std::function<Result<void>(const Notification&)>;

struct Recorded {
  Notification notification;
  bool created = false;  // false: the pair was recorded earlier; `notification` is that earlier one
};

class NotificationRepository {
 public:
  virtual ~NotificationRepository() = default;
  // At most once per (order_id, kind), atomically: when the pair is already recorded, returns that
  // notification and does not call `deliver`. Otherwise calls `deliver(notification)` while holding the
  // store's write lock and records the notification only if it succeeded; a delivery error is returned
  // and nothing is recorded. So concurrent calls for one pair deliver exactly once. `events` are
  // appended to the outbox in the recording's transaction, only when this call records the notification.
  virtual Result<Recorded> record_once(const Notification& notification, const Deliver& deliver,
                                       std::span<const events::CloudEvent> events = {}) = 0;
  // The customer's notifications, most recently recorded first, at most `limit`.
  // With `order_id`, only that order's notifications.
  virtual Result<std::vector<Notification>> list_for_customer(
      std::string_view customer_id, int limit, std::optional<std::string_view> order_id = {}) = 0;
  // Readiness: can the store be reached?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::notification
