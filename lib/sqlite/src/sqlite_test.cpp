#include "mercato/sqlite/sqlite.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

namespace mercato::sqlite {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mercato-sqlite-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "nested" / "test.db").string(); }

  std::filesystem::path dir_;
};

const std::vector<Migration> kMigrations = {
    {1, "create items", "CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)"},
    {2, "unique n", "CREATE UNIQUE INDEX items_n ON items(n)"},
};

TEST_F(SqliteTest, OpensInWalModeAndCreatesDirectories) {
  auto db = Database::open({.path = path()});
  auto mode = db->with([](Connection& c) {
    auto st = c.prepare("PRAGMA journal_mode");
    EXPECT_TRUE(*st.step());
    return st.text(0);
  });
  EXPECT_EQ(mode, "wal");
}

std::int64_t page_size_of(Database& db) {
  return db.with([](Connection& c) {
    auto st = c.prepare("PRAGMA page_size");
    EXPECT_TRUE(*st.step());
    return st.integer(0);
  });
}

TEST_F(SqliteTest, ANewDatabaseTakesThePageSizeItIsOpenedWithAndKeepsItAfterwards) {
  {
    auto db = Database::open({.path = path()});
    ASSERT_TRUE(db->migrate(kMigrations));
    EXPECT_EQ(page_size_of(*db), 2048);  // the default
  }
  // Reopened with another size: the file keeps the one it was made with (WAL mode cannot change it).
  auto again = Database::open({.path = path(), .page_size = 8192});
  EXPECT_EQ(page_size_of(*again), 2048);
  EXPECT_EQ(again->schema_version(), 2);
  auto other = Database::open({.path = (dir_ / "other.db").string(), .page_size = 8192});
  EXPECT_EQ(page_size_of(*other), 8192);
}

TEST_F(SqliteTest, APageSizeThatIsNotAPowerOfTwoIn512To65536IsRefused) {
  for (std::size_t bad : {0UL, 256UL, 3000UL, 131072UL}) {
    try {
      Database::open({.path = path(), .page_size = bad});
      ADD_FAILURE() << bad << ": accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("page size"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(std::filesystem::exists(path())) << "a refused setting created the file";
}

TEST_F(SqliteTest, SingleConnectionOwnsTheFileExclusively) {
  auto db = Database::open({.path = path(), .connections = 1});
  ASSERT_TRUE(db->migrate(kMigrations));
  // Another opener (another process, in production) cannot use the file while the owner has it.
  bool refused = false;
  try {
    auto other =
        Database::open({.path = path(), .connections = 1, .busy_timeout = std::chrono::milliseconds(50)});
    refused = !other->ping();
  } catch (const std::runtime_error&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  db.reset();  // the owner closes: the file is free again
  auto next = Database::open({.path = path(), .connections = 1});
  EXPECT_TRUE(next->ping());
  EXPECT_EQ(next->schema_version(), 2);
}

TEST_F(SqliteTest, MigratesOnceAndRecordsVersion) {
  auto db = Database::open({.path = path()});
  ASSERT_TRUE(db->migrate(kMigrations));
  EXPECT_EQ(db->schema_version(), 2);
  ASSERT_TRUE(db->migrate(kMigrations));  // a second run is a no-op
  EXPECT_EQ(db->schema_version(), 2);
}

TEST_F(SqliteTest, RefusesSchemaNewerThanBuild) {
  auto db = Database::open({.path = path()});
  ASSERT_TRUE(db->migrate(kMigrations));
  auto older = std::vector<Migration>{kMigrations[0]};
  EXPECT_FALSE(db->migrate(older));
}

TEST_F(SqliteTest, FailedMigrationLeavesNoTrace) {
  auto db = Database::open({.path = path()});
  std::vector<Migration> bad = {kMigrations[0], {2, "broken", "CREATE TABLE t (x); THIS IS NOT SQL"}};
  EXPECT_FALSE(db->migrate(bad));
  EXPECT_EQ(db->schema_version(), 1);
  auto has_t = db->with([](Connection& c) {
    auto st = c.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 't'");
    EXPECT_TRUE(*st.step());
    return st.integer(0);
  });
  EXPECT_EQ(has_t, 0);
}

TEST_F(SqliteTest, UniqueViolationIsReportedWithExtendedCode) {
  auto db = Database::open({.path = path()});
  ASSERT_TRUE(db->migrate(kMigrations));
  db->with([](Connection& c) {
    auto st = c.prepare("INSERT INTO items(id, n) VALUES (?1, ?2)");
    st.bind(1, "a");
    st.bind(2, std::int64_t{1});
    EXPECT_TRUE(st.run());
  });
  db->with([](Connection& c) {
    auto st = c.prepare("INSERT INTO items(id, n) VALUES (?1, ?2)");
    st.bind(1, "b");
    st.bind(2, std::int64_t{1});
    EXPECT_FALSE(st.run());
    EXPECT_EQ(c.last_error_code(), SQLITE_CONSTRAINT_UNIQUE);
  });
}

TEST_F(SqliteTest, OpenTransactionIsRolledBackWhenLeaseEnds) {
  auto db = Database::open({.path = path(), .connections = 1});
  ASSERT_TRUE(db->migrate(kMigrations));
  db->with([](Connection& c) {
    EXPECT_TRUE(c.begin_immediate());
    auto st = c.prepare("INSERT INTO items(id, n) VALUES ('x', 5)");
    EXPECT_TRUE(st.run());
    // no commit: the lease's end must roll back
  });
  auto count = db->with([](Connection& c) {
    auto st = c.prepare("SELECT count(*) FROM items");
    EXPECT_TRUE(*st.step());
    return st.integer(0);
  });
  EXPECT_EQ(count, 0);
}

TEST_F(SqliteTest, ConcurrentWritersAllSucceed) {
  auto db = Database::open({.path = path(), .connections = 4});
  ASSERT_TRUE(db->migrate(kMigrations));
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        db->with([&](Connection& c) {
          auto st = c.prepare("INSERT INTO items(id, n) VALUES (?1, ?2)");
          st.bind(1, std::to_string(t) + "-" + std::to_string(i));
          st.bind(2, std::int64_t{t * 1000 + i});
          EXPECT_TRUE(st.run());
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  auto count = db->with([](Connection& c) {
    auto st = c.prepare("SELECT count(*) FROM items");
    EXPECT_TRUE(*st.step());
    return st.integer(0);
  });
  EXPECT_EQ(count, 200);
}

}  // namespace
}  // namespace mercato::sqlite
