#include "domain/dashboard.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace mercato::gateway {

bool counted_route(std::string_view route) noexcept {
  return route != "/metrics" && !route.starts_with("/health/") && !route.starts_with("/dashboard");
}

namespace {

std::optional<double> parse_bound(std::string_view le) {
  if (le == "+Inf") return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(le.data(), le.data() + le.size(), v);
  if (ec != std::errc() || end != le.data() + le.size()) return std::nullopt;
  return v;
}

}  // namespace

Reading reduce(const std::vector<obs::Sample>& samples, DashboardClock::time_point at) {
  Reading r;
  r.at = at;
  // Buckets by bound, summed over routes; a histogram's bounds are the same for every route of a process
  // (default_latency_buckets), but a map keeps this right if they ever differ.
  std::map<double, double> buckets;
  double infinite = 0;
  for (const auto& s : samples) {
    if (s.name == "http_server_requests_total") {
      if (!counted_route(s.label("route"))) continue;
      r.requests += s.value;
      if (s.label("status_class") == "5xx") r.errors += s.value;
    } else if (s.name == "http_server_request_duration_seconds_bucket") {
      if (!counted_route(s.label("route"))) continue;
      if (auto bound = parse_bound(s.label("le"))) {
        buckets[*bound] += s.value;
      } else {
        infinite += s.value;
      }
    } else if (s.name == "process_resident_memory_bytes") {
      r.resident_bytes = s.value;
    } else if (s.name == "mercato_upstream_circuit_state") {
      r.circuits[std::string(s.label("upstream"))] = s.value;
    } else if (s.name == "mercato_events_dead_letters") {
      r.dead_letters = s.value;
    } else if (s.name == "mercato_events_outbox_lag_seconds") {
      r.outbox_lag_seconds = std::max(r.outbox_lag_seconds.value_or(0), s.value);
    }
  }
  for (const auto& [bound, count] : buckets) {
    r.bounds.push_back(bound);
    r.cumulative.push_back(count);
  }
  r.cumulative.push_back(infinite);
  return r;
}

Window& Window::operator+=(const Window& other) {
  seconds = std::max(seconds, other.seconds);
  requests += other.requests;
  errors += other.errors;
  if (bounds.empty() && cumulative.empty()) {
    bounds = other.bounds;
    cumulative = other.cumulative;
  } else if (bounds == other.bounds) {
    for (std::size_t i = 0; i < cumulative.size(); ++i) cumulative[i] += other.cumulative[i];
  }
  // Instances with other bounds (not the case for Mercato's own processes) keep their rate but not
  // their latencies in the sum: adding buckets of different bounds would invent a distribution.
  return *this;
}

Window window(const Reading& older, const Reading& newer) {
  Window w;
  w.seconds = std::chrono::duration<double>(newer.at - older.at).count();
  // A restart resets the counters: from zero then, as Prometheus's rate() treats a reset.
  bool reset = newer.requests < older.requests || newer.bounds != older.bounds ||
               newer.cumulative.size() != older.cumulative.size();
  for (std::size_t i = 0; !reset && i < newer.cumulative.size(); ++i)
    reset = newer.cumulative[i] < older.cumulative[i];
  w.requests = reset ? newer.requests : newer.requests - older.requests;
  w.errors = reset ? newer.errors : std::max(0.0, newer.errors - older.errors);
  w.bounds = newer.bounds;
  w.cumulative = newer.cumulative;
  if (!reset) {
    for (std::size_t i = 0; i < w.cumulative.size(); ++i) w.cumulative[i] -= older.cumulative[i];
  }
  return w;
}

std::optional<double> quantile(const std::vector<double>& bounds, const std::vector<double>& cumulative,
                               double q) {
  if (cumulative.empty() || cumulative.size() != bounds.size() + 1) return std::nullopt;
  double total = cumulative.back();
  if (!(total > 0)) return std::nullopt;
  double rank = q * total;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (cumulative[i] >= rank) {
      double lower = i == 0 ? 0.0 : bounds[i - 1];
      double below = i == 0 ? 0.0 : cumulative[i - 1];
      double in_bucket = cumulative[i] - below;
      if (in_bucket <= 0) return bounds[i];
      return lower + (bounds[i] - lower) * ((rank - below) / in_bucket);
    }
  }
  // Above every finite bound: the highest one is all that can be said.
  return bounds.empty() ? std::nullopt : std::optional<double>(bounds.back());
}

Rates rates(const Window& w) {
  Rates r;
  if (w.seconds > 0) r.per_second = w.requests / w.seconds;
  if (w.requests > 0) r.error_ratio = w.errors / w.requests;
  // Cumulative bucket counts: the histogram's buckets are cumulative ("le"), so are the windows'.
  if (auto p = quantile(w.bounds, w.cumulative, 0.5)) r.p50_ms = *p * 1000;
  if (auto p = quantile(w.bounds, w.cumulative, 0.99)) r.p99_ms = *p * 1000;
  return r;
}

}  // namespace mercato::gateway
