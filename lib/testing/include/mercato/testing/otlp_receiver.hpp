// A stand-in for an OpenTelemetry collector in tests: an HTTP server on a free loopback port that takes
// OTLP/HTTP `POST /v1/traces` with protobuf bodies and keeps the spans. It parses strictly, against
// lib/observability/proto/mercato/otlp/trace.proto: a body with a field those messages do not define
// (at any depth), an enum value they do not define, an id of the wrong length or a Content-Type other
// than application/x-protobuf is answered 400 and counted as rejected — so a test passing means the
// exporter writes what the specification's messages say, not just something a lenient reader accepts.
//
//   testing::OtlpReceiver receiver;
//   setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint().c_str(), 1);
//   ...
//   receiver.answer_next(2, 503, 1);            // the next two exports: 503 with Retry-After: 1
//   auto spans = receiver.wait_for([](const auto& all) { return all.size() >= 10; }, 20s);
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mercato::testing {

// One received span, its ids as lowercase hex.
struct ReceivedSpan {
  std::string service;  // the resource's service.name
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;  // empty for a root
  std::string name;
  int kind = 0;  // OTLP's SpanKind number: 2 server, 3 client, 4 producer, 5 consumer
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  std::map<std::string, std::string> attributes;  // every value as text (ints in decimal, bools true/false)
  int status_code = 0;                            // 0 unset, 1 ok, 2 error
  std::uint32_t flags = 0;
};

class OtlpReceiver {
 public:
  OtlpReceiver();
  ~OtlpReceiver();
  OtlpReceiver(const OtlpReceiver&) = delete;
  OtlpReceiver& operator=(const OtlpReceiver&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:<port>": a value for OTEL_EXPORTER_OTLP_ENDPOINT.
  std::string endpoint() const;

  // The next `count` requests are answered `status` (with Retry-After: `retry_after_seconds` when set)
  // and their spans not kept.
  void answer_next(int count, int status, std::optional<int> retry_after_seconds = std::nullopt);

  std::vector<ReceivedSpan> spans() const;
  // Requests taken (answered 200), refused by answer_next, and rejected as malformed.
  int accepted() const;
  int refused() const;
  int rejected() const;
  // Why the rejected requests were rejected.
  std::vector<std::string> rejections() const;

  // Waits until `done(spans)` holds or `timeout` passes; returns the spans either way.
  std::vector<ReceivedSpan> wait_for(const std::function<bool(const std::vector<ReceivedSpan>&)>& done,
                                     std::chrono::milliseconds timeout) const;

  // The strict parse the server applies, for a body given directly (unit tests of the parser).
  // Returns an error message, or the spans.
  struct Parsed {
    std::vector<ReceivedSpan> spans;
    std::string error;  // non-empty: refused
  };
  static Parsed parse(const std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mercato::testing
