// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header that carries a
// trace id and the caller's span id from one service to the next.
//
//   auto incoming = mercato::obs::TraceContext::parse(request_header("traceparent"));
//   auto ctx = incoming ? incoming->child() : mercato::obs::TraceContext::new_root();
//   upstream_request.set("traceparent", ctx.to_traceparent());
//   // "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
//
// A header that does not parse is not an error to report: the receiver starts a new trace, as the spec
// asks.
//
// Thread-safety: plain values; the static functions are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mercato::obs {

struct TraceContext {
  std::string trace_id;    // 32 lowercase hex digits, not all zero
  std::string span_id;     // 16 lowercase hex digits, not all zero (the spec's "parent-id")
  std::uint8_t flags = 1;  // trace-flags; bit 0 = sampled

  // Parses a traceparent header value. Version 00 must be exactly 55 characters
  // "00-<trace_id>-<span_id>-<flags>". A higher version (but not ff) is accepted when its first 55
  // characters have that shape and are followed by nothing or by '-' (the spec's forward
  // compatibility rule); what follows is ignored, and of a future version's flags only the sampled bit
  // is kept. Uppercase hex, all-zero ids and any other deviation → nullopt.
  static std::optional<TraceContext> parse(std::string_view traceparent);
  // A new trace: random trace and span ids, sampled.
  static TraceContext new_root();
  // The context for an outgoing call or a new local span: same trace id and flags, new span id.
  TraceContext child() const;
  // "00-<trace_id>-<span_id>-<flags as 2 lowercase hex>". We always emit version 00, the only one we
  // fully understand, even when the parsed header had a higher version.
  std::string to_traceparent() const;
  // Whether the sampled flag is set.
  bool sampled() const noexcept { return (flags & 1U) != 0; }

  friend bool operator==(const TraceContext&, const TraceContext&) = default;
};

}  // namespace mercato::obs
