// Where payments and idempotency keys are stored. The use cases see only this interface; the SQL adapter
// passes the same contract test on SQLite and PostgreSQL (adapters/payment_repository_test.cpp). Payments and
// keys share one store because a payment and the completion of the key that asked for it must commit together
// — and so must a payment and the event that announces it: the state-changing methods take the events to
// append to the transactional outbox (mercato/events/store.hpp) in the same transaction.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/idempotency.hpp"
#include "domain/payment.hpp"
#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::payment {

// Turns the outcome of recording a payment into the response sent (and stored against a key).
using RenderOutcome = std::function<StoredResponse(const Result<Payment>&)>;

// Completes an in-progress idempotency key with the response `render` gives for the outcome.
struct KeyCompletion {
  std::string_view key;
  const RenderOutcome& render;
};

// The events a change of a payment publishes, built from the payment as it is after the change.
using EventsOf = std::function<std::vector<events::CloudEvent>(const Payment&)>;

class PaymentRepository {
 public:
  virtual ~PaymentRepository() = default;

  // In one transaction: refuses the attempt with kConflict (field "order_id", nothing inserted) when
  // its order already has a captured payment, whatever the new attempt's status; otherwise inserts
  // `payment`. With `completion`, completes that in-progress key with render(outcome) in the same
  // transaction — the conflict included — and records the payment id. When the payment is inserted,
  // `events` are appended to the outbox in that transaction too (never on the conflict: nothing was
  // recorded). Returns the payment as stored or the conflict; any other error means nothing was written
  // (no payment, no event) and the key is still in progress.
  virtual Result<Payment> record(const Payment& payment, const KeyCompletion* completion,
                                 std::span<const events::CloudEvent> events = {}) = 0;
  // kNotFound when absent.
  virtual Result<Payment> find(std::string_view id) = 0;
  // Every payment of the order, newest first (creation time, then insertion order); empty when none.
  virtual Result<std::vector<Payment>> list_by_order(std::string_view order_id) = 0;
  // Read, domain refund(), write in one transaction: the refunded payment (unchanged when it already
  // was), kUnprocessable for a declined one, kNotFound when absent. When the payment moved to refunded,
  // `events_of(payment)` are appended to the outbox in the same transaction; a repeat appends nothing.
  virtual Result<Payment> refund(std::string_view id, SystemTime now, const EventsOf& events_of = {}) = 0;

  // Claims `fresh.key` in its own committed transaction: inserts `fresh` (state kInProgress) and
  // returns nullopt, or — when the key exists — returns the stored record and changes nothing. Of
  // several concurrent claims of one key exactly one gets nullopt.
  virtual Result<std::optional<IdempotencyRecord>> claim_key(const IdempotencyRecord& fresh) = 0;
  // Completes an in-progress key with a response that recorded no payment (kInternal when the key is
  // not in progress).
  virtual Result<void> complete_key(std::string_view key, const StoredResponse& response) = 0;
  // Deletes an in-progress key whose request failed without an answer to store, so a retry can claim
  // it again. A completed key is left alone.
  virtual Result<void> release_key(std::string_view key) = 0;
  // Start-up housekeeping: deletes every key created before `created_before`, and every key still in
  // progress — its request died with the previous process, and since a payment and its key's completion
  // commit together, nothing was recorded for it. Returns how many keys were deleted.
  virtual Result<std::int64_t> recover_keys(SystemTime created_before) = 0;

  // Readiness: can the store be reached?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::payment
