// End to end: HTTP framing through the real gateway in front of the real user service, with raw sockets,
// so each request reaches the gateway byte for byte as a hostile or old client would send it; as separate
// processes and as modules of the monolith (where the gateway calls the user service in process).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "mercato/testing/raw_http.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

int count(const std::string& text, std::string_view what) {
  int n = 0;
  for (std::size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

// Echoes the head of each request it receives (to see what the gateway forwards), one per connection.
class EchoUpstream {
 public:
  EchoUpstream() : listener_(16) {
    thread_ = std::thread([this] { serve(); });
  }
  ~EchoUpstream() {
    listener_.close();
    thread_.join();
  }
  std::uint16_t port() const { return listener_.port(); }
  std::string last_request() {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  void serve() {
    for (;;) {
      int c = ::accept(listener_.fd(), nullptr, nullptr);
      if (c < 0) return;
      timeval tv{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string in = testing::read_until(c, "\r\n\r\n");
      {
        std::lock_guard lock(mutex_);
        last_ = in;
      }
      std::string out =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
          "Content-Length: 2\r\n\r\n{}";
      testing::send_all(c, out);
      ::close(c);
    }
  }

  testing::LoopbackListener listener_;
  std::thread thread_;
  std::mutex mutex_;
  std::string last_;
};

// The user service and the gateway, as separate processes or as the modules of the monolith
// (docs/topologies.md), with the echo upstream and a route to a port where nothing listens; per test (each
// runs in its own process).
class GatewayHttpTest : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("gateway-http"));
    echo_ = new EchoUpstream();
    down_port_ = testing::free_port();  // nothing listens there
    system_ = new testing::System(
        *dir_,
        {.topology = GetParam(),
         .services = {"user", "gateway"},
         .per_service =
             {{"user", {{"APP_SERVER__THREADS", "2"}}},
              {"gateway",
               {{"APP_SERVER__THREADS", "2"},
                {"APP_GATEWAY__SERVICES__ECHO__UPSTREAM", "127.0.0.1:" + std::to_string(echo_->port())},
                {"APP_GATEWAY__SERVICES__ECHO__ROUTES", "echo"},
                {"APP_GATEWAY__SERVICES__DOWN__UPSTREAM", "127.0.0.1:" + std::to_string(down_port_)},
                {"APP_GATEWAY__SERVICES__DOWN__ROUTES", "down"}}}},
         .monolith = {{"APP_MONOLITH__SERVER__THREADS", "2"}}});
    gateway_port_ = system_->port("gateway");
  }
  void TearDown() override {
    delete system_;
    system_ = nullptr;
    delete echo_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static std::string create_user() {
    static std::atomic<int> n{0};
    std::string email = "http" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "@example.com";
    auto r = testing::http(gateway_port_, "POST", "/api/users",
                           R"({"email":")" + email + R"(","name":"H","password":"correct horse"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? std::string(r.json().at("id").as_string()) : std::string();
  }

  static inline fs::path* dir_ = nullptr;
  static inline testing::System* system_ = nullptr;
  static inline EchoUpstream* echo_ = nullptr;
  static inline std::uint16_t gateway_port_ = 0;
  static inline std::uint16_t down_port_ = 0;
};

// The client waits for one 100 Continue, sends its body, and gets the service's answer.
TEST_P(GatewayHttpTest, ExpectContinueGetsOneContinueAndTheFinalResponse) {
  int fd = testing::connect_to(gateway_port_);
  ASSERT_GE(fd, 0);
  std::string body = R"({"email":"continue)" + std::to_string(::getpid()) +
                     R"(@example.com","name":"C","password":"correct horse"})";
  testing::send_all(
      fd,
      "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n");
  auto interim = testing::read_until(fd, "\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  testing::send_all(fd, body);
  auto rest = testing::read_until(fd);
  ::close(fd);
  auto all = interim + rest;
  EXPECT_EQ(count(all, "100 Continue"), 1) << all;
  EXPECT_EQ(testing::status_of(rest), 201) << all;
  EXPECT_NE(testing::body_of(rest).find("\"id\""), std::string::npos) << all;
  // The gateway already holds the body when it calls the service: nothing to wait for upstream.
  auto forwarded = testing::exchange(
      gateway_port_,
      "POST /api/echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n"
      "Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(count(forwarded, "100 Continue"), 1) << forwarded;
  EXPECT_EQ(echo_->last_request().find("Expect"), std::string::npos) << echo_->last_request();
}

// The gateway answers HEAD with the headers of the GET (its Content-Length too) and no body.
TEST_P(GatewayHttpTest, HeadThroughTheGatewayHasTheGetsLengthAndNoBody) {
  auto id = create_user();
  ASSERT_FALSE(id.empty());
  // The account's owner asks (another customer would be told it does not exist).
  auto owner = testing::TestTokens::instance().bearer(auth::Role::kCustomer, id);
  auto get = testing::http(gateway_port_, "GET", "/api/users/" + id, "", {{"Authorization", owner}});
  ASSERT_EQ(get.status, 200);
  auto out = testing::exchange(
      gateway_port_, "HEAD /api/users/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + owner +
                         "\r\n\r\n" + "GET /api/users/" + id +
                         " HTTP/1.1\r\nHost: x\r\nAuthorization: " + owner + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(testing::status_of(out), 200) << out;
  auto head_end = out.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << out;
  auto head = out.substr(0, head_end + 4);
  EXPECT_NE(head.find("Content-Length: " + std::to_string(get.body.size()) + "\r\n"), std::string::npos)
      << head;
  // No body: the GET's answer follows the HEAD's blank line directly.
  EXPECT_EQ(out.compare(head_end + 4, 15, "HTTP/1.1 200 OK"), 0) << out;
  EXPECT_EQ(testing::body_of(out.substr(head_end + 4)), get.body);
}

// RFC 9112 §6.3: a request whose framing is in doubt gets 400 and the connection is closed, so nothing
// after it can be read as a second request.
TEST_P(GatewayHttpTest, AmbiguousFramingIs400AndClosesTheConnection) {
  const std::string smuggled = "GET /api/users/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::string head :
       {"POST /api/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        "POST /api/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n",
        "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "GET /api/users/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}) {
    auto started = std::chrono::steady_clock::now();
    auto out = testing::exchange(gateway_port_, head + "2\r\n{}\r\n0\r\n\r\n" + smuggled);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "left open: " << head;
    EXPECT_EQ(testing::status_of(out), 400) << head << "\n---\n" << out;
    EXPECT_EQ(count(out, "HTTP/1.1 "), 1) << head << "\n---\n" << out;
    EXPECT_EQ(out.find("smuggled"), std::string::npos) << out;
  }
}

TEST_P(GatewayHttpTest, TrailersAreNotForwardedAsHeaders) {
  auto out = testing::exchange(
      gateway_port_,
      "POST /api/echo/t HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\n{}\r\n0\r\nX-Trailer: evil\r\n\r\n");
  EXPECT_EQ(testing::status_of(out), 200) << out;
  auto forwarded = echo_->last_request();
  EXPECT_NE(forwarded.find("POST /echo/t "), std::string::npos) << forwarded;
  EXPECT_EQ(forwarded.find("X-Trailer"), std::string::npos) << forwarded;
}

// The client learns that the service is unavailable and the request id to quote, not our addresses.
TEST_P(GatewayHttpTest, UpstreamFailureDoesNotShowItsAddress) {
  auto r = testing::http(gateway_port_, "GET", "/api/down/x", {}, {{"X-Request-ID", "down-1"}});
  EXPECT_GE(r.status, 500) << r.body;
  EXPECT_EQ(r.body.find("127.0.0.1"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(std::to_string(down_port_)), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("refused"), std::string::npos) << r.body;
  EXPECT_EQ(r.json().at("error").at("request_id").as_string(), "down-1");
}

// Path parameters reach SQL and logs: NUL, control characters and invalid UTF-8 stop at the service.
TEST_P(GatewayHttpTest, BadPathParameterIs400NamingIt) {
  for (const char* bad : {"%00", "a%00", "%ff", "%0d%0a"}) {
    auto r = testing::http(gateway_port_, "GET", std::string("/api/users/") + bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(r.error_code(), "validation_failed") << bad;
    EXPECT_EQ(r.error_field(), "id") << bad;
  }
}

TEST_P(GatewayHttpTest, DuplicateJsonKeysAre400) {
  auto r = testing::http(gateway_port_, "POST", "/api/users",
                         R"({"email":"dup@example.com","name":"A","name":"B","password":"correct horse"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.error_code(), "malformed_request");
}

// Thousands of Connection tokens and headers, within the header limit, cost the gateway linear time.
TEST_P(GatewayHttpTest, ManyConnectionTokensAreCheap) {
  std::string tokens;
  std::string headers;
  for (int i = 0; i < 700; ++i) {
    tokens += (i ? "," : "") + std::string("c") + std::to_string(i);
    headers += "h" + std::to_string(i) + ": v\r\n";
  }
  auto started = std::chrono::steady_clock::now();
  auto out = testing::exchange(gateway_port_, "GET /api/echo/many HTTP/1.1\r\nHost: x\r\nConnection: close," +
                                                  tokens + "\r\n" + headers + "\r\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(testing::status_of(out), 200) << out.substr(0, 300);
}

INSTANTIATE_TEST_SUITE_P(Topologies, GatewayHttpTest, testing::kTopologies, testing::topology_name);

}  // namespace
}  // namespace mercato
