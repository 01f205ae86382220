// HTTP requests and responses as plain values, independent of Beast.
//
// Handlers see `Request` and return `Response`; the server converts to and from Beast's types in its
// own translation unit, so service code never includes Beast or Asio I/O headers.
//
//   http::Response get_user(const http::Request& req) {
//     auto id = req.param("id");
//     ...
//     return http::Response::json(200, body);          // or: return http::Response::error(err, req);
//   }
//
// Thread-safety: plain values.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/error.hpp"
#include "mercato/observability/trace_context.hpp"

namespace boost::json {
class value;
class object;
}  // namespace boost::json

namespace mercato::obs {
class Tracer;
}  // namespace mercato::obs

namespace mercato::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };
std::string_view to_string(Method method) noexcept;
Method parse_method(std::string_view name) noexcept;

// Header names compare case-insensitively; order and repeats are kept.
class Headers {
 public:
  // A header as stored: views into the Headers, valid until it is next changed.
  using Entry = std::pair<std::string_view, std::string_view>;

  // The first value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  // Replaces every value of `name` with `value`.
  void set(std::string_view name, std::string_view value);
  void add(std::string_view name, std::string_view value);
  void remove(std::string_view name);
  // Removes every header for which pred(name, value) is true.
  template <class Pred>
  void remove_if(Pred pred) {
    std::erase_if(slots_, [&](const Slot& s) {
      auto [name, value] = entry(s);
      return pred(name, value);
    });
  }
  bool empty() const noexcept { return slots_.empty(); }
  std::size_t size() const noexcept { return slots_.size(); }
  // Room for `n` headers of `bytes` characters in all, so that adding them allocates nothing.
  void reserve(std::size_t n, std::size_t bytes = 0);

  // for (const auto& [name, value] : headers.entries()) — in the order they were added.
  class Range;
  Range entries() const noexcept;

 private:
  // Why one text buffer and offsets rather than a string pair per header: a proxied request copies
  // two header sets, and two allocations per header were a visible part of its cost.
  struct Slot {
    std::uint32_t at;  // name, then value, in text_
    std::uint32_t name_size;
    std::uint32_t value_size;
  };
  Entry entry(const Slot& s) const noexcept {
    return {std::string_view(text_).substr(s.at, s.name_size),
            std::string_view(text_).substr(s.at + s.name_size, s.value_size)};
  }
  std::string text_;
  std::vector<Slot> slots_;
};

class Headers::Range {
 public:
  class iterator {
   public:
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    iterator(const Headers* h, std::size_t i) noexcept : h_(h), i_(i) {}
    Entry operator*() const noexcept { return h_->entry(h_->slots_[i_]); }
    iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    const Headers* h_;
    std::size_t i_;
  };
  explicit Range(const Headers* h) noexcept : h_(h) {}
  iterator begin() const noexcept { return {h_, 0}; }
  iterator end() const noexcept { return {h_, h_->slots_.size()}; }
  std::size_t size() const noexcept { return h_->slots_.size(); }

 private:
  const Headers* h_;
};

inline Headers::Range Headers::entries() const noexcept { return Range(this); }

bool iequals(std::string_view a, std::string_view b) noexcept;

using Clock = std::chrono::steady_clock;

struct Request {
  Method method = Method::kGet;
  std::string method_name;  // as received, for kOther
  std::string target;       // path + query, as received
  std::string path;         // without the query
  std::string query;        // after '?', without it
  Headers headers;
  std::string body;
  bool keep_alive = true;

  // Filled by the server before the handler runs.
  std::vector<std::pair<std::string, std::string>> params;  // path parameters from the route
  // The matched route pattern, e.g. "/users/{id}": a view of the server's router, which outlives every
  // request it serves (a copy per request was an allocation for any pattern past 15 characters).
  std::string_view route;
  std::string request_id;   // X-Request-ID, received or generated
  obs::TraceContext trace;  // this hop's span (child of traceparent)
  // The server's tracer (nullptr: tracing off). An async handler has no ambient context across its
  // co_awaits; around a stretch of synchronous work (a database transaction) it installs one,
  // `obs::ContextScope scope(req.tracer, req.trace);`, so that work is a span of the request's trace.
  const obs::Tracer* tracer = nullptr;
  std::optional<Clock::time_point> deadline;  // from X-Request-Timeout-Ms, if sent
  std::string remote_address;

  // The path parameter `name` ("" when the route has none of that name).
  std::string_view param(std::string_view name) const;
  // The first value of query parameter `name`, percent-decoded, unchecked. Handlers read theirs through
  // http::QueryReader (query.hpp), which refuses repeats and names the parameter in its 400.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Never sent: what a 5xx error was about (addresses, driver text), which the server logs with the
  // request id while the client sees only the code, a generic message and the request id.
  std::string detail;

  // A JSON body with Content-Type application/json.
  static Response json(int status, const boost::json::value& body);
  static Response json_text(int status, std::string body);
  // The one error shape: {"error":{"code","message","field"?,"request_id"}} with the code's status.
  // For a 5xx code the message is a generic one for the code and `error.message` goes to `detail`:
  // the text of a failure inside the system names its addresses and drivers, which clients must not see.
  static Response error(const Error& error, std::string_view request_id);
  // The same, with extra top-level members beside "error".
  static Response error(const Error& error, std::string_view request_id, const boost::json::object& extra);
  // The error shape with `error.message` as is, whatever the code. Only for a message that names nothing
  // internal (the gateway's own refusals: "circuit open for service 'orders'") or an endpoint that only
  // operators reach (readiness, whose whole point is to say what is failing).
  static Response error_verbatim(const Error& error, std::string_view request_id,
                                 const boost::json::object& extra);
  static Response no_content();
};

// The header that carries a caller's remaining time budget in milliseconds. Relative rather than an
// absolute time so that clock differences between hosts do not matter (gRPC's grpc-timeout does the same).
inline constexpr std::string_view kRequestTimeoutHeader = "X-Request-Timeout-Ms";
inline constexpr std::string_view kRequestIdHeader = "X-Request-ID";
inline constexpr std::string_view kTraceparentHeader = "traceparent";

// Hop-by-hop headers (RFC 9110 §7.6.1) that a proxy must not forward.
bool is_hop_by_hop(std::string_view name) noexcept;

// Query-string decoding: %XX escapes and '+' as space.
std::string percent_decode(std::string_view text);
// Path-segment decoding: %XX escapes only ('+' stays '+').
std::string percent_decode_path(std::string_view text);

}  // namespace mercato::http
