// The token negatives RFC 8725 is about, each refused with a 401-mapped error, and the key-set rules:
// rotation by kid, a retired key's grace, the refresh hook for an unknown kid.
#include "mercato/auth/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <boost/json.hpp>

#include "mercato/auth/base64url.hpp"

namespace mercato::auth {
namespace {

using namespace std::chrono_literals;

const SystemTime kNow = from_unix_ms(1'800'000'000'000);

Claims claims_at(SystemTime now, std::chrono::seconds lifetime = 900s) {
  return {.subject = "user-1",
          .role = "customer",
          .issuer = "mercato",
          .audience = "mercato-api",
          .issued_at = now,
          .not_before = now,
          .expires_at = now + lifetime,
          .token_id = "jti-1"};
}

std::string b64(const boost::json::object& o) { return base64url_encode(boost::json::serialize(o)); }

// A token with any header and payload, signed by `key` the way a forger with that key would.
std::string forge(const boost::json::object& header, const boost::json::object& payload,
                  const PrivateKey& key) {
  auto input = b64(header) + "." + b64(payload);
  return input + "." + base64url_encode(key.sign(input));
}

boost::json::object payload_of(const Claims& c) {
  auto secs = [](SystemTime t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  };
  return {{"iss", c.issuer},           {"sub", c.subject},
          {"aud", c.audience},         {"iat", secs(c.issued_at)},
          {"nbf", secs(c.not_before)}, {"exp", secs(c.expires_at)},
          {"jti", c.token_id},         {"role", c.role}};
}

class JwtTest : public ::testing::Test {
 protected:
  JwtTest() { keys_.add("k1", signer_.public_key()); }
  Verifier verifier(KeySetSource refresh = {}) const {
    return Verifier({.issuer = "mercato", .audience = "mercato-api", .leeway = 30s}, keys_,
                    std::move(refresh));
  }
  // Expects a refusal whose message contains `why`.
  void expect_refused(std::string_view token, std::string_view why, SystemTime now = kNow) const {
    auto r = verifier().verify(token, now);
    ASSERT_FALSE(r) << "accepted: " << token;
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(http_status(r.error().code), 401);
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  }

  PrivateKey key_ = PrivateKey::generate();
  Signer signer_{key_, "k1"};
  KeySet keys_;
};

TEST_F(JwtTest, ASignedTokenVerifiesToItsClaims) {
  auto token = signer_.sign(claims_at(kNow));
  auto claims = verifier().verify(token, kNow + 10s);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(*claims, claims_at(kNow));
  // The header names the algorithm and the key.
  auto header = boost::json::parse(*base64url_decode(token.substr(0, token.find('.'))));
  EXPECT_EQ(header, (boost::json::value{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", "k1"}}));
}

TEST_F(JwtTest, AlgNoneIsRefused) {
  auto payload = payload_of(claims_at(kNow));
  expect_refused(b64({{"alg", "none"}, {"typ", "JWT"}, {"kid", "k1"}}) + "." + b64(payload) + ".",
                 "empty part");
  expect_refused(b64({{"alg", "none"}, {"typ", "JWT"}, {"kid", "k1"}}) + "." + b64(payload) + ".AAAA",
                 "algorithm 'none' is not accepted");
  expect_refused(forge({{"alg", "NONE"}, {"kid", "k1"}}, payload, key_), "not accepted");
}

TEST_F(JwtTest, Hs256SignedWithThePublicKeyIsRefused) {
  auto input =
      b64({{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "k1"}}) + "." + b64(payload_of(claims_at(kNow)));
  // The classic confusion: the public key (raw, and as its JWK text) used as an HMAC secret.
  for (const std::string& secret : {key_.public_key().raw(), base64url_encode(key_.public_key().raw())}) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &size);
    auto token = input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac.data()), size));
    expect_refused(token, "algorithm 'HS256' is not accepted");
  }
}

TEST_F(JwtTest, ExpiredIsRefusedAfterTheLeeway) {
  auto token = signer_.sign(claims_at(kNow - 900s, 900s));  // expired at kNow
  EXPECT_TRUE(verifier().verify(token, kNow + 29s)) << "within the clock skew allowance";
  expect_refused(token, "token expired", kNow + 30s);
  expect_refused(signer_.sign(claims_at(kNow - 2h)), "token expired");
}

