#include "domain/order_history.hpp"

namespace mercato::order {
namespace {

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

bool open(Status s) noexcept { return s == Status::kPending || s == Status::kPendingPayment; }

Error cannot_follow(const Order& order, std::string_view event) {
  return Error::internal("order " + order.id + " at version " + std::to_string(order.version) + " (" +
                         std::string(to_string(order.status)) + ") cannot take " + std::string(event));
}

}  // namespace

Result<void> evolve(Order& order, const OrderEvent& event) {
  auto placed = order.version > 0;
  auto r = std::visit(Overloaded{
                          [&](const OrderPlaced& e) -> Result<void> {
                            if (placed) return cannot_follow(order, "OrderPlaced");
                            order = e.order;
                            order.status = Status::kPending;
                            order.reason.clear();
                            order.cancelled_by = CancelledBy::kUnknown;
                            order.updated_at = order.created_at;
                            return {};
                          },
                          [&](const PaymentPending& e) -> Result<void> {
                            if (!placed || order.status != Status::kPending)
                              return cannot_follow(order, "PaymentPending");
                            order.status = Status::kPendingPayment;
                            order.updated_at = e.at;
                            return {};
                          },
                          [&](const OrderConfirmed& e) -> Result<void> {
                            if (!placed || !open(order.status)) return cannot_follow(order, "OrderConfirmed");
                            order.status = Status::kConfirmed;
                            order.updated_at = e.at;
                            return {};
                          },
                          [&](const OrderCancelled& e) -> Result<void> {
                            if (!placed || !open(order.status)) return cannot_follow(order, "OrderCancelled");
                            order.status = Status::kCancelled;
                            order.reason = e.reason;
                            order.cancelled_by = e.by;
                            order.updated_at = e.at;
                            return {};
                          },
                      },
                      event);
  if (r) ++order.version;
  return r;
}

Result<Order> fold(std::span<const OrderEvent> events, Order from) {
  for (const auto& e : events) MERCATO_RETURN_IF_ERROR(evolve(from, e));
  return from;
}

Result<std::vector<OrderEvent>> cancel(const Order& order, std::string reason, CancelledBy by,
                                       SystemTime now) {
  switch (order.status) {
    case Status::kCancelled:
      return std::vector<OrderEvent>{};
    case Status::kConfirmed:
      return Error::conflict("order " + order.id + " is confirmed and can no longer be cancelled");
    case Status::kPending:
    case Status::kPendingPayment:
      break;
  }
  return std::vector<OrderEvent>{OrderCancelled{std::move(reason), by, now}};
}

std::vector<OrderEvent> settle(const Order& order, Status target, const std::string& reason, SystemTime now) {
  if (!open(order.status) || order.status == target) return {};
  switch (target) {
    case Status::kCancelled:
      return {OrderCancelled{reason, CancelledBy::kSaga, now}};
    case Status::kConfirmed:
      return {OrderConfirmed{now}};
    case Status::kPendingPayment:
      if (order.status == Status::kPending) return {PaymentPending{now}};
      return {};
    case Status::kPending:
      return {};
  }
  return {};
}

}  // namespace mercato::order
