// An in-memory NotificationRepository: the fake for use-case tests, held to the same contract as SQLite.
// The events a recording appends are kept in order (appended()), standing in for the outbox, so tests
// see what a use case publishes and the contract test holds the fake to "a repeat appends nothing".
//
// Thread-safety: thread-safe (one mutex, held across delivery as SQLite holds its write lock).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "app/notification_repository.hpp"

namespace mercato::notification {

class MemoryNotificationRepository final : public NotificationRepository {
 public:
  Result<Recorded> record_once(const Notification& notification, const Deliver& deliver,
                               std::span<const events::CloudEvent> events) override;
  Result<std::vector<Notification>> list_for_customer(std::string_view customer_id, int limit,
                                                      std::optional<std::string_view> order_id) override;
  Result<void> ping() override { return {}; }

  // Every event appended so far, in the order the notifications were recorded.
  std::vector<events::CloudEvent> appended();

 private:
  std::mutex mutex_;
  std::vector<Notification> notifications_;                      // in the order they were recorded
  std::map<std::pair<std::string, Kind>, std::size_t> by_pair_;  // (order_id, kind) → index, the unique key
  std::vector<events::CloudEvent> outbox_;
};

}  // namespace mercato::notification
