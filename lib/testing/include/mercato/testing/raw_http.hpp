// Raw loopback sockets for tests that must send bytes exactly as a misbehaving client or upstream would
// (smuggling, framing, interim responses), which the well-behaved testing::http cannot.
//
//   auto answer = testing::exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
//   EXPECT_EQ(testing::status_of(answer), 200);
//
//   testing::LoopbackListener upstream;        // a stand-in upstream on a free port
//   int c = ::accept(upstream.fd(), nullptr, nullptr);
//
// Every read gives up after 5 s, so a test that waits for bytes that never come fails instead of hanging.
// Thread-safety: plain functions; a LoopbackListener belongs to one test (close() may be called from
// another thread to end a blocking accept()).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace mercato::testing {

// A connected socket to 127.0.0.1:`port` with a 5 s receive timeout, or -1.
int connect_to(std::uint16_t port);
// Sends all of `data` (stops quietly when the peer is gone).
void send_all(int fd, std::string_view data);
// Reads until `needle` has arrived, the peer closes, or 5 s pass (empty needle: until close).
std::string read_until(int fd, std::string_view needle = {});
// Connects, sends `raw`, reads until the peer closes; "" when the connection failed.
std::string exchange(std::uint16_t port, std::string_view raw);

// The status of a raw HTTP/1.x response ("HTTP/1.1 200 OK..." → 200), 0 when it is not one.
int status_of(const std::string& response);
// What follows the first empty line of a raw response.
std::string body_of(const std::string& response);

// A listening TCP socket on a free 127.0.0.1 port.
class LoopbackListener {
 public:
  explicit LoopbackListener(int backlog = 64);
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  int fd() const noexcept { return fd_; }
  std::uint16_t port() const noexcept { return port_; }
  // Shuts the socket down and closes it (a blocked accept() returns); idempotent.
  void close();

 private:
  std::atomic<int> fd_{-1};
  std::uint16_t port_ = 0;
};

}  // namespace mercato::testing
