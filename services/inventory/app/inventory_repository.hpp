// Where products and reservations are stored. The use cases see only this interface; the SQL adapter
// (SQLite or PostgreSQL) and the Redis one pass the same contract test
// (adapters/inventory_repository_test.cpp).
//
// Every method that changes state does all of it in one transaction (SQLite: BEGIN IMMEDIATE ... COMMIT),
// applying the rules in domain/, so a reservation is all-or-nothing and stock is never oversold however
// many threads call at once. Inputs are already validated by the caller. The events announcing a change
// are appended to the transactional outbox (mercato/events/store.hpp) in that same transaction — or, on
// Redis, by the same Lua script — so a change is published exactly when it is stored; a call that
// changes nothing (a replay, a refusal, a failure) appends nothing.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/product.hpp"
#include "domain/reservation.hpp"
#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::inventory {

struct PutProductResult {
  Product product;
  bool created = false;  // false: an existing product was replaced
};

struct ReserveResult {
  Reservation reservation;
  bool created = false;  // false: a replay of the order's existing reservation; nothing changed
};

struct SettleResult {
  Reservation reservation;
  // false: it was already in the target state (a retry); nothing changed and nothing was appended. A
  // saga participant needs to know, to answer a repeated command itself (docs/saga.md).
  bool moved = false;
};

// The events a settled reservation publishes, built from the reservation as it is after the change.
using EventsOf = std::function<std::vector<events::CloudEvent>(const Reservation&)>;

class InventoryRepository {
 public:
  virtual ~InventoryRepository() = default;

  // Creates the product or replaces it (domain replace(): reserved and sold are kept), appending
  // `events` with it.
  virtual Result<PutProductResult> put_product(const std::string& product_id, const ProductInput& input,
                                               SystemTime now,
                                               std::span<const events::CloudEvent> events = {}) = 0;
  // kNotFound when absent.
  virtual Result<Product> find_product(std::string_view product_id) = 0;

  // An order id seen before: its reservation when `same_items`, else kConflict (field "order_id").
  // Otherwise domain reserve() over the stored products: kUnprocessable and nothing changed, or the new
  // reservation and its products' stock moved, together with `events` appended (only then: a replay
  // appends nothing). The events are given rather than built from the stored reservation because
  // everything they say is known before the change (the request's lines, `now`), which lets the Redis
  // script append them without building JSON itself.
  virtual Result<ReserveResult> reserve(const ReservationRequest& request, SystemTime now,
                                        std::span<const events::CloudEvent> events = {}) = 0;
  // Domain transition() to `target` (kCommitted or kReleased) and settle_line() for every line, together.
  // kNotFound when the order has no reservation, kConflict when it is in the other final state. When it
  // moved, `events_of(reservation)` are appended with the change; a retry of a settled one appends nothing
  // and returns moved = false.
  virtual Result<SettleResult> settle(std::string_view order_id, ReservationStatus target, SystemTime now,
                                      const EventsOf& events_of = {}) = 0;
  // kNotFound when absent.
  virtual Result<Reservation> find_reservation(std::string_view order_id) = 0;

  // Readiness: can the store be reached?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::inventory
