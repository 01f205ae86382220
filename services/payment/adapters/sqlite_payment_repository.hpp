// PaymentRepository on the service's own SQLite file. One captured payment per order is also a partial
// unique index, so the rule holds even against a bug in the transaction logic.
//
// Thread-safety: thread-safe (each call borrows a pooled connection; writes are BEGIN IMMEDIATE).
#pragma once

#include "app/payment_repository.hpp"
#include "mercato/sqlite/sqlite.hpp"

namespace mercato::payment {

class SqlitePaymentRepository final : public PaymentRepository {
 public:
  // Applies the schema migrations; throws std::runtime_error if they fail (start-up only).
  explicit SqlitePaymentRepository(sqlite::Database& db);

  Result<Payment> record(const Payment& payment, const KeyCompletion* completion,
                         std::span<const events::CloudEvent> events) override;
  Result<Payment> find(std::string_view id) override;
  Result<std::vector<Payment>> list_by_order(std::string_view order_id) override;
  Result<Payment> refund(std::string_view id, SystemTime now, const EventsOf& events_of) override;
  Result<std::optional<IdempotencyRecord>> claim_key(const IdempotencyRecord& fresh) override;
  Result<void> complete_key(std::string_view key, const StoredResponse& response) override;
  Result<void> release_key(std::string_view key) override;
  Result<std::int64_t> recover_keys(SystemTime created_before) override;
  Result<void> ping() override;

 private:
  sqlite::Database& db_;
};

}  // namespace mercato::payment
