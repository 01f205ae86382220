// Redis client (hiredis): a small pool of blocking connections, commands with their arguments passed as
// separate strings (binary-safe: input is never formatted into a command line), and Lua scripts run with
// EVALSHA, loaded with SCRIPT LOAD the first time a server does not know them.
//
//   auto client = redis::Client::open({.url = "redis://127.0.0.1:6379/0", .connections = 4});
//   auto n = client->command({"HINCRBY", key, "available", "-1"});   // Result<Reply>
//   static const redis::Script kTake("return redis.call('DECRBY', KEYS[1], ARGV[1])");
//   auto left = client->eval(kTake, {key}, {"2"});
//
// A script runs atomically on the server: no other command interleaves with it, which is how callers get
// all-or-nothing changes over several keys. Errors: the server unreachable or the connection lost →
// kUnavailable; an error reply from the server (a wrong command, a failing script) → kInternal.
//
// A connection found broken (server restarted, connection killed, timeout) is reconnected when it is next
// borrowed. The command that met the break is not retried: it may have run (a script that moved stock),
// so it reports kUnavailable and the caller decides.
//
// Calls block the calling thread for one round trip (fine on loopback with a small pool, as for
// lib/postgres). Thread-safety: Client and Script are thread-safe (each call borrows a connection
// exclusively); Reply is a plain value.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/pool.hpp"
#include "mercato/core/result.hpp"

struct redisContext;

namespace mercato::redis {

// One reply, as the server sent it. Error replies never reach callers (they become an Error).
struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string text;             // kString and kStatus
  std::vector<Reply> elements;  // kArray

  bool is_nil() const noexcept { return type == Type::kNil; }
  // The text of a string or status reply, the decimal form of an integer, "" for nil.
  std::string as_text() const;
};

struct Settings {
  // redis://[:password@]host[:port][/db]; port 6379 and db 0 when absent.
  std::string url;
  std::size_t connections = 4;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
};

// A Lua script. Its SHA-1 is learned from the first SCRIPT LOAD and reused for every EVALSHA.
class Script {
 public:
  explicit Script(std::string source) : source_(std::move(source)) {}
  const std::string& source() const noexcept { return source_; }

 private:
  friend class Client;
  std::string sha() const;
  void set_sha(std::string sha) const;

  std::string source_;
  mutable std::mutex mutex_;
  mutable std::string sha_;
};

class Client {
 public:
  // Connects every pooled connection; throws std::runtime_error when the URL is malformed or the server
  // cannot be reached (start-up only).
  static std::unique_ptr<Client> open(const Settings& settings);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs one command: args[0] is its name, the rest its arguments, each sent as it is.
  Result<Reply> command(const std::vector<std::string>& args);
  // EVALSHA of `script` with `keys` and `args`; on NOSCRIPT (a new or flushed server) SCRIPT LOAD and once
  // more. A script's own error (redis.error_reply, a failing call) is kInternal with its message.
  Result<Reply> eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);
  Result<void> ping();

 private:
  struct Connection;
  explicit Client(Settings settings);
  Result<Reply> run(Connection& connection, const std::vector<std::string>& args);

  void repair(Connection& connection);

  Settings settings_;
  std::string host_;  // for messages: the URL may carry a password
  int port_ = 6379;
  core::Pool<Connection> pool_;
};

// True for "redis://..." URLs: how services choose their storage engine.
bool is_redis_url(std::string_view url) noexcept;

}  // namespace mercato::redis
