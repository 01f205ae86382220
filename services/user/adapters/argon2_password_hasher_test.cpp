#include "adapters/argon2_password_hasher.hpp"

#include <gtest/gtest.h>

namespace mercato::user {
namespace {

TEST(Argon2PasswordHasher, HashesWithArgon2idAndTheGivenParametersAndVerifies) {
  Argon2PasswordHasher hasher({});
  auto hash = hasher.hash("correct horse");
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0U) << *hash;
  EXPECT_TRUE(hasher.verify(*hash, "correct horse"));
  EXPECT_FALSE(hasher.verify(*hash, "correct horsf"));
  EXPECT_FALSE(hasher.verify(*hash, ""));
  EXPECT_FALSE(hasher.verify("not a hash", "correct horse"));
  EXPECT_FALSE(hasher.verify("", "correct horse"));
  // A fresh salt each time: the same password never gives the same hash.
  EXPECT_NE(*hasher.hash("correct horse"), *hash);
}

TEST(Argon2PasswordHasher, AHashMadeWithOtherParametersStillVerifies) {
  Argon2PasswordHasher stronger({.memory_kib = 32 * 1024, .iterations = 3, .parallelism = 2});
  auto hash = stronger.hash("pass phrase");
  ASSERT_TRUE(hash);
  EXPECT_NE(hash->find("m=32768,t=3,p=2"), std::string::npos) << *hash;
  EXPECT_TRUE(Argon2PasswordHasher({}).verify(*hash, "pass phrase"));
}

TEST(Argon2Settings, RefuseLessThanOwaspsMinimum) {
  EXPECT_TRUE(Argon2Settings{}.validate());
  EXPECT_EQ((Argon2Settings{.memory_kib = 19 * 1024 - 1}.validate().error().field), "memory");
  EXPECT_EQ((Argon2Settings{.iterations = 1}.validate().error().field), "iterations");
  EXPECT_EQ((Argon2Settings{.parallelism = 0}.validate().error().field), "parallelism");
  EXPECT_FALSE((Argon2Settings{.memory_kib = 2 * 1024 * 1024}.validate()));
}

}  // namespace
}  // namespace mercato::user
