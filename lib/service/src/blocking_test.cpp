// The blocking pool's group commit: calls queued behind a running one run as one group, resume only
// after the group's commit, and get nullopt when it is not kept; on a real SQLite database one call's
// failure undoes only its own writes.
#include "mercato/service/blocking.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mercato/http/io_pool.hpp"
#include "mercato/sql/sql.hpp"
#include "mercato/testing/gate.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::service {
namespace {

using namespace std::chrono_literals;
using testing::Gate;

// A group function that counts its groups and the calls in each, and says whether a call runs in one.
struct Recorder {
  std::mutex mutex;
  std::vector<int> sizes;  // calls per group, in order
  int current = -1;        // calls so far in the running group; -1 outside one
  Result<void> outcome;    // what every group returns

  std::function<Result<void>(const std::function<void()>&)> group() {
    return [this](const std::function<void()>& fn) -> Result<void> {
      {
        std::lock_guard lock(mutex);
        current = 0;
      }
      fn();
      std::lock_guard lock(mutex);
      sizes.push_back(current);
      current = -1;
      return outcome;
    };
  }
  // Called by a call's work: whether it runs inside a group (and counts it there).
  bool note_call() {
    std::lock_guard lock(mutex);
    if (current < 0) return false;
    ++current;
    return true;
  }
};

class BlockingPoolTest : public ::testing::Test {
 protected:
  BlockingPoolTest() { io_.start(); }
  ~BlockingPoolTest() override {
    io_.stop();
    io_.join();
  }

