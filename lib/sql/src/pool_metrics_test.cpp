// The pool gauges of pool_metrics.hpp against a real SQLite database of one connection: a caller holding
// it is "in use", a second caller is "waiting" until the first lets go.
#include "mercato/sql/pool_metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "mercato/testing/testing.hpp"

namespace mercato::sql {
namespace {

using namespace std::chrono_literals;

class DatabasePoolMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("pool-metrics");
    db_ = Database::open(sqlite::DatabaseSettings{.path = (dir_ / "p.db").string(), .connections = 1});
    export_pool_metrics(*db_, registry_, {{"database", "test"}});
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A gauge's value as a scrape sees it (render() runs the collect callbacks first).
  double scraped(std::string_view name, std::string_view help) {
    (void)registry_.render();
    return registry_.gauge(name, help, {{"database", "test"}}).value();
  }
  double in_use() { return scraped("mercato_db_pool_in_use", "Database connections lent to a caller now"); }
  double waiting() {
    return scraped("mercato_db_pool_waiting", "Callers waiting for a database connection now");
  }

  std::filesystem::path dir_;
  obs::Registry registry_;
  std::unique_ptr<Database> db_;
};

TEST_F(DatabasePoolMetrics, SizeIsTheConfiguredConnections) {
  EXPECT_EQ(scraped("mercato_db_pool_connections", "Connections in the database pool"), 1.0);
  EXPECT_NE(registry_.render().find("mercato_db_pool_connections{database=\"test\"} 1"), std::string::npos);
}

TEST_F(DatabasePoolMetrics, CountsTheHolderAndTheCallerWaitingBehindIt) {
  EXPECT_EQ(in_use(), 0.0);
  EXPECT_EQ(waiting(), 0.0);
  std::mutex m;
  std::condition_variable cv;
  bool holding = false;
  bool release = false;
  std::thread holder([&] {
    db_->with([&](Connection&) {
      std::unique_lock lock(m);
      holding = true;
      cv.notify_all();
      cv.wait_for(lock, 20s, [&] { return release; });
    });
  });
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return holding; }));
  }
  EXPECT_EQ(in_use(), 1.0);
  std::thread second([&] { db_->with([](Connection&) {}); });
  // The second caller blocks in the pool; wait (bounded) until the gauge shows it.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (waiting() != 1.0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(waiting(), 1.0);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  holder.join();
  second.join();
  EXPECT_EQ(in_use(), 0.0);
  EXPECT_EQ(waiting(), 0.0);
}

TEST_F(DatabasePoolMetrics, ACallerThatThrowsIsNoLongerCounted) {
  EXPECT_THROW(db_->with([](Connection&) { throw std::runtime_error("boom"); }), std::runtime_error);
  EXPECT_EQ(in_use(), 0.0);
  EXPECT_EQ(waiting(), 0.0);
}

}  // namespace
}  // namespace mercato::sql
