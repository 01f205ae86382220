#include "mercato/auth/base64url.hpp"

#include <gtest/gtest.h>

#include "mercato/auth/crypto.hpp"

namespace mercato::auth {
namespace {

TEST(Base64url, EncodesTheRfc4648Vectors) {
  // RFC 4648 §10, without padding.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");  // the url-safe characters
}

TEST(Base64url, RoundTripsRandomBytes) {
  for (std::size_t n = 0; n < 70; ++n) {
    auto bytes = random_bytes(n);
    auto back = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, bytes) << n;
  }
}

TEST(Base64url, RefusesEveryNonCanonicalText) {
  EXPECT_FALSE(base64url_decode("Zg=="));    // padding
  EXPECT_FALSE(base64url_decode("Zm9v+A"));  // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9v/A"));
  EXPECT_FALSE(base64url_decode("Zm9 v"));
  EXPECT_FALSE(base64url_decode("Z"));   // 1 mod 4: no byte string encodes to this
  EXPECT_FALSE(base64url_decode("Zh"));  // leftover bits not zero ("Zg" is the canonical "f")
  EXPECT_FALSE(base64url_decode(std::string_view("Zg\0", 3)));
  EXPECT_EQ(base64url_decode("Zg"), "f");
}

TEST(Crypto, Sha256AndConstantTimeEqual) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256("abc").size(), 32U);
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_NE(random_bytes(32), random_bytes(32));
}

}  // namespace
}  // namespace mercato::auth
