// Client::watch_prefix: a watch is one HTTP request whose response never ends — etcd streams one JSON
// message per line as changes happen. http::Client returns whole responses, so this reads the stream
// itself with Beast, chunk by chunk.
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>

#include "codec.hpp"
#include "mercato/asio/names.hpp"
#include "mercato/etcd/etcd.hpp"
#include "mercato/json/json.hpp"

namespace mercato::etcd {

using namespace mercato::net;  // asio, beast, bhttp, tcp, kUseTuple (mercato/asio/names.hpp)

namespace {

// A line longer than this is not a watch message etcd would send (its default request limit is 1.5 MiB).
constexpr std::size_t kMaxLine = std::size_t{8} * 1024 * 1024;

// One attempt against one endpoint. `connected` tells the caller whether to try the next endpoint.
asio::awaitable<Result<void>> watch_once(const http::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                         std::string body,
                                         const std::function<bool(const WatchBatch&)>& on_batch,
                                         bool& connected) {
  auto executor = co_await asio::this_coro::executor;
  auto where = "etcd at " + endpoint.to_string() + ": ";
  tcp::resolver resolver(executor);
  auto [rec, results] =
      co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), kUseTuple);
  if (rec) co_return Error::unavailable(where + "cannot resolve: " + rec.message());
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout);
  auto [cec, _] = co_await stream.async_connect(results, kUseTuple);
  if (cec) co_return Error::unavailable(where + "cannot connect: " + cec.message());
  connected = true;
  // Without a keep-alive probe a peer that vanished without a FIN would leave the watch waiting forever.
  stream.socket().set_option(asio::socket_base::keep_alive(true));

  bhttp::request<bhttp::string_body> request{bhttp::verb::post, "/v3/watch", 11};
  request.set(bhttp::field::host, endpoint.to_string());
  request.set(bhttp::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  auto [wec, written] = co_await bhttp::async_write(stream, request, kUseTuple);
  (void)written;
  if (wec) co_return Error::unavailable(where + "cannot send the watch: " + wec.message());

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);  // the stream has no end; each line is limited below
  auto [hec, header_bytes] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
  (void)header_bytes;
  if (hec) co_return Error::unavailable(where + "no answer to the watch: " + hec.message());
  if (parser.get().result_int() != 200) {
    co_return Error::bad_gateway(where + "the watch was answered " +
                                 std::to_string(parser.get().result_int()));
  }
  stream.expires_never();  // a quiet key space is not a failure

  std::string pending;  // bytes of a line not complete yet
  std::array<char, std::size_t{16} * 1024> chunk{};
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [ec, read_bytes] = co_await bhttp::async_read_some(stream, buffer, parser, kUseTuple);
    (void)read_bytes;
    if (ec && ec != bhttp::error::need_buffer)
      co_return Error::unavailable(where + "the watch broke: " + ec.message());
    pending.append(chunk.data(), chunk.size() - parser.get().body().size);
    std::size_t start = 0;
    for (auto newline = pending.find('\n'); newline != std::string::npos;
         newline = pending.find('\n', start)) {
      std::string_view line(pending.data() + start, newline - start);
      start = newline + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      auto batch = detail::watch_batch(line);
      if (!batch) co_return std::move(batch).error();
      if (!on_batch(*batch)) co_return Result<void>{};
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLine) co_return Error::bad_gateway(where + "a watch message is too long");
  }
  co_return Error::unavailable(where + "etcd ended the watch");
}

}  // namespace

asio::awaitable<Result<void>> Client::watch_prefix(std::string prefix, std::int64_t start_revision,
                                                   std::function<bool(const WatchBatch&)> on_batch) {
  boost::json::object create{{"key", detail::base64_encode(prefix)},
                             {"range_end", detail::base64_encode(prefix_end(prefix))},
                             {"progress_notify", true}};
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  auto body = json::serialize(boost::json::object{{"create_request", std::move(create)}});
  Error last = Error::unavailable("etcd: no endpoint configured");
  for (const auto& endpoint : settings_.endpoints) {
    bool connected = false;
    auto result = co_await watch_once(endpoint, settings_.timeout, body, on_batch, connected);
    if (result || connected) co_return result;  // a watch that ran ends here; the caller decides what next
    last = std::move(result).error();
  }
  co_return last;
}

}  // namespace mercato::etcd
