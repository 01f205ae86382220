// Metrics in the Prometheus text exposition format 0.0.4, served at GET /metrics.
//
// Our own rather than Debian's prometheus-cpp (prometheus-cpp-dev): its pull side brings an embedded
// web server (civetweb) and libcurl into every process (its -dev package depends on both), while our
// services already serve /metrics on their own HTTP server and need only the text format. The format
// is small and this covers what the services need: counters, gauges, histograms with fixed buckets, and
// the standard process_* metrics.
//
//   mercato::obs::Registry registry;
//   registry.register_process_metrics();
//   auto& requests = registry.counter("http_requests_total", "HTTP requests handled.",
//                                     {{"method", "GET"}, {"status", "200"}});
//   auto& latency = registry.histogram("http_request_duration_seconds", "Request latency.",
//                                      {{"route", "/users"}});
//   requests.inc();
//   latency.observe(0.042);
//   std::string body = registry.render();   // Content-Type: kPrometheusContentType
//
// Look metric objects up once (at start-up or per route) and keep the reference: registration takes a
// lock and builds a key, updating is a single atomic operation.
//
// Thread-safety: every Registry member function is thread-safe (one mutex guards registration and
// rendering). Counter, Gauge and Histogram updates are lock-free atomics and may race freely with each
// other and with render(); a scrape sees each value at some recent point, and a histogram's buckets,
// _count and _sum may be a few observations apart from each other.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mercato::obs {

// The Content-Type header value for render()'s output.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label name/value pairs. Order does not matter: {a,b} and {b,a} name the same series.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count (requests, errors, bytes).
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `n`.
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  // The current total.
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (queue depth, connections in use, memory).
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  // Replaces the value.
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  // Adds `delta` (negative to subtract).
  void add(double delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  // The current value.
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A distribution over fixed bucket upper bounds (inclusive, as Prometheus' "le"), plus sum and count.
class Histogram {
 public:
  // `bounds` must be finite, strictly increasing upper bounds; a trailing +Inf is allowed and implied
  // anyway. Throws std::invalid_argument otherwise. Normally created through Registry::histogram.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one value. NaN counts in the +Inf bucket (and turns the sum into NaN, as in other clients).
  void observe(double value) noexcept;
  // Number of observations.
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  // Sum of observed values.
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  // The finite upper bounds, ascending.
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  // Observations in bucket `i` alone (not cumulative); i == bounds().size() is the +Inf bucket.
  std::uint64_t bucket_count(std::size_t i) const noexcept {
    return buckets_[i].load(std::memory_order_relaxed);
  }

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // bounds_.size() + 1 entries, never resized
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Upper bounds in seconds for request latencies: .0005 .001 .0025 .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> default_latency_buckets();

// Owns metric families and renders them. Not copyable or movable: metric references point into it.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the metric with this name and label set, creating it on first use; the reference stays
  // valid for the Registry's lifetime. Throws std::logic_error when `name` was registered with another
  // type or another help text (or, for histograms, other buckets), and std::invalid_argument when the
  // metric name, a label name (or a reserved one: "__*", and "le" on histograms) is not valid
  // Prometheus syntax or a label name repeats.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels = {},
                       std::vector<double> buckets = default_latency_buckets());

  // Adds a callback run at the start of every render(), to refresh gauges from elsewhere (process
  // metrics, pool sizes). Callbacks run without the registry lock held, so they may register metrics;
  // if render() is called from several threads at once they run concurrently and must tolerate that.
  void on_collect(std::function<void()> fn);

  // All families sorted by name: "# HELP" and "# TYPE" once per family, then one line per series (label
  // values escaped: \\ \" \n); histograms as cumulative name_bucket{le="..."} including le="+Inf", then
  // name_sum and name_count. Families with no series are omitted.
  std::string render() const;

  // Registers process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
  // process_open_fds, process_max_fds, process_start_time_seconds and process_threads, refreshed from
  // /proc/self on each render(). Calling it again has no further effect. On systems without /proc the
  // values stay 0.
  void register_process_metrics();

 private:
  struct Family;
  enum class Type { kCounter, kGauge, kHistogram };
  Family& family(std::string_view name, std::string_view help, Type type, const std::vector<double>* buckets);
  Gauge& gauge_with_type(std::string_view name, std::string_view help, const Labels& labels, Type type);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
  std::vector<std::function<void()>> collectors_;
  bool process_metrics_registered_ = false;
};

}  // namespace mercato::obs
