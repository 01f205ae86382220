#include "mercato/testing/sqlite_database.hpp"

#include <stdexcept>
#include <string>

#include "mercato/core/ids.hpp"

namespace mercato::testing {

SqliteDatabase::SqliteDatabase(std::string_view name, std::size_t connections)
    : dir_(std::filesystem::temp_directory_path() / ("mercato-" + std::string(name) + "-" + random_hex(8))) {
  db_ = sql::Database::open(sqlite::DatabaseSettings{.path = (dir_ / (std::string(name) + ".db")).string(),
                                                     .connections = connections});
  store_ = events::open_store(*db_);
}

SqliteDatabase::~SqliteDatabase() {
  store_.reset();
  db_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::vector<events::CloudEvent> SqliteDatabase::outbox() {
  auto rows = store_->unsent(1'000'000);
  if (!rows) throw std::runtime_error("reading the outbox: " + rows.error().message);
  std::vector<events::CloudEvent> out;
  out.reserve(rows->size());
  for (auto& row : *rows) out.push_back(std::move(row.event));
  return out;
}

}  // namespace mercato::testing
