#include "mercato/observability/tracing.hpp"

#include <chrono>
#include <cmath>
#include <limits>

#include "mercato/core/ids.hpp"

namespace mercato::obs {
namespace {

// Only synchronous code reads or writes this (tracing.hpp): a ContextScope never spans a co_await.
thread_local std::optional<Ambient> t_ambient;

std::uint64_t hex_to_u64(std::string_view hex) {
  std::uint64_t v = 0;
  for (char c : hex) {
    v <<= 4U;
    v |= static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return v;
}

}  // namespace

bool Sampler::ratio_says(std::string_view trace_id) const {
  if (settings_.ratio >= 1.0) return true;
  if (settings_.ratio <= 0.0) return false;
  // The trace id's last 8 bytes are random (W3C Trace Context level 2 asks for at least the right
  // 7): compare them with the ratio's share of the 64-bit range.
  auto bound = static_cast<std::uint64_t>(std::ldexp(settings_.ratio, 64));
  return trace_id.size() == 32 && hex_to_u64(trace_id.substr(16)) < bound;
}

bool Sampler::should_sample(const std::optional<TraceContext>& parent, std::string_view trace_id) const {
  switch (settings_.kind) {
    case SamplerKind::kAlwaysOn:
      return true;
    case SamplerKind::kAlwaysOff:
      return false;
    case SamplerKind::kTraceIdRatio:
      return ratio_says(trace_id);
    case SamplerKind::kParentBasedAlwaysOn:
      return parent ? parent->sampled() : true;
    case SamplerKind::kParentBasedAlwaysOff:
      return parent ? parent->sampled() : false;
    case SamplerKind::kParentBasedTraceIdRatio:
      return parent ? parent->sampled() : ratio_says(trace_id);
  }
  return false;
}

Span::Span(Span&& other) noexcept
    : sink_(std::exchange(other.sink_, nullptr)), data_(std::move(other.data_)) {}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    sink_ = std::exchange(other.sink_, nullptr);
    data_ = std::move(other.data_);
  }
  return *this;
}

void Span::set(std::string_view key, std::string_view value) {
  if (sink_ != nullptr) data_.attributes.push_back({key, std::string(value)});
}

void Span::set(std::string_view key, std::int64_t value) {
  if (sink_ != nullptr) data_.attributes.push_back({key, value});
}

void Span::set(std::string_view key, bool value) {
  if (sink_ != nullptr) data_.attributes.push_back({key, value});
}

void Span::set_error(std::string_view message) {
  if (sink_ == nullptr) return;
  data_.status = SpanStatus::kError;
  data_.status_message = std::string(message);
}

void Span::rename(std::string name) {
  if (sink_ != nullptr) data_.name = std::move(name);
}

void Span::end() {
  if (sink_ == nullptr) return;
  data_.end_unix_nano = unix_nano_now();
  std::exchange(sink_, nullptr)->export_span(std::move(data_));
}

Span Tracer::start(std::string name, SpanKind kind, const std::optional<TraceContext>& parent) const {
  Span span;
  span.data_.context = parent ? parent->child() : TraceContext::new_root();
  bool sampled = sampler_.should_sample(parent, span.data_.context.trace_id);
  // Keep the other flag bits a parent set; the sampled bit is ours to say.
  span.data_.context.flags =
      static_cast<std::uint8_t>((span.data_.context.flags & ~1U) | (sampled ? 1U : 0U));
  if (!sampled || sink_ == nullptr) return span;
  span.sink_ = sink_;
  span.data_.name = std::move(name);
  span.data_.kind = kind;
  if (parent) span.data_.parent_span_id = parent->span_id;
  span.data_.attributes.reserve(8);  // what the instrumentation sets at most, in one allocation
  span.data_.start_unix_nano = unix_nano_now();
  return span;
}

ContextScope::ContextScope(const Tracer* tracer, const TraceContext& context) {
  if (tracer == nullptr) return;
  installed_ = true;
  previous_ = std::move(t_ambient);
  t_ambient = Ambient{tracer, context};
}

ContextScope::~ContextScope() {
  if (installed_) t_ambient = std::move(previous_);
}

const Ambient* ambient() noexcept { return t_ambient ? &*t_ambient : nullptr; }

std::uint64_t unix_nano_now() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace mercato::obs
