#include "mercato/redis/redis.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace mercato::redis {

bool is_redis_url(std::string_view url) noexcept { return url.starts_with("redis://"); }

std::string Reply::as_text() const {
  switch (type) {
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kString:
    case Type::kStatus:
      return text;
    case Type::kNil:
    case Type::kArray:
      break;
  }
  return {};
}

std::string Script::sha() const {
  std::lock_guard lock(mutex_);
  return sha_;
}

void Script::set_sha(std::string sha) const {
  std::lock_guard lock(mutex_);
  sha_ = std::move(sha);
}

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

Reply convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

struct ReplyGuard {
  redisReply* reply;
  ~ReplyGuard() {
    if (reply != nullptr) freeReplyObject(reply);
  }
};

// An error reply's text, kept apart from a transport failure so eval() can recognize NOSCRIPT.
struct ServerError {
  std::string message;
};

}  // namespace

struct Client::Connection {
  redisContext* context = nullptr;
  ~Connection() {
    if (context != nullptr) redisFree(context);
  }
  bool usable() const noexcept { return context != nullptr && context->err == 0; }
};

Client::Client(Settings settings)
    : settings_(std::move(settings)), pool_([this](Connection& c) { repair(c); }) {}

Client::~Client() = default;

namespace {

struct Address {
  std::string host;
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
};

// redis://[[user]:password@]host[:port][/db]
Address parse_url(std::string_view url) {
  auto bad = [](const std::string& why) {
    return std::runtime_error("redis url: " + why + " (expected redis://[:password@]host[:port][/db])");
  };
  if (!is_redis_url(url)) throw bad("must start with redis://");
  url.remove_prefix(8);
  Address a;
  if (auto at = url.rfind('@'); at != std::string_view::npos) {
    auto userinfo = url.substr(0, at);
    url.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) throw bad("credentials need a ':' before the password");
    a.user = std::string(userinfo.substr(0, colon));
    a.password = std::string(userinfo.substr(colon + 1));
  }
  auto slash = url.find('/');
  auto hostport = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto db = url.substr(slash + 1);
    if (!db.empty()) {
      auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), a.db);
      if (ec != std::errc() || end != db.data() + db.size() || a.db < 0) throw bad("bad database number");
    }
  }
  auto colon = hostport.rfind(':');
  a.host = std::string(hostport.substr(0, colon));
  if (colon != std::string_view::npos) {
    auto port = hostport.substr(colon + 1);
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
    if (ec != std::errc() || end != port.data() + port.size() || a.port < 1 || a.port > 65535) {
      throw bad("bad port");
    }
  }
  if (a.host.empty()) throw bad("missing host");
  return a;
}

// Runs one command on a raw context: the reply, a ServerError, or a transport failure (context->err set).
Result<Reply> raw_command(redisContext* c, const std::vector<std::string>& args, ServerError* server_error) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  ReplyGuard guard{static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()))};
  if (guard.reply == nullptr) {
    return Error::unavailable("redis: " + std::string(c->err != 0 ? c->errstr : "no reply"));
  }
  if (guard.reply->type == REDIS_REPLY_ERROR) {
    std::string message(guard.reply->str, guard.reply->len);
    if (server_error != nullptr) server_error->message = message;
    return Error::internal("redis: " + message);
  }
  return convert(*guard.reply);
}

// A fresh, authenticated connection with the database selected; the error text when that failed.
redisContext* connect(const Address& a, const Settings& s, std::string& error) {
  redisContext* c = redisConnectWithTimeout(a.host.c_str(), a.port, to_timeval(s.connect_timeout));
  if (c == nullptr || c->err != 0) {
    error = c != nullptr ? c->errstr : "out of memory";
    if (c != nullptr) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, to_timeval(s.command_timeout));
  redisEnableKeepAlive(c);
  auto setup = [&](const std::vector<std::string>& args) {
    auto r = raw_command(c, args, nullptr);
    if (!r) error = r.error().message;
    return r.ok();
  };
  bool ok = true;
  if (!a.password.empty()) {
    ok = a.user.empty() ? setup({"AUTH", a.password}) : setup({"AUTH", a.user, a.password});
  }
  if (ok && a.db != 0) ok = setup({"SELECT", std::to_string(a.db)});
  if (!ok) {
    redisFree(c);
    return nullptr;
  }
  return c;
}

}  // namespace

std::unique_ptr<Client> Client::open(const Settings& settings) {
  auto address = parse_url(settings.url);
  std::unique_ptr<Client> client(new Client(settings));
  client->host_ = address.host;
  client->port_ = address.port;
  std::size_t n = std::max<std::size_t>(settings.connections, 1);
  for (std::size_t i = 0; i < n; ++i) {
    std::string error;
    auto connection = std::make_unique<Connection>();
    connection->context = connect(address, settings, error);
    // The URL may carry a password: name only the host and port.
    if (connection->context == nullptr) {
      throw std::runtime_error("cannot connect to Redis at " + address.host + ":" +
                               std::to_string(address.port) + ": " + error);
    }
    client->pool_.add(std::move(connection));
  }
  return client;
}

void Client::repair(Connection& connection) {
  if (connection.usable()) return;
  // Broken by an earlier call: start over on a fresh connection (re-authenticated, db selected).
  if (connection.context != nullptr) redisFree(connection.context);
  std::string error;
  auto address = parse_url(settings_.url);
  connection.context = connect(address, settings_, error);
}

Result<Reply> Client::run(Connection& connection, const std::vector<std::string>& args) {
  if (!connection.usable()) {
    return Error::unavailable("redis: cannot reach " + host_ + ":" + std::to_string(port_));
  }
  return raw_command(connection.context, args, nullptr);
}

Result<Reply> Client::command(const std::vector<std::string>& args) {
  if (args.empty()) return Error::internal("redis: empty command");
  auto lease = pool_.borrow();
  return run(*lease, args);
}

Result<Reply> Client::eval(const Script& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) {
  auto lease = pool_.borrow();
  Connection& connection = *lease;
  if (!connection.usable()) {
    return Error::unavailable("redis: cannot reach " + host_ + ":" + std::to_string(port_));
  }
  auto load = [&]() -> Result<std::string> {
    MERCATO_ASSIGN_OR_RETURN(auto loaded,
                             raw_command(connection.context, {"SCRIPT", "LOAD", script.source()}, nullptr));
    script.set_sha(loaded.text);
    return loaded.text;
  };
  auto sha = script.sha();
  if (sha.empty()) {
    MERCATO_ASSIGN_OR_RETURN(auto loaded, load());
    sha = std::move(loaded);
  }
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.push_back(sha);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  ServerError server_error;
  auto result = raw_command(connection.context, argv, &server_error);
  if (result || !server_error.message.starts_with("NOSCRIPT")) return result;
  // The server lost its script cache (restart, SCRIPT FLUSH) or never saw this script: nothing ran.
  MERCATO_ASSIGN_OR_RETURN(auto loaded, load());
  argv[1] = std::move(loaded);
  return raw_command(connection.context, argv, nullptr);
}

Result<void> Client::ping() {
  MERCATO_ASSIGN_OR_RETURN(auto r, command({"PING"}));
  if (r.text != "PONG") return Error::unavailable("redis: unexpected answer to PING: " + r.as_text());
  return {};
}

}  // namespace mercato::redis
