// Spans: timed, attributed pieces of a trace, recorded by a Tracer and handed to a SpanSink (the OTLP
// batch exporter, otlp.hpp) when they end. The trace context they continue and create is the W3C one
// (trace_context.hpp), so a span's context is what goes out as `traceparent`.
//
//   obs::Span span = tracer.start("GET /orders/{id}", obs::SpanKind::kServer, incoming_parent);
//   request.trace = span.context();                 // what the handler and its calls continue
//   span.set("http.response.status_code", std::int64_t{200});
//   if (status >= 500) span.set_error("upstream failed");
//   span.end();                                     // or let it go out of scope
//
// Where the current context lives (docs/adr/0016-tracing.md). Asio coroutines of many requests take
// turns on one I/O thread, so a thread_local "current span" would be wrong after any co_await. The
// context therefore travels explicitly, in the values that already carry it across suspensions:
// http::Request::trace, the outgoing request's `traceparent` header, a gRPC call's metadata, a
// CloudEvent's `traceparent`. Only code that cannot suspend — a synchronous route, an event handler,
// a database transaction — sees an *ambient* context, installed by a ContextScope for exactly that
// stretch of code and restored when it ends; this is what lib/sql and events::make_event read.
//
// Sampling: the sampler decides once, at the span that has no sampled parent to follow, and the
// decision travels in the traceparent's sampled flag; a span that is not sampled still gets a fresh
// context (propagation continues) but records nothing.
//
// Thread-safety: Tracer is immutable after construction and may be used from any thread. A Span is
// used by one thread at a time (it may move between threads with the coroutine that owns it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/observability/trace_context.hpp"

namespace mercato::obs {

// OpenTelemetry's span kinds (the numbers are OTLP's).
enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
// OTLP's status codes: unset unless something failed.
enum class SpanStatus { kUnset = 0, kOk = 1, kError = 2 };

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;
// The key is a view of a string with static storage — the semantic conventions' names, written as
// literals where the span is made — so that recording an attribute allocates for its value at most.
struct Attribute {
  std::string_view key;
  AttributeValue value;
};

// A finished span as exported.
struct SpanData {
  TraceContext context;        // trace id, this span's id, flags
  std::string parent_span_id;  // 16 hex digits, empty for a root
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  std::vector<Attribute> attributes;
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;
};

// Where ended spans go. export_span must not block on I/O: it is called on request paths.
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void export_span(SpanData&& span) = 0;
};

// OTEL_TRACES_SAMPLER's values.
enum class SamplerKind {
  kAlwaysOn,
  kAlwaysOff,
  kTraceIdRatio,
  kParentBasedAlwaysOn,
  kParentBasedAlwaysOff,
  kParentBasedTraceIdRatio,
};

struct SamplerSettings {
  SamplerKind kind = SamplerKind::kParentBasedAlwaysOn;  // the specification's default
  double ratio = 1.0;                                    // for the ratio kinds, within [0, 1]
};

// Decides whether a new span is sampled. The ratio decision is a function of the trace id alone, so
// every service that sees a trace without a sampled flag to follow decides it the same way.
class Sampler {
 public:
  explicit Sampler(SamplerSettings settings) : settings_(settings) {}
  // `parent`: the context the new span continues (a remote caller's or a local span's), if any.
  bool should_sample(const std::optional<TraceContext>& parent, std::string_view trace_id) const;

 private:
  bool ratio_says(std::string_view trace_id) const;
  SamplerSettings settings_;
};

class Tracer;

// One span being recorded. Move-only; ends itself when destroyed. A default-constructed Span, or one
// that is not sampled, records nothing, but context() is still the context to propagate.
class Span {
 public:
  Span() = default;
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { end(); }

  // Whether attributes and the end are recorded (sampled, with a sink).
  bool recording() const noexcept { return sink_ != nullptr; }
  const TraceContext& context() const noexcept { return data_.context; }

  // Attributes; `key` must have static storage (a string literal: see Attribute).
  void set(std::string_view key, std::string_view value);
  void set(std::string_view key, const char* value) { set(key, std::string_view(value)); }
  void set(std::string_view key, const std::string& value) { set(key, std::string_view(value)); }
  void set(std::string_view key, std::int64_t value);
  void set(std::string_view key, bool value);
  // Marks the span failed (OTLP status ERROR) with a short description.
  void set_error(std::string_view message);
  // Renames (a server span learns its route after it started).
  void rename(std::string name);
  // Records the end time and hands the span to the sink; later calls do nothing.
  void end();

 private:
  friend class Tracer;
  SpanSink* sink_ = nullptr;
  SpanData data_;
};

// Makes spans for one service (its sampler and sink). A Tracer exists only when tracing is on; code
// that may run untraced holds a `Tracer*` that is nullptr then, and propagates contexts as before.
class Tracer {
 public:
  // `sink`: where sampled spans go (nullptr: none is recorded, contexts still flow); not owned.
  Tracer(SamplerSettings sampler, SpanSink* sink) : sampler_(sampler), sink_(sink) {}

  // A span continuing `parent` (same trace, `parent`'s span as its parent) or, without one, starting a
  // new trace. The sampled flag of the new context is the sampler's decision.
  Span start(std::string name, SpanKind kind, const std::optional<TraceContext>& parent) const;

 private:
  Sampler sampler_;
  SpanSink* sink_;
};

// The ambient context of synchronous code (see the top of this file): the tracer and the span that
// code runs under. Never held across a co_await.
struct Ambient {
  const Tracer* tracer = nullptr;
  TraceContext context;
};

// Installs an ambient context for its lifetime and puts back the previous one when destroyed. A
// nullptr tracer installs nothing (tracing off costs nothing here).
class ContextScope {
 public:
  ContextScope(const Tracer* tracer, const TraceContext& context);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  bool installed_ = false;
  std::optional<Ambient> previous_;
};

// The ambient context of this thread, or nullptr outside every ContextScope.
const Ambient* ambient() noexcept;

// Nanoseconds since the Unix epoch, now (OTLP's time unit).
std::uint64_t unix_nano_now() noexcept;

}  // namespace mercato::obs
