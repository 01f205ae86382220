// The inventory service's use cases: check input with the domain rules, then act through the repository.
//
// Thread-safety: as thread-safe as the repository it is given.
#pragma once

#include <string_view>

#include "app/inventory_repository.hpp"

namespace mercato::inventory {

class InventoryService {
 public:
  explicit InventoryService(InventoryRepository& repository) : repository_(repository) {}

  // 400 naming "product_id" or the input's field; otherwise created (true) or replaced.
  Result<PutProductResult> put_product(std::string_view product_id, ProductInput input);
  Result<Product> get_product(std::string_view product_id);

  Result<ReserveResult> reserve(const ReservationRequest& request);
  Result<Reservation> commit(std::string_view order_id);
  Result<Reservation> release(std::string_view order_id);
  Result<Reservation> get_reservation(std::string_view order_id);

 private:
  InventoryRepository& repository_;
};

}  // namespace mercato::inventory
