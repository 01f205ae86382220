// An in-memory PaymentRepository: the fake for use-case tests, held to the same contract as SQLite.
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
  Result<Payment> record(const Payment& payment, const KeyCompletion* completion) override;
  Result<Payment> find(std::string_view id) override;
  Result<std::vector<Payment>> list_by_order(std::string_view order_id) override;
  Result<Payment> refund(std::string_view id, SystemTime now) override;
  Result<std::optional<IdempotencyRecord>> claim_key(const IdempotencyRecord& fresh) override;
  Result<void> complete_key(std::string_view key, const StoredResponse& response) override;
  Result<void> release_key(std::string_view key) override;
  Result<std::int64_t> recover_keys(SystemTime created_before) override;
  Result<void> ping() override { return {}; }

 private:
  std::mutex mutex_;
  std::vector<Payment> payments_;                          // in insertion order
  std::map<std::string, std::size_t, std::less<>> by_id_;  // index into payments_
  std::map<std::string, IdempotencyRecord, std::less<>> keys_;
};

}  // namespace mercato::payment
