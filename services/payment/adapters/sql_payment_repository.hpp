// PaymentRepository on the service's own SQL database — SQLite (the default) or PostgreSQL, chosen by
// database.url (lib/storage) — written once over lib/sql. One captured payment per order is also a
// partial unique index, so the rule holds even against a bug in the transaction logic; a concurrent
// claim of one idempotency key conflicts on its primary key.
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/payment_repository.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::payment {

class SqlPaymentRepository final : public PaymentRepository {
 public:
  // Applies the schema migrations; throws std::runtime_error if they fail (start-up only).
  explicit SqlPaymentRepository(sql::Database& db);

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
  sql::Database& db_;
};

}  // namespace mercato::payment
