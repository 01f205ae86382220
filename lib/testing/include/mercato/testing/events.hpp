// Event-bus helpers for end-to-end tests: a consumer group of the test's own that reads what a
// service publishes, and waits on a service's Prometheus counters.
//
//   testing::EventProbe probe(url, prefix, {"shipment.created"});
//   ASSERT_EQ(probe.error(), "");
//   ... drive the service ...
//   auto seen = probe.wait_for(order_id, 1);          // the events about that subject, in arrival order
//   EXPECT_EQ(testing::wait_metric(port, R"(mercato_events_published_total{type="x.y"})", 1), 1);
//
// Thread-safety: an EventProbe belongs to one test; its handler runs on the transport's thread.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mercato/events/transport.hpp"
#include "mercato/testing/testing.hpp"

// Declares `var` with the URL of a broker for `transport` ("nats" or "kafka", see broker_url); skips the
// test without one, or fails it when MERCATO_REQUIRE_BACKENDS=1 (./mercato test).
// NOLINTBEGIN(bugprone-macro-parentheses): `var` is the name the macro declares
#define MERCATO_BROKER_URL_OR_SKIP(var, transport)                            \
  std::string var;                                                            \
  {                                                                           \
    std::string mercato_why_not;                                              \
    var = ::mercato::testing::broker_url(transport, mercato_why_not);         \
    if (var.empty()) {                                                        \
      if (::mercato::testing::backends_required()) FAIL() << mercato_why_not; \
      GTEST_SKIP() << mercato_why_not;                                        \
    }                                                                         \
  }
// NOLINTEND(bugprone-macro-parentheses)

namespace mercato::testing {

// A broker for `transport`: "nats" → the nats-server ./mercato test started (MERCATO_TEST_NATS_URL);
// "kafka" → librdkafka's mock cluster, started once per test process and kept until it exits;
// "inprocess" → a fresh in-process broker name. Empty, with `why_not` set, when there is none.
std::string broker_url(const std::string& transport, std::string& why_not);

// A consumer group ("e2e-probe") on the broker at `url`, reading events of `types` exactly as another
// service would. Delivery is at least once, so a redelivered event (same id) is kept once.
class EventProbe {
 public:
  EventProbe(const std::string& url, const std::string& prefix, std::vector<std::string> types);
  ~EventProbe();
  EventProbe(const EventProbe&) = delete;
  EventProbe& operator=(const EventProbe&) = delete;

  // Empty when subscribed; otherwise why not.
  const std::string& error() const { return error_; }
  // The events about `subject` in arrival order, once there are at least `n` (or when `timeout` passed).
  std::vector<events::CloudEvent> wait_for(const std::string& subject, std::size_t n,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The first event for which `match` is true, waiting up to `timeout`; nullopt when none arrived.
  std::optional<events::CloudEvent> first(const std::function<bool(const events::CloudEvent&)>& match,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The first event of `type` whose data has the string `field` == `value`.
  std::optional<events::CloudEvent> first_with(const std::string& type, const std::string& field,
                                               const std::string& value,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Every distinct event seen so far.
  std::vector<events::CloudEvent> seen();

 private:
  std::string error_;
  std::unique_ptr<events::Transport> transport_;
  std::unique_ptr<events::Subscription> subscription_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> ids_;
  std::vector<events::CloudEvent> seen_;
};

// A traceparent tests send, and the trace id part of one ("00-<trace id>-<span id>-<flags>").
inline constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
std::string trace_id(const std::string& traceparent);
// The fields of an event's data (throws, failing the test, when it is not a JSON object).
boost::json::object data_of(const events::CloudEvent& event);

// The value of the sample `series` (`name{labels}`, labels sorted by name as the registry writes them)
// on `port`'s /metrics; -1 when absent.
double metric(std::uint16_t port, const std::string& series);
// Polls metric() until it reaches `value` or `timeout` passed; returns the last reading.
double wait_metric(std::uint16_t port, const std::string& series, double value,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));
// The same for a gauge that drains: polls until it is at most `value` (and present) or `timeout` passed.
double wait_metric_down(std::uint16_t port, const std::string& series, double value,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace mercato::testing
