// The inventory service's part in the order saga (docs/saga.md): each command the order service sends
// becomes one InventoryService use case and exactly one answer on the outbox.
//
//   inventory::SagaHandlers saga(stock, event_store, ctx.name());
//   bus.on("inventory.reserve_requested", [&saga](const events::CloudEvent& e) {
//     return saga.on_reserve_requested(e);
//   });
//
//   command                       outcome                                 answer
//   inventory.reserve_requested   reservation created                     inventory.reserved (change event)
//     {order_id, lines[{product_id, quantity}]}
//                                 the order already has it (same lines,   inventory.reserved again
//                                 whatever became of it since)
//                                 out of stock / unknown product          inventory.rejected + product_id
//                                 lines the rules refuse (quantity 0,     inventory.rejected + product_id
//                                 a product twice, over 100 lines...)     when one line is to blame
//                                 the order has other lines reserved      inventory.rejected
//   inventory.commit_requested    reserved → committed                    inventory.committed (change event)
//     {order_id}                  already committed                       inventory.committed again
//                                 no reservation                          inventory.rejected "no reservation"
//                                 released                                inventory.rejected "already
//                                 released"
//   inventory.release_requested   reserved → released                     inventory.released (change event)
//     {order_id, reason}          already released                        inventory.released again
//                                 no reservation                          inventory.released, no lines
//                                 committed (sold)                        inventory.rejected "already
//                                 committed"
//
// A change event is appended by the repository in the change's own transaction (or Redis script); then
// the command is recorded in the inbox with nothing more to append. Every other answer is appended with
// the inbox record (EventStore::handle_once), so a duplicate delivery appends nothing. The effect comes
// first: it is idempotent by the order id, so when the inbox record fails after it (the store went
// down), the redelivery finds the effect done and answers the current state — the order saga ignores
// the repeated answer.
//
// Choreography: a choreographed order's own events (data.saga = "choreography") are its commands —
// order.created reserves (its inventory.reserved names the saga, for payment to charge on), order.confirmed
// commits, order.cancelled releases — answered exactly as the commands are. The events of other orders
// are recorded in the inbox and change nothing (their orchestrator sends commands).
//
// Malformed data (not an object, a missing or mistyped field, an order id that is not one) and a newer
// dataschema version are Errors (retried, then dead-lettered), as is a failure of the store; anything
// else is answered. The answers carry the command's trace context and have the order id as subject.
//
// Thread-safety: as thread-safe as the service and the store it is given.
#pragma once

#include <string>

#include "app/inventory_service.hpp"
#include "mercato/events/event.hpp"
#include "mercato/events/store.hpp"

namespace mercato::inventory {

// inventory.rejected reasons.
inline constexpr std::string_view kReasonOutOfStock = "out of stock";
inline constexpr std::string_view kReasonUnknownProduct = "unknown product";
inline constexpr std::string_view kReasonOtherLinesReserved = "the order has other lines reserved";
inline constexpr std::string_view kReasonNoReservation = "no reservation";
inline constexpr std::string_view kReasonAlreadyReleased = "already released";
inline constexpr std::string_view kReasonAlreadyCommitted = "already committed";

class SagaHandlers {
 public:
  // `consumer`: the inbox's consumer name, the service's name.
  SagaHandlers(InventoryService& inventory, events::EventStore& store, std::string consumer)
      : inventory_(inventory), store_(store), consumer_(std::move(consumer)) {}

  Result<void> on_reserve_requested(const events::CloudEvent& command);
  Result<void> on_commit_requested(const events::CloudEvent& command);
  Result<void> on_release_requested(const events::CloudEvent& command);
  Result<void> on_order_created(const events::CloudEvent& event);
  Result<void> on_order_confirmed(const events::CloudEvent& event);
  Result<void> on_order_cancelled(const events::CloudEvent& event);

 private:
  InventoryService& inventory_;
  events::EventStore& store_;
  std::string consumer_;
};

}  // namespace mercato::inventory
