#include "adapters/memory_payment_repository.hpp"

#include <algorithm>

namespace mercato::payment {
namespace {

Error not_found(std::string_view id) { return payment_not_found(id); }

Error key_not_in_progress(std::string_view key) {
  return Error::internal("idempotency key " + std::string(key) + " is not in progress");
}

}  // namespace

Result<Payment> MemoryPaymentRepository::record(const Payment& payment, const KeyCompletion* completion,
                                                std::span<const events::CloudEvent> events) {
  std::lock_guard lock(mutex_);
  auto key = completion != nullptr ? keys_.find(completion->key) : keys_.end();
  if (completion != nullptr && (key == keys_.end() || key->second.state != KeyState::kInProgress)) {
    return key_not_in_progress(completion->key);
  }
  bool paid = std::any_of(payments_.begin(), payments_.end(), [&](const Payment& p) {
    return p.order_id == payment.order_id && p.status == PaymentStatus::kCaptured;
  });
  Result<Payment> outcome = payment;
  if (paid) {
    outcome = Error::conflict("order_id: order " + payment.order_id + " already has a captured payment",
                              "order_id");
  }
  if (outcome) {
    // As the outbox tables do: a malformed event refuses the whole change.
    for (const auto& e : events) {
      MERCATO_RETURN_IF_ERROR(events::validate(e));
    }
  }
  if (completion != nullptr) {
    // Rendered before anything changes, so a throwing renderer leaves the store as it was.
    auto response = completion->render(outcome);
    key->second.state = KeyState::kCompleted;
    key->second.response = std::move(response);
    if (outcome) key->second.payment_id = payment.id;
  }
  if (outcome) {
    by_id_.emplace(payment.id, payments_.size());
    payments_.push_back(payment);
    outbox_.insert(outbox_.end(), events.begin(), events.end());
  }
  return outcome;
}

Result<Payment> MemoryPaymentRepository::find(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return not_found(id);
  return payments_[it->second];
}

Result<std::vector<Payment>> MemoryPaymentRepository::list_by_order(std::string_view order_id) {
  std::lock_guard lock(mutex_);
  std::vector<Payment> out;
  // Newest first: walking backwards gives insertion order descending; the stable sort then orders by
  // creation time and keeps that order among equal times, as SQLite's ORDER BY created, seq does.
  for (auto it = payments_.rbegin(); it != payments_.rend(); ++it) {
    if (it->order_id == order_id) out.push_back(*it);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Payment& a, const Payment& b) { return a.created_at > b.created_at; });
  return out;
}

Result<Payment> MemoryPaymentRepository::refund(std::string_view id, SystemTime now,
                                                const EventsOf& events_of) {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return not_found(id);
  Payment updated = payments_[it->second];
  MERCATO_ASSIGN_OR_RETURN(auto changed, payment::refund(updated, now));
  if (!changed) return updated;
  // Built before anything changes, so a throwing builder leaves the store as it was.
  std::vector<events::CloudEvent> appended;
  if (events_of) appended = events_of(updated);
  for (const auto& e : appended) {
    MERCATO_RETURN_IF_ERROR(events::validate(e));
  }
  payments_[it->second] = updated;
  outbox_.insert(outbox_.end(), appended.begin(), appended.end());
  return updated;
}

std::vector<events::CloudEvent> MemoryPaymentRepository::outbox() {
  std::lock_guard lock(mutex_);
  return outbox_;
}

Result<std::optional<IdempotencyRecord>> MemoryPaymentRepository::claim_key(const IdempotencyRecord& fresh) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = keys_.try_emplace(fresh.key, fresh);
  if (inserted) {
    it->second.state = KeyState::kInProgress;
    it->second.response.reset();
    it->second.payment_id.clear();
    return std::optional<IdempotencyRecord>();
  }
  return std::optional<IdempotencyRecord>(it->second);
}

Result<void> MemoryPaymentRepository::complete_key(std::string_view key, const StoredResponse& response) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find(key);
  if (it == keys_.end() || it->second.state != KeyState::kInProgress) return key_not_in_progress(key);
  it->second.state = KeyState::kCompleted;
  it->second.response = response;
  return {};
}

Result<void> MemoryPaymentRepository::release_key(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find(key);
  if (it != keys_.end() && it->second.state == KeyState::kInProgress) keys_.erase(it);
  return {};
}

Result<std::int64_t> MemoryPaymentRepository::recover_keys(SystemTime created_before) {
  std::lock_guard lock(mutex_);
  return static_cast<std::int64_t>(std::erase_if(keys_, [&](const auto& entry) {
    return entry.second.created_at < created_before || entry.second.state == KeyState::kInProgress;
  }));
}

}  // namespace mercato::payment
