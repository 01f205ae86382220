// Logging in and sessions: passwords checked against their argon2id hashes, short-lived access tokens
// (JWTs signed by lib/auth) and opaque refresh tokens that rotate on each use (docs/security.md,
// "Accounts and tokens").
//
//   login(email, password)  → {access_token, expires_in, refresh_token}: a new session (token family)
//   refresh(refresh_token)  → a new pair; the presented token is spent. Presenting a spent token again
//                             revokes the whole family: whoever holds either copy is logged out.
//   logout(refresh_token)   → the family is revoked.
//
// A failed login has one answer whatever failed (no such account, wrong password, malformed email), and
// takes about the same time: an unknown account is checked against a dummy hash of the same cost.
// Failures are counted per account and per client address (token buckets); when either is empty, the
// next attempt is refused with kRateLimited and how long to wait, before any password is checked.
//
// Thread-safety: thread-safe (the repository and hasher are; the rate limiters lock).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "app/password_hasher.hpp"
#include "app/user_repository.hpp"
#include "mercato/auth/jwt.hpp"
#include "mercato/resilience/rate_limit.hpp"

namespace mercato::user {

struct AuthSettings {
  std::string issuer = "mercato";
  std::string audience = "mercato";
  std::chrono::seconds access_token_ttl{std::chrono::minutes(15)};
  std::chrono::seconds refresh_token_ttl{std::chrono::hours(24 * 14)};
  // Failed logins: the bucket per account (by email) and per client address.
  resilience::RateLimitSettings per_account{.rate = 1.0 / 60, .burst = 5, .max_keys = 100000};
  resilience::RateLimitSettings per_address{.rate = 1.0 / 6, .burst = 20, .max_keys = 100000};
  // The services that may get a service token (client credentials): name → SHA-256 (hex) of its secret.
  // Secrets are random (256 bits from `./mercato up`), so a plain hash suffices: no guessing to slow.
  std::map<std::string, std::string, std::less<>> service_clients;

  Result<void> validate() const;
};

// The key that signs, and the public keys verifiers are told about (it and the retired ones still in
// their grace), as loaded at start (adapters/signing_keys.hpp).
struct SigningKeys {
  auth::Signer signer;
  auth::KeySet published;
};

struct TokenPair {
  std::string access_token;
  std::chrono::seconds expires_in{0};
  std::string refresh_token;
};

// A refusal can say how long to wait (a 429's Retry-After); zero otherwise.
struct AuthOutcome {
  Result<TokenPair> result;
  std::chrono::milliseconds retry_after{0};
};

class AuthService {
 public:
  AuthService(UserRepository& repository, PasswordHasher& hasher, SigningKeys keys, AuthSettings settings);

  // `client`: the caller's address, for the per-address limit.
  AuthOutcome login(std::string_view email, std::string_view password, std::string_view client);
  Result<TokenPair> refresh(std::string_view refresh_token);
  Result<void> logout(std::string_view refresh_token);
  // The client-credentials grant (RFC 6749 §4.4) for another service: an access token with role
  // "service" and subject "service:<client_id>", and no refresh token. kUnauthenticated, one answer for
  // an unknown client and a wrong secret.
  Result<TokenPair> service_token(std::string_view client_id, std::string_view client_secret);
  // The JWKS document of GET /.well-known/jwks.json.
  const auth::KeySet& published_keys() const noexcept { return keys_.published; }
  const AuthSettings& settings() const noexcept { return settings_; }

  // The one answer to every failed login.
  static Error login_failed() { return Error::unauthenticated("wrong email or password"); }

 private:
  std::string access_token(const std::string& user_id, Role role, SystemTime now) const;
  std::string sign(const std::string& subject, std::string_view role, SystemTime now) const;

  UserRepository& repository_;
  PasswordHasher& hasher_;
  SigningKeys keys_;
  AuthSettings settings_;
  std::string dummy_hash_;
  std::string dummy_client_ =
      std::string(64, '0');  // the hash an unknown client is compared with  // checked when the account does
                             // not exist, so that both cases cost the same
  resilience::RateLimiter per_account_;
  resilience::RateLimiter per_address_;
};

}  // namespace mercato::user
