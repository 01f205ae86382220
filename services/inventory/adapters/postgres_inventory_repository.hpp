// InventoryRepository on PostgreSQL (selected with database.url = postgres://...; see main.cpp). Same
// semantics as the SQLite adapter, held to the same contract test. Where SQLite takes its one write
// lock with BEGIN IMMEDIATE, this adapter locks only the rows a change touches: the order's reservation
// row first (its insert, or SELECT ... FOR UPDATE), then the products in product-id order, so two
// reservations of the last unit cannot both see it and two transactions never wait on each other in a
// cycle. The table's CHECK (available, reserved, sold >= 0) stands behind the domain rules.
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/inventory_repository.hpp"
#include "mercato/postgres/postgres.hpp"

namespace mercato::inventory {

class PostgresInventoryRepository final : public InventoryRepository {
 public:
  // Applies the schema migrations; throws std::runtime_error if they fail (start-up only).
  explicit PostgresInventoryRepository(postgres::Database& db);

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
  postgres::Database& db_;
};

}  // namespace mercato::inventory
