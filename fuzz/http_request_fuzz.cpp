// Fuzz target: lib/http's HTTP/1.1 parser (src/parser.hpp) and serializer (src/wire.hpp).
//
// Input: byte 0 chooses the mode, the rest is what a peer sends on one connection.
// - bit 0 clear: a request stream, parsed request after request as the server does (header limit, body
//   limit, the read buffer's bound, stop after an error or a non-keep-alive request). Every request
//   that parses is routed, its query and traceparent read, and it is written out again as the gateway
//   forwards it (wire::write_request) and echoed as a response (wire::write_response); both must parse
//   back to the same method, target and body. A proxy that writes what its own parser then reads
//   differently is how request smuggling starts.
// - bit 0 set: a response stream, parsed as the client parses an upstream's answer.
// - bit 1 set: the stream arrives in small pieces (bits 2-7 give the size) instead of at once; the
//   outcome must be the same, as TCP may split a stream anywhere.
#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/http/router.hpp"
#include "mercato/observability/trace_context.hpp"
#include "parser.hpp"
#include "wire.hpp"

namespace {

using namespace mercato::http;

constexpr std::uint32_t kHeaderLimit = 4 * 1024;  // small, so inputs reach the limit
constexpr std::uint64_t kBodyLimit = std::uint64_t{64} * 1024;
// The server's read buffer: the header limit plus 16 KiB (server.cpp).
constexpr std::size_t kBufferBound = kHeaderLimit + 16 * 1024;
constexpr int kMaxMessages = 64;

struct Parsed {
  bool ok = false;
  std::string method;
  std::string target;
  int status = 0;
  unsigned version = 0;
  bool keep_alive = false;
  Headers headers;
  std::string body;
  friend bool operator==(const Parsed& a, const Parsed& b) {
    return a.ok == b.ok && a.method == b.method && a.target == b.target && a.status == b.status &&
           a.version == b.version && a.keep_alive == b.keep_alive && a.body == b.body &&
           a.headers.size() == b.headers.size();
  }
};

// Parses one message from data[pos..], revealing at most `piece` more bytes per step (all at once when
// piece is 0). Advances pos past what the parser consumed. Returns nullopt when the stream ends first.
template <bool kIsRequest>
std::optional<Parsed> parse_one(std::string_view data, std::size_t& pos, std::size_t piece,
                                bool head_response, std::uint32_t header_limit = kHeaderLimit) {
  detail::MessageParser<kIsRequest> parser;
  parser.limit_header_bytes(header_limit);
  parser.body_limit(kBodyLimit);
  if constexpr (!kIsRequest) {
    if (head_response) parser.skip(true);
  }
  auto reveal = [&](std::size_t from) {
    return piece == 0 ? data.size() : std::min(data.size(), from + piece);
  };
  std::size_t visible = reveal(pos);
  Parsed out;
  for (;;) {
    visible = std::min(visible, pos + kBufferBound);
    boost::system::error_code ec;
    std::size_t used = parser.put(boost::asio::buffer(data.data() + pos, visible - pos), ec);
    pos += used;
    if (ec == boost::beast::http::error::need_more || (!ec && !parser.is_done() && pos == visible)) {
      if (visible == data.size()) return std::nullopt;  // the peer stopped sending
      if (visible - pos >= kBufferBound) return out;    // the server's buffer is full: an error
      visible = reveal(visible);
      continue;
    }
    if (ec) return out;  // ok == false: the connection ends here
    if (parser.is_done()) break;
    if (used == 0) std::abort();  // no progress, no error, not done: the parser would spin
  }
  out.ok = true;
  out.method = std::move(parser.method);
  out.target = std::move(parser.target);
  out.status = parser.status;
  out.version = parser.version;
  out.keep_alive = parser.keep_alive();
  out.headers = std::move(parser.headers);
  out.body = std::move(parser.body);
  return out;
}

template <bool kIsRequest>
std::vector<Parsed> parse_stream(std::string_view data, std::size_t piece) {
  std::vector<Parsed> messages;
  std::size_t pos = 0;
  while (pos < data.size() && messages.size() < kMaxMessages) {
    auto message = parse_one<kIsRequest>(data, pos, piece, false);
    if (!message) break;
    messages.push_back(std::move(*message));
    if (!messages.back().ok || !messages.back().keep_alive) break;
  }
  return messages;
}

const Router& router() {
  static const Router kRouter = [] {
    Router built;
    auto ok = [](const Request&) { return Response{}; };
    built.post("/inventory/reservations", ok);
    built.get("/inventory/reservations/{order_id}", ok);
    built.post("/inventory/reservations/{order_id}/commit", ok);
    built.get("/users/{id}", ok);
    built.patch("/users/{id}", ok);
    built.any_async("/api/{service}/{rest...}",
                    [](const Request&) -> boost::asio::awaitable<Response> { co_return Response{}; });
    return built;
  }();
  return kRouter;
}

void check_request(const Parsed& p) {
  Request req;
  req.method = parse_method(p.method);
  req.target = p.target;
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  auto match = router().match(req.method, req.path);
  req.params = std::move(match.params);
  (void)req.param("id");
  (void)req.query_param("customer_id");
  if (auto tp = p.headers.get("traceparent")) (void)mercato::obs::TraceContext::parse(*tp);

  // Forwarded as the gateway does: it must read back as the same request.
  std::string out;
  wire::write_request(out, p.method, p.target, p.headers, "127.0.0.1:8081", "X-Request-ID", "fuzz", p.body);
  std::size_t pos = 0;
  // The forwarded header section is larger (Host, X-Request-ID): a request just under the limit may
  // exceed it at the service, which answers 431 through the gateway. That is a limit, not a
  // misreading, so the re-parse gets room for what was added.
  constexpr std::uint32_t kRoom = kHeaderLimit + 1024;
  auto again = parse_one<true>(out, pos, 0, false, kRoom);
  if (!again || !again->ok || pos != out.size() || again->method != p.method || again->target != p.target ||
      again->body != p.body) {
    std::abort();
  }

  // Echoed as a response: the client must read the same body back.
  Response res;
  res.headers = p.headers;
  res.body = p.body;
  wire::write_response(out, res, p.version, p.keep_alive, "fuzz");
  pos = 0;
  auto echoed = parse_one<false>(out, pos, 0, false, kRoom);
  if (!echoed || !echoed->ok || pos != out.size() || echoed->status != 200 || echoed->body != p.body) {
    std::abort();
  }
  // And as the answer to a HEAD: no body, and the client (told it was a HEAD) consumes it exactly.
  wire::write_response(out, res, p.version, p.keep_alive, "fuzz", true);
  pos = 0;
  auto headed = parse_one<false>(out, pos, 0, true, kRoom);
  if (!headed || !headed->ok || pos != out.size() || !headed->body.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool response = (mode & 1U) != 0;
  const std::size_t piece = (mode & 2U) != 0 ? 1 + (mode >> 2U) : 0;

  auto whole = response ? parse_stream<false>(stream, 0) : parse_stream<true>(stream, 0);
  if (piece != 0) {
    auto pieces = response ? parse_stream<false>(stream, piece) : parse_stream<true>(stream, piece);
    // The requests must be the same. How the stream ends may differ: Beast can refuse a broken start
    // line before the header's end has arrived, while in small pieces it waits for more, and the peer
    // stops first; either way no request comes of it and the connection ends.
    auto requests = [](std::vector<Parsed> v) {
      if (!v.empty() && !v.back().ok) v.pop_back();
      return v;
    };
    if (requests(pieces) != requests(whole)) std::abort();
  }
  if (!response) {
    for (const auto& p : whole) {
      if (p.ok) check_request(p);
    }
  }
  return 0;
}
