#include "wire.hpp"

#include <gtest/gtest.h>

namespace mercato::http::wire {
namespace {

TEST(WireResponse, FramesBodyAndSetsRequestId) {
  Response r = Response::json_text(201, R"({"a":1})");
  std::string out;
  write_response(out, r, 11, true, "rid-1");
  EXPECT_EQ(out,
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Request-ID: rid-1\r\n"
            "Content-Length: 7\r\n\r\n{\"a\":1}");
}

TEST(WireResponse, DropsHandlerFramingAndHopByHopHeaders) {
  Response r;
  r.headers.add("Content-Length", "999");
  r.headers.add("Transfer-Encoding", "chunked");
  r.headers.add("Connection", "upgrade");
  r.headers.add("X-Request-ID", "other");
  r.headers.add("X-Evil", "a\r\nSet-Cookie: x");
  r.headers.add("Bad Name", "v");
  r.body = "ok";
  std::string out;
  write_response(out, r, 11, false, "rid");
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nX-Request-ID: rid\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

TEST(WireResponse, NoContentHasNoBodyOrLength) {
  Response r = Response::no_content();
  r.body = "ignored";
  std::string out;
  write_response(out, r, 11, true, "");
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(WireResponse, Http10KeepAliveIsExplicit) {
  Response r;
  std::string out;
  write_response(out, r, 10, true, "");
  EXPECT_EQ(out, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

TEST(WireRequest, AddsHostLengthAndExtraHeader) {
  Headers h;
  h.add("Accept", "application/json");
  h.add("Keep-Alive", "timeout=5");
  h.add("X-Request-Timeout-Ms", "stale");
  std::string out;
  write_request(out, "POST", "/users", h, "127.0.0.1:8081", "X-Request-Timeout-Ms", "250", "{}");
  EXPECT_EQ(out,
            "POST /users HTTP/1.1\r\nAccept: application/json\r\nHost: 127.0.0.1:8081\r\n"
            "X-Request-Timeout-Ms: 250\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(WireRequest, KeepsCallersHostAndOmitsLengthForBodylessGet) {
  Headers h;
  h.add("Host", "users.internal");
  std::string out;
  write_request(out, "GET", "/users/1", h, "127.0.0.1:8081", "", "", "");
  EXPECT_EQ(out, "GET /users/1 HTTP/1.1\r\nHost: users.internal\r\n\r\n");
}

}  // namespace
}  // namespace mercato::http::wire
