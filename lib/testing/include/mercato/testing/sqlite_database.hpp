// A SQLite database of one test's own, in a new temporary directory removed with it, and the events its
// outbox holds. Use-case tests run a service's one SQL repository on it, as the order service's do:
// there is no in-memory copy of a repository to keep in step with the SQL one
// (docs/adr/0010-sql-layer.md).
//
//   testing::SqliteDatabase db("payment");
//   SqlPaymentRepository repository(db.get());
//   PaymentService service(repository, processor);
//   ... run a use case ...
//   EXPECT_EQ(db.outbox().size(), 1U);  // what it published
//
// Thread-safety: the database is thread-safe (sql::Database); the object belongs to one test.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "mercato/events/event.hpp"
#include "mercato/events/store.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::testing {

class SqliteDatabase {
 public:
  // A new file <tmp>/mercato-<name>-<random>/<name>.db with `connections` connections (more than one
  // lets concurrent calls overlap rather than queue). Throws when it cannot be created.
  explicit SqliteDatabase(std::string_view name, std::size_t connections = 1);
  // Closes the database and removes its directory.
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  sql::Database& get() noexcept { return *db_; }
  // The events appended to the outbox and not yet sent, in the order they were committed.
  std::vector<events::CloudEvent> outbox();

 private:
  std::filesystem::path dir_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<events::EventStore> store_;
};

}  // namespace mercato::testing
