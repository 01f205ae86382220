#include "adapters/argon2_password_hasher.hpp"

#include <argon2.h>
#include <gtest/gtest.h>

#include <string>

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

// The encoding is written and read here (the hasher's own allocator): it must be libargon2's, both ways.
TEST(Argon2PasswordHasher, ItsHashesAreLibargon2sAndLibargon2sAreItsToo) {
  Argon2PasswordHasher hasher({});
  auto ours = hasher.hash("correct horse");
  ASSERT_TRUE(ours);
  EXPECT_EQ(argon2id_verify(ours->c_str(), "correct horse", 13), ARGON2_OK) << *ours;
  EXPECT_NE(argon2id_verify(ours->c_str(), "correct horsf", 13), ARGON2_OK) << *ours;

  const std::string salt = "0123456789abcdef";
  std::string theirs(argon2_encodedlen(2, 19456, 1, salt.size(), 32, Argon2_id), '\0');
  ASSERT_EQ(argon2id_hash_encoded(2, 19456, 1, "pass phrase", 11, salt.data(), salt.size(), 32, theirs.data(),
                                  theirs.size()),
            ARGON2_OK);
  theirs.resize(theirs.find('\0'));
  EXPECT_TRUE(hasher.verify(theirs, "pass phrase")) << theirs;
  EXPECT_FALSE(hasher.verify(theirs, "pass phrasf")) << theirs;
  // A hash of libargon2's with a salt that is not 16 bytes, and one with another output length.
  std::string short_salt(argon2_encodedlen(2, 19456, 1, 8, 16, Argon2_id), '\0');
  ASSERT_EQ(
      argon2id_hash_encoded(2, 19456, 1, "x", 1, "saltsalt", 8, 16, short_salt.data(), short_salt.size()),
      ARGON2_OK);
  short_salt.resize(short_salt.find('\0'));
  EXPECT_TRUE(hasher.verify(short_salt, "x")) << short_salt;
  EXPECT_FALSE(hasher.verify(short_salt, "y")) << short_salt;
}

// A hash's 19 MiB are mapped once and reused while hashes keep coming, then handed back once idle.
TEST(Argon2PasswordHasher, ReusesItsMemoryAndReleasesItWhenIdle) {
  Argon2PasswordHasher hasher({.keep_idle = std::chrono::hours(1)});  // the trimmer stays out of the way
  auto before = Argon2PasswordHasher::memory_stats();
  ASSERT_TRUE(hasher.hash("one"));
  auto hash = hasher.hash("two");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(hasher.verify(*hash, "two"));
  auto during = Argon2PasswordHasher::memory_stats();
  EXPECT_EQ(during.maps, before.maps + 1) << "every hash mapped its memory afresh";
  EXPECT_EQ(during.mapped_blocks, before.mapped_blocks + 1);
  EXPECT_EQ(during.idle_blocks, during.mapped_blocks) << "a block was not given back after its hash";
  EXPECT_EQ(Argon2PasswordHasher::release_idle_memory(std::chrono::hours(1)), 0u) << "released while fresh";
  EXPECT_EQ(Argon2PasswordHasher::release_idle_memory(std::chrono::milliseconds(0)), during.idle_blocks);
  EXPECT_EQ(Argon2PasswordHasher::memory_stats().mapped_blocks, 0u);
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
