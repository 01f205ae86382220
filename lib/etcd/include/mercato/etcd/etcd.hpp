// etcd v3 client: keys, leases and watches, spoken over etcd's own HTTP/JSON API (the gateway every etcd
// 3.4 server serves beside gRPC, at /v3/kv/*, /v3/lease/*, /v3/watch). Service discovery and live
// configuration (lib/discovery) stand on it.
//
//   etcd::Client etcd(http_client, {.endpoints = {*http::Endpoint::parse("127.0.0.1:2379")}});
//   auto lease = co_await etcd.grant(std::chrono::seconds(10));           // Result<Lease>
//   co_await etcd.put("/mercato/services/user/u-1", R"({"http":"127.0.0.1:8081"})", lease->id);
//   auto all = co_await etcd.get_prefix("/mercato/services/user/");       // Result<Range>
//   co_await etcd.watch_prefix("/mercato/services/", all->revision + 1, [](const WatchBatch& b) {
//     for (const auto& e : b.events) ...;  return true;                    // false: stop watching
//   });
//
// Why not a client library: Debian packages none for C++, and etcd's gRPC contracts would have to be
// copied into this repository. The JSON API is etcd's documented HTTP interface to the same calls;
// keys and values travel base64-encoded, 64-bit numbers as strings. Unary calls go through the shared
// http::Client (pooled connections, timeouts); a watch is a long-lived streamed response, read here
// line by line (one JSON message per line).
//
// Errors: etcd unreachable or not answering → kUnavailable / kDeadlineExceeded; an answer etcd marks as
// an error (a lease that no longer exists, a compacted revision) → kNotFound / kConflict / kBadGateway
// with etcd's message. Several endpoints: a call that cannot reach one tries the next.
//
// Thread-safety: thread-safe; the coroutines must run on a worker of the http::Client's IoPool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/http/client.hpp"

namespace mercato::etcd {

struct Settings {
  std::vector<http::Endpoint> endpoints;    // at least one
  std::chrono::milliseconds timeout{2000};  // each unary call
};

// "127.0.0.1:2379,127.0.0.1:22379" (an http:// prefix is accepted and dropped).
Result<std::vector<http::Endpoint>> parse_endpoints(std::string_view text);

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;  // 0 after a delete (watch events)
  std::int64_t lease = 0;
};

struct Range {
  std::vector<KeyValue> kvs;
  std::int64_t revision = 0;  // the store's revision when read: watch from revision + 1
};

struct Lease {
  std::int64_t id = 0;
  std::chrono::seconds ttl{0};
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // a delete carries the key and the revision of the delete only
};

struct WatchBatch {
  std::int64_t revision = 0;       // the store's revision when etcd sent this batch
  bool created = false;            // the first message of a watch: no events, and `revision` says nothing of
                                   // what was delivered (history from start_revision follows)
  std::vector<WatchEvent> events;  // none: a progress notification — every change up to `revision` was sent
};

// What to read: one key, every key with a prefix, and optionally the store as it was at a revision.
struct RangeOptions {
  std::int64_t revision = 0;  // 0: now
  std::int64_t limit = 0;     // 0: all
};

class Client {
 public:
  Client(http::Client& http, Settings settings);

  boost::asio::awaitable<Result<Range>> get(std::string key, RangeOptions options = {});
  boost::asio::awaitable<Result<Range>> get_prefix(std::string prefix, RangeOptions options = {});
  // Returns the revision the write created. `lease` 0: the key lives until deleted.
  boost::asio::awaitable<Result<std::int64_t>> put(std::string key, std::string value,
                                                   std::int64_t lease = 0);
  // Returns how many keys were deleted.
  boost::asio::awaitable<Result<std::int64_t>> erase(std::string key);
  boost::asio::awaitable<Result<std::int64_t>> erase_prefix(std::string prefix);

  boost::asio::awaitable<Result<Lease>> grant(std::chrono::seconds ttl);
  // Refreshes the lease; kNotFound once it has expired or was revoked (its keys are gone then).
  boost::asio::awaitable<Result<Lease>> keep_alive(std::int64_t lease);
  boost::asio::awaitable<Result<void>> revoke(std::int64_t lease);

  // Watches every key under `prefix` from `start_revision` (0: from now) and calls `on_batch` for each
  // batch of changes, in revision order, until it returns false (then: success) or the stream fails
  // (etcd gone, or the revision compacted away: kConflict). Progress notifications arrive as batches
  // without events, so a caller learns the revision it has seen even when nothing changes. Cancel it
  // with the coroutine's cancellation slot (asio::bind_cancellation_slot) or by stopping the IoPool.
  boost::asio::awaitable<Result<void>> watch_prefix(std::string prefix, std::int64_t start_revision,
                                                    std::function<bool(const WatchBatch&)> on_batch);

  const Settings& settings() const noexcept { return settings_; }

 private:
  boost::asio::awaitable<Result<std::string>> call(std::string_view path, std::string body);

  http::Client& http_;
  Settings settings_;
};

// The end of the key range that holds every key starting with `prefix` (etcd's range_end).
std::string prefix_end(std::string_view prefix);

}  // namespace mercato::etcd
