#include "mercato/auth/keys.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "mercato/auth/base64url.hpp"

namespace mercato::auth {
namespace {

// RFC 8037 Appendix A: the Ed25519 example key, its thumbprint and a signature made with it.
constexpr const char* kRfcX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

TEST(PublicKey, ThumbprintIsTheRfc8037Example) {
  auto key = PublicKey::from_raw(*base64url_decode(kRfcX));
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

TEST(PublicKey, VerifiesTheRfc8037ExampleSignature) {
  auto key = PublicKey::from_jwk({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", kRfcX}});
  ASSERT_TRUE(key) << key.error().message;
  std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  auto signature = base64url_decode(
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  ASSERT_TRUE(signature);
  EXPECT_TRUE(key->verify(input, *signature));
  EXPECT_FALSE(key->verify(input + "x", *signature));
  auto tampered = *signature;
  tampered[10] = static_cast<char>(tampered[10] ^ 1);
  EXPECT_FALSE(key->verify(input, tampered));
  EXPECT_FALSE(key->verify(input, signature->substr(0, 63)));
}

TEST(PublicKey, RefusesOtherKeyTypesAndBadMaterial) {
  EXPECT_FALSE(PublicKey::from_jwk({{"kty", "EC"}, {"crv", "P-256"}, {"x", kRfcX}}));
  EXPECT_FALSE(PublicKey::from_jwk({{"kty", "oct"}, {"k", kRfcX}}));
  EXPECT_FALSE(PublicKey::from_jwk({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", kRfcX}, {"alg", "HS256"}}));
  EXPECT_FALSE(PublicKey::from_jwk({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}}));
  EXPECT_FALSE(PublicKey::from_jwk({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "not base64!"}}));
  EXPECT_FALSE(PublicKey::from_raw("short"));
}

TEST(PrivateKey, SignsWhatItsPublicKeyVerifiesAndSurvivesPem) {
  auto key = PrivateKey::generate();
  auto signature = key.sign("hello");
  EXPECT_EQ(signature.size(), 64U);
  EXPECT_TRUE(key.public_key().verify("hello", signature));
  auto pem = key.to_pem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0U);
  auto back = PrivateKey::from_pem(pem);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->public_key().raw(), key.public_key().raw());
  EXPECT_TRUE(key.public_key().verify("again", back->sign("again")));
  EXPECT_NE(PrivateKey::generate().public_key().raw(), key.public_key().raw());
}

TEST(PrivateKey, RefusesWhatIsNotAnEd25519Pem) {
  EXPECT_FALSE(PrivateKey::from_pem(""));
  EXPECT_FALSE(PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  // A P-256 key: a valid PEM of another type.
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  auto r = PrivateKey::from_pem(pem);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Ed25519"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace mercato::auth
