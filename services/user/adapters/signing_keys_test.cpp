#include "adapters/signing_keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "mercato/core/ids.hpp"

namespace mercato::user {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SigningKeysTest : public ::testing::Test {
 protected:
  ~SigningKeysTest() override { fs::remove_all(root_); }
  KeyStoreSettings settings() const { return {.dir = root_ / "keys", .grace = 16min}; }
  std::vector<fs::path> files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(root_ / "keys")) out.push_back(e.path());
    return out;
  }
  fs::path root_ = fs::temp_directory_path() / ("mercato-keys-" + random_hex(8));
  SystemTime t0_ = from_unix_ms(1'800'000'000'000);
};

TEST_F(SigningKeysTest, TheFirstStartGeneratesAKeyOnlyItsOwnerCanRead) {
  auto keys = load_signing_keys(settings(), t0_);
  ASSERT_EQ(files().size(), 1U);
  auto file = files()[0];
  EXPECT_EQ(file.filename().string(), "1800000000-" + keys.signer.kid() + ".pem");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::stat((root_ / "keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  EXPECT_EQ(keys.published.size(), 1U);
  EXPECT_EQ(keys.signer.kid(), keys.signer.public_key().thumbprint());
  // The next start signs with the same key.
  auto again = load_signing_keys(settings(), t0_ + 1h);
  EXPECT_EQ(again.signer.kid(), keys.signer.kid());
  EXPECT_EQ(files().size(), 1U);
}

TEST_F(SigningKeysTest, RotationKeepsTheRetiredKeyPublishedUntilItsTokensExpired) {
  auto s = settings();
  s.rotate_after = 24h;
  auto first = load_signing_keys(s, t0_);
  auto rotated_at = t0_ + 25h;
  auto second = load_signing_keys(s, rotated_at);
  EXPECT_NE(second.signer.kid(), first.signer.kid());
  ASSERT_EQ(second.published.size(), 2U);
  const auto* retired = second.published.find(first.signer.kid());
  ASSERT_NE(retired, nullptr);
  EXPECT_EQ(retired->valid_until, rotated_at + 16min);
  EXPECT_FALSE(second.published.find(second.signer.kid())->valid_until);
  // After the grace the retired key is no longer published.
  auto later = load_signing_keys(s, rotated_at + 17min);
  EXPECT_EQ(later.signer.kid(), second.signer.kid());
  EXPECT_EQ(later.published.size(), 1U);
  EXPECT_EQ(later.published.find(first.signer.kid()), nullptr);
}

TEST_F(SigningKeysTest, AConfiguredKeyFileIsImportedAsTheNewestKey) {
  auto generated = load_signing_keys(settings(), t0_);
  auto pem_path = root_ / "configured.pem";
  auto configured = auth::PrivateKey::generate();
  fs::create_directories(root_);
  std::ofstream(pem_path) << configured.to_pem();
  auto s = settings();
  s.import_file = pem_path;
  auto keys = load_signing_keys(s, t0_ + 1h);
  EXPECT_EQ(keys.signer.kid(), configured.public_key().thumbprint());
  EXPECT_NE(keys.published.find(generated.signer.kid()), nullptr) << "the previous key stays in its grace";
  EXPECT_EQ(files().size(), 2U);
  auto again = load_signing_keys(s, t0_ + 2h);
  EXPECT_EQ(again.signer.kid(), keys.signer.kid());
  EXPECT_EQ(files().size(), 2U) << "imported once";
}

TEST_F(SigningKeysTest, ABrokenKeyFileStopsTheStart) {
  fs::create_directories(root_ / "keys");
  std::ofstream(root_ / "keys" / "1800000000-broken.pem") << "not a key";
  EXPECT_THROW(load_signing_keys(settings(), t0_), std::runtime_error);
  auto s = settings();
  s.import_file = root_ / "missing.pem";
  EXPECT_THROW(load_signing_keys(s, t0_), std::runtime_error);
}

}  // namespace
}  // namespace mercato::user
