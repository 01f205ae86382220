// The inventory service's use cases: check input with the domain rules, then act through the repository.
// Every change is published: its event (app/inventory_events.hpp) goes to the outbox with the change.
// `traceparent` (W3C, may be empty) is the trace of the call that caused the change, carried by its event.
//
// Thread-safety: as thread-safe as the repository it is given.
#pragma once

#include <string>
#include <string_view>

#include "app/inventory_repository.hpp"

namespace mercato::inventory {

class InventoryService {
 public:
  explicit InventoryService(InventoryRepository& repository) : repository_(repository) {}

  // 400 naming "product_id" or the input's field; otherwise created (true) or replaced, and
  // inventory.product_updated published.
  Result<PutProductResult> put_product(std::string_view product_id, ProductInput input,
                                       const std::string& traceparent = {});
  Result<Product> get_product(std::string_view product_id);

  // inventory.reserved when the reservation is new (a replay publishes nothing); `saga` is passed on in
  // it (inventory_reserved_event).
  Result<ReserveResult> reserve(const ReservationRequest& request, const std::string& traceparent = {},
                                std::string_view saga = {});
  // inventory.committed when the reservation moved (a retry publishes nothing: moved = false).
  Result<SettleResult> commit(std::string_view order_id, const std::string& traceparent = {});
  // inventory.released, with `reason` when not empty, when the reservation moved.
  Result<SettleResult> release(std::string_view order_id, std::string_view reason = {},
                               const std::string& traceparent = {});
  Result<Reservation> get_reservation(std::string_view order_id);

 private:
  InventoryRepository& repository_;
};

}  // namespace mercato::inventory
