#include "app/auth_service.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "mercato/auth/base64url.hpp"
#include "mercato/auth/crypto.hpp"
#include "mercato/core/ids.hpp"

namespace mercato::user {
namespace {

constexpr std::size_t kRefreshTokenBytes = 32;

// The per-account key: the email as the store compares it (case-insensitively), so that "Ann@x.io" and
// "ann@x.io" share one bucket. Unknown emails get buckets too: the limit must not tell them apart.
std::string account_key(std::string_view email) {
  std::string key(email);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return key;
}

}  // namespace

Result<void> AuthSettings::validate() const {
  if (issuer.empty()) return Error::validation("issuer", "must not be empty");
  if (audience.empty()) return Error::validation("audience", "must not be empty");
  if (access_token_ttl < std::chrono::minutes(1) || access_token_ttl > std::chrono::hours(1))
    return Error::validation("access_token_ttl", "must be within 1m..1h");
  if (refresh_token_ttl < std::chrono::hours(1) || refresh_token_ttl > std::chrono::hours(24 * 90))
    return Error::validation("refresh_token_ttl", "must be within 1h..2160h (90 days)");
  if (auto r = per_account.validate(); !r)
    return Error::validation("per_account." + r.error().field, r.error().message);
  for (const auto& [name, hash] : service_clients) {
    bool hex = hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
                 return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
               });
    if (!hex)
      return Error::validation("service_clients." + name, "must be the SHA-256 of the secret, 64 hex digits");
  }
  if (auto r = per_address.validate(); !r)
    return Error::validation("per_address." + r.error().field, r.error().message);
  return {};
}

AuthService::AuthService(UserRepository& repository, PasswordHasher& hasher, SigningKeys keys,
                         AuthSettings settings)
    : repository_(repository),
      hasher_(hasher),
      keys_(std::move(keys)),
      settings_(std::move(settings)),
      per_account_(settings_.per_account),
      per_address_(settings_.per_address) {
  auto dummy = hasher_.hash(auth::base64url_encode(auth::random_bytes(16)));
  if (!dummy) throw std::runtime_error("cannot hash a password: " + dummy.error().message);
  dummy_hash_ = std::move(*dummy);
}

AuthOutcome AuthService::login(std::string_view email, std::string_view password, std::string_view client) {
  auto mono = resilience::Clock::now();
  auto account = "account:" + account_key(email);
  auto address = "address:" + std::string(client);
  auto by_account = per_account_.check(account, mono);
  auto by_address = per_address_.check(address, mono);
  if (!by_account.allowed || !by_address.allowed) {
    return {Error::rate_limited("too many failed logins; retry later"),
            std::max(by_account.retry_after, by_address.retry_after)};
  }
  auto credentials = repository_.find_credentials(email);
  if (!credentials && credentials.error().code != ErrorCode::kNotFound)
    return {std::move(credentials).error()};
  // Always one hash check, so an unknown account costs what a wrong password costs.
  bool matches = hasher_.verify(credentials ? credentials->password_hash : dummy_hash_, password);
  if (!credentials || !matches) {
    per_account_.take(account, mono);
    per_address_.take(address, mono);
    return {login_failed()};
  }
  auto now = now_utc();
  auto refresh_token = auth::base64url_encode(auth::random_bytes(kRefreshTokenBytes));
  RefreshToken first{auth::sha256_hex(refresh_token), new_uuid(), credentials->user_id, now,
                     now + settings_.refresh_token_ttl};
  if (auto r = repository_.insert_refresh_token(first); !r) return {std::move(r).error()};
  return {TokenPair{access_token(credentials->user_id, credentials->role, now), settings_.access_token_ttl,
                    std::move(refresh_token)}};
}

std::string AuthService::access_token(const std::string& user_id, Role role, SystemTime now) const {
  return sign(user_id, to_string(role), now);
}

std::string AuthService::sign(const std::string& subject, std::string_view role, SystemTime now) const {
  return keys_.signer.sign({.subject = subject,
                            .role = std::string(role),
                            .issuer = settings_.issuer,
                            .audience = settings_.audience,
                            .issued_at = now,
                            .not_before = now,
                            .expires_at = now + settings_.access_token_ttl,
                            .token_id = auth::base64url_encode(auth::random_bytes(16))});
}

Result<TokenPair> AuthService::refresh(std::string_view refresh_token) {
  auto now = now_utc();
  // The new token is made first, so that spending the old one and storing it are one transaction.
  auto next_token = auth::base64url_encode(auth::random_bytes(kRefreshTokenBytes));
  RefreshToken next{auth::sha256_hex(next_token), {}, {}, now, now + settings_.refresh_token_ttl};
  MERCATO_ASSIGN_OR_RETURN(auto grant,
                           repository_.rotate_refresh_token(auth::sha256_hex(refresh_token), next, now));
  return TokenPair{access_token(grant.user_id, grant.role, now), settings_.access_token_ttl,
                   std::move(next_token)};
}

Result<TokenPair> AuthService::service_token(std::string_view client_id, std::string_view client_secret) {
  auto presented = auth::sha256_hex(client_secret);
  auto known = settings_.service_clients.find(client_id);
  // Compared even for an unknown client, so that both refusals take the same time.
  bool matches = auth::constant_time_equal(
      presented, known != settings_.service_clients.end() ? std::string_view(known->second) : dummy_client_);
  if (known == settings_.service_clients.end() || !matches) {
    return Error::unauthenticated("unknown client or wrong secret");
  }
  return TokenPair{sign("service:" + known->first, "service", now_utc()), settings_.access_token_ttl, {}};
}

Result<void> AuthService::logout(std::string_view refresh_token) {
  return repository_.revoke_refresh_family(auth::sha256_hex(refresh_token), now_utc());
}

}  // namespace mercato::user
