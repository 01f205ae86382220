// An in-memory InventoryRepository: the fake for use-case tests, held to the same contract as SQLite.
//
// Thread-safety: thread-safe (one mutex; each method runs under it whole, which is its transaction).
#pragma once

#include <map>
#include <mutex>

#include "app/inventory_repository.hpp"

namespace mercato::inventory {

class MemoryInventoryRepository final : public InventoryRepository {
 public:
  Result<PutProductResult> put_product(const std::string& product_id, const ProductInput& input,
                                       SystemTime now) override;
  Result<Product> find_product(std::string_view product_id) override;
  Result<ReserveResult> reserve(const ReservationRequest& request, SystemTime now) override;
  Result<Reservation> settle(std::string_view order_id, ReservationStatus target, SystemTime now) override;
  Result<Reservation> find_reservation(std::string_view order_id) override;
  Result<void> ping() override { return {}; }

 private:
  std::mutex mutex_;
  std::map<std::string, Product, std::less<>> products_;
  std::map<std::string, Reservation, std::less<>> reservations_;
};

}  // namespace mercato::inventory
