#include "app/order_service.hpp"

#include <algorithm>

#include "app/order_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/service/blocking.hpp"

namespace mercato::order {
namespace {

// The saga field of an order without a saga (saga.mode: none, or placed before sagas existed).
constexpr std::string_view kNoSaga = "none";

}  // namespace

boost::asio::awaitable<Result<Written>> OrderService::create(const NewOrder& input, const CallContext& ctx,
                                                             Admission::Ticket ticket) {
  if (auto r = validate(input.shipping_address); !r) co_return std::move(r).error();

  if (!input.customer_is_caller) {
    auto known = co_await customers_.exists(input.customer_id, ctx);
    if (!known) co_return std::move(known).error();
    if (!*known) {
      co_return Error::unprocessable("customer " + input.customer_id + " does not exist", "customer_id");
    }
  }

  // Every line's price in one call (each product once).
  std::vector<std::string> products;
  products.reserve(input.lines.size());
  for (const auto& line : input.lines) {
    if (std::find(products.begin(), products.end(), line.product_id) == products.end())
      products.push_back(line.product_id);
  }
  auto prices = co_await catalog_.prices(std::move(products), ctx);
  if (!prices) co_return std::move(prices).error();

  Order order;
  order.lines.reserve(input.lines.size());
  for (std::size_t i = 0; i < input.lines.size(); ++i) {
    const auto& line = input.lines[i];
    auto price = prices->find(line.product_id);
    std::string prefix = "items[" + std::to_string(i) + "]";
    if (price == prices->end()) {
      co_return Error::unprocessable("product " + line.product_id + " does not exist",
                                     prefix + ".product_id");
    }
    // Prices are never trusted from clients: a differing one means the client saw a stale price.
    if (line.claimed_price_cents && *line.claimed_price_cents != price->second) {
      co_return Error::unprocessable(line.claimed_field + ": the price of " + line.product_id + " is " +
                                         std::to_string(price->second) + " cents, not " +
                                         std::to_string(*line.claimed_price_cents),
                                     line.claimed_field);
    }
    order.lines.push_back(Line{line.product_id, line.quantity, price->second});
  }
  auto total = total_of(order.lines);
  if (!total) co_return std::move(total).error();

  auto now = now_utc();
  order.id = new_time_ordered_uuid();
  order.customer_id = input.customer_id;
  order.total_cents = *total;
  order.payment_token = input.payment_token;
  order.shipping_address = input.shipping_address;
  order.created_at = now;
  order.saga = sagas_ != nullptr ? std::string(to_string(sagas_->mode())) : std::string(kNoSaga);
  std::vector<events::CloudEvent> commands;
  std::optional<Saga> saga;
  if (sagas_ != nullptr) saga = sagas_->begin(order, now, ctx.traceparent, commands);
  // A coroutine has no ambient trace context (it may resume on any thread): the transaction below runs
  // without a co_await, so it gets one for exactly that stretch, and lib/sql makes it a span of the
  // request's trace. On the storage pool when there is one (a network database: lib/service).
  auto ran = co_await service::run_on_storage(storage_, [&] {
    std::optional<obs::ContextScope> scope;
    if (auto parent = obs::TraceContext::parse(ctx.traceparent)) scope.emplace(tracer_, *parent);
    return repository_.place(OrderPlaced{std::move(order)}, ctx.traceparent, commands,
                             saga ? &*saga : nullptr);
  });
  if (!ran) co_return service::storage_saturated();
  auto& placed = *ran;
  if (placed && saga) ticket.placed();  // its saga is in flight now: the place stays taken until it ends
  co_return std::move(placed);
}

Result<Saga> OrderService::saga(std::string_view id) {
  MERCATO_ASSIGN_OR_RETURN(auto saga, repository_.find_saga(id));
  if (!saga) {
    MERCATO_RETURN_IF_ERROR(repository_.find(id));
    return Error::not_found("order " + std::string(id) + " has no saga");
  }
  return std::move(*saga);
}

Result<Written> OrderService::cancel(std::string_view id, std::string reason,
                                     const std::string& traceparent) {
  if (sagas_ != nullptr) {
    // A running saga cancels by compensating what it has done (docs/saga.md).
    MERCATO_ASSIGN_OR_RETURN(auto cancelled, sagas_->cancel(id, reason, traceparent));
    if (cancelled) return std::move(*cancelled);
  }
  return repository_.update(
      id, [&](const Order& o) { return order::cancel(o, reason, CancelledBy::kCustomer, now_utc()); },
      traceparent);
}

}  // namespace mercato::order
