// A service whose storage is a network database runs its synchronous routes on a storage pool
// (Context::storage_pool): a handler stuck in a slow query holds a pool thread, and the one I/O thread
// keeps answering; a full pool refuses with 503 at once. A real server on one I/O thread, real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>

#include "mercato/http/server.hpp"
#include "mercato/service/blocking.hpp"
#include "mercato/service/service.hpp"
#include "mercato/testing/context.hpp"
#include "mercato/testing/gate.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::service {
namespace {

using namespace std::chrono_literals;
using testing::Gate;

class StoragePoolTest : public ::testing::Test {
 protected:
  // Routes as a service's setup adds them, then what the host does after setup; `pool`: the storage
  // pool lib/storage would set for a network database (nullptr: SQLite, inline).
  void start(BlockingPool* pool) {
    if (pool != nullptr) context_.set_storage_pool(*pool);
    context_.router().get("/slow", [this](const http::Request&) {
      gate_.wait();
      return http::Response::json_text(200, R"({"slow":true})");
    });
    context_.router().get("/fast", [](const http::Request&) { return http::Response::json_text(200, "{}"); });
    offload_sync_routes(context_);
    add_standard_routes(context_);
    server_ = std::make_unique<http::Server>(io_, http::ServerSettings{}, std::move(context_.router()),
                                             test_.logger, test_.metrics);
    server_->start();
    io_.start();
    port_ = server_->port();
  }
  void TearDown() override {
    gate_.open();
    for (auto& f : pending_) f.wait();
    if (server_) {
      std::promise<void> stopped;
      server_->shutdown([&] { stopped.set_value(); });
      stopped.get_future().wait();
    }
    io_.stop();
    io_.join();
  }
  // A request in the background (a client waiting for its answer).
  std::shared_future<testing::HttpResult> send_async(const std::string& path) {
    auto f = std::async(std::launch::async, [this, path] {
               return testing::http(port_, "GET", path, {}, {}, 10s);
             }).share();
    pending_.push_back(f);
    return f;
  }

  testing::TestContext test_;
  Context& context_ = test_.context;
  http::IoPool& io_ = test_.io;
  Gate gate_;
  std::unique_ptr<http::Server> server_;
  std::uint16_t port_ = 0;
  std::vector<std::shared_future<testing::HttpResult>> pending_;
};

TEST_F(StoragePoolTest, AHandlerStuckInStorageLeavesTheIoThreadFree) {
  BlockingPool pool({.threads = 1, .max_waiting = 8});
  start(&pool);
  auto slow = send_async("/slow");
  ASSERT_TRUE(gate_.wait_for_waiters(1, 5s)) << "the slow handler never ran";
  // The only I/O thread answers meanwhile: liveness at once, and readiness (on the pool, behind /slow)
  // does not hold it either.
  auto live = testing::http(port_, "GET", "/health/live", {}, {}, 2s);
  EXPECT_EQ(live.status, 200) << live.error;
  auto ready = send_async("/health/ready");
  EXPECT_EQ(ready.wait_for(300ms), std::future_status::timeout) << "readiness did not wait for the pool";
  gate_.open();
  EXPECT_EQ(slow.get().status, 200);
  EXPECT_EQ(ready.get().status, 200);
}

TEST_F(StoragePoolTest, AFullPoolRefusesAtOnceWith503AndRetryAfter) {
  BlockingPool pool({.threads = 1, .max_waiting = 2});
  obs::Gauge waiting;
  obs::Counter refusals;
  pool.meter(waiting, refusals);
  start(&pool);
  auto first = send_async("/slow");
  ASSERT_TRUE(gate_.wait_for_waiters(1, 5s));
  auto second = send_async("/fast");  // queued behind the first: the pool's second place
  // Until the second is counted as waiting, a third could still take its place: poll, bounded.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (pool.waiting() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(pool.waiting(), 2u);
  auto refused = testing::http(port_, "GET", "/fast", {}, {}, 2s);
  EXPECT_EQ(refused.status, 503) << refused.error;
  EXPECT_EQ(refused.header("retry-after"), "1");
  EXPECT_EQ(refused.error_code(), "unavailable");
  EXPECT_NE(refused.body.find("storage is saturated"), std::string::npos) << refused.body;
  EXPECT_EQ(waiting.value(), 2);
  EXPECT_EQ(refusals.value(), 1u);
  gate_.open();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(waiting.value(), 0);
}

TEST_F(StoragePoolTest, WithoutAPoolRoutesStayOnTheIoThread) {
  start(nullptr);
  // Nothing was wrapped: the routes are still synchronous (SQLite's fast path, no thread hand-off).
  EXPECT_EQ(testing::http(port_, "GET", "/fast").status, 200);
  auto slow = send_async("/slow");
  ASSERT_TRUE(gate_.wait_for_waiters(1, 5s));
  // The one I/O thread is inside /slow: liveness waits for it (what the pool exists to prevent).
  auto live = send_async("/health/live");
  EXPECT_EQ(live.wait_for(300ms), std::future_status::timeout);
  gate_.open();
  EXPECT_EQ(slow.get().status, 200);
  EXPECT_EQ(live.get().status, 200);
}

}  // namespace
}  // namespace mercato::service
