#include "adapters/memory_notification_repository.hpp"

namespace mercato::notification {

Result<Recorded> MemoryNotificationRepository::record_once(const Notification& notification,
                                                           const Deliver& deliver,
                                                           std::span<const events::CloudEvent> events) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(notification.order_id, notification.kind);
  if (auto it = by_pair_.find(key); it != by_pair_.end()) return Recorded{notifications_[it->second], false};
  MERCATO_RETURN_IF_ERROR(deliver(notification));
  by_pair_.emplace(std::move(key), notifications_.size());
  notifications_.push_back(notification);
  outbox_.insert(outbox_.end(), events.begin(), events.end());
  return Recorded{notification, true};
}

std::vector<events::CloudEvent> MemoryNotificationRepository::appended() {
  std::lock_guard lock(mutex_);
  return outbox_;
}

Result<std::vector<Notification>> MemoryNotificationRepository::list_for_customer(
    std::string_view customer_id, int limit, std::optional<std::string_view> order_id) {
  std::lock_guard lock(mutex_);
  std::vector<Notification> out;
  for (auto it = notifications_.rbegin(); it != notifications_.rend() && std::ssize(out) < limit; ++it) {
    if (it->customer_id == customer_id && (!order_id || it->order_id == *order_id)) out.push_back(*it);
  }
  return out;
}

}  // namespace mercato::notification
