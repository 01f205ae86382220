// An order is its history (CQRS with event sourcing, docs/adr/0015-event-sourced-orders.md): every change
// of an order is one of the events below, appended to the order's stream; the order's state is the fold
// of its stream, and no code path changes an order any other way. Commands decide which events a change
// adds (cancel, settle); evolve() is the only place an event becomes state.
//
//   Order order;                                        // version 0: no order yet
//   for (const auto& e : history) MERCATO_RETURN_IF_ERROR(evolve(order, e));
//   MERCATO_ASSIGN_OR_RETURN(auto added, cancel(order, "changed my mind", CancelledBy::kCustomer, now));
//
// Pure logic: no I/O; the events' wire form (order.created, order.payment_pending, order.confirmed,
// order.cancelled) and their schema versions are app/order_events.hpp's.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <span>
#include <variant>
#include <vector>

#include "domain/order.hpp"

namespace mercato::order {

// The order as placed: status pending (version and status of `order` are ignored).
struct OrderPlaced {
  Order order;
  friend bool operator==(const OrderPlaced&, const OrderPlaced&) = default;
};
// The charge is queued until the payment service answers (the saga deferred it).
struct PaymentPending {
  SystemTime at{};
  friend bool operator==(const PaymentPending&, const PaymentPending&) = default;
};
struct OrderConfirmed {
  SystemTime at{};
  friend bool operator==(const OrderConfirmed&, const OrderConfirmed&) = default;
};
struct OrderCancelled {
  std::string reason;
  CancelledBy by = CancelledBy::kUnknown;
  SystemTime at{};
  friend bool operator==(const OrderCancelled&, const OrderCancelled&) = default;
};
using OrderEvent = std::variant<OrderPlaced, PaymentPending, OrderConfirmed, OrderCancelled>;

// `event` made state: the order one version further. kInternal when the event cannot follow the order's
// state (only a stream this code never writes has that), leaving `order` as it was.
Result<void> evolve(Order& order, const OrderEvent& event);
// The order `events` describe, from `from` (a snapshot; default: nothing yet).
Result<Order> fold(std::span<const OrderEvent> events, Order from = {});

// The customer (or an operator) cancels: nothing when already cancelled, kConflict once confirmed.
Result<std::vector<OrderEvent>> cancel(const Order& order, std::string reason, CancelledBy by,
                                       SystemTime now);
// The saga settles the order at `target`: what it takes to get there, or nothing when the order is
// there already or can no longer go there (a confirmed order is never cancelled, a cancelled one never
// confirmed, only a pending order waits for its payment).
std::vector<OrderEvent> settle(const Order& order, Status target, const std::string& reason, SystemTime now);

}  // namespace mercato::order
