// OrderRepository on the order service's own SQLite file.
//
// Thread-safety: thread-safe (each call borrows the database's connection).
#pragma once

#include "app/ports.hpp"
#include "mercato/sqlite/sqlite.hpp"

namespace mercato::order {

class SqliteOrderRepository final : public OrderRepository {
 public:
  // Applies the schema migrations; throws std::runtime_error if they fail (start-up only).
  explicit SqliteOrderRepository(sqlite::Database& db);

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
  sqlite::Database& db_;
};

}  // namespace mercato::order
