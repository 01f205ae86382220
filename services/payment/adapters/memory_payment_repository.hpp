// An in-memory PaymentRepository: the fake for use-case tests, held to the same contract as SQLite.
// Its "outbox" is a vector of the events appended with each change, in order (outbox()), so tests can
// check what a use case publishes — and that a refused change appends nothing — as on the real stores.
//
// Thread-safety: thread-safe (one mutex; every call is one critical section, as a transaction is).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "app/payment_repository.hpp"

namespace mercato::payment {

class MemoryPaymentRepository final : public PaymentRepository {
 public:
  Result<Payment> record(const Payment& payment, const KeyCompletion* completion,
                         std::span<const events::CloudEvent> events) override;
  Result<Payment> find(std::string_view id) override;
  Result<std::vector<Payment>> list_by_order(std::string_view order_id) override;
  Result<Payment> refund(std::string_view id, SystemTime now, const EventsOf& events_of) override;
  Result<std::optional<IdempotencyRecord>> claim_key(const IdempotencyRecord& fresh) override;
  Result<void> complete_key(std::string_view key, const StoredResponse& response) override;
  Result<void> release_key(std::string_view key) override;
  Result<std::int64_t> recover_keys(SystemTime created_before) override;
  Result<void> ping() override { return {}; }

  // Every event appended so far, oldest first.
  std::vector<events::CloudEvent> outbox();

 private:
  std::mutex mutex_;
  std::vector<Payment> payments_;                          // in insertion order
  std::map<std::string, std::size_t, std::less<>> by_id_;  // index into payments_
  std::map<std::string, IdempotencyRecord, std::less<>> keys_;
  std::vector<events::CloudEvent> outbox_;
};

}  // namespace mercato::payment
