#include "domain/credentials.hpp"

#include <gtest/gtest.h>

namespace mercato::user {
namespace {

TEST(Password, LengthIsCountedInCharactersWithinBounds) {
  EXPECT_FALSE(check_password(""));
  EXPECT_FALSE(check_password("1234567"));
  EXPECT_TRUE(check_password("12345678"));
  EXPECT_TRUE(check_password("correct horse battery staple"));
  EXPECT_TRUE(check_password(std::string(128, 'x')));
  auto long_one = check_password(std::string(129, 'x'));
  ASSERT_FALSE(long_one);
  EXPECT_EQ(long_one.error().field, "password");
  EXPECT_EQ(long_one.error().code, ErrorCode::kValidationFailed);
  // Eight characters of two bytes each: long enough; four of them (eight bytes) are not.
  EXPECT_TRUE(check_password("ééééééé\xc3\xa9"));
  EXPECT_FALSE(check_password("éééé"));
}

TEST(Role, RoundTripsByName) {
  EXPECT_EQ(to_string(Role::kCustomer), "customer");
  EXPECT_EQ(to_string(Role::kAdmin), "admin");
  EXPECT_EQ(parse_role("admin"), Role::kAdmin);
  EXPECT_EQ(parse_role("customer"), Role::kCustomer);
  EXPECT_FALSE(parse_role("Admin"));
  EXPECT_FALSE(parse_role(""));
}

}  // namespace
}  // namespace mercato::user
