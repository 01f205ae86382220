// Test support for the server's tests (private to lib/http): raw loopback sockets, so that requests are
// sent byte for byte as a misbehaving client would, and a fixture that runs a Server on a small pool.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "mercato/http/server.hpp"

namespace mercato::http {

using namespace std::chrono_literals;

inline int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until the peer closes (or 5 s pass); returns everything received.
inline std::string read_to_end(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

inline std::string exchange(std::uint16_t port, std::string_view raw) {
  int fd = connect_to(port);
  EXPECT_GE(fd, 0);
  send_all(fd, raw);
  auto out = read_to_end(fd);
  ::close(fd);
  return out;
}

inline int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

inline std::string body_of(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : response.substr(p + 4);
}

inline std::string error_code_of(const std::string& response) {
  auto v = boost::json::parse(body_of(response));
  return std::string(v.at("error").at("code").as_string());
}

class ServerTest : public ::testing::Test {
 protected:
  void start(Router router, ServerSettings settings = {}) {
    server_ = std::make_unique<Server>(pool_, settings, std::move(router), logger_, metrics_);
    server_->start();
    pool_.start();
  }

  // Graceful shutdown; returns whether it completed within `limit`.
  bool shutdown(std::chrono::milliseconds limit = 5s) {
    if (!server_ || stopped_) return true;
    stopped_ = true;
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    server_->shutdown([done] { done->set_value(); });
    bool ok = fut.wait_for(limit) == std::future_status::ready;
    pool_.stop();
    pool_.join();
    return ok;
  }

  void TearDown() override { shutdown(); }

  std::uint16_t port() const { return server_->port(); }

  obs::Logger logger_{"test", obs::LogLevel::kError, 2};
  obs::Registry metrics_;
  IoPool pool_{2};
  std::unique_ptr<Server> server_;
  bool stopped_ = false;
};

}  // namespace mercato::http