TEST_F(JwtTest, NotBeforeInTheFutureIsRefused) {
  auto c = claims_at(kNow);
  c.not_before = kNow + 5min;
  expect_refused(signer_.sign(c), "not yet valid");
  c.not_before = kNow + 20s;  // within the skew: accepted
  EXPECT_TRUE(verifier().verify(signer_.sign(c), kNow));
  auto future = claims_at(kNow + 10min);
  expect_refused(signer_.sign(future), "not yet valid");
}

TEST_F(JwtTest, IssuedInTheFutureOrLivingTooLongIsRefused) {
  auto c = claims_at(kNow);
  c.issued_at = kNow + 10min;
  expect_refused(signer_.sign(c), "issued in the future");
  expect_refused(signer_.sign(claims_at(kNow, 48h)), "lifetime too long");
}

TEST_F(JwtTest, WrongIssuerIsRefused) {
  auto c = claims_at(kNow);
  c.issuer = "someone-else";
  expect_refused(signer_.sign(c), "wrong issuer");
  c.issuer = "";
  expect_refused(signer_.sign(c), "wrong issuer");
}

TEST_F(JwtTest, WrongAudienceIsRefusedAndAnArrayMayHoldOurs) {
  auto c = claims_at(kNow);
  c.audience = "other-api";
  expect_refused(signer_.sign(c), "wrong audience");
  auto payload = payload_of(claims_at(kNow));
  payload["aud"] = boost::json::array{"other-api", "mercato-api"};
  EXPECT_TRUE(verifier().verify(forge({{"alg", "EdDSA"}, {"kid", "k1"}}, payload, key_), kNow));
  payload["aud"] = boost::json::array{"other-api"};
  expect_refused(forge({{"alg", "EdDSA"}, {"kid", "k1"}}, payload, key_), "wrong audience");
}

TEST_F(JwtTest, UnknownKidIsRefused) {
  Signer stranger(PrivateKey::generate(), "k2");
  expect_refused(stranger.sign(claims_at(kNow)), "unknown key id");
  // Same key material, other kid: still unknown (keys are found by kid only).
  Signer renamed(key_, "k9");
  expect_refused(renamed.sign(claims_at(kNow)), "unknown key id");
  // No kid at all.
  expect_refused(forge({{"alg", "EdDSA"}}, payload_of(claims_at(kNow)), key_), "no kid");
}

TEST_F(JwtTest, AKeyTheTokenBringsAlongIsNeverUsed) {
  auto forger = PrivateKey::generate();
  auto jwk = forger.public_key().to_jwk("k1");
  auto token = forge({{"alg", "EdDSA"}, {"kid", "k1"}, {"jwk", jwk}, {"jku", "http://127.0.0.1:1/jwks"}},
                     payload_of(claims_at(kNow)), forger);
  expect_refused(token, "bad signature");
}

TEST_F(JwtTest, TamperedPayloadIsRefused) {
  auto token = signer_.sign(claims_at(kNow));
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  auto payload = payload_of(claims_at(kNow));
  payload["role"] = "admin";
  auto tampered = token.substr(0, first + 1) + b64(payload) + token.substr(second);
  expect_refused(tampered, "bad signature");
}

TEST_F(JwtTest, TamperedSignatureIsRefused) {
  auto token = signer_.sign(claims_at(kNow));
  auto second = token.rfind('.');
  auto signature = *base64url_decode(token.substr(second + 1));
  signature[5] = static_cast<char>(signature[5] ^ 0x01);
  expect_refused(token.substr(0, second + 1) + base64url_encode(signature), "bad signature");
  // A signature by another key over the same bytes.
  auto other = PrivateKey::generate().sign(token.substr(0, second));
  expect_refused(token.substr(0, second + 1) + base64url_encode(other), "bad signature");
}

TEST_F(JwtTest, TruncatedTokensAreRefused) {
  auto token = signer_.sign(claims_at(kNow));
  expect_refused(token.substr(0, token.size() - 1), "");  // last character gone
  expect_refused(token.substr(0, token.size() - 10), "");
  expect_refused(token.substr(0, token.rfind('.')), "three parts");  // no signature
  expect_refused(token.substr(0, token.rfind('.') + 1), "empty part");
  expect_refused(token.substr(0, token.find('.')), "three parts");
  expect_refused("", "no token");
  expect_refused(token + ".extra", "three parts");
  expect_refused(std::string(kMaxTokenBytes + 1, 'a'), "too long");
  for (std::size_t n = 0; n < token.size(); n += 7) {
    EXPECT_FALSE(verifier().verify(token.substr(0, n), kNow)) << n;
  }
}