  // pool.run(fn) from the I/O thread, as a handler would call it.
  template <typename F>
  auto run(BlockingPool& pool, F fn) {
    return boost::asio::co_spawn(io_.context(0), pool.run(std::move(fn)), boost::asio::use_future);
  }
  // Waits (bounded) until `n` calls are queued or running.
  static bool queued(const BlockingPool& pool, std::size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (pool.waiting() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    return pool.waiting() == n;
  }

  // A first call that waits on `gate` (alone in the queue, so alone), then `n` calls queued behind it
  // that each say whether they ran inside a group; returns once all are in the pool, the gate still shut.
  struct Queued {
    std::future<std::optional<bool>> first;
    std::vector<std::future<std::optional<bool>>> behind;
  };
  Queued queue_behind_a_gate(BlockingPool& pool, Gate& gate, Recorder& recorder, int n) {
    Queued out;
    out.first = run(pool, [&] {
      gate.wait();
      return recorder.note_call();
    });
    EXPECT_TRUE(gate.wait_for_waiters(1, 5s));
    out.behind.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out.behind.push_back(run(pool, [&] { return recorder.note_call(); }));
    EXPECT_TRUE(queued(pool, static_cast<std::size_t>(n) + 1));
    return out;
  }

  http::IoPool io_{1};
};

TEST_F(BlockingPoolTest, CallsQueuedBehindARunningOneRunAsOneGroup) {
  Recorder recorder;
  BlockingPool pool({.threads = 1, .max_waiting = 16, .group = recorder.group(), .max_group = 64});
  obs::Counter groups;
  obs::Counter grouped;
  pool.meter_groups(groups, grouped);
  Gate gate;
  auto [first, queued_calls] = queue_behind_a_gate(pool, gate, recorder, 5);
  gate.open();
  auto alone = first.get();
  ASSERT_TRUE(alone.has_value());
  EXPECT_FALSE(*alone) << "the call that was alone in the queue ran in a group";
  for (auto& f : queued_calls) {
    auto in_group = f.get();
    ASSERT_TRUE(in_group.has_value());
    EXPECT_TRUE(*in_group);
  }
  EXPECT_EQ(recorder.sizes, std::vector<int>{5});
  EXPECT_EQ(groups.value(), 1U);
  EXPECT_EQ(grouped.value(), 5U);
  EXPECT_EQ(pool.waiting(), 0U);
}

TEST_F(BlockingPoolTest, ACallResumesOnlyAfterItsGroupsCommit) {
  Gate running;
  Gate commit;
  std::atomic<bool> committed{false};
  auto group = [&](const std::function<void()>& fn) -> Result<void> {
    fn();
    commit.wait();  // the calls are done; their group's commit is not
    committed = true;
    return {};
  };
  BlockingPool pool({.threads = 1, .max_waiting = 16, .group = group});
  auto first = run(pool, [&] {
    running.wait();
    return 0;
  });
  ASSERT_TRUE(running.wait_for_waiters(1, 5s));
  auto a = run(pool, [&] { return 1; });
  auto b = run(pool, [&] { return 2; });
  ASSERT_TRUE(queued(pool, 3));
  running.open();
  EXPECT_EQ(first.get(), 0);
  ASSERT_TRUE(commit.wait_for_waiters(1, 5s)) << "the two queued calls never ran as a group";
  EXPECT_EQ(a.wait_for(200ms), std::future_status::timeout) << "a call resumed before its group's commit";
  commit.open();
  EXPECT_EQ(a.get(), 1);
  EXPECT_EQ(b.get(), 2);
  EXPECT_TRUE(committed);
}

TEST_F(BlockingPoolTest, AGroupWhoseCommitFailsGivesEveryCallOfItNullopt) {
  Recorder recorder;
  recorder.outcome = Error::unavailable("disk I/O error");
  BlockingPool pool({.threads = 1, .max_waiting = 16, .group = recorder.group()});
  Gate gate;
  auto first = run(pool, [&] {
    gate.wait();
    return 1;
  });
  ASSERT_TRUE(gate.wait_for_waiters(1, 5s));
  auto a = run(pool, [] { return 2; });
  auto b = run(pool, [] { return 3; });
  ASSERT_TRUE(queued(pool, 3));
  gate.open();
  EXPECT_EQ(first.get(), 1) << "a call run alone does not depend on any group";
  EXPECT_EQ(a.get(), std::nullopt);
  EXPECT_EQ(b.get(), std::nullopt);
  EXPECT_EQ(recorder.sizes, std::vector<int>{0});  // the calls above count nothing: one group of them ran
}

TEST_F(BlockingPoolTest, AnExceptionReachesItsOwnCallerAndTheRestOfTheGroupIsKept) {
  Recorder recorder;
  BlockingPool pool({.threads = 1, .max_waiting = 16, .group = recorder.group()});
  Gate gate;
  auto first = run(pool, [&] {
    gate.wait();
    return 0;
  });
  ASSERT_TRUE(gate.wait_for_waiters(1, 5s));
  auto good = run(pool, [&] { return recorder.note_call() ? 1 : -1; });
  auto bad = run(pool, [&]() -> int {
    recorder.note_call();
    throw std::runtime_error("boom");
  });
  auto after = run(pool, [&] { return recorder.note_call() ? 3 : -1; });
  ASSERT_TRUE(queued(pool, 4));
  gate.open();
  EXPECT_EQ(first.get(), 0);
  EXPECT_EQ(good.get(), 1);
  EXPECT_THROW(bad.get(), std::runtime_error);
  EXPECT_EQ(after.get(), 3);
  EXPECT_EQ(recorder.sizes, std::vector<int>{3});
}

TEST_F(BlockingPoolTest, AGroupHoldsAtMostMaxGroupCalls) {
  Recorder recorder;
  BlockingPool pool({.threads = 1, .max_waiting = 16, .group = recorder.group(), .max_group = 2});
  Gate gate;
  auto [first, calls] = queue_behind_a_gate(pool, gate, recorder, 5);
  gate.open();
  first.get();
  int in_groups = 0;
  for (auto& f : calls) in_groups += *f.get() ? 1 : 0;
  EXPECT_EQ(recorder.sizes, (std::vector<int>{2, 2}));
  EXPECT_EQ(in_groups, 4) << "the fifth queued call, left alone, runs alone";
}

TEST_F(BlockingPoolTest, WithoutAGroupFunctionEveryCallRunsAlone) {
  BlockingPool pool({.threads = 1, .max_waiting = 16});
  obs::Counter groups;
  obs::Counter grouped;
  pool.meter_groups(groups, grouped);
  Gate gate;
  auto first = run(pool, [&] {
    gate.wait();
    return 0;
  });
  ASSERT_TRUE(gate.wait_for_waiters(1, 5s));
  std::vector<std::future<std::optional<int>>> calls;
  for (int i = 1; i <= 4; ++i) calls.push_back(run(pool, [i] { return i; }));
  ASSERT_TRUE(queued(pool, 5));
  gate.open();
  EXPECT_EQ(first.get(), 0);
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(calls[i - 1].get(), i);
  EXPECT_EQ(groups.value(), 0U);
  EXPECT_EQ(grouped.value(), 0U);
}

TEST_F(BlockingPoolTest, OnSqliteAFailedCallUndoesOnlyItsOwnWritesInTheGroup) {
  testing::SqliteDatabase db("blocking");
  sql::Database& database = db.get();
  ASSERT_TRUE(database.with([](sql::Connection& c) {
    return c.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, note TEXT NOT NULL)");
  }));
  BlockingPool pool({.threads = 1, .max_waiting = 16, .group = [&database](const std::function<void()>& fn) {
                       return database.group(fn);
                     }});
  obs::Counter groups;
  obs::Counter grouped;
  pool.meter_groups(groups, grouped);
  // A call as a repository writes: its own transaction of two statements.
  auto insert_two = [&database](int id) {
    return database.with([id](sql::Connection& c) -> Result<void> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      MERCATO_RETURN_IF_ERROR(c.query("INSERT INTO items (id, note) VALUES (?, 'a')", {id * 10}));
      MERCATO_RETURN_IF_ERROR(c.query("INSERT INTO items (id, note) VALUES (?, 'b')", {id * 10 + 1}));
      return c.commit();
    });
  };
  Gate gate;
  auto first = run(pool, [&] {
    gate.wait();
    return insert_two(1);
  });
  ASSERT_TRUE(gate.wait_for_waiters(1, 5s));
  auto second = run(pool, [&] { return insert_two(2); });
  // Its second row takes an id the first call wrote: its first row must go too.
  auto clashing = run(pool, [&] {
    return database.with([](sql::Connection& c) -> Result<void> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      MERCATO_RETURN_IF_ERROR(c.query("INSERT INTO items (id, note) VALUES (99, 'c')", {}));
      MERCATO_RETURN_IF_ERROR(c.query("INSERT INTO items (id, note) VALUES (10, 'c')", {}));
      return c.commit();
    });
  });
  // A readiness check between them: it asks through the group's connection (on SQLite the one it holds).
  auto ping = run(pool, [&] { return database.ping(); });
  auto third = run(pool, [&] { return insert_two(3); });
  ASSERT_TRUE(queued(pool, 5));
  gate.open();
  auto a = first.get();
  auto b = second.get();
  auto c = clashing.get();
  auto p = ping.get();
  auto d = third.get();
  ASSERT_TRUE(a && b && c && p && d) << "a call got nullopt: its group was not kept";
  EXPECT_TRUE(*p);
  EXPECT_TRUE(*a);
  EXPECT_TRUE(*b);
  EXPECT_FALSE(*c) << "a duplicate primary key was accepted";
  EXPECT_TRUE(*d);
  EXPECT_EQ(groups.value(), 1U);
  EXPECT_EQ(grouped.value(), 4U);
  auto ids = database.with([](sql::Connection& conn) -> Result<std::vector<std::int64_t>> {
    MERCATO_ASSIGN_OR_RETURN(auto rows, conn.query("SELECT id FROM items ORDER BY id", {}));
    std::vector<std::int64_t> out;
    for (const auto& row : rows) out.push_back(row.integer(0));
    return out;
  });
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<std::int64_t>{10, 11, 20, 21, 30, 31}));
}

}  // namespace
}  // namespace mercato::service
