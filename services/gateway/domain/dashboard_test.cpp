#include "domain/dashboard.hpp"

#include <gtest/gtest.h>

namespace mercato::gateway {
namespace {

using namespace std::chrono_literals;

Reading read(std::string_view text, DashboardClock::time_point at) {
  auto samples = obs::parse_exposition(text);
  EXPECT_TRUE(samples) << samples.error().message;
  return reduce(*samples, at);
}

// A /metrics body as lib/http's server writes it: two counted routes, the probes' own routes, and the
// series the dashboard reads besides.
std::string body(int ok, int errors, int probes, int fast, int slow) {
  std::string text;
  auto add = [&text](std::string_view series, int value) {
    text += std::string(series) + " " + std::to_string(value) + "\n";
  };
  add(R"(http_server_requests_total{method="GET",route="/orders/{id}",status_class="2xx"})", ok);
  add(R"(http_server_requests_total{method="POST",route="/orders",status_class="5xx"})", errors);
  add(R"(http_server_requests_total{method="GET",route="/metrics",status_class="2xx"})", probes);
  add(R"(http_server_requests_total{method="GET",route="/health/ready",status_class="2xx"})", probes);
  add(R"(http_server_request_duration_seconds_bucket{method="GET",route="/orders/{id}",le="0.01"})", fast);
  add(R"(http_server_request_duration_seconds_bucket{method="GET",route="/orders/{id}",le="0.1"})",
      fast + slow);
  add(R"(http_server_request_duration_seconds_bucket{method="GET",route="/orders/{id}",le="+Inf"})",
      fast + slow);
  add(R"(http_server_request_duration_seconds_bucket{method="GET",route="/metrics",le="0.01"})", probes);
  add(R"(http_server_request_duration_seconds_bucket{method="GET",route="/metrics",le="0.1"})", probes);
  add(R"(http_server_request_duration_seconds_bucket{method="GET",route="/metrics",le="+Inf"})", probes);
  text += "process_resident_memory_bytes 1.5e+07\n";
  add(R"(mercato_upstream_circuit_state{upstream="user"})", 1);
  add("mercato_events_dead_letters", 3);
  return text;
}

TEST(DashboardMetrics, AReadingCountsTrafficButNotTheProbes) {
  auto t0 = DashboardClock::time_point{};
  auto r = read(body(90, 10, 500, 60, 40), t0);
  EXPECT_EQ(r.requests, 100);
  EXPECT_EQ(r.errors, 10);
  EXPECT_EQ(r.bounds, (std::vector<double>{0.01, 0.1}));
  EXPECT_EQ(r.cumulative, (std::vector<double>{60, 100, 100}));
  EXPECT_EQ(r.resident_bytes, 15e6);
  EXPECT_EQ(r.circuits.at("user"), 1);
  EXPECT_EQ(r.dead_letters, 3);
  EXPECT_FALSE(r.outbox_lag_seconds);
}

TEST(DashboardMetrics, AWindowIsTheDifferenceOverTheTimeBetween) {
  auto t0 = DashboardClock::time_point{};
  auto older = read(body(90, 10, 500, 60, 40), t0);
  auto newer = read(body(270, 30, 900, 160, 140), t0 + 2s);
  auto w = window(older, newer);
  EXPECT_DOUBLE_EQ(w.seconds, 2);
  EXPECT_EQ(w.requests, 200);
  EXPECT_EQ(w.errors, 20);
  EXPECT_EQ(w.cumulative, (std::vector<double>{100, 200, 200}));
  auto r = rates(w);
  EXPECT_DOUBLE_EQ(r.per_second, 100);
  EXPECT_DOUBLE_EQ(r.error_ratio, 0.1);
  ASSERT_TRUE(r.p50_ms && r.p99_ms);
  EXPECT_DOUBLE_EQ(*r.p50_ms, 10);               // the 100th of 200: the top of the first bucket
  EXPECT_NEAR(*r.p99_ms, 10 + 90 * 0.98, 1e-9);  // 198th: interpolated inside (0.01, 0.1]
}

TEST(DashboardMetrics, ARestartCountsFromZero) {
  auto t0 = DashboardClock::time_point{};
  auto older = read(body(900, 100, 500, 600, 400), t0);
  auto newer = read(body(30, 0, 2, 20, 10), t0 + 1s);
  auto w = window(older, newer);
  EXPECT_EQ(w.requests, 30);
  EXPECT_EQ(w.cumulative, (std::vector<double>{20, 30, 30}));
}

TEST(DashboardMetrics, InstancesAddUp) {
  auto t0 = DashboardClock::time_point{};
  auto a = window(read(body(0, 0, 0, 0, 0), t0), read(body(100, 0, 5, 100, 0), t0 + 1s));
  auto b = window(read(body(0, 0, 0, 0, 0), t0), read(body(0, 100, 5, 0, 100), t0 + 1s));
  Window sum;
  sum += a;
  sum += b;
  auto r = rates(sum);
  EXPECT_DOUBLE_EQ(r.per_second, 200);
  EXPECT_DOUBLE_EQ(r.error_ratio, 0.5);
  EXPECT_EQ(sum.cumulative, (std::vector<double>{100, 200, 200}));
}

TEST(DashboardMetrics, NoRequestsNoLatency) {
  auto t0 = DashboardClock::time_point{};
  auto r = rates(window(read(body(5, 0, 1, 5, 0), t0), read(body(5, 0, 9, 5, 0), t0 + 1s)));
  EXPECT_EQ(r.per_second, 0);
  EXPECT_EQ(r.error_ratio, 0);
  EXPECT_FALSE(r.p50_ms);
  EXPECT_FALSE(quantile({0.1}, {0, 0}, 0.5));
  // Everything above the highest bound: that bound.
  EXPECT_EQ(quantile({0.1, 1}, {0, 0, 4}, 0.99), 1);
}

}  // namespace
}  // namespace mercato::gateway
