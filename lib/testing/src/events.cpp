#include "mercato/testing/events.hpp"

#include <boost/json.hpp>
#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/events/kafka_mock.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::testing {

std::string broker_url(const std::string& transport, std::string& why_not) {
  if (transport == "nats") {
    auto url = backend_url("MERCATO_TEST_NATS_URL");
    if (url.empty()) why_not = "MERCATO_TEST_NATS_URL is not set (run the tests through ./mercato test)";
    return url;
  }
  if (transport == "kafka") {
    static auto cluster = events::KafkaMockCluster::start(1);
    if (!cluster) {
      why_not = "cannot start librdkafka's mock cluster: " + cluster.error().message;
      return {};
    }
    return "kafka://" + (*cluster)->bootstrap_servers();
  }
  if (transport == "inprocess") return "inprocess://test-" + random_hex(4);
  why_not = "unknown transport '" + transport + "'";
  return {};
}

EventProbe::EventProbe(const std::string& url, const std::string& prefix, std::vector<std::string> types) {
  auto transport = events::open_transport({.url = url, .prefix = prefix, .client_id = "e2e-probe"});
  if (!transport) {
    error_ = transport.error().message;
    return;
  }
  transport_ = std::move(*transport);
  events::SubscriptionOptions o;
  o.group = "e2e-probe";
  o.types = std::move(types);
  o.on_give_up = [](const events::CloudEvent&, const Error&, int) -> Result<void> { return {}; };
  auto sub = transport_->subscribe(o, [this](const events::Delivery& d) -> Result<void> {
    std::lock_guard lock(mutex_);
    if (ids_.insert(d.event.id).second) seen_.push_back(d.event);
    changed_.notify_all();
    return {};
  });
  if (!sub) {
    error_ = sub.error().message;
    return;
  }
  subscription_ = std::move(*sub);
}

EventProbe::~EventProbe() {
  if (subscription_) subscription_->stop();
}

std::vector<events::CloudEvent> EventProbe::wait_for(const std::string& subject, std::size_t n,
                                                     std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::vector<events::CloudEvent> of;
  changed_.wait_for(lock, timeout, [&] {
    of.clear();
    for (const auto& e : seen_)
      if (e.subject == subject) of.push_back(e);
    return of.size() >= n;
  });
  return of;
}

std::optional<events::CloudEvent> EventProbe::first(
    const std::function<bool(const events::CloudEvent&)>& match, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::optional<events::CloudEvent> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& e : seen_) {
      if (match(e)) {
        found = e;
        return true;
      }
    }
    return false;
  });
  return found;
}

std::optional<events::CloudEvent> EventProbe::first_with(const std::string& type, const std::string& field,
                                                         const std::string& value,
                                                         std::chrono::milliseconds timeout) {
  return first(
      [&](const events::CloudEvent& e) {
        if (e.type != type) return false;
        boost::system::error_code ec;
        auto data = boost::json::parse(e.data, ec);
        if (ec || !data.is_object()) return false;
        const auto* v = data.as_object().if_contains(field);
        return v != nullptr && v->is_string() && v->as_string() == value;
      },
      timeout);
}

std::vector<events::CloudEvent> EventProbe::seen() {
  std::lock_guard lock(mutex_);
  return seen_;
}

std::string trace_id(const std::string& traceparent) { return traceparent.substr(3, 32); }

boost::json::object data_of(const events::CloudEvent& event) {
  return boost::json::parse(event.data).as_object();
}

double metric(std::uint16_t port, const std::string& series) {
  auto page = "\n" + http(port, "GET", "/metrics").body;
  auto pos = page.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(page.substr(pos + series.size() + 2));
}

namespace {

// Polls metric() until `reached` holds or `timeout` passed; returns the last reading.
template <typename Reached>
double poll_metric(std::uint16_t port, const std::string& series, std::chrono::milliseconds timeout,
                   Reached reached) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  double last = metric(port, series);
  while (!reached(last) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(50));  // a poll of a metric, bounded by the deadline
    last = metric(port, series);
  }
  return last;
}

}  // namespace

double wait_metric(std::uint16_t port, const std::string& series, double value,
                   std::chrono::milliseconds timeout) {
  return poll_metric(port, series, timeout, [value](double v) { return v >= value; });
}

double wait_metric_down(std::uint16_t port, const std::string& series, double value,
                        std::chrono::milliseconds timeout) {
  // metric() says -1 for a series not there (yet): absent is not drained.
  return poll_metric(port, series, timeout, [value](double v) { return v >= 0 && v <= value; });
}

}  // namespace mercato::testing
