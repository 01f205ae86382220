// JSON Web Tokens (RFC 7519) in the JWS compact form (RFC 7515), signed with EdDSA (Ed25519), and
// verified the way RFC 8725 asks: the algorithm comes from an allow-list that holds only "EdDSA" (never
// "none", never an HMAC algorithm a public key could be abused as the secret of), the key comes from
// the verifier's own key set by `kid` (never from the token: "jwk", "jku" and "x5u" are ignored), the
// signature is checked before any claim is read, and then `iss`, `aud`, `exp`, `nbf` and `iat` with a
// bounded clock skew.
//
//   auth::Signer signer(auth::PrivateKey::generate(), "k1");
//   std::string token = signer.sign({.subject = user_id, .role = "customer", .issuer = "mercato",
//                                    .audience = "mercato", .issued_at = now, .not_before = now,
//                                    .expires_at = now + 15min, .token_id = new_uuid()});
//
//   auth::KeySet keys;
//   keys.add("k1", signer.public_key());           // or KeySet::from_jwks(body of /.well-known/jwks.json)
//   auth::Verifier verifier({.issuer = "mercato", .audience = "mercato"}, keys);
//   auto claims = verifier.verify(token);          // Result<Claims>: subject and role, or a 401 error
//
// Every refusal is an Error with code kUnauthenticated (401) whose message says why ("token expired",
// "unknown key id"), so a service maps it like any other error.
//
// Thread-safety: Signer and KeySet are immutable once built. Verifier is thread-safe: verify() may run on
// every I/O thread at once; set_keys() and the refresh hook swap the key set under a mutex.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/auth/keys.hpp"
#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::auth {

// The one signature algorithm issued and accepted (the "alg" header).
inline constexpr std::string_view kAlgorithm = "EdDSA";
// Tokens longer than this are refused before any decoding (ours are about 400 bytes).
inline constexpr std::size_t kMaxTokenBytes = 8192;

// What a token says about its bearer. Times have whole-second precision on the wire (NumericDate).
struct Claims {
  std::string subject;   // sub: the user id
  std::string role;      // role: "customer" or "admin" (a private claim)
  std::string issuer;    // iss
  std::string audience;  // aud
  SystemTime issued_at{};
  SystemTime not_before{};
  SystemTime expires_at{};
  std::string token_id;  // jti

  friend bool operator==(const Claims&, const Claims&) = default;
};

class Signer {
 public:
  Signer(PrivateKey key, std::string kid) : key_(std::move(key)), kid_(std::move(kid)) {}

  // The compact JWS: base64url(header).base64url(payload).base64url(signature), with the header
  // {"alg":"EdDSA","typ":"JWT","kid":kid}.
  std::string sign(const Claims& claims) const;
  const std::string& kid() const noexcept { return kid_; }
  const PublicKey& public_key() const noexcept { return key_.public_key(); }

 private:
  PrivateKey key_;
  std::string kid_;
};

// One key a verifier trusts. A retired key (one that no longer signs) has `valid_until`: the moment its
// last token expires; after it, tokens it signed are refused even if their own `exp` says otherwise.
struct VerificationKey {
  PublicKey key;
  std::optional<SystemTime> valid_until;
};

// Keys by `kid`: the content of a JWKS document (RFC 7517 §5).
class KeySet {
 public:
  void add(std::string kid, PublicKey key, std::optional<SystemTime> valid_until = std::nullopt);
  const VerificationKey* find(std::string_view kid) const;
  std::size_t size() const noexcept { return keys_.size(); }

  // {"keys":[jwk...]}. A retired key's JWK carries "exp", its valid_until as a NumericDate (an extra
  // member RFC 7517 §4 lets readers ignore; from_jwks honours it).
  boost::json::object to_jwks() const;
  // Reads a JWKS document. Keys of other types (RSA, EC, or other curves) are skipped, as RFC 7517 §5
  // asks; an Ed25519 key without a kid, a malformed key or a document that is not a JWKS is an error.
  static Result<KeySet> from_jwks(std::string_view json);

 private:
  std::map<std::string, VerificationKey, std::less<>> keys_;
};

struct VerifierSettings {
  std::string issuer;    // the only accepted `iss`
  std::string audience;  // must be `aud`, or one of the members of an `aud` array
  // Clock skew allowed between the issuer and this host, in both directions: at most 5 minutes.
  std::chrono::seconds leeway{30};
  // A token whose exp - iat is longer is refused: however it was made, no token of ours lives longer.
  std::chrono::seconds max_lifetime{std::chrono::hours(24)};
  // The refresh hook runs at most once per this interval, however many unknown kids arrive.
  std::chrono::milliseconds refresh_interval{std::chrono::seconds(30)};

  // kValidationFailed naming the setting: an empty issuer or audience, a leeway above 5 minutes, ...
  Result<void> validate() const;
};

// Fetches the current key set, e.g. GET <issuer>/.well-known/jwks.json and KeySet::from_jwks. The
// verifier calls it on the thread that met an unknown kid, so it should be quick (or serve a cached copy
// a background task keeps fresh).
using KeySetSource = std::function<Result<KeySet>()>;

class Verifier {
 public:
  // `settings` must be valid (validate()); `refresh` may be empty (then an unknown kid is simply refused).
  Verifier(VerifierSettings settings, KeySet keys, KeySetSource refresh = {});

  // The token's claims, or kUnauthenticated saying why it is refused.
  Result<Claims> verify(std::string_view token, SystemTime now) const;
  Result<Claims> verify(std::string_view token) const { return verify(token, now_utc()); }
  // Replaces the key set (e.g. after the caller fetched a new JWKS on its own schedule).
  void set_keys(KeySet keys);
  const VerifierSettings& settings() const noexcept { return settings_; }

 private:
  std::shared_ptr<const KeySet> keys() const;
  // The key set after at most one refresh for an unknown kid (nullptr when the refresh is not due).
  std::shared_ptr<const KeySet> refreshed(SystemTime now) const;

  VerifierSettings settings_;
  KeySetSource refresh_;
  mutable std::mutex mutex_;                    // guards keys_ and last_refresh_
  mutable std::shared_ptr<const KeySet> keys_;  // swapped whole, read without holding the mutex
  mutable std::optional<SystemTime> last_refresh_;
};

// The token of an "Authorization: Bearer <token>" header value (RFC 6750 §2.1; the scheme is
// case-insensitive), or nullopt when the header is not of that form.
std::optional<std::string_view> bearer_token(std::string_view authorization);

}  // namespace mercato::auth
