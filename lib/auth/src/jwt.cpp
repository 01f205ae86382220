#include "mercato/auth/jwt.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <cstdint>
#include <limits>

#include "mercato/auth/base64url.hpp"
#include "mercato/json/json.hpp"

namespace mercato::auth {
namespace {

using std::chrono::seconds;

Error refused(std::string why) { return Error::unauthenticated(std::move(why)); }

// The latest NumericDate accepted anywhere (about the year 36812): bounds that keep the arithmetic on
// times from overflowing (seconds to milliseconds, adding the leeway).
constexpr std::int64_t kFarFuture = std::int64_t{1} << 40;

std::int64_t numeric_date(SystemTime t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}
SystemTime from_numeric_date(std::int64_t s) {
  return SystemTime{std::chrono::duration_cast<std::chrono::milliseconds>(seconds(s))};
}

// A base64url part of the token decoded and parsed as a JSON object.
Result<boost::json::object> decode_object(std::string_view part, std::string_view what) {
  auto bytes = base64url_decode(part);
  if (!bytes) return refused("malformed token: the " + std::string(what) + " is not base64url");
  auto object = json::parse_object(*bytes);
  if (!object) return refused("malformed token: the " + std::string(what) + " is not a JSON object");
  return std::move(*object);
}

// A NumericDate claim: an integer number of seconds (our issuer writes no fractions). nullopt when absent
// or of another type.
std::optional<std::int64_t> integer_claim(const boost::json::object& payload, std::string_view name) {
  const auto* v = payload.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() &&
      v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(v->get_uint64());
  return std::nullopt;
}

std::optional<std::string> string_claim(const boost::json::object& payload, std::string_view name) {
  const auto* v = payload.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

bool audience_matches(const boost::json::value* aud, std::string_view expected) {
  if (aud == nullptr) return false;
  if (aud->is_string()) return aud->get_string() == expected;
  if (!aud->is_array()) return false;
  for (const auto& member : aud->get_array()) {
    if (member.is_string() && member.get_string() == expected) return true;
  }
  return false;
}

}  // namespace

std::string Signer::sign(const Claims& claims) const {
  boost::json::object header{{"alg", kAlgorithm}, {"typ", "JWT"}, {"kid", kid_}};
  boost::json::object payload{{"iss", claims.issuer},
                              {"sub", claims.subject},
                              {"aud", claims.audience},
                              {"iat", numeric_date(claims.issued_at)},
                              {"nbf", numeric_date(claims.not_before)},
                              {"exp", numeric_date(claims.expires_at)},
                              {"jti", claims.token_id},
                              {"role", claims.role}};
  std::string input = base64url_encode(boost::json::serialize(header)) + "." +
                      base64url_encode(boost::json::serialize(payload));
  auto signature = key_.sign(input);
  return input + "." + base64url_encode(signature);
}

void KeySet::add(std::string kid, PublicKey key, std::optional<SystemTime> valid_until) {
  keys_.insert_or_assign(std::move(kid), VerificationKey{std::move(key), valid_until});
}

const VerificationKey* KeySet::find(std::string_view kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

boost::json::object KeySet::to_jwks() const {
  boost::json::array keys;
  for (const auto& [kid, k] : keys_) {
    auto jwk = k.key.to_jwk(kid);
    if (k.valid_until) jwk["exp"] = numeric_date(*k.valid_until);
    keys.push_back(std::move(jwk));
  }
  return {{"keys", std::move(keys)}};
}

Result<KeySet> KeySet::from_jwks(std::string_view text) {
  auto document = json::parse_object(text);
  if (!document) return Error::validation("", "the key set is not a JSON object");
  const auto* keys = document->if_contains("keys");
  if (keys == nullptr || !keys->is_array())
    return Error::validation("keys", "the key set has no \"keys\" array");
  KeySet set;
  for (const auto& entry : keys->get_array()) {
    if (!entry.is_object()) return Error::validation("keys", "a key is not a JSON object");
    const auto& jwk = entry.get_object();
    auto kty = string_claim(jwk, "kty");
    auto crv = string_claim(jwk, "crv");
    if (kty != "OKP" || crv != "Ed25519") continue;  // a type this verifier never accepts
    auto kid = string_claim(jwk, "kid");
    if (!kid || kid->empty()) return Error::validation("kid", "an Ed25519 key has no kid");
    auto key = PublicKey::from_jwk(jwk);
    if (!key) return Error::validation("keys", "key " + *kid + ": " + key.error().message);
    std::optional<SystemTime> valid_until;
    if (jwk.contains("exp")) {
      auto exp = integer_claim(jwk, "exp");
      if (!exp) return Error::validation("exp", "key " + *kid + ": exp is not an integer");
      // Unbounded, 9223372036854775807 overflowed in the conversion to milliseconds.
      if (*exp < 0 || *exp > kFarFuture)
        return Error::validation("exp", "key " + *kid + ": exp is out of range");
      valid_until = from_numeric_date(*exp);
    }
    set.add(std::move(*kid), std::move(*key), valid_until);
  }
  return set;
}

Result<void> VerifierSettings::validate() const {
  if (issuer.empty()) return Error::validation("issuer", "issuer must not be empty");
  if (audience.empty()) return Error::validation("audience", "audience must not be empty");
  if (leeway < seconds(0) || leeway > std::chrono::minutes(5))
    return Error::validation("leeway", "the clock skew allowance must be within 0s..5m");
  if (max_lifetime <= seconds(0)) return Error::validation("max_lifetime", "max_lifetime must be > 0");
  if (refresh_interval < std::chrono::milliseconds(0))
    return Error::validation("refresh_interval", "refresh_interval must not be negative");
  return {};
}

Verifier::Verifier(VerifierSettings settings, KeySet keys, KeySetSource refresh)
    : settings_(std::move(settings)),
      refresh_(std::move(refresh)),
      keys_(std::make_shared<const KeySet>(std::move(keys))) {}

void Verifier::set_keys(KeySet keys) {
  auto fresh = std::make_shared<const KeySet>(std::move(keys));
  std::lock_guard lock(mutex_);
  keys_ = std::move(fresh);
}

std::shared_ptr<const KeySet> Verifier::keys() const {
  std::lock_guard lock(mutex_);
  return keys_;
}

std::shared_ptr<const KeySet> Verifier::refreshed(SystemTime now) const {
  if (!refresh_) return nullptr;
  {
    // Claim the refresh slot first, so that a burst of tokens with made-up kids costs one fetch per
    // interval rather than one per token.
    std::lock_guard lock(mutex_);
    if (last_refresh_ && now < *last_refresh_ + settings_.refresh_interval) return nullptr;
    last_refresh_ = now;
  }
  auto fresh = refresh_();
  if (!fresh) return nullptr;  // keep the keys we have; the caller refuses the token
  auto shared = std::make_shared<const KeySet>(std::move(*fresh));
  std::lock_guard lock(mutex_);
  keys_ = shared;
  return shared;
}

Result<Claims> Verifier::verify(std::string_view token, SystemTime now) const {
  if (token.empty()) return refused("no token");
  if (token.size() > kMaxTokenBytes) return refused("malformed token: too long");
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return refused("malformed token: expected three parts separated by '.'");
  }
  auto header_part = token.substr(0, first);
  auto payload_part = token.substr(first + 1, second - first - 1);
  auto signature_part = token.substr(second + 1);
  if (header_part.empty() || payload_part.empty() || signature_part.empty())
    return refused("malformed token: an empty part");

  // 1. The header, read only for the algorithm and the key id.
  MERCATO_ASSIGN_OR_RETURN(auto header, decode_object(header_part, "header"));
  auto alg = string_claim(header, "alg");
  if (!alg) return refused("malformed token: no alg");
  if (*alg != kAlgorithm) return refused("algorithm '" + *alg + "' is not accepted");
  if (header.contains("crit")) return refused("critical header parameters are not supported");
  if (auto typ = string_claim(header, "typ"); header.contains("typ") && (!typ || *typ != "JWT")) {
    return refused("token type is not JWT");
  }
  auto kid = string_claim(header, "kid");
  if (!kid || kid->empty()) return refused("malformed token: no kid");

  // 2. The key: ours by kid, never one the token brings along.
  auto set = keys();
  const VerificationKey* key = set->find(*kid);
  if (key == nullptr) {
    if (auto fresh = refreshed(now)) {
      set = fresh;
      key = set->find(*kid);
    }
  }
  if (key == nullptr) return refused("unknown key id");

  // 3. The signature, before anything in the payload is believed.
  auto signature = base64url_decode(signature_part);
  if (!signature) return refused("malformed token: the signature is not base64url");
  auto signed_part = token.substr(0, second);
  if (!key->key.verify(signed_part, *signature)) return refused("bad signature");

  // 4. The claims.
  MERCATO_ASSIGN_OR_RETURN(auto payload, decode_object(payload_part, "payload"));
  Claims claims;
  auto iss = string_claim(payload, "iss");
  if (!iss || *iss != settings_.issuer) return refused("wrong issuer");
  if (!audience_matches(payload.if_contains("aud"), settings_.audience)) return refused("wrong audience");
  auto sub = string_claim(payload, "sub");
  if (!sub || sub->empty()) return refused("malformed token: no sub");
  auto role = string_claim(payload, "role");
  if (!role || role->empty()) return refused("malformed token: no role");
  auto exp = integer_claim(payload, "exp");
  auto iat = integer_claim(payload, "iat");
  if (!exp || !iat) return refused("malformed token: exp and iat must be integers");
  auto nbf = payload.contains("nbf") ? integer_claim(payload, "nbf") : iat;
  if (!nbf) return refused("malformed token: nbf must be an integer");
  // Compared in whole seconds, as the claims are written. Bounds keep the arithmetic from overflowing.
  if (*exp < 0 || *exp > kFarFuture || *iat < 0 || *iat > kFarFuture || *nbf < 0 || *nbf > kFarFuture)
    return refused("malformed token: a time claim is out of range");
  const std::int64_t t = numeric_date(now);
  const std::int64_t leeway = settings_.leeway.count();
  if (t >= *exp + leeway) return refused("token expired");
  if (*nbf > t + leeway) return refused("token not yet valid");
  if (*iat > t + leeway) return refused("token issued in the future");
  if (*exp - *iat > settings_.max_lifetime.count()) return refused("token lifetime too long");
  if (key->valid_until && t >= numeric_date(*key->valid_until) + leeway) {
    return refused("token signed by a retired key");
  }
  claims.issuer = std::move(*iss);
  claims.audience = settings_.audience;
  claims.subject = std::move(*sub);
  claims.role = std::move(*role);
  claims.token_id = string_claim(payload, "jti").value_or("");
  claims.issued_at = from_numeric_date(*iat);
  claims.not_before = from_numeric_date(*nbf);
  claims.expires_at = from_numeric_date(*exp);
  return claims;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() + 1) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  if (authorization[kScheme.size()] != ' ') return std::nullopt;
  auto token = authorization.substr(kScheme.size() + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.find(' ') != std::string_view::npos) return std::nullopt;
  return token;
}

}  // namespace mercato::auth
