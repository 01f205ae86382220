// Calls between servers of one process (local.hpp): the same answers as over TCP, without a connection.
#include "mercato/http/local.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mercato/http/client.hpp"
#include "server_test_support.hpp"

namespace mercato::http {
namespace {

Router local_router() {
  Router r;
  r.get("/hello/{name}", [](const Request& req) {
    Response res = Response::json_text(200, R"({"hello":")" + std::string(req.param("name")) + R"("})");
    res.headers.set("Connection", "keep-alive");  // hop-by-hop: never reaches a client
    return res;
  });
  r.get("/context", [](const Request& req) {
    return Response::json_text(200, std::string(R"({"deadline":")") + (req.deadline ? "yes" : "no") +
                                        R"(","remote":")" + req.remote_address + R"(","trace":")" +
                                        req.trace.trace_id + "\"}");
  });
  r.post("/echo", [](const Request& req) { return Response::json_text(200, req.body); });
  r.get("/throw", [](const Request&) -> Response { throw std::runtime_error("secret detail 10.0.0.7"); });
  r.get("/fail", [](const Request& req) {
    return Response::error(Error::unavailable("database at 10.0.0.7 is down"), req.request_id);
  });
  return r;
}

class LocalTest : public ServerTest {
 protected:
  // Runs `fn` as a coroutine on the pool and waits for it.
  template <typename Fn>
  void run(Fn fn) {
    std::promise<void> p;
    auto f = p.get_future();
    boost::asio::co_spawn(pool_.context(0), fn(), [&](const std::exception_ptr&) { p.set_value(); });
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  }
  double active_connections() {
    const std::string needle = "\nhttp_server_active_connections ";
    auto text = metrics_.render();
    auto at = text.find(needle);
    EXPECT_NE(at, std::string::npos);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + needle.size()));
  }
};

TEST_F(LocalTest, ACallToAServerOfThisProcessOpensNoConnection) {
  start(local_router());
  LocalServers local;
  local.add(*server_);
  Client in_process(pool_, ClientSettings{});
  in_process.route_locally(&local);
  Client over_tcp(pool_, ClientSettings{});
  Endpoint self{"127.0.0.1", port()};
  run([&]() -> boost::asio::awaitable<void> {
    ClientRequest hello{.method = Method::kGet, .target = "/hello/ann"};
    auto res = co_await in_process.send(self, std::move(hello));
    EXPECT_TRUE(res);
    if (res) {
      EXPECT_EQ(res->status, 200);
      EXPECT_EQ(res->body, R"({"hello":"ann"})");
      EXPECT_TRUE(res->headers.get(kRequestIdHeader));
      EXPECT_FALSE(res->headers.get("Connection"));
    }
  });
  // Nothing was accepted: the pooled keep-alive connection a TCP call leaves open is not there.
  EXPECT_EQ(active_connections(), 0);
  // Counted on the route as any request (before the answer reached the caller: serve_local records first).
  EXPECT_NE(metrics_.render().find(
                R"(http_server_requests_total{method="GET",route="/hello/{name}",status_class="2xx"} 1)"),
            std::string::npos);
  run([&]() -> boost::asio::awaitable<void> {
    ClientRequest hello{.method = Method::kGet, .target = "/hello/bob"};
    auto res = co_await over_tcp.send(self, std::move(hello));
    EXPECT_TRUE(res && res->body == R"({"hello":"bob"})");
  });
  EXPECT_EQ(active_connections(), 1);
}

