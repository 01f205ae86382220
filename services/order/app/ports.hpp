// What the order use cases need from the outside world, as small interfaces: the order store, and the
// two services an order is checked against (users for the customer, inventory for prices). gRPC and
// HTTP adapters implement the latter in adapters/; tests use fakes.
//
// Thread-safety: implementations are called from the I/O threads; the awaitable ones must be awaited
// on an IoPool worker.
#pragma once

#include <algorithm>
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
#include "domain/order_history.hpp"
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
  bool saga_changed = false;
  std::vector<OrderEvent> history;         // appended to the order's stream (and so published)
  std::vector<events::CloudEvent> events;  // commands and announcements: to the outbox only
  std::string traceparent;                 // the trace the new history events continue (the answer's)
};
using SagaStep = std::function<Result<SagaChange>(const Order&, Saga&)>;
// An event a consumer handles: recorded in the inbox with the effect.
struct Handled {
  std::string consumer;
  std::string event_id;
};

// A command on one order: the events it adds, decided from the order's current state (none: nothing
// to do). An error refuses the command.
using Decide = std::function<Result<std::vector<OrderEvent>>(const Order&)>;

// The order after a write, and the stream position the write reached (0 when it added nothing): a
// query that waits for that position reads its own write (read-your-writes).
struct Written {
  Order order;
  std::int64_t position = 0;
};

struct Page {
  std::vector<Order> orders;
  bool has_more = false;
};

// The order's stream as stored: each event with its version, position and time.
struct HistoryEntry {
  std::int64_t version = 0;
  std::int64_t position = 0;
  SystemTime recorded_at{};
  events::CloudEvent event;  // upcast to the current version of its type
};

// The write side of orders: each order is a stream of events (domain/order_history.hpp) in the order
// service's database; its state is the fold of its stream, from a snapshot kept every few events.
class OrderRepository {
 public:
  virtual ~OrderRepository() = default;
  // Begins the order's stream with `placed` (its first event carries `traceparent`), stores its saga
  // when given and appends `outgoing` (the saga's first command) to the outbox, in one transaction.
  virtual Result<Written> place(const OrderPlaced& placed, const std::string& traceparent,
                                std::span<const events::CloudEvent> outgoing = {},
                                const Saga* saga = nullptr) = 0;
  // The order now, or as it was at `at_version` (kNotFound for a version it never had).
  virtual Result<Order> find(std::string_view id, std::optional<std::int64_t> at_version = std::nullopt) = 0;
  // The order's stream, oldest first (kNotFound when there is no such order).
  virtual Result<std::vector<HistoryEntry>> history(std::string_view id) = 0;
  // Every order, oldest first (for operators: ./mercato check).
  virtual Result<Page> list_all(std::int64_t offset, std::int64_t limit) = 0;
  // Lets `decide` choose the events a command adds to the order, and appends them at the version it
  // decided on. When another change came first (a version conflict) it reads the order again and lets
  // `decide` choose again, a bounded number of times (then kUnavailable); an error from `decide` is
  // returned as it is (e.g. kConflict: the command no longer applies).
  // The events appended carry `traceparent` (the command's trace).
  virtual Result<Written> update(std::string_view id, const Decide& decide,
                                 const std::string& traceparent = {}) = 0;
  virtual Result<void> ping() = 0;

  // The order's saga; nullopt when it has none (placed without one, or before sagas existed).
  virtual Result<std::optional<Saga>> find_saga(std::string_view order_id) = 0;
  // One transaction: records `handled` in the inbox when given (a duplicate returns false and does
  // nothing else), reads the order and its saga, lets `step` decide, and writes back what it changed:
  // the saga, the order's new events, and the outgoing events. kNotFound when the order has no saga
  // (after recording `handled`).
  virtual Result<bool> with_saga(std::string_view order_id, const std::optional<Handled>& handled,
                                 const SagaStep& step) = 0;
  // Orders whose saga has a deadline at or before `now`, oldest deadline first.
  virtual Result<std::vector<std::string>> sagas_due(SystemTime now, std::size_t limit) = 0;
  // How many sagas are not finished (the backlog admission control bounds): read from the index of
  // sagas with a deadline, so it costs what the backlog is, not what every order ever placed is.
  virtual Result<std::int64_t> count_running_sagas() = 0;
};

