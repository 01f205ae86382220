// What the order use cases need from the outside world, as small interfaces: the order store, and the
// two services an order is checked against (users for the customer, inventory for prices). gRPC and
// HTTP adapters implement the latter in adapters/; tests use fakes.
//
// Thread-safety: implementations are called from the I/O threads; the awaitable ones must be awaited
// on an IoPool worker.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/order.hpp"
#include "domain/saga.hpp"
#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::order {

// Who asked, passed on to the services we call so one request keeps one id, trace and deadline.
struct CallContext {
  std::string request_id;
  std::string traceparent;
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

class CustomerDirectory {
 public:
  virtual ~CustomerDirectory() = default;
  // true when the customer exists, false when the user service says 404; an Error when it cannot tell.
  virtual boost::asio::awaitable<Result<bool>> exists(const std::string& customer_id,
                                                      const CallContext& ctx) = 0;
};

// Product id → current unit price in cents.
using Prices = std::unordered_map<std::string, std::int64_t>;

class Catalog {
 public:
  virtual ~Catalog() = default;
  // The current unit prices of `product_ids` (each once, at most 100: an order's lines); a product that
  // does not exist is absent from the answer.
  virtual boost::asio::awaitable<Result<Prices>> prices(std::vector<std::string> product_ids,
                                                        const CallContext& ctx) = 0;
};

// What one step of a saga changed, decided inside the repository's transaction.
struct SagaChange {
  bool order_changed = false;
  bool saga_changed = false;
  std::vector<events::CloudEvent> events;  // appended to the outbox
};
using SagaStep = std::function<Result<SagaChange>(Order&, Saga&)>;
// An event a consumer handles: recorded in the inbox with the effect.
struct Handled {
  std::string consumer;
  std::string event_id;
};

// The events a change of an order publishes (built from the changed order).
using EventsOf = std::function<std::vector<events::CloudEvent>(const Order&)>;

struct Page {
  std::vector<Order> orders;
  bool has_more = false;
};

class OrderRepository {
 public:
  virtual ~OrderRepository() = default;
  // Stores a new order (and its saga, when given) and appends `events` to the outbox, in one transaction.
  virtual Result<void> insert(const Order& order, std::span<const events::CloudEvent> events = {},
                              const Saga* saga = nullptr) = 0;
  virtual Result<Order> find(std::string_view id) = 0;
  // A customer's orders, newest first.
  virtual Result<Page> list_by_customer(std::string_view customer_id, std::int64_t offset,
                                        std::int64_t limit) = 0;
  // Every order, oldest first (for operators: ./mercato check).
  virtual Result<Page> list_all(std::int64_t offset, std::int64_t limit) = 0;
  // Reads the order, lets `mutate` change it and writes it back in one transaction when `mutate`
  // returns true. Errors from `mutate` abort the transaction and are returned. Only the status, reason
  // and updated_at of an order ever change; the rest is fixed when it is placed. When the order
  // changed, `events_of(order)` are appended to the outbox in the same transaction.
  virtual Result<Order> update(std::string_view id, const std::function<Result<bool>(Order&)>& mutate,
                               const EventsOf& events_of = {}) = 0;
  virtual Result<void> ping() = 0;

  // The order's saga; nullopt when it has none (placed without one, or before sagas existed).
  virtual Result<std::optional<Saga>> find_saga(std::string_view order_id) = 0;
  // One transaction: records `handled` in the inbox when given (a duplicate returns false and does
  // nothing else), reads the order and its saga, lets `step` decide, and writes back what it changed
  // with its events in the outbox. kNotFound when the order has no saga (after recording `handled`).
  virtual Result<bool> with_saga(std::string_view order_id, const std::optional<Handled>& handled,
                                 const SagaStep& step) = 0;
  // Orders whose saga has a deadline at or before `now`, oldest deadline first.
  virtual Result<std::vector<std::string>> sagas_due(SystemTime now, std::size_t limit) = 0;
};

}  // namespace mercato::order
