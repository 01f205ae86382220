// Upstream against real servers on loopback: which instance a call reaches as the instances change.
#include "mercato/resilience/upstream.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>

#include "mercato/http/server.hpp"
#include "mercato/testing/block_on.hpp"

namespace mercato::resilience {
namespace {

class UpstreamInstances : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      http::Router router;
      router.get("/who",
                 [i](const http::Request&) { return http::Response::json_text(200, std::to_string(i)); });
      // An instance shedding load on purpose (Retry-After), and one failing.
      router.post("/shed", [](const http::Request&) {
        auto res = http::Response::json_text(503, R"({"error":{"code":"unavailable"}})");
        res.headers.set("Retry-After", "2");
        return res;
      });
      router.post("/broken",
                  [](const http::Request&) { return http::Response::json_text(503, R"({"error":{}})"); });
      servers_.push_back(std::make_unique<http::Server>(pool_, http::ServerSettings{.port = 0},
                                                        std::move(router), logger_, metrics_));
      servers_.back()->start();
    }
    pool_.start();
  }
  void TearDown() override {
    for (auto& server : servers_) {
      std::promise<void> done;
      server->shutdown([&] { done.set_value(); });
      done.get_future().wait();
    }
    pool_.stop();
    pool_.join();
  }
  http::Endpoint endpoint(int i) const {
    return {"127.0.0.1", servers_[static_cast<std::size_t>(i)]->port()};
  }
  // Which server answered a call, or "refused".
  std::string who(Upstream& upstream) {
    auto call = testing::block_on(pool_, upstream.call(http::ClientRequest{.target = "/who"}, {}, true));
    if (call.refused != Refused::kNone) return "refused";
    return call.result ? call.result->body : "error";
  }

  http::IoPool pool_{1};
  obs::Logger logger_{"upstream-test", obs::LogLevel::kError};
  obs::Registry metrics_;
  std::vector<std::unique_ptr<http::Server>> servers_;
  http::Client client_{pool_, {}};
};

// call_with: another transport's tries under the same policy; the live timeout and tries apply to the
// next call that gives none of its own.
TEST_F(UpstreamInstances, LiveTimeoutAndTriesApplyToTheNextCall) {
  UpstreamSettings settings{.name = "svc", .timeout = std::chrono::milliseconds(2000)};
  settings.retries.attempts = 1;
  settings.retries.base_delay = std::chrono::milliseconds(1);
  Upstream upstream(settings, {endpoint(0)}, client_, metrics_, logger_);
  std::vector<std::chrono::milliseconds> tries;
  auto failing = [&](const http::Endpoint&, std::chrono::milliseconds timeout,
                     bool) -> boost::asio::awaitable<bool> {
    tries.push_back(timeout);
    co_return true;
  };
  auto refusal = testing::block_on(pool_, upstream.call_with({}, true, failing));
  EXPECT_EQ(refusal.refused, Refused::kNone);
  EXPECT_EQ(tries, std::vector{std::chrono::milliseconds(2000)});

  tries.clear();
  upstream.set_timeout(std::chrono::milliseconds(300));
  upstream.set_attempts(3);
  upstream.breaker().reset(Clock::now());
  testing::block_on(pool_, upstream.call_with({}, true, failing));
  EXPECT_EQ(tries, std::vector<std::chrono::milliseconds>(3, std::chrono::milliseconds(300)));
  // A call's own settings still win.
  tries.clear();
  testing::block_on(
      pool_, upstream.call_with({.timeout = std::chrono::milliseconds(50), .retries = RetrySettings{}}, true,
                                failing));
  EXPECT_EQ(tries, std::vector{std::chrono::milliseconds(50)});
}

TEST_F(UpstreamInstances, CallsFollowTheInstancesOfTheMoment) {
  Upstream upstream({.name = "svc"}, {endpoint(0)}, client_, metrics_, logger_);
  EXPECT_EQ(who(upstream), "0");
  upstream.set_instances({endpoint(1)});
  EXPECT_EQ(upstream.instances(), std::vector<http::Endpoint>{endpoint(1)});
  EXPECT_EQ(who(upstream), "1");
  EXPECT_EQ(who(upstream), "1");
  upstream.set_instances({endpoint(0), endpoint(1)});
  std::set<std::string> seen{who(upstream), who(upstream)};  // round robin: both
  EXPECT_EQ(seen, (std::set<std::string>{"0", "1"}));
  EXPECT_NE(metrics_.render().find(R"(mercato_upstream_instances{upstream="svc"} 2)"), std::string::npos);
}