TEST_F(JwtTest, NotJsonIsRefused) {
  auto sign_raw = [&](const std::string& header, const std::string& payload) {
    auto input = base64url_encode(header) + "." + base64url_encode(payload);
    return input + "." + base64url_encode(key_.sign(input));
  };
  expect_refused(sign_raw("not json", R"({"sub":"x"})"), "header is not a JSON object");
  expect_refused(sign_raw(R"(["alg","EdDSA"])", R"({"sub":"x"})"), "header is not a JSON object");
  expect_refused(sign_raw(R"({"alg":"EdDSA","kid":"k1"})", "not json"), "payload is not a JSON object");
  expect_refused(sign_raw(R"({"alg":"EdDSA","kid":"k1"})", "42"), "payload is not a JSON object");
  expect_refused("!!!.???.***", "not base64url");
}

TEST_F(JwtTest, ClaimsOfTheWrongShapeAreRefused) {
  auto with = [&](const char* name, boost::json::value v) {
    auto payload = payload_of(claims_at(kNow));
    if (v.is_null()) {
      payload.erase(name);
    } else {
      payload[name] = std::move(v);
    }
    return forge({{"alg", "EdDSA"}, {"kid", "k1"}}, payload, key_);
  };
  expect_refused(with("exp", "tomorrow"), "integers");
  expect_refused(with("exp", nullptr), "integers");
  expect_refused(with("exp", 1.8e9), "integers");
  expect_refused(with("iat", nullptr), "integers");
  expect_refused(with("sub", nullptr), "no sub");
  expect_refused(with("sub", 42), "no sub");
  expect_refused(with("role", nullptr), "no role");
  expect_refused(with("exp", std::int64_t{1} << 62), "out of range");
  expect_refused(forge({{"alg", "EdDSA"}, {"kid", "k1"}, {"crit", boost::json::array{"exp"}}},
                       payload_of(claims_at(kNow)), key_),
                 "critical");
  expect_refused(forge({{"alg", "EdDSA"}, {"kid", "k1"}, {"typ", "JWE"}}, payload_of(claims_at(kNow)), key_),
                 "type");
}

TEST_F(JwtTest, ARetiredKeyVerifiesUntilItsGraceEndsThenNot) {
  // k1 signed until kNow; a token it signed then lives 15 minutes, so it stays trusted until kNow + 15min.
  auto token = signer_.sign(claims_at(kNow));
  KeySet rotated;
  Signer next(PrivateKey::generate(), "k2");
  rotated.add("k2", next.public_key());
  rotated.add("k1", signer_.public_key(), kNow + 15min);
  Verifier v({.issuer = "mercato", .audience = "mercato-api", .leeway = 30s}, rotated);
  EXPECT_TRUE(v.verify(token, kNow + 10min));
  EXPECT_TRUE(v.verify(next.sign(claims_at(kNow + 1min)), kNow + 2min));
  // After its grace: refused, even for a token whose own exp has not come (one signed late, say).
  auto late = signer_.sign(claims_at(kNow + 10min, 1h));
  auto r = v.verify(late, kNow + 16min);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message.find("retired key"), std::string::npos) << r.error().message;
  EXPECT_TRUE(v.verify(next.sign(claims_at(kNow + 16min)), kNow + 16min));
}

TEST_F(JwtTest, TheKeySetRoundTripsThroughJwksWithRetirement) {
  KeySet set;
  Signer next(PrivateKey::generate(), "k2");
  set.add("k2", next.public_key());
  set.add("k1", signer_.public_key(), kNow + 15min);
  auto text = boost::json::serialize(set.to_jwks());
  auto back = KeySet::from_jwks(text);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 2U);
  EXPECT_EQ(back->find("k2")->key.raw(), next.public_key().raw());
  EXPECT_FALSE(back->find("k2")->valid_until);
  EXPECT_EQ(back->find("k1")->valid_until, kNow + 15min);
  // Other key types are skipped; broken Ed25519 keys and non-JWKS documents are errors.
  auto mixed = KeySet::from_jwks(R"({"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},)" +
                                 boost::json::serialize(next.public_key().to_jwk("k2")) + "]}");
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->size(), 1U);
  EXPECT_FALSE(KeySet::from_jwks(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"x"}]})"));
  EXPECT_FALSE(KeySet::from_jwks(
      R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})"));
  EXPECT_FALSE(KeySet::from_jwks(R"({"nokeys":[]})"));
  EXPECT_FALSE(KeySet::from_jwks("nope"));
}

