// The connection type under the server and the client (private to lib/http): a plain TCP socket on
// its worker's io_context, one timer for all of its timeouts, and a read loop that feeds Beast's parser.
//
// Why not beast::tcp_stream and bhttp::async_read: a tcp_stream arms and cancels its timer around every
// read and write, and async_read runs a composed operation (with its own allocations and type-erased
// executor copies) around each read_some; together they were most of the gateway's own user-space time
// per proxied request (docs/benchmarks.md, section 15). Here:
// - the socket and the timer are bound to the io_context's concrete executor;
// - a new deadline is a store into a field. The timer is re-armed only when a deadline comes earlier
//   than the time it is armed for; when it fires before the current deadline it re-arms itself for it.
//   A connection answering requests back to back therefore touches its timer about once per timeout
//   period, not twice per request;
// - reading is one async_read_some per chunk of bytes, and Beast's basic_parser::put parses them.
//
// A deadline that passes closes the socket (its pending operation completes with an error, and a
// connection that timed out is never used again) and marks the connection expired, which read_message,
// send_now and send_rest report as beast::error::timeout.
//
// Threading: a Connection belongs to one worker's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "mercato/asio/names.hpp"

namespace mercato::http::detail {

using Executor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Timer =
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

// Owned through a shared_ptr: the timer's handler holds a weak_ptr, so a connection is never kept alive
// by its timer and a handler that runs after the connection is gone does nothing.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Connection(Socket socket) : socket_(std::move(socket)), timer_(socket_.get_executor()) {}
  explicit Connection(const Executor& executor) : socket_(executor), timer_(executor) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Socket& socket() noexcept { return socket_; }

  // What was read and not yet parsed, and what is being written; kept with the connection so that
  // their capacity is reused from one request to the next.
  boost::beast::flat_buffer buffer;
  std::string write_buffer;

  // Operations started from now on must be done by `when`.
  void expires_at(Clock::time_point when) {
    deadline_ = when;
    if (when < armed_) arm(when);
  }
  void expires_after(Clock::duration d) { expires_at(Clock::now() + d); }
  void expires_never() noexcept { deadline_ = Clock::time_point::max(); }
  // The deadline passed and the socket was closed.
  bool expired() const noexcept { return expired_; }

  // Closes the socket (pending operations complete with operation_aborted) and stops the timer.
  void close() noexcept {
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    armed_ = Clock::time_point::max();
  }

 private:
  void arm(Clock::time_point when) {
    armed_ = when;
    timer_.expires_at(when);  // cancels a wait for a later time: its handler sees operation_aborted
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_timer();
    });
  }
  void on_timer() {
    armed_ = Clock::time_point::max();
    if (deadline_ == Clock::time_point::max()) return;  // nothing to time any more
    if (Clock::now() < deadline_) return arm(deadline_);
    expired_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  Socket socket_;
  Timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point armed_ = Clock::time_point::max();
  bool expired_ = false;
};

// What a read or a write ended with: the operation's error, with a passed deadline reported as
// beast::error::timeout (as tcp_stream did) rather than as the cancellation it caused.
inline boost::system::error_code outcome(const Connection& c, boost::system::error_code ec) {
  if (c.expired()) return boost::beast::error::timeout;
  return ec;
}

// Sends as much of `data` as the socket takes now, without waiting: in the common case all of it (a
// response fits in the socket's buffer), with no trip through the event loop. Returns the bytes sent;
// `ec` is set only for a real failure (not for a full socket).
inline std::size_t send_now(Connection& conn, std::string_view data, boost::system::error_code& ec) {
  if (conn.expired()) {
    ec = boost::beast::error::timeout;
    return 0;
  }
  if (!conn.socket().non_blocking()) {  // a flag read; setting it is a system call, once per socket
    conn.socket().non_blocking(true, ec);
    if (ec) return 0;
  }
  std::size_t sent = conn.socket().write_some(boost::asio::buffer(data), ec);
  if (ec == boost::asio::error::would_block) ec = {};
  return sent;
}

// Writes what send_now left of `data`, waiting for room in the socket. Used as
//   auto sent = detail::send_now(conn, data, ec);
//   if (!ec && sent < data.size()) ec = co_await detail::send_rest(conn, data.substr(sent));
// so that the coroutine (and its frame) is only created when the socket did not take it all.
inline boost::asio::awaitable<boost::system::error_code> send_rest(Connection& conn, std::string_view rest) {
  auto [ec, n] = co_await boost::asio::async_write(conn.socket(), boost::asio::buffer(rest), net::kUseTuple);
  co_return outcome(conn, ec);
}

// Reads from `conn` into `buffer` and feeds `parser` until its header (`header_only`) or its whole
// message is parsed. Bytes past the message stay in `buffer` (a pipelined request). The errors are
// Beast's: need_more never; end_of_stream when the peer closed before sending anything, partial_message
// when it closed in the middle; buffer_overflow when a single element (a line, the header section)
// does not fit in the buffer's max_size.
template <class Parser>
boost::asio::awaitable<boost::system::error_code> read_message(Connection& conn,
                                                               boost::beast::flat_buffer& buffer,
                                                               Parser& parser, bool header_only) {
  namespace bhttp = boost::beast::http;
  using boost::system::error_code;
  for (;;) {
    if (header_only ? parser.is_header_done() : parser.is_done()) co_return error_code{};
    if (buffer.size() != 0) {
      error_code ec;
      auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (!ec) continue;
      if (ec != bhttp::error::need_more) co_return ec;
    }
    if (conn.expired()) co_return boost::beast::error::timeout;
    auto room = buffer.max_size() - buffer.size();
    if (room == 0) co_return bhttp::error::buffer_overflow;
    auto [ec, n] = co_await conn.socket().async_read_some(
        buffer.prepare(std::min<std::size_t>(room, std::size_t{16} * 1024)), net::kUseTuple);
    if (ec == boost::asio::error::eof) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      error_code eof_ec;
      parser.put_eof(eof_ec);  // completes a response framed by the close, or partial_message
      if (eof_ec) co_return eof_ec;
      continue;
    }
    if (ec) co_return outcome(conn, ec);
    buffer.commit(n);
  }
}

}  // namespace mercato::http::detail
