// Fuzz target: access-token verification (lib/auth), as a service meets it in an Authorization header,
// and the key sets (JWKS) a verifier is given.
//
// Input: byte 0 chooses what the rest is (its value mod 4):
// - 0: a token, verified at a fixed time against a fixed key set: "k1" (the current key), "k0" (a
//   retired key whose grace has not ended), and a refresh hook that brings "k2" for an unknown kid.
// - 1: a JWS header and payload as JSON text, separated by the first newline. The harness encodes them
//   and signs with k1's private key, as only the issuer can, so the checks after the signature (the
//   claims) meet arbitrary JSON; then as 0.
// - 2: a JWKS document for KeySet::from_jwks. A key set it accepts must come back unchanged through
//   to_jwks and from_jwks, and a verifier holding it is handed a token signed by k1.
// - 3: an Authorization header value for bearer_token. A token it finds must be a non-empty, space-free
//   part of the value; it is verified as in 0.
//
// Every refusal must be kUnauthenticated (verify) or kValidationFailed (from_jwks). A token that verifies
// must have the verifier's issuer and audience, a subject, a role and an expiry not passed, and its
// claims, signed again by k1, must verify to the same claims. Any other outcome, a crash or a sanitizer
// report is a finding.
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mercato/auth/base64url.hpp"
#include "mercato/auth/jwt.hpp"

namespace {

using namespace mercato;
using namespace std::chrono_literals;

// Keys made for this harness and its corpus (openssl genpkey -algorithm ed25519); nothing else trusts them.
constexpr std::string_view kCurrentPem =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAHOvhQ5zCKJfuPXJzM91/ZcF/xaV0sE5L+7eNvh15aX\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kRetiredPem =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFBn6jAydmM6NA9Fn3DEh47evzcoOgSF4So+2uttb9u/\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kRotatedPem =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAU8QFTTwRDAYYUMltSIwKWsnS+UHUe4c54mRUJT16cb\n"
    "-----END PRIVATE KEY-----\n";

// The harness's "now": 2027-01-15T08:00:00Z. The corpus's tokens are issued a minute before.
constexpr SystemTime kNow = from_unix_ms(1'800'000'000'000);

auth::PrivateKey key_of(std::string_view pem) {
  auto key = auth::PrivateKey::from_pem(pem);
  if (!key) std::abort();
  return std::move(*key);
}

struct Fixture {
  auth::PrivateKey current = key_of(kCurrentPem);
  auth::PrivateKey retired = key_of(kRetiredPem);
  auth::PrivateKey rotated = key_of(kRotatedPem);
  auth::VerifierSettings settings{.issuer = "mercato", .audience = "mercato", .refresh_interval = 0ms};
  auth::KeySet keys;       // what the verifier starts with
  auth::KeySet refreshed;  // what the refresh hook brings
  std::string valid_token;

  Fixture() {
    keys.add("k1", current.public_key());
    keys.add("k0", retired.public_key(), kNow + 10min);
    refreshed.add("k1", current.public_key());
    refreshed.add("k2", rotated.public_key());
    valid_token = auth::Signer(current, "k1")
                      .sign({.subject = "user-1",
                             .role = "customer",
                             .issuer = "mercato",
                             .audience = "mercato",
                             .issued_at = kNow - 1min,
                             .not_before = kNow - 1min,
                             .expires_at = kNow + 14min,
                             .token_id = "jti-1"});
  }
};

const Fixture& fixture() {
  static const Fixture kFixture;
  return kFixture;
}

Result<auth::Claims> verify_with(const auth::KeySet& keys, std::string_view token) {
  const Fixture& f = fixture();
  // A fresh verifier per input: the refresh hook's schedule is state, and a replay must not depend on
  // the inputs before it.
  auth::Verifier verifier(f.settings, keys, [&f]() -> Result<auth::KeySet> { return f.refreshed; });
  auto claims = verifier.verify(token, kNow);
  if (!claims && claims.error().code != ErrorCode::kUnauthenticated) std::abort();
  return claims;
}

void verify(std::string_view token) {
  const Fixture& f = fixture();
  auto claims = verify_with(f.keys, token);
  if (!claims) return;
  const auth::Claims& c = *claims;
  if (c.issuer != f.settings.issuer || c.audience != f.settings.audience || c.subject.empty() ||
      c.role.empty() || kNow >= c.expires_at + f.settings.leeway) {
    std::abort();
  }
  // What the verifier returns is what a token says: the same claims, signed again, say the same.
  std::string again = auth::Signer(f.current, "k1").sign(c);
  if (again.size() > auth::kMaxTokenBytes) return;  // escaping can lengthen a verified token's text
  auto reverified = verify_with(f.keys, again);
  if (!reverified || !(*reverified == c)) std::abort();
}

void sign_and_verify(std::string_view message) {
  auto newline = message.find('\n');
  if (newline == std::string_view::npos) return;
  std::string input = auth::base64url_encode(message.substr(0, newline)) + "." +
                      auth::base64url_encode(message.substr(newline + 1));
  if (input.size() > auth::kMaxTokenBytes) return;
  std::string token = input + "." + auth::base64url_encode(fixture().current.sign(input));
  verify(token);
}

void key_set(std::string_view json) {
  auto set = auth::KeySet::from_jwks(json);
  if (!set) {
    if (set.error().code != ErrorCode::kValidationFailed) std::abort();
    return;
  }
  std::string text = boost::json::serialize(set->to_jwks());
  auto again = auth::KeySet::from_jwks(text);
  if (!again || again->size() != set->size() || boost::json::serialize(again->to_jwks()) != text) {
    std::abort();
  }
  (void)verify_with(*set, fixture().valid_token);
}

void authorization(std::string_view value) {
  auto token = auth::bearer_token(value);
  if (!token) return;
  const char* begin = token->data();
  if (token->empty() || token->find(' ') != std::string_view::npos || begin < value.data() ||
      begin + token->size() > value.data() + value.size()) {
    std::abort();
  }
  verify(*token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      verify(rest);
      break;
    case 1:
      sign_and_verify(rest);
      break;
    case 2:
      key_set(rest);
      break;
    default:
      authorization(rest);
      break;
  }
  return 0;
}
