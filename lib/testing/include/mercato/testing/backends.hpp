// Real servers in tests: the address `./mercato test` exported for a server, and a PostgreSQL schema
// of the test's own.
//
//   TEST(Orders, OnPostgres) {
//     MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
//     testing::PostgresSchema schema(base, "orders");
//     ASSERT_TRUE(schema.ok()) << schema.error();
//     start_service({{"APP_DATABASE__URL", schema.url()}});
//
// Thread-safety: a PostgresSchema belongs to one test.
#pragma once

#include <string>
#include <string_view>

#include "mercato/testing/testing.hpp"

// Declares `var` with the server address from environment variable `env_name`. Without one the test
// is skipped — or fails when MERCATO_REQUIRE_BACKENDS=1 (./mercato test), so CI never passes a test
// that did not run.
// NOLINTBEGIN(bugprone-macro-parentheses): `var` is the name the macro declares
#define MERCATO_BACKEND_URL_OR_SKIP(var, env_name)                                             \
  auto var = ::mercato::testing::backend_url(env_name);                                        \
  if (var.empty()) {                                                                           \
    if (::mercato::testing::backends_required()) FAIL() << env_name << " is not set";          \
    GTEST_SKIP() << "no server for " << env_name << " (run the tests through ./mercato test)"; \
  }
// NOLINTEND(bugprone-macro-parentheses)

namespace mercato::testing {

class PostgresSchema {
 public:
  // Creates a uniquely named schema ("<prefix>_<pid>_<random>") on the server at `base_url`.
  explicit PostgresSchema(std::string base_url, std::string_view prefix = "t");
  // Drops the schema with everything in it.
  ~PostgresSchema();
  PostgresSchema(const PostgresSchema&) = delete;
  PostgresSchema& operator=(const PostgresSchema&) = delete;

  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  const std::string& name() const noexcept { return name_; }
  // `base_url` with this schema first on the search path.
  std::string url() const;

 private:
  std::string base_;
  std::string name_;
  std::string error_;
};

}  // namespace mercato::testing
