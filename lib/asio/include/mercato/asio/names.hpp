// The short names the toolkit's Asio/Beast code (lib/http's client and server, lib/etcd's watch) writes
// them by, declared once. Include it in a .cpp only, and bring the names in where they are used:
//
//   namespace mercato::http {
//   using namespace mercato::net;   // asio, beast, bhttp, tcp, kUseTuple
//   ...
//   auto [ec, n] = co_await stream.async_read_some(buffer, kUseTuple);
//
// Thread-safety: names and a constant.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace boost::beast::http {}

namespace mercato::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// The completion token of every awaited operation: (error_code, result...) as a tuple, never an exception.
inline constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace mercato::net
