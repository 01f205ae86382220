// OrderRepository on the order service's own SQL database — SQLite (the default) or PostgreSQL, chosen by
// database.url (lib/storage) — written once over lib/sql and held to one contract test
// (order_repository_test.cpp).
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/ports.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::order {

class SqlOrderRepository final : public OrderRepository {
 public:
  // Applies the schema migrations; throws std::runtime_error if they fail (start-up only).
  explicit SqlOrderRepository(sql::Database& db);

  Result<void> insert(const Order& order, std::span<const events::CloudEvent> events,
                      const Saga* saga) override;
  Result<Order> find(std::string_view id) override;
  Result<Page> list_by_customer(std::string_view customer_id, std::int64_t offset,
                                std::int64_t limit) override;
  Result<Page> list_all(std::int64_t offset, std::int64_t limit) override;
  Result<Order> update(std::string_view id, const std::function<Result<bool>(Order&)>& mutate,
                       const EventsOf& events_of) override;
  Result<void> ping() override { return db_.ping(); }
  Result<std::optional<Saga>> find_saga(std::string_view order_id) override;
  Result<bool> with_saga(std::string_view order_id, const std::optional<Handled>& handled,
                         const SagaStep& step) override;
  Result<std::vector<std::string>> sagas_due(SystemTime now, std::size_t limit) override;

 private:
  Result<Page> page(std::string_view where_and_order, const sql::Params& params, std::int64_t limit);

  sql::Database& db_;
  // What orders a customer's orders placed in the same millisecond: SQLite's table has its rowid,
  // PostgreSQL's a `seq` column (migration 1 of each).
  std::string insertion_order_;
};

}  // namespace mercato::order
