// The server driven over real loopback sockets with hand-written requests, so that framing errors,
// limits and timeouts are exercised exactly as a misbehaving client would produce them.
#include "mercato/http/server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

#include "mercato/http/client.hpp"
#include "mercato/observability/tracing.hpp"
#include "server_test_support.hpp"

namespace mercato::http {
namespace {

using namespace std::chrono_literals;

Router hello_router() {
  Router r;
  r.get("/hello/{name}", [](const Request& req) {
    return Response::json_text(200, R"({"hello":")" + std::string(req.param("name")) + R"("})");
  });
  r.post("/echo", [](const Request& req) { return Response::json_text(200, req.body); });
  r.get("/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  r.get("/context", [](const Request& req) {
    std::string deadline = req.deadline ? "yes" : "no";
    return Response::json_text(200, R"({"request_id":")" + req.request_id + R"(","trace_id":")" +
                                        req.trace.trace_id + R"(","span_id":")" + req.trace.span_id +
                                        R"(","deadline":")" + deadline + R"("})");
  });
  return r;
}

// Every acceptor sets SO_REUSEPORT; without the plain bind first, a second server (another process of
// the same user, or a second instance started with the same port by mistake) would bind too and take a
// share of the first one's connections.
TEST_F(ServerTest, APortInUseIsRefusedNotShared) {
  start(Router{}, {.port = 0});
  IoPool other_pool(2);
  Server second(other_pool, {.port = port()}, Router{}, logger_, metrics_);
  EXPECT_THROW(second.start(), boost::system::system_error);
}

