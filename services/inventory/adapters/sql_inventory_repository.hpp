// InventoryRepository on the service's own SQL database — SQLite (the default) or PostgreSQL, chosen by
// database.url (lib/storage) — written once over lib/sql. Every state change is one transaction that
// locks what it reads before deciding (on SQLite the write lock is taken up front; on PostgreSQL the
// products are read for update, in product-id order, so two transactions never deadlock over them): two
// reservations of the last unit cannot both see it, and the tables' CHECK (available, reserved,
// sold >= 0) stands behind the domain rules as a last line of defence.
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/inventory_repository.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::inventory {

class SqlInventoryRepository final : public InventoryRepository {
 public:
  // Applies the schema migrations; throws std::runtime_error if they fail (start-up only).
  explicit SqlInventoryRepository(sql::Database& db);

  Result<PutProductResult> put_product(const std::string& product_id, const ProductInput& input,
                                       SystemTime now, std::span<const events::CloudEvent> events) override;
  Result<Product> find_product(std::string_view product_id) override;
  Result<ReserveResult> reserve(const ReservationRequest& request, SystemTime now,
                                std::span<const events::CloudEvent> events) override;
  Result<SettleResult> settle(std::string_view order_id, ReservationStatus target, SystemTime now,
                              const EventsOf& events_of) override;
  Result<Reservation> find_reservation(std::string_view order_id) override;
  Result<void> ping() override;

 private:
  sql::Database& db_;
};

}  // namespace mercato::inventory
