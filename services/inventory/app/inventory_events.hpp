// The events the inventory service publishes, version 1 of each:
//   inventory.reserved         {order_id, lines[{product_id, quantity}], reserved_at}
//                              when an order's stock is reserved (not on a replay of the same order).
//   inventory.committed        {order_id, lines[{product_id, quantity}], committed_at}
//                              when a reservation is committed: the units are sold.
//   inventory.released         {order_id, lines[{product_id, quantity}], reason (only when one was
//                              given), released_at}
//                              when a reservation is released: the units are available again.
//   inventory.product_updated  {product_id, name, price_cents, available, updated_at}
//                              on every PUT /inventory/{id} (create or replace); `available` is the value
//                              just set (reserved and sold are not part of it: they move with orders).
// Committing or releasing again, once settled, changes nothing and publishes nothing.
//
// The saga's answers (docs/saga.md, app/saga_handlers.hpp): the change events above when a command
// changed something; otherwise an answer reflecting the current state, of the same types (an existing
// reservation → inventory.reserved again, reserved_at its creation; a settled one → committed/released
// again, at the time it settled; nothing to release → inventory.released with no lines), or
//   inventory.rejected         {order_id, reason, product_id (only when a line is to blame)}
//                              when a command cannot be carried out (out of stock, unknown product, no
//                              reservation to commit, a sold reservation asked to be released...).
// Subject: the ORDER id for the reservation events — the order saga consumes them beside the order's and
// the payment's events, and the subject is the ordering (partition) key — and the product id for
// inventory.product_updated. Lines are in the order the reservation request gave them.
// The event data is a contract of its own, written here rather than reusing the REST representation, so
// the two can evolve separately. Times RFC 3339 UTC, prices in cents.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "domain/product.hpp"
#include "domain/reservation.hpp"
#include "mercato/events/event.hpp"

namespace mercato::inventory {

// Built from the request: the reserved lines are exactly the requested ones, and `reserved_at` is the
// time the repository stamps the reservation with. `saga`, when given, is passed on in the data (the
// order saga's mode of the order.created this reservation answers: payment charges on it in choreography).
events::CloudEvent inventory_reserved_event(const ReservationRequest& request, SystemTime reserved_at,
                                            std::string traceparent, std::string_view saga = {});
// For a reservation just moved to kCommitted or kReleased (its updated_at is the time it moved).
events::CloudEvent inventory_settled_event(const Reservation& reservation, std::string_view reason,
                                           std::string traceparent);
// The order's existing reservation announced again (a saga's repeated reserve command).
events::CloudEvent inventory_reserved_event(const Reservation& reservation, std::string traceparent,
                                            std::string_view saga = {});
// inventory.released with no lines: the order had nothing reserved to give back.
events::CloudEvent inventory_nothing_released_event(std::string_view order_id, SystemTime released_at,
                                                    std::string traceparent);
// `product_id` empty when no line is to blame.
events::CloudEvent inventory_rejected_event(std::string_view order_id, std::string_view reason,
                                            std::string_view product_id, std::string traceparent);
events::CloudEvent inventory_product_updated_event(std::string_view product_id, const ProductInput& input,
                                                   SystemTime updated_at, std::string traceparent);

}  // namespace mercato::inventory
