#include "domain/user.hpp"

#include <gtest/gtest.h>

namespace mercato::user {
namespace {

TEST(NormalizeEmail, AcceptsOrdinaryAddressesAndLowercasesDomain) {
  EXPECT_EQ(*normalize_email("ann@example.com"), "ann@example.com");
  EXPECT_EQ(*normalize_email("Ann.Lee+shop@Example.CO.uk"), "Ann.Lee+shop@example.co.uk");
}

TEST(NormalizeEmail, RejectsMalformedAddresses) {
  for (const char* bad :
       {"", "ann", "@example.com", "ann@", "ann@example", "ann@@example.com", "a b@example.com",
        "ann@exa mple.com", ".ann@example.com", "ann.@example.com", "a..b@example.com", "ann@-example.com",
        "ann@example..com", "ann@exa_mple.com", "ann@example.com\n"}) {
    auto r = normalize_email(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
      EXPECT_EQ(r.error().field, "email");
    }
  }
}

TEST(NormalizeEmail, EnforcesLengthLimits) {
  EXPECT_FALSE(normalize_email(std::string(65, 'a') + "@example.com"));
  EXPECT_TRUE(normalize_email(std::string(64, 'a') + "@example.com"));
  EXPECT_FALSE(normalize_email("a@" + std::string(250, 'b') + ".com"));
}

TEST(NormalizeName, TrimsAndValidates) {
  EXPECT_EQ(*normalize_name("  Ann Lee "), "Ann Lee");
  EXPECT_FALSE(normalize_name("   "));
  EXPECT_FALSE(normalize_name(""));
  EXPECT_FALSE(normalize_name(std::string(201, 'x')));
  EXPECT_FALSE(normalize_name("Ann\tLee"));
  EXPECT_TRUE(normalize_name("Jürgen"));
}

TEST(ApplyPatch, ChangesOnlyGivenFieldsAndTouchesUpdatedAt) {
  User u{"1", "a@x.io", "A", SystemTime{}, SystemTime{}};
  SystemTime later{std::chrono::milliseconds{1000}};
  EXPECT_FALSE(apply(u, {}, later));
  EXPECT_EQ(u.updated_at, SystemTime{});
  EXPECT_TRUE(apply(u, {.email = std::nullopt, .name = std::string("B")}, later));
  EXPECT_EQ(u.name, "B");
  EXPECT_EQ(u.email, "a@x.io");
  EXPECT_EQ(u.updated_at, later);
}

}  // namespace
}  // namespace mercato::user
