// Message framing and the limits around it, exercised with raw bytes as an attacker would send them.
// A framing error must be answered with 400 and the connection closed (RFC 9112 §6.3): whatever follows
// an ambiguous message could otherwise be read as a second request ("request smuggling").
#include <gtest/gtest.h>

#include <array>
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
    return Response::json_text(200, R"({"hello":")" + std::string(req.param("name")) + R"("})");
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

// RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (an HTTP/1.0 one may leave it out).
TEST_F(FramingTest, Http11WithoutHostIs400AndCloses) {
  start(framing_router());
  expect_refused_and_closed(port(), "GET /hello/a HTTP/1.1\r\n\r\n", "");
  auto old = http::exchange(port(), "GET /hello/a HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_of(old), 200) << old;
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
    std::string piece(std::size_t{64} * 1024, 'e');
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

TEST_F(FramingTest, HeadOnAGetRouteHasTheGetsHeadersAndNoBody) {
  start(framing_router());
  auto get = exchange(port(), "GET /hello/ann HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(status_of(get), 200);
  // The HEAD's answer must end at its blank line: the next response follows it directly.
  auto out = exchange(port(),
                      "HEAD /hello/ann HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /hello/bob HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(out), 200) << out;
  auto length = "Content-Length: " + std::to_string(body_of(get).size()) + "\r\n";
  EXPECT_NE(out.find(length), std::string::npos) << out;
  auto end_of_head = out.find("\r\n\r\n");
  ASSERT_NE(end_of_head, std::string::npos);
  EXPECT_EQ(out.compare(end_of_head + 4, 9, "HTTP/1.1 "), 0) << out;
  EXPECT_EQ(responses_in(out), 2);
  EXPECT_NE(out.find(R"({"hello":"bob"})"), std::string::npos);
}

TEST_F(FramingTest, AllowListsHeadWhereGetIs) {
  start(framing_router());
  auto out = exchange(port(), "DELETE /hello/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(out), 405);
  EXPECT_NE(out.find("Allow: GET, HEAD\r\n"), std::string::npos) << out;
}

TEST_F(FramingTest, HeadErrorHasNoBody) {
  start(framing_router());
  auto out = exchange(port(),
                      "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /hello/bob HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(out), 404) << out;
  EXPECT_EQ(out.compare(out.find("\r\n\r\n") + 4, 9, "HTTP/1.1 "), 0) << out;
}

// Reads from `fd` until `needle` has arrived (or the 5 s receive timeout); returns what was read.
std::string read_until(int fd, std::string_view needle) {
  std::string out;
  std::array<char, 4096> buf{};
  while (out.find(needle) == std::string::npos) {
    auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

TEST_F(FramingTest, ExpectContinueGetsOneContinueThenTheResponse) {
  start(framing_router());
  int fd = connect_to(port());
  ASSERT_GE(fd, 0);
  send_all(fd,
           "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n"
           "Content-Length: 5\r\n\r\n");
  auto interim = read_until(fd, "\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  send_all(fd, "hello");
  auto out = read_to_end(fd);
  ::close(fd);
  EXPECT_EQ(status_of(out), 200) << out;
  EXPECT_EQ(body_of(out), "hello");
  EXPECT_EQ(out.find("100 Continue"), std::string::npos);
}

TEST_F(FramingTest, NoContinueForHttp10) {
  start(framing_router());
  auto out = exchange(
      port(), "POST /echo HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(status_of(out), 200) << out;
  EXPECT_EQ(out.find("100 Continue"), std::string::npos) << out;
}

TEST_F(FramingTest, PathParametersMustBeUtf8WithoutControlCharacters) {
  start(framing_router());
  for (const char* bad :
       {"%00", "a%00b", "%ff", "%c3", "%0a", "%0d%0a", "%7f", "%1b", "%c0%af", "%ed%a0%80"}) {
    auto out = exchange(
        port(), "GET /hello/" + std::string(bad) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(out), 400) << bad << ": " << out;
    if (status_of(out) != 400) continue;
    auto v = boost::json::parse(body_of(out));
    EXPECT_EQ(v.at("error").at("code").as_string(), "validation_failed") << bad;
    EXPECT_EQ(v.at("error").at("field").as_string(), "name") << bad;
  }
  auto fine = exchange(port(), "GET /hello/Ren%C3%A9e%20B HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(fine), 200) << fine;
  EXPECT_EQ(body_of(fine),
            "{\"hello\":\"Ren\xC3\xA9"
            "e B\"}");
}

// Addresses and driver text describe our internals; the client gets the code and the request id, the
// log keeps the detail.
TEST_F(FramingTest, ServerErrorsDoNotShowInternalDetail) {
  start(framing_router());
  auto out =
      exchange(port(), "GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: rid-7\r\n\r\n");
  EXPECT_EQ(status_of(out), 503);
  EXPECT_EQ(out.find("127.0.0.1"), std::string::npos) << out;
  EXPECT_EQ(out.find("5432"), std::string::npos) << out;
  auto v = boost::json::parse(body_of(out));
  EXPECT_EQ(v.at("error").at("code").as_string(), "unavailable");
  EXPECT_EQ(v.at("error").at("request_id").as_string(), "rid-7");
}

// A stand-in upstream: answers each request on a connection with the bytes given, in order.
class ScriptedUpstream {
 public:
  explicit ScriptedUpstream(std::vector<std::string> answers) : answers_(std::move(answers)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedUpstream() {
    listener_.close();
    thread_.join();
  }
  std::uint16_t port() const { return listener_.port(); }
  std::string received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void serve() {
    int c = ::accept(listener_.fd(), nullptr, nullptr);
    if (c < 0) return;
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string in;
    std::array<char, 4096> buf{};
    for (const auto& answer : answers_) {
      // One request: its head, then its Content-Length body.
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        auto n = ::recv(c, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        in.append(buf.data(), static_cast<std::size_t>(n));
      }
      if (end == std::string::npos) break;
      std::size_t length = 0;
      if (auto cl = in.find("Content-Length: "); cl != std::string::npos && cl < end) {
        length = std::stoul(in.substr(cl + 16));
      }
      while (in.size() < end + 4 + length) {
        auto n = ::recv(c, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        in.append(buf.data(), static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mutex_);
        received_ += in.substr(0, end + 4 + length);
      }
      in.erase(0, end + 4 + length);
      send_all(c, answer);
    }
    ::close(c);
  }

  std::vector<std::string> answers_;
  testing::LoopbackListener listener_{8};  // before thread_: it must exist when serve() starts
  std::thread thread_;
  std::mutex mutex_;
  std::string received_;
};

// An interim 1xx is not the answer: the client reads past it to the final response, and the connection
// it returns to the pool holds nothing of this exchange.
TEST_F(FramingTest, ClientSkipsInterimResponsesAndDoesNotForwardExpect) {
  start(framing_router());
  ScriptedUpstream upstream(
      {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
       "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nfirst",
       "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"});
  Client client(pool_, ClientSettings{});
  Endpoint to{"127.0.0.1", upstream.port()};
  std::promise<void> done;
  auto finished = done.get_future();
  boost::asio::co_spawn(
      pool_.context(0),
      [&]() -> boost::asio::awaitable<void> {
        ClientRequest first{.method = Method::kPost, .target = "/one", .body = "hello"};
        first.headers.add("Expect", "100-continue");
        auto a = co_await client.send(to, std::move(first));
        EXPECT_TRUE(a);
        if (a) {
          EXPECT_EQ(a->status, 201);
          EXPECT_EQ(a->body, "first");
        }
        ClientRequest second{.method = Method::kGet, .target = "/two"};
        auto b = co_await client.send(to, std::move(second));
        EXPECT_TRUE(b);
        if (b) {
          EXPECT_EQ(b->status, 200);
          EXPECT_EQ(b->body, "second");
        }
      },
      [&](const std::exception_ptr&) { done.set_value(); });
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(upstream.received().find("Expect"), std::string::npos) << upstream.received();
}

}  // namespace
}  // namespace mercato::http