TEST_F(UpstreamInstances, NoInstancesMeansRefusedNotHung) {
  Upstream upstream({.name = "svc"}, {}, client_, metrics_, logger_);
  EXPECT_EQ(who(upstream), "refused");
  upstream.set_instances({endpoint(0)});
  EXPECT_EQ(who(upstream), "0");
  upstream.set_instances({});
  EXPECT_EQ(who(upstream), "refused");
}

TEST_F(UpstreamInstances, TheSameInstancesInAnotherOrderKeepTheirEjections) {
  UpstreamSettings settings{.name = "svc",
                            .outliers = OutlierSettings{.consecutive_5xx = 1,
                                                        .interval = std::chrono::seconds(60),
                                                        .base_ejection_time = std::chrono::seconds(60),
                                                        .max_ejection_percent = 50}};
  // Instance 0 is a closed port (connection refused counts as a server error), instance 1 answers.
  http::Endpoint closed{"127.0.0.1", 1};
  Upstream upstream(settings, {closed, endpoint(1)}, client_, metrics_, logger_);
  (void)who(upstream);  // round robin starts at the closed one: ejected now
  (void)who(upstream);
  EXPECT_NE(metrics_.render().find(R"(mercato_upstream_ejected_instances{upstream="svc"} 1)"),
            std::string::npos);
  upstream.set_instances({endpoint(1), closed});
  EXPECT_NE(metrics_.render().find(R"(mercato_upstream_ejected_instances{upstream="svc"} 1)"),
            std::string::npos);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(who(upstream), "1");
}

// A circuit opened by failures of instances that are gone (a seed address before discovery answered)
// does not refuse calls to the new ones.
TEST_F(UpstreamInstances, NewInstancesStartWithAClosedCircuit) {
  UpstreamSettings settings{.name = "svc"};
  settings.breaker.failure_threshold = 2;
  settings.breaker.recovery_timeout = std::chrono::seconds(60);
  Upstream upstream(settings, {{"127.0.0.1", 1}}, client_, metrics_, logger_);
  (void)who(upstream);
  (void)who(upstream);
  EXPECT_EQ(who(upstream), "refused");  // open
  upstream.set_instances({endpoint(0)});
  EXPECT_EQ(who(upstream), "0");
}

// A 503 with Retry-After is an instance alive and refusing work on purpose (the order service's admission
// control, ADR 0018): it is passed on as it is, and neither opens the circuit nor ejects the instance —
// else the gateway would turn a few refusals of new orders into refusing every request for the
// service. A 503 without it is a failure as before.
TEST_F(UpstreamInstances, ADeliberateRefusalWithRetryAfterIsNoFailure) {
  UpstreamSettings settings{.name = "svc"};
  settings.breaker.failure_threshold = 2;
  settings.breaker.recovery_timeout = std::chrono::seconds(60);
  settings.outliers = OutlierSettings{.consecutive_5xx = 2, .max_ejection_percent = 100};
  Upstream upstream(settings, {endpoint(0)}, client_, metrics_, logger_);
  auto post = [&](std::string target) {
    return testing::block_on(
        pool_, upstream.call(http::ClientRequest{.method = http::Method::kPost, .target = std::move(target)},
                             {}, false));
  };
  for (int i = 0; i < 5; ++i) {
    auto call = post("/shed");
    ASSERT_EQ(call.refused, Refused::kNone) << i;
    ASSERT_TRUE(call.result);
    EXPECT_EQ(call.result->status, 503);
    EXPECT_EQ(call.result->headers.get("Retry-After").value_or(""), "2");
  }
  EXPECT_EQ(upstream.breaker().state(Clock::now()), BreakerState::kClosed);
  EXPECT_EQ(who(upstream), "0");  // not ejected either
  (void)post("/broken");
  (void)post("/broken");
  EXPECT_EQ(upstream.breaker().state(Clock::now()), BreakerState::kOpen);
}

}  // namespace
}  // namespace mercato::resilience
