// The order use cases: place (checked against users and priced by inventory), read, list, cancel.
//
// Thread-safety: as thread-safe as the ports it is given; create() must be awaited on an I/O worker.
#pragma once

#include "app/ports.hpp"
#include "app/saga_coordinator.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::service {
class BlockingPool;
}

namespace mercato::order {

struct NewLine {
  std::string product_id;
  std::int64_t quantity = 0;
  std::optional<std::int64_t> claimed_price_cents;  // what the client believes the price is, if it said
  std::string claimed_field;                        // "items[0].price_cents" or "items[0].price"
};

struct NewOrder {
  std::string customer_id;
  std::vector<NewLine> lines;
  std::string payment_token;
  Address shipping_address;
  // The caller is this customer, proven by an access token the user service signed for them. Users are
  // never deleted, so such a customer exists and create() does not ask the user service again (ADR 0021).
  bool customer_is_caller = false;
};

class OrderService {
 public:
  // With a saga coordinator, every placed order runs the saga (docs/saga.md); without, orders stay pending.
  // With `admission` (which needs the coordinator: only sagas ever leave its backlog), admit() bounds the
  // sagas in flight (ADR 0018). `tracer` (nullptr: tracing off): the placement's transaction is a span of
  // the request's trace.
  OrderService(OrderRepository& repository, CustomerDirectory& customers, Catalog& catalog,
               SagaCoordinator* sagas = nullptr, Admission* admission = nullptr,
               const obs::Tracer* tracer = nullptr, service::BlockingPool* storage = nullptr)
      : repository_(repository),
        customers_(customers),
        catalog_(catalog),
        sagas_(sagas),
        admission_(sagas != nullptr ? admission : nullptr),
        tracer_(tracer),
        storage_(storage) {}

  // Whether a new order may be placed now: a ticket to hand to create(), or why not (a 503 to the
  // client). Asked before anything else about the order, so a refusal costs no call to another service.
  // Without admission control, always a ticket (one that does nothing).
  std::variant<Admission::Ticket, Admission::Refusal> admit() {
    if (admission_ == nullptr) return Admission::Ticket();
    return admission_->admit();
  }
  // The placed order and the position its first event reached. `ticket` (from admit()) keeps its place
  // in the backlog when the order is placed with its saga, and gives it back otherwise.
  boost::asio::awaitable<Result<Written>> create(const NewOrder& input, const CallContext& ctx,
                                                 Admission::Ticket ticket = {});
  // The order now, or as it was at `at_version`.
  Result<Order> get(std::string_view id, std::optional<std::int64_t> at_version = std::nullopt) {
    return repository_.find(id, at_version);
  }
  // The order's stream (the events that made it), oldest first.
  Result<std::vector<HistoryEntry>> history(std::string_view id) { return repository_.history(id); }
  // The customer cancels: a conflict once the order is confirmed; cancelling again changes nothing.
  // `traceparent`: the request's trace, which the cancellation's events continue.
  Result<Written> cancel(std::string_view id, std::string reason, const std::string& traceparent = {});
  // Every order, oldest first, `limit` 1..1000 per page (for operators).
  Result<Page> list_all(std::int64_t page, std::int64_t limit) {
    return repository_.list_all((page - 1) * limit, limit);
  }
  // The order's saga timeline; kNotFound when the order has none.
  Result<Saga> saga(std::string_view id);

 private:
  OrderRepository& repository_;
  CustomerDirectory& customers_;
  Catalog& catalog_;
  SagaCoordinator* sagas_;
  Admission* admission_;
  const obs::Tracer* tracer_;
  service::BlockingPool* storage_;  // where the placement's transaction runs (nullptr: inline)
};

}  // namespace mercato::order