// A key's exp is read as a time: 9223372036854775807 seconds overflowed the conversion to milliseconds
// (undefined behaviour; the sanitizers of ./mercato fuzz report it, the input is in fuzz/corpus/jwt).
TEST_F(JwtTest, AKeysExpOutOfRangeIsRefused) {
  for (const char* exp : {"9223372036854775807", "-1", "1099511627777"}) {
    auto jwk = signer_.public_key().to_jwk("k1");
    auto text = R"({"keys":[)" + boost::json::serialize(jwk);
    text.pop_back();  // the closing brace, to add exp
    auto set = KeySet::from_jwks(text + R"(,"exp":)" + exp + "}]}");
    ASSERT_FALSE(set) << exp;
    EXPECT_EQ(set.error().code, ErrorCode::kValidationFailed);
    EXPECT_EQ(set.error().field, "exp");
  }
  auto jwk = signer_.public_key().to_jwk("k1");
  jwk["exp"] = std::int64_t{1} << 40;
  EXPECT_TRUE(KeySet::from_jwks(R"({"keys":[)" + boost::json::serialize(jwk) + "]}"));
}

TEST_F(JwtTest, AnUnknownKidRefreshesTheKeySetAtMostOncePerInterval) {
  Signer next(PrivateKey::generate(), "k2");
  int fetched = 0;
  bool publish_k2 = false;
  auto source = [&]() -> Result<KeySet> {
    ++fetched;
    KeySet set;
    set.add("k1", signer_.public_key());
    if (publish_k2) set.add("k2", next.public_key());
    return set;
  };
  Verifier v({.issuer = "mercato", .audience = "mercato-api", .refresh_interval = 10s}, keys_, source);
  auto token = next.sign(claims_at(kNow));
  EXPECT_FALSE(v.verify(token, kNow));
  EXPECT_EQ(fetched, 1);
  publish_k2 = true;  // the issuer rotated, but the interval has not passed: no second fetch
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(v.verify(token, kNow + 5s));
  EXPECT_EQ(fetched, 1);
  auto r = v.verify(token, kNow + 11s);
  EXPECT_TRUE(r) << r.error().message;
  EXPECT_EQ(fetched, 2);
  EXPECT_TRUE(v.verify(token, kNow + 12s));
  EXPECT_EQ(fetched, 2) << "a known kid fetches nothing";
  // A failing source keeps the keys there are.
  Verifier failing({.issuer = "mercato", .audience = "mercato-api"}, keys_,
                   []() -> Result<KeySet> { return Error::unavailable("jwks unreachable"); });
  EXPECT_FALSE(failing.verify(token, kNow));
  EXPECT_TRUE(failing.verify(signer_.sign(claims_at(kNow)), kNow));
}

TEST(VerifierSettings, AreValidated) {
  EXPECT_TRUE((VerifierSettings{.issuer = "i", .audience = "a"}.validate()));
  EXPECT_FALSE((VerifierSettings{.issuer = "", .audience = "a"}.validate()));
  EXPECT_FALSE((VerifierSettings{.issuer = "i", .audience = ""}.validate()));
  EXPECT_FALSE(
      (VerifierSettings{.issuer = "i", .audience = "a", .leeway = std::chrono::minutes(6)}.validate()));
  EXPECT_FALSE((VerifierSettings{.issuer = "i", .audience = "a", .max_lifetime = 0s}.validate()));
}

TEST(BearerToken, ReadsTheAuthorizationHeader) {
  EXPECT_EQ(bearer_token("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("Bearer  abc "), "abc");
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(bearer_token("Bearer"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token("Bearer a b"));
  EXPECT_FALSE(bearer_token("Bearerabc"));
}

}  // namespace
}  // namespace mercato::auth
