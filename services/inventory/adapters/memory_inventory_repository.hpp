// An in-memory InventoryRepository: the fake for use-case tests, held to the same contract as SQLite.
// Its "outbox" is a vector of the events appended with each change, in order (outbox()), so tests can
// check what a use case publishes — and that a refused change appends nothing — as on the real stores.
//
// Thread-safety: thread-safe (one mutex; each method runs under it whole, which is its transaction).
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "app/inventory_repository.hpp"

namespace mercato::inventory {

class MemoryInventoryRepository final : public InventoryRepository {
 public:
  Result<PutProductResult> put_product(const std::string& product_id, const ProductInput& input,
                                       SystemTime now, std::span<const events::CloudEvent> events) override;
  Result<Product> find_product(std::string_view product_id) override;
  Result<ReserveResult> reserve(const ReservationRequest& request, SystemTime now,
                                std::span<const events::CloudEvent> events) override;
  Result<SettleResult> settle(std::string_view order_id, ReservationStatus target, SystemTime now,
                              const EventsOf& events_of) override;
  Result<Reservation> find_reservation(std::string_view order_id) override;
  Result<void> ping() override { return {}; }

  // Every event appended so far, oldest first.
  std::vector<events::CloudEvent> outbox();

 private:
  std::mutex mutex_;
  std::map<std::string, Product, std::less<>> products_;
  std::map<std::string, Reservation, std::less<>> reservations_;
  std::vector<events::CloudEvent> outbox_;
};

}  // namespace mercato::inventory
