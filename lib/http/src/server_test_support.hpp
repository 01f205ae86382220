// Test support for the server's tests (private to lib/http): lib/testing's raw loopback sockets, so that
// requests are sent byte for byte as a misbehaving client would, and a fixture that runs a Server on a
// small pool.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "mercato/http/server.hpp"
#include "mercato/testing/raw_http.hpp"

namespace mercato::http {

using namespace std::chrono_literals;

// The raw sockets are lib/testing's; read_to_end is read_until with no needle.
using testing::body_of;
using testing::connect_to;
using testing::exchange;
using testing::send_all;
using testing::status_of;
inline std::string read_to_end(int fd) { return testing::read_until(fd); }

inline std::string error_code_of(const std::string& response) {
  auto v = boost::json::parse(body_of(response));
  return std::string(v.at("error").at("code").as_string());
}

class ServerTest : public ::testing::Test {
 protected:
  void start(Router router, const ServerSettings& settings = {}) {
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