// ---- The read side (CQRS): read models a projector keeps from the order streams (ADR 0015). ----

// Where a page of a customer's orders ends: the newest-first order is (created_at, position of the
// order's first event), both descending, so a page boundary stays put while new orders arrive.
struct Cursor {
  std::int64_t created_at_ms = 0;
  std::int64_t position = 0;
  friend bool operator==(const Cursor&, const Cursor&) = default;
};

struct SummaryQuery {
  std::string customer_id;  // "": every customer's orders (an admin's list)
  std::optional<Status> status;
  std::optional<SystemTime> from;  // created at or after
  std::optional<SystemTime> to;    // created before
  std::optional<Cursor> after;     // the previous page's next cursor
  std::int64_t limit = 20;
};

// An order as the list shows it.
struct OrderSummary {
  std::string id;
  std::string customer_id;
  Status status = Status::kPending;
  std::int64_t total_cents = 0;
  std::int64_t item_count = 0;  // units over every line
  std::string reason;
  CancelledBy cancelled_by = CancelledBy::kUnknown;
  SystemTime created_at{};
  SystemTime updated_at{};
  std::int64_t version = 0;
  friend bool operator==(const OrderSummary&, const OrderSummary&) = default;
};

struct SummaryPage {
  std::vector<OrderSummary> orders;
  std::optional<Cursor> next;  // nullopt on the last page
};

// Confirmed sales of one product on one day (UTC, the day of confirmation).
struct SalesRow {
  std::string day;  // YYYY-MM-DD
  std::string product_id;
  std::int64_t units = 0;
  std::int64_t cents = 0;
  std::int64_t orders = 0;
  friend bool operator==(const SalesRow&, const SalesRow&) = default;
};

struct ProjectionStatus {
  std::string name;
  std::int64_t generation = 0;
  std::int64_t position = 0;  // the last stream position applied
  std::int64_t head = 0;      // the newest stream position
  std::int64_t lag_events = 0;
  double lag_seconds = 0;                  // age of the oldest event not yet applied
  std::optional<std::int64_t> rebuilding;  // a rebuild's position, while one runs
};

class OrderReadModels {
 public:
  virtual ~OrderReadModels() = default;
  // What commits of the streams these models project raise events::outbox_signal with.
  virtual const void* change_signal() const noexcept = 0;
  // The projections' names: "order_summaries" and "sales_daily".
  static const std::vector<std::string>& names() {
    static const std::vector<std::string> kNames = {"order_summaries", "sales_daily"};
    return kNames;
  }
  static bool is_projection(std::string_view name) {
    return std::find(names().begin(), names().end(), name) != names().end();
  }
  // The answer for a name that is none of names().
  static Error unknown_projection(std::string_view name) {
    return Error::not_found("no projection is named " + std::string(name) +
                            " (order_summaries, sales_daily)");
  }
  // Applies the stream events after each projection's position, at most `batch` per projection and
  // transaction (the read models and the checkpoint commit together); returns how many it applied.
  virtual Result<std::size_t> catch_up(std::size_t batch) = 0;
  // The position `projection` has applied (kNotFound for an unknown name).
  virtual Result<std::int64_t> position(std::string_view projection) = 0;
  // The newest position of the streams (what any write has reached so far).
  virtual Result<std::int64_t> head() = 0;
  virtual Result<SummaryPage> summaries(const SummaryQuery& query) = 0;
  // Days from_day..to_day inclusive (YYYY-MM-DD), by day then product.
  virtual Result<std::vector<SalesRow>> sales(const std::string& from_day, const std::string& to_day) = 0;
  virtual Result<std::vector<ProjectionStatus>> status() = 0;
  // Replays every stream into a fresh generation of `projection` while writes go on, and switches
  // queries to it in the transaction that catches up with the head; blocks until done. kConflict while
  // another rebuild of it runs in this process.
  virtual Result<ProjectionStatus> rebuild(std::string_view projection) = 0;
};

}  // namespace mercato::order
