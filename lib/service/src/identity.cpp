#include "mercato/service/identity.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "mercato/config/config.hpp"

namespace mercato::service {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config::ConfigError("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Service secrets are random text; a trailing newline (echo > file) is not part of one.
std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

auth::VerifierSettings verifier_settings(const IdentitySettings& s) {
  return {.issuer = s.issuer,
          .audience = s.audience,
          .leeway = s.clock_skew,
          .refresh_interval = s.unknown_key_refetch};
}

}  // namespace

Result<void> IdentitySettings::validate() const {
  if (issuer.empty()) return Error::validation("issuer", "must not be empty");
  if (audience.empty()) return Error::validation("audience", "must not be empty");
  if (clock_skew > std::chrono::minutes(5)) return Error::validation("clock_skew", "must be at most 5m");
  if (jwks_refresh < 1s) return Error::validation("jwks_refresh", "must be at least 1s");
  return {};
}

// The waiting part of the fetch loop, shared with kick() so that an unknown kid can cut a wait short.
struct Identity::Fetcher {
  explicit Fetcher(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

Identity::Identity(std::string service, IdentitySettings settings, std::optional<auth::KeySet> keys,
                   http::Client* client, std::optional<http::Endpoint> issuer, const obs::Logger& logger)
    : service_(std::move(service)),
      settings_(std::move(settings)),
      client_(client),
      issuer_(std::move(issuer)),
      logger_(logger) {
  if (!settings_.client_secret_file.empty()) {
    client_secret_ = trimmed(read_file(settings_.client_secret_file));
    if (client_secret_.size() < 32) {
      throw config::ConfigError("config key 'auth.client_secret_file': the secret in " +
                                settings_.client_secret_file + " is shorter than 32 characters");
    }
  }
  bool fixed = keys.has_value();
  auth::KeySetSource refresh;
  if (!fixed) {
    // An unknown kid: the verifier asks at most once per its interval; the fetch runs in the background
    // and this token is refused (the next one, signed by the same new key, passes).
    refresh = [this]() -> Result<auth::KeySet> {
      kick();
      return Error::unauthenticated("unknown key id");
    };
  }
  verifier_ = std::make_unique<auth::Verifier>(verifier_settings(settings_),
                                               fixed ? std::move(*keys) : auth::KeySet{}, std::move(refresh));
  keys_loaded_ = fixed;
}

Identity::~Identity() = default;

Result<auth::Principal> Identity::identify(const http::Request& req) const {
  auto header = req.headers.get("Authorization");
  // A header that is there but empty is a credential that does not verify, not an anonymous request.
  if (!header) return auth::anonymous();
  return verify(*header);
}

Result<auth::Principal> Identity::identify(std::string_view authorization) const {
  if (authorization.empty()) return auth::anonymous();
  return verify(authorization);
}

Result<auth::Principal> Identity::verify(std::string_view authorization) const {
  auto token = auth::bearer_token(authorization);
  if (!token) return Error::unauthenticated("Authorization must be \"Bearer <access token>\"");
  if (!keys_loaded_) {
    // Not the caller's fault: the keys have not arrived yet (the readiness check says so too).
    return Error::unavailable("the service cannot verify tokens yet");
  }
  auto now = now_utc();
  {
    std::lock_guard lock(verified_mutex_);
    if (auto it = verified_.find(*token); it != verified_.end()) {
      if (now < it->second.until) return it->second.who;
      verified_.erase(it);
    }
  }
  MERCATO_ASSIGN_OR_RETURN(auto claims, verifier_->verify(*token, now));
  auto who = auth::principal_of(claims);
  if (who) {
    auto until =
        std::min<SystemTime>(claims.expires_at + settings_.clock_skew, now + std::chrono::minutes(1));
    remember(*token, *who, until);
  }
  return who;
}

namespace {
Result<auth::Principal> allow(Result<auth::Principal> who, auth::Roles allowed) {
  if (who && !who->in(allowed)) return auth::refusal(*who, allowed);
  return who;
}
}  // namespace

Result<auth::Principal> Identity::authorize(std::string_view authorization, auth::Roles allowed) const {
  return allow(identify(authorization), allowed);
}

Result<auth::Principal> Identity::authorize(const http::Request& req, auth::Roles allowed) const {
  return allow(identify(req), allowed);
}

void Identity::remember(std::string_view token, const auth::Principal& who, SystemTime until) const {
  std::lock_guard lock(verified_mutex_);
  // Full: start over. Tokens are short-lived and a busy cache refills with the ones in use.
  if (verified_.size() >= kCachedTokens) verified_.clear();
  verified_.insert_or_assign(std::string(token), Verified{who, until});
}

void Identity::start(http::IoPool& io) {
  if (keys_loaded_ || !issuer_ || client_ == nullptr) return;
  auto& context = io.context(0);
  fetcher_ = std::make_shared<Fetcher>(context);
  boost::asio::co_spawn(context, fetch_loop(), boost::asio::detached);
}

void Identity::kick() const {
  if (!fetcher_) return;
  boost::asio::post(fetcher_->timer.get_executor(), [f = fetcher_] { f->timer.cancel(); });
}

boost::asio::awaitable<Result<auth::KeySet>> Identity::fetch_keys() {
  http::ClientRequest request{.method = http::Method::kGet, .target = "/.well-known/jwks.json"};
  auto res =
      co_await client_->send(*issuer_, std::move(request), {.timeout = std::chrono::milliseconds(2000)});
  if (!res) co_return std::move(res).error();
  if (res->status != 200) {
    co_return Error::bad_gateway("the key set answered status " + std::to_string(res->status));
  }
  co_return auth::KeySet::from_jwks(res->body);
}

boost::asio::awaitable<void> Identity::fetch_loop() {
  auto fetcher = fetcher_;  // keeps the timer alive for the whole loop
  std::chrono::milliseconds backoff = 100ms;
  for (;;) {
    auto keys = co_await fetch_keys();
    std::chrono::milliseconds wait = settings_.jwks_refresh;
    if (keys) {
      bool first = !keys_loaded_;
      verifier_->set_keys(std::move(*keys));
      {
        // A key that left the set must not keep its tokens alive here.
        std::lock_guard lock(verified_mutex_);
        verified_.clear();
      }
      keys_loaded_ = true;
      backoff = 100ms;
      if (first) logger_.info("token keys loaded", {{"from", issuer_->to_string()}});
    } else {
      // Quick retries at first (the user service may still be starting), then at most every 5 s; the
      // keys already loaded stay in use meanwhile.
      logger_.warn("cannot fetch token keys; retrying", {{"error", keys.error().message}});
      wait = backoff;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
    }
    fetcher->timer.expires_after(wait);
    boost::system::error_code ec;
    co_await fetcher->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
}

boost::asio::awaitable<Result<std::string>> Identity::authorization() {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(token_mutex_);
    if (!token_.empty() && now < token_renew_at_) co_return "Bearer " + token_;
  }
  if (client_secret_.empty() || !issuer_ || client_ == nullptr) {
    co_return Error::unavailable("service '" + service_ + "' has no credentials (auth.client_secret_file)");
  }
  boost::json::object grant{
      {"grant_type", "client_credentials"}, {"client_id", service_}, {"client_secret", client_secret_}};
  http::ClientRequest request{.method = http::Method::kPost, .target = "/auth/token"};
  request.headers.set("Content-Type", "application/json");
  request.body = boost::json::serialize(grant);
  auto res =
      co_await client_->send(*issuer_, std::move(request), {.timeout = std::chrono::milliseconds(2000)});
  if (!res) co_return std::move(res).error().with_public_message("the user service is unavailable");
  if (res->status != 200) {
    auto e = Error::unavailable("service '" + service_ + "' was refused a token");
    e.detail = "POST /auth/token answered " + std::to_string(res->status) + ": " + res->body.substr(0, 200);
    co_return e;
  }
  boost::system::error_code ec;
  auto body = boost::json::parse(res->body, ec);
  const auto* obj = !ec ? body.if_object() : nullptr;
  const auto* token = obj ? obj->if_contains("access_token") : nullptr;
  const auto* ttl = obj ? obj->if_contains("expires_in") : nullptr;
  if (!token || !token->is_string() || !ttl || !ttl->is_int64() || ttl->get_int64() <= 0) {
    co_return Error::bad_gateway("the user service's token answer is not a token");
  }
  std::string value(token->get_string());
  std::lock_guard lock(token_mutex_);
  token_ = value;
  // Renewed at 80% of its life, so a call never carries a token about to expire.
  token_renew_at_ = now + std::chrono::milliseconds(ttl->get_int64() * 800);
  co_return "Bearer " + value;
}

namespace {

// The `auth` keys every identity reads; `verifies_itself`: the user service, whose keys are its own.
IdentitySettings read_settings(const config::Section& section, bool verifies_itself) {
  IdentitySettings s;
  s.issuer = section.string("issuer", s.issuer);
  s.audience = section.string("audience", s.audience);
  s.clock_skew =
      std::chrono::duration_cast<std::chrono::seconds>(section.duration("clock_skew", s.clock_skew));
  if (!verifies_itself) {
    s.jwks_file = section.string("jwks_file", "");
    s.jwks_refresh =
        std::chrono::duration_cast<std::chrono::seconds>(section.duration("jwks_refresh", s.jwks_refresh));
    s.client_secret_file = section.string("client_secret_file", "");
  }
  if (auto r = s.validate(); !r) {
    throw config::ConfigError("config key 'auth." + r.error().field + "': " + r.error().message);
  }
  return s;
}

void expect_none(const Context& ctx) {
  if (ctx.identity() != nullptr)
    throw std::logic_error("attach_identity: the service has an identity already");
}

}  // namespace

Identity& attach_identity(Context& ctx, auth::KeySet own_keys) {
  expect_none(ctx);
  auto s = read_settings(ctx.config().section("auth"), true);
  auto& identity = ctx.own(std::make_unique<Identity>(ctx.name(), std::move(s), std::move(own_keys),
                                                      &ctx.client(), std::nullopt, ctx.logger()));
  ctx.set_identity(identity);
  return identity;
}

Identity& attach_identity(Context& ctx, std::optional<http::Endpoint> issuer) {
  expect_none(ctx);
  auto s = read_settings(ctx.config().section("auth"), false);
  std::optional<auth::KeySet> keys;
  if (!s.jwks_file.empty()) {
    auto set = auth::KeySet::from_jwks(read_file(s.jwks_file));
    if (!set) throw config::ConfigError("config key 'auth.jwks_file': " + set.error().message);
    keys = std::move(*set);
  }
  if (!issuer && ctx.config().section("upstreams").optional_string("user")) issuer = ctx.upstream("user");
  if (!keys && !issuer) {
    throw config::ConfigError(
        "config key 'auth.jwks_file': tokens cannot be verified: set it, or upstreams.user (the user "
        "service)");
  }
  auto& identity = ctx.own(std::make_unique<Identity>(ctx.name(), std::move(s), std::move(keys),
                                                      &ctx.client(), std::move(issuer), ctx.logger()));
  ctx.add_readiness_check("token_keys", [&identity]() -> Result<void> {
    if (identity.keys_loaded()) return {};
    return Error::unavailable("the token keys have not been fetched yet");
  });
  identity.start(ctx.io());
  ctx.set_identity(identity);
  return identity;
}

http::Response refused(const Error& error, const http::Request& req) {
  auto res = http::Response::error(error, req.request_id);
  if (error.code == ErrorCode::kUnauthenticated) {
    // RFC 6750 §3: a request that sent a token learns it is invalid; one that sent none, only the scheme.
    res.headers.set("WWW-Authenticate", req.headers.get("Authorization")
                                            ? R"(Bearer realm="mercato", error="invalid_token")"
                                            : R"(Bearer realm="mercato")");
  }
  return res;
}

http::SyncHandler guard(const Identity& identity, auth::Roles allowed, GuardedHandler handler) {
  return [&identity, allowed, handler = std::move(handler)](const http::Request& req) {
    auto who = identity.authorize(req, allowed);
    if (!who) return refused(who.error(), req);
    return handler(req, *who);
  };
}

http::AsyncHandler guard_async(const Identity& identity, auth::Roles allowed, GuardedAsyncHandler handler) {
  return [&identity, allowed,
          handler = std::move(handler)](const http::Request& req) -> boost::asio::awaitable<http::Response> {
    auto who = identity.authorize(req, allowed);
    if (!who) co_return refused(who.error(), req);
    co_return co_await handler(req, *who);
  };
}

}  // namespace mercato::service
