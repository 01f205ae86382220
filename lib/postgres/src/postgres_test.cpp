// Against the real PostgreSQL server that ./mercato test starts (MERCATO_TEST_POSTGRES_URL); each test
// works in a schema of its own.
#include "mercato/postgres/postgres.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::postgres {
namespace {

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::backend_url("MERCATO_TEST_POSTGRES_URL");
    if (base_.empty()) {
      if (testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
      GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
    }
    schema_ = "t_" + random_hex(6);
    auto admin = Database::open({.url = base_, .connections = 1});
    ASSERT_TRUE(admin->with([&](Connection& c) { return c.exec("CREATE SCHEMA " + schema_); }));
  }
  void TearDown() override {
    if (schema_.empty()) return;
    auto admin = Database::open({.url = base_, .connections = 1});
    (void)admin->with([&](Connection& c) { return c.exec("DROP SCHEMA " + schema_ + " CASCADE"); });
  }
  std::unique_ptr<Database> open(std::size_t connections = 2) {
    return Database::open({.url = base_ + (base_.find('?') == std::string::npos ? "?" : "&") +
                                  "options=-csearch_path%3D" + schema_,
                           .connections = connections});
  }

  std::string base_;
  std::string schema_;
};

const std::vector<Migration> kMigrations = {
    {1, "items", "CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)"},
    {2, "unique n", "CREATE UNIQUE INDEX items_n ON items(n)"},
};

TEST_F(PostgresTest, MigratesOnce) {
  auto db = open();
  ASSERT_TRUE(db->migrate("test", kMigrations));
  ASSERT_TRUE(db->migrate("test", kMigrations));
  auto version =
      db->with([](Connection& c) { return c.query("SELECT MAX(version) FROM schema_migrations"); });
  ASSERT_TRUE(version);
  EXPECT_EQ(version->integer(0, 0), 2);
  EXPECT_FALSE(db->migrate("test", {kMigrations[0]})) << "a schema newer than the build must be refused";
}

TEST_F(PostgresTest, ParametersRoundTripIncludingNullAndHostileText) {
  auto db = open();
  ASSERT_TRUE(db->migrate("test", kMigrations));
  std::string hostile = "x'); DROP TABLE items; --";
  db->with([&](Connection& c) {
    EXPECT_TRUE(c.query("INSERT INTO items(id, n, note) VALUES ($1, $2, $3)",
                        {hostile, std::int64_t{7}, std::nullopt}));
    auto rows = c.query("SELECT id, n, note FROM items WHERE id = $1", {hostile});
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1);
    EXPECT_EQ(rows->text(0, 0), hostile);
    EXPECT_EQ(rows->integer(0, 1), 7);
    EXPECT_TRUE(rows->is_null(0, 2));
  });
}

TEST_F(PostgresTest, UniqueViolationReportsSqlstate) {
  auto db = open();
  ASSERT_TRUE(db->migrate("test", kMigrations));
  db->with([](Connection& c) {
    EXPECT_TRUE(c.query("INSERT INTO items(id, n) VALUES ($1, $2)", {"a", std::int64_t{1}}));
    auto dup = c.query("INSERT INTO items(id, n) VALUES ($1, $2)", {"b", std::int64_t{1}});
    EXPECT_FALSE(dup);
    EXPECT_EQ(c.last_sqlstate(), kUniqueViolation);
  });
}

TEST_F(PostgresTest, OpenTransactionIsRolledBackWhenLeaseEnds) {
  auto db = open(1);
  ASSERT_TRUE(db->migrate("test", kMigrations));
  db->with([](Connection& c) {
    EXPECT_TRUE(c.begin());
    EXPECT_TRUE(c.query("INSERT INTO items(id, n) VALUES ($1, $2)", {"x", std::int64_t{5}}));
  });
  auto count = db->with([](Connection& c) { return c.query("SELECT count(*) FROM items"); });
  ASSERT_TRUE(count);
  EXPECT_EQ(count->integer(0, 0), 0);
}

// PostgreSQL answers COMMIT after a failed statement with "ROLLBACK" and no error; commit() says it.
TEST_F(PostgresTest, CommittingAFailedTransactionIsAnError) {
  auto db = open(1);
  ASSERT_TRUE(db->migrate("test", kMigrations));
  db->with([](Connection& c) {
    ASSERT_TRUE(c.begin());
    EXPECT_TRUE(c.query("INSERT INTO items(id, n) VALUES ($1, $2)", {"kept?", std::int64_t{1}}));
    EXPECT_FALSE(c.query("INSERT INTO items(id, n) VALUES ($1, $2)", {"dup", std::int64_t{1}}));
    auto committed = c.commit();
    ASSERT_FALSE(committed) << "a failed transaction was reported committed";
    EXPECT_NE(committed.error().message.find("rolled back"), std::string::npos) << committed.error().message;
    EXPECT_FALSE(c.in_transaction());
  });
  auto count = db->with([](Connection& c) { return c.query("SELECT count(*) FROM items"); });
  ASSERT_TRUE(count);
  EXPECT_EQ(count->integer(0, 0), 0);
}

TEST_F(PostgresTest, ConcurrentWritersAllLand) {
  auto db = open(4);
  ASSERT_TRUE(db->migrate("test", kMigrations));
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        db->with([&](Connection& c) {
          EXPECT_TRUE(c.query("INSERT INTO items(id, n) VALUES ($1, $2)",
                              {std::to_string(t) + "-" + std::to_string(i), std::int64_t{t * 100 + i}}));
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  auto count = db->with([](Connection& c) { return c.query("SELECT count(*) FROM items"); });
  EXPECT_EQ(count->integer(0, 0), 100);
}

TEST(PostgresOpen, UnreachableServerThrowsAtStart) {
  EXPECT_THROW(Database::open({.url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"}),
               std::runtime_error);
}

TEST(PostgresUrl, RecognizesSchemes) {
  EXPECT_TRUE(is_postgres_url("postgres://u@h/db"));
  EXPECT_TRUE(is_postgres_url("postgresql://u@h/db"));
  EXPECT_FALSE(is_postgres_url("var/user/user.db"));
  EXPECT_FALSE(is_postgres_url("sqlite:///x"));
}

}  // namespace
}  // namespace mercato::postgres