TEST_F(ServerTest, ServesRouteWithPathParam) {
  start(hello_router());
  auto res = exchange(port(), "GET /hello/ann HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(res), 200);
  EXPECT_EQ(body_of(res), R"({"hello":"ann"})");
  EXPECT_NE(res.find("X-Request-ID: "), std::string::npos);
}

TEST_F(ServerTest, UnknownPathIsJson404) {
  start(hello_router());
  auto res = exchange(port(), "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(res), 404);
  EXPECT_EQ(error_code_of(res), "not_found");
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  start(hello_router());
  auto res = exchange(port(), "DELETE /hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(res), 405);
  EXPECT_NE(res.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(error_code_of(res), "method_not_allowed");
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start(hello_router());
  auto res = exchange(port(),
                      "GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /hello/b HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /hello/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(res.find(R"({"hello":"a"})"), std::string::npos);
  EXPECT_NE(res.find(R"({"hello":"b"})"), std::string::npos);
  EXPECT_NE(res.find(R"({"hello":"c"})"), std::string::npos);
}

TEST_F(ServerTest, BodyOverLimitIs413) {
  ServerSettings s;
  s.max_body_bytes = 16;
  start(hello_router(), s);
  auto res =
      exchange(port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n12345678901234567");
  EXPECT_EQ(status_of(res), 413);
  EXPECT_EQ(error_code_of(res), "payload_too_large");
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  ServerSettings s;
  s.max_body_bytes = 16;
  start(hello_router(), s);
  auto res = exchange(port(),
                      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "10\r\n1234567890123456\r\n10\r\n1234567890123456\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(res), 413);
}

TEST_F(ServerTest, BodyAtLimitIsServed) {
  ServerSettings s;
  s.max_body_bytes = 16;
  start(hello_router(), s);
  auto res = exchange(port(),
                      "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 16\r\n\r\n"
                      "1234567890123456");
  EXPECT_EQ(status_of(res), 200);
  EXPECT_EQ(body_of(res), "1234567890123456");
}

TEST_F(ServerTest, HeadersOverLimitAre431) {
  ServerSettings s;
  s.max_header_bytes = 1024;
  start(hello_router(), s);
  std::string big(2000, 'a');
  auto res = exchange(port(), "GET /hello/a HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_EQ(status_of(res), 431);
  EXPECT_EQ(error_code_of(res), "headers_too_large");
}

TEST_F(ServerTest, ContentLengthWithTransferEncodingIs400) {
  start(hello_router());
  auto res =
      exchange(port(),
               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\n");
  EXPECT_EQ(status_of(res), 400);
  EXPECT_EQ(error_code_of(res), "malformed_request");
}

TEST_F(ServerTest, TransferEncodingThenContentLengthIs400) {
  start(hello_router());
  auto res =
      exchange(port(),
               "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
               "0\r\n\r\n");
  EXPECT_EQ(status_of(res), 400);
}

TEST_F(ServerTest, GarbageRequestLineIs400) {
  start(hello_router());
  auto res = exchange(port(), "HELLO THERE\r\n\r\n");
  EXPECT_EQ(status_of(res), 400);
}

TEST_F(ServerTest, AbsoluteFormTargetIs400) {
  start(hello_router());
  auto res = exchange(port(), "GET http://evil/hello/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(res), 400);
}

TEST_F(ServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  start(hello_router());
  auto res = exchange(port(), "GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(res), 500);
  EXPECT_EQ(error_code_of(res), "internal");
  auto again = exchange(port(), "GET /hello/z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(again), 200);
}

TEST_F(ServerTest, EchoesValidRequestIdAndReplacesInvalidOne) {
  start(hello_router());
  auto res = exchange(
      port(), "GET /context HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc-123\r\nConnection: close\r\n\r\n");
  EXPECT_NE(res.find("X-Request-ID: abc-123\r\n"), std::string::npos);
  auto bad =
      exchange(port(), "GET /context HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\"b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(bad.find("X-Request-ID: a\"b"), std::string::npos);
  auto v = boost::json::parse(body_of(bad));
  EXPECT_EQ(v.at("request_id").as_string().size(), 36U);
}

TEST_F(ServerTest, ContinuesIncomingTraceparent) {
  start(hello_router());
  auto res = exchange(port(),
                      "GET /context HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
  auto v = boost::json::parse(body_of(res));
  EXPECT_EQ(v.at("trace_id").as_string(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_NE(v.at("span_id").as_string(), "b7ad6b7169203331");
}

TEST_F(ServerTest, RequestTimeoutHeaderSetsDeadlineAndBadValueIs400) {
  start(hello_router());
  auto res = exchange(
      port(), "GET /context HTTP/1.1\r\nHost: x\r\nX-Request-Timeout-Ms: 500\r\nConnection: close\r\n\r\n");
  EXPECT_NE(body_of(res).find("\"deadline\":\"yes\""), std::string::npos);
  auto bad = exchange(
      port(), "GET /context HTTP/1.1\r\nHost: x\r\nX-Request-Timeout-Ms: soon\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(bad), 400);
}

TEST_F(ServerTest, IdleConnectionIsClosed) {
  ServerSettings s;
  s.idle_timeout = 200ms;
  start(hello_router(), s);
  int fd = connect_to(port());
  auto started = std::chrono::steady_clock::now();
  auto out = read_to_end(fd);  // returns when the server closes (or after the 5 s receive timeout)
  ::close(fd);
  EXPECT_TRUE(out.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

// One timer serves all of a connection's timeouts (connection.hpp): a request moves the deadline
// earlier than the idle one the timer was armed for, and the idle deadline after the answer moves it
// later again. The connection must then live out its idle time, not be closed at the request's.
TEST_F(ServerTest, AConnectionThatServedARequestLivesOutItsIdleTime) {
  ServerSettings s;
  s.idle_timeout = 600ms;
  s.request_timeout = 100ms;
  start(hello_router(), s);
  int fd = connect_to(port());
  send_all(fd, "GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n");
  std::array<char, 1024> buf{};
  ASSERT_GT(::recv(fd, buf.data(), buf.size(), 0), 0);
  auto answered = std::chrono::steady_clock::now();
  auto rest = read_to_end(fd);  // returns when the server closes
  auto open_for = std::chrono::steady_clock::now() - answered;
  ::close(fd);
  EXPECT_TRUE(rest.empty());
  EXPECT_GE(open_for, 500ms) << "closed at the request timeout instead of the idle timeout";
  EXPECT_LT(open_for, 4s);
}

TEST_F(ServerTest, SlowRequestIsTimedOutAndClosed) {
  ServerSettings s;
  s.request_timeout = 200ms;
  start(hello_router(), s);
  int fd = connect_to(port());
  send_all(fd, "GET /hello/a HTTP/1.1\r\nHost: x\r\n");  // never finishes the header section
  auto started = std::chrono::steady_clock::now();
  auto out = read_to_end(fd);
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
  EXPECT_EQ(out.find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, MetricsCountRequestsPerRoute) {
  start(hello_router());
  exchange(port(), "GET /hello/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  exchange(port(), "GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto text = metrics_.render();
  EXPECT_NE(
      text.find(R"(http_server_requests_total{method="GET",route="/hello/{name}",status_class="2xx"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(http_server_errors_total{method="GET",route="/throw"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(http_server_request_duration_seconds_count{method="GET",route="/hello/{name}"} 1)"),
            std::string::npos);
}

TEST_F(ServerTest, ShutdownFinishesInFlightRequestThenCloses) {
  std::atomic<bool> handler_started{false};
  Router r = hello_router();
  r.add_async(Method::kGet, "/slow", [&](const Request&) -> boost::asio::awaitable<Response> {
    handler_started = true;
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 300ms);
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return Response::json_text(200, R"({"slow":true})");
  });
  start(std::move(r));
  int fd = connect_to(port());
  send_all(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");  // keep-alive: the server must close after answering
  while (!handler_started) std::this_thread::yield();
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  server_->shutdown([done] { done->set_value(); });
  auto out = read_to_end(fd);
  ::close(fd);
  EXPECT_EQ(status_of(out), 200);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  EXPECT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_LT(connect_to(port()), 0) << "the server must stop accepting";
  stopped_ = true;
  pool_.stop();
  pool_.join();
}

TEST_F(ServerTest, ShutdownClosesIdleKeepAliveConnections) {
  start(hello_router());
  int fd = connect_to(port());
  send_all(fd, "GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n");
  std::array<char, 1024> buf{};
  ASSERT_GT(::recv(fd, buf.data(), buf.size(), 0), 0);
  EXPECT_TRUE(shutdown(3s));
  ::close(fd);
}

// The client against this server: keep-alive reuse, deadline propagation, and failures as values.
TEST_F(ServerTest, ClientCallsUpstreamAndMapsFailures) {
  Router r = hello_router();
  start(std::move(r));
  Client client(pool_, ClientSettings{});
  auto run = [&](auto fn) {
    std::promise<void> p;
    auto f = p.get_future();
    boost::asio::co_spawn(pool_.context(0), fn(), [&](const std::exception_ptr&) { p.set_value(); });
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  };
  Endpoint self{"127.0.0.1", port()};
  run([&]() -> boost::asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      ClientRequest hello{.method = Method::kGet, .target = "/hello/c"};
      auto res = co_await client.send(self, std::move(hello));
      EXPECT_TRUE(res);
      if (res) {
        EXPECT_EQ(res->body, R"({"hello":"c"})");
      }
    }
    // Requests are named locals: GCC 12 relocates aggregate temporaries inside co_await expressions
    // bitwise, which breaks std::string's small-buffer pointer (see client.hpp).
    ClientRequest context{.method = Method::kGet, .target = "/context"};
    auto ctx = co_await client.send(self, std::move(context), {.timeout = std::chrono::milliseconds(2000)});
    EXPECT_TRUE(ctx && ctx->body.find("\"deadline\":\"yes\"") != std::string::npos);
    ClientRequest late{.method = Method::kGet, .target = "/hello/x"};
    auto past = co_await client.send(self, std::move(late), {.deadline = Clock::now() - 1ms});
    EXPECT_FALSE(past);
    if (!past) {
      EXPECT_EQ(past.error().code, ErrorCode::kDeadlineExceeded);
    }
    ClientRequest nowhere{.method = Method::kGet, .target = "/"};
    Endpoint closed_port{"127.0.0.1", 1};
    auto refused = co_await client.send(closed_port, std::move(nowhere));
    EXPECT_FALSE(refused);
    if (!refused) {
      EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
    }
  });
  auto text = metrics_.render();
  EXPECT_NE(
      text.find(R"(http_server_requests_total{method="GET",route="/hello/{name}",status_class="2xx"} 3)"),
      std::string::npos);
}

// A pooled connection's timer may be armed for a previous call's later deadline: a call with an
// earlier one must still end at its own.
TEST_F(ServerTest, AReusedConnectionKeepsTheNewCallsShorterDeadline) {
  Router r = hello_router();
  r.add_async(Method::kGet, "/slow", [](const Request&) -> boost::asio::awaitable<Response> {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 2s);
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return Response::json_text(200, R"({"slow":true})");
  });
  start(std::move(r));
  // The connection's timer is armed first for the connect timeout, 10 s ahead, and stays so.
  Client client(pool_, ClientSettings{.connect_timeout = 10s});
  Endpoint self{"127.0.0.1", port()};
  std::promise<void> done;
  auto finished = done.get_future();
  boost::asio::co_spawn(
      pool_.context(0),
      [&]() -> boost::asio::awaitable<void> {
        ClientRequest first{.method = Method::kGet, .target = "/hello/a"};
        auto ok = co_await client.send(self, std::move(first), {.timeout = 10s});
        EXPECT_TRUE(ok);
        ClientRequest slow{.method = Method::kGet, .target = "/slow"};
        auto started = Clock::now();
        auto late = co_await client.send(self, std::move(slow), {.timeout = 150ms});
        auto took = Clock::now() - started;
        EXPECT_FALSE(late) << "the call outlived its 150 ms deadline and got the answer";
        if (!late) {
          EXPECT_EQ(late.error().code, ErrorCode::kDeadlineExceeded);
        }
        EXPECT_LT(took, 1500ms);
      },
      [&](const std::exception_ptr&) { done.set_value(); });
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
}

// A POST is not retried when its pooled connection turns out closed (it may have been acted on), so the
// client checks such a connection before it reuses one: a server that went away and came back on the
// same port costs the caller nothing, even right after the last call (within the time older connections
// are checked after).
TEST_F(ServerTest, APostAfterTheServerCameBackGoesOnAFreshConnection) {
  start(hello_router());
  auto same_port = port();
  IoPool client_pool(1);
  client_pool.start();
  Client client(client_pool, ClientSettings{});
  Endpoint server{"127.0.0.1", same_port};
  auto post = [&](std::string body) {
    std::promise<Result<Response>> p;
    auto f = p.get_future();
    boost::asio::co_spawn(
        client_pool.context(0),
        [&]() -> boost::asio::awaitable<void> {
          ClientRequest echo{.method = Method::kPost, .target = "/echo", .body = body};
          p.set_value(co_await client.send(server, std::move(echo)));
        },
        [](const std::exception_ptr&) {});
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  };
  auto first = post(R"({"n":1})");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, 200);
  // The server goes away (closing the client's idle connection) and another takes its port.
  ASSERT_TRUE(shutdown());
  IoPool second_pool(1);
  Server second(second_pool, {.port = same_port}, hello_router(), logger_, metrics_);
  second.start();
  second_pool.start();
  auto again = post(R"({"n":2})");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->body, R"({"n":2})");
  std::promise<void> done;
  second.shutdown([&done] { done.set_value(); });
  EXPECT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
  second_pool.stop();
  second_pool.join();
  client_pool.stop();
  client_pool.join();
}

// An async handler gets the server's tracer with the request: across a co_await it has no ambient
// context (its coroutine may resume anywhere), and a scope it installs around synchronous work makes
// that work part of the request's trace (what lib/sql reads for its database spans).
TEST_F(ServerTest, AnAsyncHandlerCanScopeItsWorkToTheRequestsTrace) {
  struct Sink : obs::SpanSink {
    void export_span(obs::SpanData&&) override {}
  } sink;
  obs::Tracer tracer({.kind = obs::SamplerKind::kAlwaysOn}, &sink);
  std::atomic<bool> had_tracer{false}, ambient_before{true}, ambient_in_scope{false};
  Router r;
  r.add_async(Method::kGet, "/work", [&](const Request& req) -> boost::asio::awaitable<Response> {
    boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor, 1ms);
    co_await pause.async_wait(boost::asio::use_awaitable);
    had_tracer = req.tracer == &tracer;
    ambient_before = obs::ambient() != nullptr;
    {
      obs::ContextScope scope(req.tracer, req.trace);
      const auto* a = obs::ambient();
      ambient_in_scope = a != nullptr && a->tracer == &tracer && a->context.span_id == req.trace.span_id;
    }
    co_return Response::json_text(200, "{}");
  });
  server_ = std::make_unique<Server>(pool_, ServerSettings{}, std::move(r), logger_, metrics_, &tracer);
  server_->start();
  pool_.start();
  auto res = exchange(port(), "GET /work HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(res), 200) << res;
  EXPECT_TRUE(had_tracer);
  EXPECT_FALSE(ambient_before);
  EXPECT_TRUE(ambient_in_scope);
}

}  // namespace
}  // namespace mercato::http
