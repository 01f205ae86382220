// Who is calling a service, and the service's own identity for the calls it makes (docs/security.md,
// "Who may call what").
//
// Every service verifies the bearer token of every request itself (RFC 8725, lib/auth's Verifier): no
// service trusts an identity header or the gateway's word. The keys come from the user service, which
// issues the tokens: GET /.well-known/jwks.json at `upstreams.user`, fetched in the background at start
// (the readiness check "token_keys" fails until it has them), refreshed every `auth.jwks_refresh` and
// when a token names an unknown key. `auth.jwks_file` gives them from a file instead (a mounted secret).
// A service calls another with its own token, from the user service's client-credentials grant
// (POST /auth/token with the secret in `auth.client_secret_file`), cached until shortly before it expires.
//
//   auto& identity = service::attach_identity(ctx);
//   router.get("/orders/{id}", service::guard(identity, auth::kSignedIn,
//       [&](const http::Request& req, const auth::Principal& who) { ... who.may_see(...) ... }));
//
// A request without Authorization is anonymous; one with a token that fails verification is a 401 with
// WWW-Authenticate: Bearer (RFC 6750 §3), whatever route it asked for.
//
// Verified tokens are remembered (by their text, at most kCachedTokens, each until its `exp` plus the
// allowed skew and at most a minute): a client sends the same token for its whole life, and an Ed25519
// verification costs about ten times the request it guards (docs/benchmarks.md). A new key set empties
// the cache, so a withdrawn key's tokens stop passing at once.
//
// Thread-safety: identify(), service_token() and keys_loaded() may run on every I/O thread at once.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "mercato/auth/jwt.hpp"
#include "mercato/auth/principal.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/service.hpp"

namespace mercato::service {

// The `auth` section every service reads.
struct IdentitySettings {
  std::string issuer = "mercato";
  std::string audience = "mercato";
  std::chrono::seconds clock_skew{30};
  std::string jwks_file;                   // keys from this file; empty: from the user service
  std::chrono::seconds jwks_refresh{300};  // how often the fetched key set is refreshed
  // An unknown key id fetches the key set again at most this often, however many such tokens arrive.
  std::chrono::milliseconds unknown_key_refetch{std::chrono::seconds(30)};
  std::string client_secret_file;  // this service's credentials; empty: it calls nobody
  Result<void> validate() const;
};

class Identity {
 public:
  // Keys fixed for the process's life (the user service's own, or a file's).
  // `client` and `issuer` (the user service) serve the service token, and the keys when `keys` is empty;
  // without them (a unit test's fixed keys), authorization() is unavailable.
  Identity(std::string service, IdentitySettings settings, std::optional<auth::KeySet> keys,
           http::Client* client, std::optional<http::Endpoint> issuer, const obs::Logger& logger);
  ~Identity();

  // Anonymous without an Authorization header; kUnauthenticated when the header is not a bearer token
  // that verifies, or names no known role.
  Result<auth::Principal> identify(const http::Request& req) const;
  // The same for an Authorization header's value (a gRPC call's `authorization` metadata, "" when the
  // call has none): "" is anonymous.
  Result<auth::Principal> identify(std::string_view authorization) const;
  // identify(), then the roles: kUnauthenticated, or kPermissionDenied for a principal not in `allowed`
  // (what guard() refuses an HTTP request with, and a gRPC handler a call).
  Result<auth::Principal> authorize(const http::Request& req, auth::Roles allowed) const;
  Result<auth::Principal> authorize(std::string_view authorization, auth::Roles allowed) const;
  bool keys_loaded() const noexcept { return keys_loaded_.load(); }

  // "Bearer <token>" of this service (role service, subject "service:<name>"); kUnavailable when the
  // service has no credentials or the user service does not grant a token.
  boost::asio::awaitable<Result<std::string>> authorization();

  // Starts the background key fetch on `io`'s first worker (no-op with fixed keys); it runs once the pool
  // does.
  void start(http::IoPool& io);

 private:
  // A present Authorization value: a bearer token that verifies, or kUnauthenticated.
  Result<auth::Principal> verify(std::string_view authorization) const;
  boost::asio::awaitable<void> fetch_loop();
  boost::asio::awaitable<Result<auth::KeySet>> fetch_keys();
  void kick() const;

  std::string service_;
  IdentitySettings settings_;
  http::Client* client_;
  std::optional<http::Endpoint> issuer_;
  std::unique_ptr<auth::Verifier> verifier_;
  std::atomic<bool> keys_loaded_{false};
  struct Fetcher;
  std::shared_ptr<Fetcher> fetcher_;

  const obs::Logger& logger_;
  std::string client_secret_;

  struct Verified {
    auth::Principal who;
    SystemTime until;
  };
  static constexpr std::size_t kCachedTokens = 4096;
  void remember(std::string_view token, const auth::Principal& who, SystemTime until) const;
  mutable std::mutex verified_mutex_;  // guards verified_
  // Looked up by the header's string_view: no copy of the token per request.
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  mutable std::unordered_map<std::string, Verified, TextHash, std::equal_to<>> verified_;

  std::mutex token_mutex_;  // guards the cached service token
  std::string token_;
  std::chrono::steady_clock::time_point token_renew_at_{};
};

// Reads the `auth` section, builds the identity, adds the readiness check "token_keys", and starts
// fetching. `issuer`: where the user service is (default: `upstreams.user`); required unless
// auth.jwks_file is set. Owned by the context.
Identity& attach_identity(Context& ctx, std::optional<http::Endpoint> issuer = std::nullopt);
// The user service, which signs the tokens: verifies with its own published keys.
Identity& attach_identity(Context& ctx, auth::KeySet own_keys);

using GuardedHandler = std::function<http::Response(const http::Request&, const auth::Principal&)>;
using GuardedAsyncHandler =
    std::function<boost::asio::awaitable<http::Response>(const http::Request&, const auth::Principal&)>;

// A handler that runs only for principals in `allowed`: 401 (anonymous, or a bad token) or 403 otherwise,
// before the handler sees the request. Ownership (404 for another customer's object) is the handler's.
http::SyncHandler guard(const Identity& identity, auth::Roles allowed, GuardedHandler handler);
http::AsyncHandler guard_async(const Identity& identity, auth::Roles allowed, GuardedAsyncHandler handler);

// The error response of a refused identity (adds WWW-Authenticate to a 401).
http::Response refused(const Error& error, const http::Request& req);

}  // namespace mercato::service
