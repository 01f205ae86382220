#include "mercato/testing/backends.hpp"

#include <unistd.h>

#include "mercato/core/ids.hpp"
#include "mercato/postgres/postgres.hpp"

namespace mercato::testing {
namespace {

Result<void> run(const std::string& url, const std::string& sql) {
  try {
    auto db = postgres::Database::open({.url = url, .connections = 1});
    return db->with([&](postgres::Connection& c) { return c.exec(sql); });
  } catch (const std::exception& e) {
    return Error::unavailable(e.what());
  }
}

}  // namespace

PostgresSchema::PostgresSchema(std::string base_url, std::string_view prefix)
    : base_(std::move(base_url)),
      name_(std::string(prefix) + "_" + std::to_string(::getpid()) + "_" + random_hex(4)) {
  // The name is ours (letters, digits, '_'), never input: safe to place in the statement.
  if (auto r = run(base_, "CREATE SCHEMA " + name_); !r) error_ = r.error().message;
}

PostgresSchema::~PostgresSchema() {
  if (ok()) (void)run(base_, "DROP SCHEMA " + name_ + " CASCADE");
}

std::string PostgresSchema::url() const {
  return base_ + (base_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + name_;
}

}  // namespace mercato::testing
