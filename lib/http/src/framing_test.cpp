// Message framing and the limits around it, exercised with raw bytes as an attacker would send them.
// A framing error must be answered with 400 and the connection closed (RFC 9112 §6.3): whatever follows
// an ambiguous message could otherwise be read as a second request ("request smuggling").
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mercato/http/client.hpp"
#include "mercato/http/server.hpp"
#include "server_test_support.hpp"

namespace mercato::http {
namespace {

using namespace std::string_literals;

class FramingTest : public ServerTest {};

// Counts the responses in what a connection received (status lines at the start of a line).
int responses_in(const std::string& received) {
  int n = 0;
  for (std::size_t at = 0; (at = received.find("HTTP/1.", at)) != std::string::npos; ++at) {
    if (at == 0 || received[at - 1] == '\n') ++n;
  }
  return n;
}

Router framing_router() {
  Router r;
  r.get("/hello/{name}", [](const Request& req) {
    return Response::json_text(200, "{\"hello\":\"" + std::string(req.param("name")) + "\"}");
  });
  r.post("/echo", [](const Request& req) { return Response::json_text(200, req.body); });
  // The value the handler sees for the header named by ?name=, or null.
  r.post("/header", [](const Request& req) {
    auto value = req.headers.get(*req.query_param("name"));
    return Response::json_text(200, value ? "\"" + std::string(*value) + "\"" : "null");
  });
  r.get("/fail", [](const Request& req) {
    return Response::error(Error::unavailable("cannot connect to 127.0.0.1:5432: connection refused"),
                           req.request_id);
  });
  return r;
}

// What follows the message under test on the same connection: if the server ever answers it, the bytes
// of the first message were framed differently by the server than by a proxy in front of it.
constexpr std::string_view kSmuggled = "GET /hello/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

// Sends `head` + `rest` + kSmuggled; expects one 400 and a closed connection.
void expect_refused_and_closed(std::uint16_t port, const std::string& head, std::string_view rest,
                               int status = 400) {
  auto started = std::chrono::steady_clock::now();
  auto out = http::exchange(port, head + std::string(rest) + std::string(kSmuggled));  // not std::exchange
  // exchange() reads until the server closes; a connection left open would only end at the 5 s timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "connection left open after:\n" << head;
  EXPECT_EQ(status_of(out), status) << head << "\n---\n" << out;
  EXPECT_EQ(responses_in(out), 1) << head << "\n---\n" << out;
  EXPECT_EQ(out.find("smuggled"), std::string::npos) << head;
  if (status_of(out) == status) {
    auto v = boost::json::parse(body_of(out));
    EXPECT_TRUE(v.at("error").at("code").is_string()) << out;
  }
}

TEST_F(FramingTest, TransferEncodingWhoseLastCodingIsNotChunkedIs400AndCloses) {
  start(framing_router());
  for (const char* te : {"chunked, identity", "identity", "gzip", "chunked, chunked", "gzip, chunked",
                         "chunked;q=1", "xchunked"}) {
    expect_refused_and_closed(
        port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + std::string(te) + "\r\n\r\n",
        "5\r\nhello\r\n0\r\n\r\n");
  }
}

TEST_F(FramingTest, TwoTransferEncodingFieldsAre400AndClose) {
  start(framing_router());
  expect_refused_and_closed(
      port(),
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n",
      "5\r\nhello\r\n0\r\n\r\n");
  expect_refused_and_closed(
      port(),
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "5\r\nhello\r\n0\r\n\r\n");
}

TEST_F(FramingTest, ContentLengthWithTransferEncodingIs400AndClosesInBothOrders) {
  start(framing_router());
  expect_refused_and_closed(
      port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "0\r\n\r\n");
  expect_refused_and_closed(
      port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
      "0\r\n\r\n");
  expect_refused_and_closed(
      port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n",
      "hello");
}

TEST_F(FramingTest, TransferEncodingInHttp10Is400AndCloses) {
  start(framing_router());
  expect_refused_and_closed(port(), "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "5\r\nhello\r\n0\r\n\r\n");
}

TEST_F(FramingTest, DuplicateOrInvalidContentLengthIs400AndCloses) {
  start(framing_router());
  for (const char* cl : {"5\r\nContent-Length: 5", "5\r\nContent-Length: 6", "5, 5", "5,6", "abc", "-1", "+5",
                         "0x5", "5 5", "99999999999999999999999", ""}) {
    expect_refused_and_closed(
        port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::string(cl) + "\r\n\r\n", "hello");
  }
}

TEST_F(FramingTest, DuplicateHostIs400AndCloses) {
  start(framing_router());
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "");
}

TEST_F(FramingTest, BareLineEndingsAndBadFieldsAre400AndClose) {
  start(framing_router());
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\nHost: x\n\n", "");
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", "");
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\r\nHost: x\r\nX-A: b\nX-B: c\r\n\r\n", "");
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", "");
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", "");
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\r\nHost: x\r\nX-A: b\0c\r\n\r\n"s, "");
}

// RFC 9112 §5.2 lets a server either refuse obs-fold or replace it with spaces; this one replaces, so no
// CR or LF can reach a handler (or a header the gateway forwards).
TEST_F(FramingTest, ObsFoldIsUnfoldedIntoSpaces) {
  start(framing_router());
  auto out = exchange(port(),
                      "POST /header?name=X-Folded HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "X-Folded: one\r\n two\r\n\tthree\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(status_of(out), 200) << out;
  EXPECT_EQ(body_of(out), "\"one two three\"");
}

TEST_F(FramingTest, ChunkSizeOverflowIsRefusedAndCloses) {
  start(framing_router());
  // 2^68 - 1 does not fit in 64 bits: malformed.
  expect_refused_and_closed(port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "FFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n");
  // Fits, but is over the body limit.
  expect_refused_and_closed(port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n", 413);
  expect_refused_and_closed(port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "5x\r\nhello\r\n0\r\n\r\n");
}

TEST_F(FramingTest, ChunkedBodyIsDecoded) {
  start(framing_router());
  auto out =
      exchange(port(),
               "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5;name=value\r\nhello\r\n1\r\n!\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(out), 200) << out;
  EXPECT_EQ(body_of(out), "hello!");
}

// Trailer fields arrive after the handler could have checked the header section; merged into it they
// would smuggle headers past anything that inspected the request head (and be forwarded as headers).
TEST_F(FramingTest, ChunkedTrailersAreNotMergedIntoHeaders) {
  start(framing_router());
  auto out = exchange(port(),
                      "POST /header?name=X-Trailer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n0\r\nX-Trailer: evil\r\n\r\n");
  EXPECT_EQ(status_of(out), 200) << out;
  EXPECT_EQ(body_of(out), "null");
}

TEST_F(FramingTest, ChunkExtensionsCountTowardTheHeaderLimit) {
  ServerSettings s;
  s.max_header_bytes = 1024;
  start(framing_router(), s);
  // Many small chunks, each with an extension well under the limit, together far over it.
  std::string body;
  for (int i = 0; i < 200; ++i) body += "1;ext=" + std::string(100, 'e') + "\r\na\r\n";
  body += "0\r\n\r\n";
  expect_refused_and_closed(port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                            body, 431);
}

TEST_F(FramingTest, TrailersCountTowardTheHeaderLimit) {
  ServerSettings s;
  s.max_header_bytes = 1024;
  start(framing_router(), s);
  std::string trailers;
  for (int i = 0; i < 200; ++i) trailers += "X-T" + std::to_string(i) + ": " + std::string(50, 't') + "\r\n";
  expect_refused_and_closed(port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "1\r\na\r\n0\r\n" + trailers + "\r\n", 431);
}

// One chunk-size line that never ends: the server must answer once its limit is reached instead of
// buffering the line for as long as the client sends it.
TEST_F(FramingTest, EndlessChunkExtensionIsRefusedWithBoundedMemory) {
  ServerSettings s;
  s.max_header_bytes = 1024;
  start(framing_router(), s);
  int fd = connect_to(port());
  ASSERT_GE(fd, 0);
  std::atomic<bool> reading_done{false};
  std::thread sender([&] {
    send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=");
    std::string piece(64 * 1024, 'e');
    // Up to 64 MiB; a server that stops reading makes send fail or block until it closes.
    for (int i = 0; i < 1024 && !reading_done; ++i) {
      auto n = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
    }
  });
  auto out = read_to_end(fd);
  reading_done = true;
  ::shutdown(fd, SHUT_RDWR);
  sender.join();
  ::close(fd);
  EXPECT_TRUE(status_of(out) == 431 || status_of(out) == 400) << out.substr(0, 200);
}

}  // namespace
}  // namespace mercato::http