TEST_F(LocalTest, TheCalleeSeesTheCallersDeadlineTraceAndALoopbackAddress) {
  start(local_router());
  LocalServers local;
  local.add(*server_);
  Client client(pool_, ClientSettings{});
  client.route_locally(&local);
  run([&]() -> boost::asio::awaitable<void> {
    ClientRequest context{.method = Method::kGet, .target = "/context"};
    context.headers.set(kTraceparentHeader, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    // Endpoints as named locals too: see client.hpp on temporaries inside co_await.
    Endpoint by_name{"localhost", port()};
    auto res =
        co_await client.send(by_name, std::move(context), {.timeout = std::chrono::milliseconds(2000)});
    EXPECT_TRUE(res);
    if (res) {
      EXPECT_EQ(res->body,
                R"({"deadline":"yes","remote":"127.0.0.1","trace":"0af7651916cd43dd8448eb211c80319c"})");
    }
    ClientRequest late{.method = Method::kGet, .target = "/context"};
    Endpoint self{"127.0.0.1", port()};
    auto past = co_await client.send(self, std::move(late), {.deadline = Clock::now() - 1ms});
    EXPECT_TRUE(!past && past.error().code == ErrorCode::kDeadlineExceeded);
  });
}

TEST_F(LocalTest, TheServersChecksAndErrorShapesApply) {
  ServerSettings settings;
  settings.max_body_bytes = 16;
  start(local_router(), settings);
  LocalServers local;
  local.add(*server_);
  Client client(pool_, ClientSettings{});
  client.route_locally(&local);
  Endpoint self{"127.0.0.1", port()};
  run([&]() -> boost::asio::awaitable<void> {
    ClientRequest missing{.method = Method::kGet, .target = "/nope"};
    auto r404 = co_await client.send(self, std::move(missing));
    EXPECT_TRUE(r404 && r404->status == 404 && r404->body.find("\"not_found\"") != std::string::npos);
    ClientRequest wrong{.method = Method::kDelete, .target = "/hello/x"};
    auto r405 = co_await client.send(self, std::move(wrong));
    EXPECT_TRUE(r405 && r405->status == 405 && r405->headers.get("Allow"));
    ClientRequest control{.method = Method::kGet, .target = "/hello/a%00b"};
    auto r400 = co_await client.send(self, std::move(control));
    EXPECT_TRUE(r400 && r400->status == 400);
    ClientRequest big{.method = Method::kPost, .target = "/echo", .body = std::string(17, 'x')};
    auto r413 = co_await client.send(self, std::move(big));
    EXPECT_TRUE(r413 && r413->status == 413);
    ClientRequest thrown{.method = Method::kGet, .target = "/throw"};
    auto r500 = co_await client.send(self, std::move(thrown));
    EXPECT_TRUE(r500 && r500->status == 500 && r500->body.find("10.0.0.7") == std::string::npos);
    ClientRequest failing{.method = Method::kGet, .target = "/fail"};
    auto r503 = co_await client.send(self, std::move(failing));
    EXPECT_TRUE(r503 && r503->status == 503 && r503->body.find("10.0.0.7") == std::string::npos);
    ClientRequest head{.method = Method::kHead, .target = "/hello/x"};
    auto rhead = co_await client.send(self, std::move(head));
    EXPECT_TRUE(rhead && rhead->status == 200 && rhead->body.empty());
  });
}

// A HEAD answered in process declares the GET's length as one over TCP does, so a gateway in front of it
// answers the client's HEAD with that length (tests/e2e/gateway_http_e2e_test.cpp, on the monolith).
TEST_F(LocalTest, AHeadDeclaresTheGetsLengthAsOverTcp) {
  start(local_router());
  LocalServers local;
  local.add(*server_);
  Client in_process(pool_, ClientSettings{});
  in_process.route_locally(&local);
  Client over_tcp(pool_, ClientSettings{});
  Endpoint self{"127.0.0.1", port()};
  run([&]() -> boost::asio::awaitable<void> {
    ClientRequest local_head{.method = Method::kHead, .target = "/hello/ann"};
    auto here = co_await in_process.send(self, std::move(local_head));
    ClientRequest tcp_head{.method = Method::kHead, .target = "/hello/ann"};
    auto there = co_await over_tcp.send(self, std::move(tcp_head));
    EXPECT_TRUE(here && there);
    if (here && there) {
      EXPECT_TRUE(here->body.empty());
      EXPECT_EQ(there->headers.get("Content-Length").value_or(""), "15");  // {"hello":"ann"}
      EXPECT_EQ(here->headers.get("Content-Length").value_or(""), "15");
    }
  });
}

TEST_F(LocalTest, OtherEndpointsStillGoOverTheNetwork) {
  start(local_router());
  LocalServers local;
  local.add(*server_);
  EXPECT_EQ(local.find(Endpoint{"127.0.0.1", port()}), server_.get());
  EXPECT_EQ(local.find(Endpoint{"::1", port()}), server_.get());
  // Another host with the same port is another machine; another port is another process.
  EXPECT_EQ(local.find(Endpoint{"10.1.2.3", port()}), nullptr);
  EXPECT_EQ(local.find(Endpoint{"127.0.0.1", static_cast<std::uint16_t>(port() == 1 ? 2 : 1)}), nullptr);
  Client client(pool_, ClientSettings{});
  client.route_locally(&local);
  run([&]() -> boost::asio::awaitable<void> {
    ClientRequest nowhere{.method = Method::kGet, .target = "/"};
    Endpoint closed{"127.0.0.1", 1};
    auto refused = co_await client.send(closed, std::move(nowhere));
    EXPECT_TRUE(!refused && refused.error().code == ErrorCode::kUnavailable);
  });
}

}  // namespace
}  // namespace mercato::http
