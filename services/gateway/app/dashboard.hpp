// The gateway's live view of the system for GET /dashboard (docs/observability.md "Dashboard"): every
// service the gateway routes to, its instances as the traffic policy and service discovery have them,
// each instance's health (/health/ready) and metrics (/metrics: rate, errors, latency, memory, dead
// letters, outbox lag), and the circuit breakers — the gateway's own towards each route, and each
// service's towards the services it calls (their mercato_upstream_circuit_state).
//
//   Dashboard dashboard(settings.dashboard, table, policy.holder(), ctx.client(), ctx.metrics(), ready);
//   std::string json = co_await dashboard.overview();   // refreshed first when older than `refresh`
//
// Instances are read only while someone watches: overview() starts a refresh when the last one is older
// than `refresh`, one at a time, in the background (the caller gets the last overview at once; only the
// very first caller waits for one), reading the instances one after another with `probe_timeout` each,
// so an instance that hangs costs one timeout. The
// gateway reads itself from its own registry, not over the network. Readings are kept per instance for
// `history` refreshes; a service's figures are the sum over its instances (domain/dashboard.hpp).
//
// Dead letters and their redrive go to the services' own operator endpoints (GET /admin/dead-letters,
// POST /admin/dead-letters/{id}/redrive) with the caller's Authorization, so each service checks the
// admin's token again.
//
// Thread-safety: thread-safe; the coroutines must run on a worker of the client's IoPool.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/gateway_settings.hpp"
#include "app/traffic.hpp"
#include "domain/dashboard.hpp"
#include "domain/routes.hpp"
#include "mercato/http/client.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::gateway {

class Dashboard {
 public:
  // `self_ready`: the gateway's own readiness (Context::ready). `self_name`: how the gateway is listed.
  Dashboard(DashboardSettings settings, const RouteTable& table, const PolicyHolder& policies,
            http::Client& client, obs::Registry& own_metrics, std::function<bool()> self_ready,
            std::string self_name = "gateway");

  const DashboardSettings& settings() const noexcept { return settings_; }

  // The overview as JSON text (the shape is documented in docs/observability.md "Dashboard").
  boost::asio::awaitable<std::string> overview();

  // {"services":[{"service","dead_letters":[...]} or {"service","error":{...}}]} — every domain service's
  // stored dead letters, asked of one ready instance each.
  boost::asio::awaitable<std::string> dead_letters(std::string authorization, std::string request_id);

  // Hands dead letter `id` of `service` back to its handler; the service's own answer, or an error.
  boost::asio::awaitable<http::Response> redrive(std::string service, std::string id,
                                                 std::string authorization, std::string request_id);

 private:
  struct Instance {
    std::string address;
    http::Endpoint endpoint;
    bool self = false;
    std::string health = "unknown";  // ready | not_ready | down
    std::string detail;              // why not ready or down
    std::deque<Reading> readings;    // newest last, at most history + 1
  };
  struct Point {
    double t_ms = 0;  // wall clock, for the charts' time axis
    double per_second = 0, error_ratio = 0, p99_ms = -1;
  };
  struct ServiceView {
    std::string name;
    std::vector<std::string> routes;
    std::map<std::string, Instance> instances;  // by address
    std::deque<Point> series;
  };

  boost::asio::awaitable<void> refresh();
  boost::asio::awaitable<void> refresh_in_background();
  boost::asio::awaitable<void> probe(Instance& instance);
  // The services and their instances as routed now (policy subsets; discovery updates them).
  std::map<std::string, std::vector<std::pair<std::string, http::Endpoint>>> routed_instances() const;
  std::string render() const;
  // A ready instance of `service` (its address), or nullopt.
  std::optional<http::Endpoint> ready_instance(const std::string& service) const;

  DashboardSettings settings_;
  const RouteTable& table_;
  const PolicyHolder& policies_;
  http::Client& client_;
  obs::Registry& own_metrics_;
  std::function<bool()> self_ready_;
  std::string self_name_;

  std::shared_ptr<std::atomic<bool>> refreshing_ = std::make_shared<std::atomic<bool>>(false);
  // Written only by the one refresh under way (refreshing_), read by render() in it; the rendered text
  // and the addresses are what other callers read, under mutex_.
  std::map<std::string, ServiceView> services_;
  mutable std::mutex mutex_;
  DashboardClock::time_point last_refresh_{};                 // guarded by mutex_
  std::string rendered_;                                      // guarded by mutex_
  std::map<std::string, std::vector<http::Endpoint>> ready_;  // guarded by mutex_: service -> ready instances
};

}  // namespace mercato::gateway
