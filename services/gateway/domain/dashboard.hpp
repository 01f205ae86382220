// What the dashboard (GET /dashboard) shows of an instance's metrics, as pure functions: a Reading is one
// scrape of GET /metrics reduced to the few series the page needs, and the difference of two readings of
// the same instance gives its rate, error ratio and latency quantiles over the time between them — the
// way Prometheus's rate() and histogram_quantile() would, without a Prometheus server (docs/observability.md
// "Dashboard").
//
//   auto older = reduce(*obs::parse_exposition(body_then), then);
//   auto newer = reduce(*obs::parse_exposition(body_now), now);
//   Window w = window(older, newer);            // per instance
//   w += window(other_older, other_newer);     // a service's instances together
//   Rates r = rates(w);                        // r.per_second, r.error_ratio, r.p99_ms
//
// Requests the dashboard and Prometheus make themselves (/metrics, /health/*, /dashboard...) are left
// out, so watching the system does not show up as traffic.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mercato/observability/exposition.hpp"

namespace mercato::gateway {

using DashboardClock = std::chrono::steady_clock;

struct Reading {
  DashboardClock::time_point at{};
  double requests = 0;             // http_server_requests_total, all counted routes
  double errors = 0;               // of which status_class 5xx
  std::vector<double> bounds;      // http_server_request_duration_seconds bucket bounds (finite)
  std::vector<double> cumulative;  // the counts at each bound, summed over the counted routes; +Inf last
  double resident_bytes = 0;       // process_resident_memory_bytes
  std::map<std::string, double> circuits;    // mercato_upstream_circuit_state: upstream -> 0/1/2
  std::optional<double> dead_letters;        // mercato_events_dead_letters, when the service has a bus
  std::optional<double> outbox_lag_seconds;  // mercato_events_outbox_lag_seconds
};

// Whether requests to `route` (a route pattern) count as traffic.
bool counted_route(std::string_view route) noexcept;

Reading reduce(const std::vector<obs::Sample>& samples, DashboardClock::time_point at);

// Requests between two readings. A counter that went down (the instance restarted) counts from zero.
struct Window {
  double seconds = 0;
  double requests = 0;
  double errors = 0;
  std::vector<double> bounds;
  std::vector<double> cumulative;  // observations at or below each bound in the window; +Inf last

  Window& operator+=(const Window& other);
};

Window window(const Reading& older, const Reading& newer);

struct Rates {
  double per_second = 0;
  double error_ratio = 0;                // 5xx / all; 0 without requests
  std::optional<double> p50_ms, p99_ms;  // none without requests
};

Rates rates(const Window& w);

// The q-quantile (0 < q < 1) of the observations counted in `cumulative` over `bounds`, by linear
// interpolation inside the bucket it falls in (as histogram_quantile does); in the +Inf bucket, the
// highest finite bound. nullopt when nothing was observed.
std::optional<double> quantile(const std::vector<double>& bounds, const std::vector<double>& cumulative,
                               double q);

}  // namespace mercato::gateway
