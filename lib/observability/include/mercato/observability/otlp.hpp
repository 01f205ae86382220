// Exporting spans over OTLP/HTTP (POST /v1/traces, protobuf encoding), in the background.
//
// Ours rather than the OpenTelemetry C++ SDK's: Debian packages no OpenTelemetry C++ SDK, and what a
// service needs of one is small — a bounded queue, a batching thread, the protobuf encoding of
// proto/mercato/otlp/trace.proto and an HTTP POST with retries (docs/adr/0016-tracing.md).
//
//   obs::BatchSpanProcessor exporter(settings, obs::make_http_sender(*settings.endpoint), metrics, &log);
//   obs::Tracer tracer(settings.sampler, &exporter);
//   ...                                         // spans end → exporter.export_span (never blocks)
//   exporter.shutdown();                         // exports what is queued, within export_timeout
//
// The queue holds at most OTEL_BSP_MAX_QUEUE_SIZE spans; a span that finds it full is dropped and
// counted (mercato_tracing_spans_dropped_total) — a request never waits for the collector. The thread
// sends a batch when OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans wait or OTEL_BSP_SCHEDULE_DELAY has passed;
// a 429, 502, 503 or 504 or a failed connection is retried with exponential backoff (a Retry-After
// header, in seconds, is honoured) while the batch's OTEL_BSP_EXPORT_TIMEOUT lasts; after that, or on
// any other answer, the batch is given up and counted (mercato_tracing_spans_failed_total).
//
// Thread-safety: export_span may be called from every thread; shutdown from one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/observability/tracing.hpp"
#include "mercato/observability/tracing_settings.hpp"

namespace mercato::obs {

// The resource every span of one exporter belongs to.
struct Resource {
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// An ExportTraceServiceRequest (protobuf bytes) with `spans`, grouped under `resource` and one
// instrumentation scope ("mercato").
std::string encode_export_request(const std::vector<SpanData>& spans, const Resource& resource);

// What one POST came to: the HTTP status (0 when no answer arrived: connect failed, timed out) and the
// Retry-After it carried.
struct SendOutcome {
  int status = 0;
  std::optional<std::chrono::seconds> retry_after;
  std::string error;  // why there was no answer
};

// Sends one encoded request. Blocking; called on the exporter's thread only.
class OtlpSender {
 public:
  virtual ~OtlpSender() = default;
  virtual SendOutcome send(const std::string& body, std::chrono::milliseconds timeout) = 0;
};

// POSTs to `endpoint` over HTTP/1.1 (Content-Type: application/x-protobuf), keeping its connection
// between exports.
std::unique_ptr<OtlpSender> make_http_sender(const OtlpEndpoint& endpoint);

struct RetryPolicy {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::seconds max_retry_after{30};  // a longer Retry-After is cut to this
};

// How long to wait before attempt `attempt + 1` (attempt counts from 1) after `outcome`, or nullopt when
// the outcome is not worth retrying (2xx, or a status that says the request itself is wrong).
std::optional<std::chrono::milliseconds> retry_delay(const SendOutcome& outcome, int attempt,
                                                     const RetryPolicy& policy);

class BatchSpanProcessor : public SpanSink {
 public:
  // `logger` may be nullptr; else failures are logged (at most one line per export).
  BatchSpanProcessor(const TracingSettings& settings, std::unique_ptr<OtlpSender> sender, Registry& metrics,
                     const Logger* logger, RetryPolicy retry = {});
  ~BatchSpanProcessor() override;
  BatchSpanProcessor(const BatchSpanProcessor&) = delete;
  BatchSpanProcessor& operator=(const BatchSpanProcessor&) = delete;

  // Queues the span, or drops and counts it when the queue is full. Never waits for the exporter.
  void export_span(SpanData&& span) override;
  // Exports every queued span now and waits (at most export_timeout) until that is done.
  void flush();
  // Exports what is queued (within export_timeout), then stops the thread; idempotent.
  void shutdown();

  // The counters above, as numbers (tests, logs).
  struct Stats {
    std::uint64_t dropped = 0;
    std::uint64_t exported = 0;
    std::uint64_t failed = 0;
    std::uint64_t retries = 0;
  };
  Stats stats() const noexcept {
    return {dropped_.value(), exported_.value(), failed_.value(), retries_.value()};
  }

 private:
  void run();
  void export_batch(const std::vector<SpanData>& batch);

  Resource resource_;
  std::chrono::milliseconds schedule_delay_;
  std::size_t max_queue_size_;
  std::size_t max_batch_;
  std::chrono::milliseconds export_timeout_;
  RetryPolicy retry_;
  std::unique_ptr<OtlpSender> sender_;
  const Logger* logger_;
  Counter& dropped_;
  Counter& exported_;
  Counter& failed_;
  Counter& retries_;
  std::mutex mutex_;
  std::condition_variable wake_;       // the thread: a full batch, a flush, or stop
  std::condition_variable flushed_;    // flush(): the thread caught up
  std::deque<SpanData> queue_;         // guarded by mutex_
  std::uint64_t flush_requested_ = 0;  // guarded by mutex_
  std::uint64_t flush_done_ = 0;       // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_
  std::thread thread_;
};

}  // namespace mercato::obs
