#include "mercato/auth/principal.hpp"

#include <gtest/gtest.h>

namespace mercato::auth {
namespace {

TEST(Principal, RolesParseOnlyTokenRoles) {
  EXPECT_EQ(parse_role("customer"), Role::kCustomer);
  EXPECT_EQ(parse_role("admin"), Role::kAdmin);
  EXPECT_EQ(parse_role("service"), Role::kService);
  EXPECT_EQ(parse_role("anonymous"), std::nullopt);
  EXPECT_EQ(parse_role("Admin"), std::nullopt);
  EXPECT_EQ(parse_role(""), std::nullopt);
}

TEST(Principal, FromClaims) {
  auto p = principal_of(Claims{.subject = "u1", .role = "customer"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->role, Role::kCustomer);
  EXPECT_EQ(p->subject, "u1");
  EXPECT_EQ(principal_of(Claims{.subject = "u1", .role = "root"}).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(principal_of(Claims{.subject = "u1", .role = "anonymous"}).error().code,
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(principal_of(Claims{.subject = "", .role = "admin"}).error().code, ErrorCode::kUnauthenticated);
}

TEST(Principal, RoleSets) {
  EXPECT_TRUE(kEveryone.contains(Role::kAnonymous));
  EXPECT_FALSE(kSignedIn.contains(Role::kAnonymous));
  EXPECT_TRUE(kStaff.contains(Role::kAdmin));
  EXPECT_TRUE(kStaff.contains(Role::kService));
  EXPECT_FALSE(kStaff.contains(Role::kCustomer));
  EXPECT_FALSE(kAdminOnly.contains(Role::kService));
  EXPECT_FALSE(kServiceOnly.contains(Role::kAdmin));
}

TEST(Principal, OwnersAndStaffSeeACustomersObjects) {
  Principal ann{.role = Role::kCustomer, .subject = "ann"};
  Principal bob{.role = Role::kCustomer, .subject = "bob"};
  Principal admin{.role = Role::kAdmin, .subject = "a1"};
  Principal svc{.role = Role::kService, .subject = "service:order"};
  EXPECT_TRUE(ann.may_see("ann"));
  EXPECT_FALSE(bob.may_see("ann"));
  EXPECT_TRUE(admin.may_see("ann"));
  EXPECT_TRUE(svc.may_see("ann"));
  EXPECT_FALSE(anonymous().may_see("ann"));
  EXPECT_FALSE(anonymous().may_see(""));
}

TEST(Principal, RefusalIs401ForAnonymousAnd403Otherwise) {
  EXPECT_EQ(refusal(anonymous(), kAdminOnly).code, ErrorCode::kUnauthenticated);
  auto e = refusal(Principal{.role = Role::kCustomer, .subject = "ann"}, kStaff);
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(e.message, "this route is for: admin, service");
}

}  // namespace
}  // namespace mercato::auth
