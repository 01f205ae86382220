#include "mercato/observability/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mercato::obs {
namespace {

using ::testing::HasSubstr;

// The numeric value of the first sample line starting with `series ` (name plus labels), or NaN.
double sample(const std::string& text, const std::string& series) {
  std::string needle = "\n" + series + " ";
  std::string padded = "\n" + text;
  auto pos = padded.find(needle);
  if (pos == std::string::npos) return std::nan("");
  return std::strtod(padded.c_str() + pos + needle.size(), nullptr);
}

TEST(Counter, IncrementsByOneAndByN) {
  Counter c;
  EXPECT_EQ(c.value(), 0U);
  c.inc();
  c.inc(41);
  EXPECT_EQ(c.value(), 42U);
}

TEST(Gauge, SetsAndAdds) {
  Gauge g;
  g.set(10);
  g.add(2.5);
  g.add(-4);
  EXPECT_DOUBLE_EQ(g.value(), 8.5);
}

TEST(Histogram, CountsBoundaryValueInItsOwnBucket) {
  Histogram h({0.1, 0.5, 1});
  h.observe(0.1);  // le is inclusive
  h.observe(0.05);
  h.observe(0.7);
  h.observe(3);  // +Inf
  EXPECT_EQ(h.bucket_count(0), 2U);
  EXPECT_EQ(h.bucket_count(1), 0U);
  EXPECT_EQ(h.bucket_count(2), 1U);
  EXPECT_EQ(h.bucket_count(3), 1U);
  EXPECT_EQ(h.count(), 4U);
  EXPECT_DOUBLE_EQ(h.sum(), 3.85);
}

TEST(Histogram, CountsNanInInfBucket) {
  Histogram h({1});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(h.bucket_count(1), 1U);
  EXPECT_EQ(h.count(), 1U);
}

TEST(Histogram, AcceptsExplicitInfBoundAndRejectsBadBounds) {
  Histogram h({1, 2, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.bounds(), (std::vector<double>{1, 2}));
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
  EXPECT_THROW(Histogram({-std::numeric_limits<double>::infinity(), 1}), std::invalid_argument);
}

TEST(Histogram, DefaultLatencyBucketsAreTheDocumentedOnes) {
  EXPECT_EQ(default_latency_buckets(), (std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                            0.1, 0.25, 0.5, 1, 2.5, 5, 10}));
}

TEST(Registry, ReturnsSameObjectForSameNameAndLabels) {
  Registry r;
  Counter& a = r.counter("requests_total", "Requests.", {{"method", "GET"}, {"status", "200"}});
  Counter& b = r.counter("requests_total", "Requests.", {{"status", "200"}, {"method", "GET"}});
  Counter& c = r.counter("requests_total", "Requests.", {{"method", "POST"}, {"status", "200"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  Gauge& g1 = r.gauge("in_flight", "In flight.");
  EXPECT_EQ(&g1, &r.gauge("in_flight", "In flight."));
  Histogram& h1 = r.histogram("latency_seconds", "Latency.", {{"route", "/a"}});
  EXPECT_EQ(&h1, &r.histogram("latency_seconds", "Latency.", {{"route", "/a"}}));
}

TEST(Registry, RejectsSameNameWithOtherTypeHelpOrBuckets) {
  Registry r;
  r.counter("x_total", "X.");
  EXPECT_THROW(r.gauge("x_total", "X."), std::logic_error);
  EXPECT_THROW(r.histogram("x_total", "X."), std::logic_error);
  EXPECT_THROW(r.counter("x_total", "Other help."), std::logic_error);
  r.histogram("h_seconds", "H.", {}, {1, 2});
  EXPECT_THROW(r.histogram("h_seconds", "H.", {{"a", "b"}}, {1, 3}), std::logic_error);
  EXPECT_NO_THROW(
      r.histogram("h_seconds", "H.", {{"a", "b"}}, {1, 2, std::numeric_limits<double>::infinity()}));
}

TEST(Registry, ValidatesMetricAndLabelNames) {
  Registry r;
  EXPECT_NO_THROW(r.counter("ns:sub_system_total9", "ok"));
  EXPECT_NO_THROW(r.counter("_private", "ok", {{"_x", "1"}, {"A9", "2"}}));
  for (const char* bad : {"", "9lives", "with-dash", "with space", "dotted.name", "ünicode"}) {
    EXPECT_THROW(r.counter(bad, "bad"), std::invalid_argument) << bad;
  }
  for (const char* bad : {"", "9a", "a-b", "a:b", "__reserved"}) {
    EXPECT_THROW(r.counter("c_total", "c", {{bad, "v"}}), std::invalid_argument) << bad;
  }
  EXPECT_THROW(r.counter("c_total", "c", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "h", {{"le", "1"}}), std::invalid_argument);
  EXPECT_NO_THROW(r.counter("c_total", "c", {{"le", "1"}}));  // only histograms reserve "le"
}

TEST(Registry, RendersCountersAndGaugesExactly) {
  Registry r;
  r.counter("http_requests_total", "HTTP requests.", {{"method", "GET"}, {"code", "200"}}).inc(3);
  r.counter("http_requests_total", "HTTP requests.", {{"method", "POST"}, {"code", "201"}}).inc();
  r.gauge("in_flight", "Requests in flight.").set(2.5);
  r.counter("plain_total", "No labels.");
  EXPECT_EQ(r.render(),
            "# HELP http_requests_total HTTP requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{code=\"200\",method=\"GET\"} 3\n"
            "http_requests_total{code=\"201\",method=\"POST\"} 1\n"
            "# HELP in_flight Requests in flight.\n"
            "# TYPE in_flight gauge\n"
            "in_flight 2.5\n"
            "# HELP plain_total No labels.\n"
            "# TYPE plain_total counter\n"
            "plain_total 0\n");
}

TEST(Registry, RendersHistogramCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.histogram("latency_seconds", "Latency.", {{"route", "/users"}}, {0.125, 0.5, 1});
  h.observe(0.0625);
  h.observe(0.125);
  h.observe(0.75);
  h.observe(4);
  EXPECT_EQ(r.render(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{route=\"/users\",le=\"0.125\"} 2\n"
            "latency_seconds_bucket{route=\"/users\",le=\"0.5\"} 2\n"
            "latency_seconds_bucket{route=\"/users\",le=\"1\"} 3\n"
            "latency_seconds_bucket{route=\"/users\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{route=\"/users\"} 4.9375\n"
            "latency_seconds_count{route=\"/users\"} 4\n");
}

TEST(Registry, RendersDefaultBucketBoundsAsPlainDecimals) {
  Registry r;
  r.histogram("d_seconds", "D.").observe(0.0003);
  std::string text = r.render();
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"0.0005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"2.5\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"10\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_sum 0.0003\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_count 1\n"));
}

TEST(Registry, EscapesLabelValuesAndHelp) {
  Registry r;
  r.counter("e_total", "Help with \\ and\nnewline and \"quotes\".", {{"path", "a\\b\"c\nd"}}).inc();
  std::string text = r.render();
  EXPECT_THAT(text, HasSubstr("# HELP e_total Help with \\\\ and\\nnewline and \"quotes\".\n"));
  EXPECT_THAT(text, HasSubstr("e_total{path=\"a\\\\b\\\"c\\nd\"} 1\n"));
}

TEST(Registry, RendersSpecialGaugeValues) {
  Registry r;
  r.gauge("pos", "p").set(std::numeric_limits<double>::infinity());
  r.gauge("neg", "n").set(-std::numeric_limits<double>::infinity());
  r.gauge("nan", "n").set(std::numeric_limits<double>::quiet_NaN());
  r.gauge("big", "b").set(1e21);
  r.gauge("bytes", "b").set(123456789012.0);
  r.gauge("tiny", "t").set(-1.5e-7);
  std::string text = r.render();
  EXPECT_THAT(text, HasSubstr("\npos +Inf\n"));
  EXPECT_THAT(text, HasSubstr("\nneg -Inf\n"));
  EXPECT_THAT(text, HasSubstr("\nnan NaN\n"));
  EXPECT_THAT(text, HasSubstr("\nbig 1e+21\n"));
  EXPECT_THAT(text, HasSubstr("\nbytes 123456789012\n"));
  EXPECT_THAT(text, HasSubstr("\ntiny -1.5e-07\n"));
}

TEST(Registry, WritesHelpAndTypeOncePerFamily) {
  Registry r;
  for (int i = 0; i < 3; ++i) r.counter("f_total", "F.", {{"i", std::to_string(i)}}).inc();
  std::string text = r.render();
  EXPECT_EQ(text.find("# TYPE f_total"), text.rfind("# TYPE f_total"));
  EXPECT_EQ(text.find("# HELP f_total"), text.rfind("# HELP f_total"));
}

TEST(Registry, RunsCollectorsOnEachRender) {
  Registry r;
  int calls = 0;
  Gauge& g = r.gauge("queue_depth", "Queue depth.");
  r.on_collect([&] { g.set(++calls); });
  EXPECT_THAT(r.render(), HasSubstr("queue_depth 1\n"));
  EXPECT_THAT(r.render(), HasSubstr("queue_depth 2\n"));
}

TEST(Registry, CollectorMayRegisterMetrics) {
  Registry r;
  r.on_collect([&r] { r.gauge("late", "Registered during collect.").set(7); });
  EXPECT_THAT(r.render(), HasSubstr("late 7\n"));
}

TEST(Registry, CountsExactlyUnderConcurrentUpdates) {
  Registry r;
  constexpr int kThreads = 4;
  constexpr int kIters = 50'000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Looking the objects up concurrently also exercises registration under the lock.
      Counter& c = r.counter("ops_total", "Ops.");
      Gauge& g = r.gauge("level", "Level.");
      Histogram& h = r.histogram("obs_seconds", "Obs.", {}, {0.5});
      for (int i = 0; i < kIters; ++i) {
        c.inc();
        g.add(1);
        h.observe(i % 2 == 0 ? 0.25 : 1.0);
        if (i % 10'000 == 0) (void)r.render();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string text = r.render();
  EXPECT_EQ(sample(text, "ops_total"), kThreads * kIters);
  EXPECT_EQ(sample(text, "level"), kThreads * kIters);
  EXPECT_EQ(sample(text, "obs_seconds_bucket{le=\"0.5\"}"), kThreads * kIters / 2);
  EXPECT_EQ(sample(text, "obs_seconds_count"), kThreads * kIters);
  EXPECT_EQ(sample(text, "obs_seconds_sum"), kThreads * kIters * 1.25 / 2);
}

TEST(Registry, ExposesProcessMetricsFromProc) {
  Registry r;
  r.register_process_metrics();
  r.register_process_metrics();  // idempotent: no duplicate collector or family error
  // Burn a little CPU so the counter is not trivially zero on a fast machine.
  volatile double sink = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  std::string text = r.render();
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_resident_memory_bytes gauge\n"));
  EXPECT_GT(sample(text, "process_cpu_seconds_total"), 0.0);
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 1024.0 * 1024);
  EXPECT_GT(sample(text, "process_virtual_memory_bytes"), sample(text, "process_resident_memory_bytes"));
  EXPECT_GE(sample(text, "process_open_fds"), 3.0);  // stdin, stdout, stderr
  EXPECT_GE(sample(text, "process_max_fds"), sample(text, "process_open_fds"));
  EXPECT_GE(sample(text, "process_threads"), 1.0);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double start = sample(text, "process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);  // the test binary started within the last hour
}

TEST(Registry, OpenFdCountFollowsOpenFiles) {
  Registry r;
  r.register_process_metrics();
  double before = sample(r.render(), "process_open_fds");
  std::array<int, 2> fds{};
  ASSERT_EQ(::pipe(fds.data()), 0);
  double after = sample(r.render(), "process_open_fds");
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(after, before + 2);
}

}  // namespace
}  // namespace mercato::obs
