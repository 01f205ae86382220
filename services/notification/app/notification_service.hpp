// The notification service's use cases: validate with the domain rules, then record and send through
// the repository and the mailer; the repository appends notification.sent (app/notification_events.hpp)
// to the outbox in the recording's transaction.
//
// Thread-safety: as thread-safe as the repository and mailer it is given.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "app/mailer.hpp"
#include "app/notification_repository.hpp"

namespace mercato::notification {

class NotificationService {
 public:
  NotificationService(NotificationRepository& repository, Mailer& mailer)
      : repository_(repository), mailer_(mailer) {}

  // Records the notification and sends its email, at most once per (order_id, kind): a repeat (the same
  // recipient and text, is_repeat_of) returns the notification recorded first (created = false) and sends
  // nothing; another recipient or text for a recorded pair is kConflict naming "order_id", nothing sent.
  // Publishes notification.sent with the first recording only. `traceparent`: the cause's trace context,
  // carried by the event.
  Result<Recorded> send(const NotificationRequest& request, std::string traceparent = {});
  // Newest first; `limit` 1..kMaxListLimit (errors name "limit"), customer_id non-empty.
  Result<std::vector<Notification>> list(std::string_view customer_id, int limit,
                                         std::optional<std::string_view> order_id = {});

 private:
  NotificationRepository& repository_;
  Mailer& mailer_;
};

}  // namespace mercato::notification
