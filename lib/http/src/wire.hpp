// Serializing HTTP/1.1 messages into one contiguous buffer (private to lib/http).
//
// Why not Beast's serializer: it walks a chain of buffer views per write, which showed up as the largest
// user-space cost of a proxied request in profiles (docs/benchmarks.md). One string written with one
// send costs less, and the framing rules we need are few.
#pragma once

#include <string>
#include <string_view>

#include "mercato/http/message.hpp"

namespace mercato::http::wire {

// Status line, the response's headers (minus framing headers, which are ours to set, and any header
// whose name or value could break framing), X-Request-ID, Content-Length, Connection, blank line, body.
// For a HEAD request (`head`) the body is left out and Content-Length is the one a GET would get: the
// body's size, or, when the body is empty, a valid Content-Length header of `response` (a proxied HEAD
// carries the upstream's).
void write_response(std::string& out, const Response& response, unsigned version, bool keep_alive,
                    std::string_view request_id, bool head = false);

// Request line, headers (minus hop-by-hop, framing and Expect), Host if absent, extra header, blank line,
// body. Expect is dropped because the body is always sent at once: waiting for a 100 Continue would only
// add a round trip, and the interim response a server sends must not be taken for the answer.
void write_request(std::string& out, std::string_view method, std::string_view target, const Headers& headers,
                   std::string_view host, std::string_view extra_name, std::string_view extra_value,
                   std::string_view body);

std::string_view reason_phrase(int status) noexcept;

}  // namespace mercato::http::wire
