// The use cases over the SQL repository on a SQLite file of the test's own: what each change publishes, and
// that a refused or no-op change publishes nothing.
#include "app/user_service.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "adapters/fake_password_hasher.hpp"
#include "adapters/sql_user_repository.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::user {
namespace {

constexpr const char* kPassword = "correct horse";
constexpr const char* kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::set<std::string> keys_of(const boost::json::object& o) {
  std::set<std::string> keys;
  for (const auto& kv : o) keys.emplace(kv.key());
  return keys;
}

class UserServiceTest : public ::testing::Test {
 protected:
  mercato::testing::SqliteDatabase db_{"user"};
  SqlUserRepository repo_{db_.get()};
  FakePasswordHasher hasher_;
  UserService service_{repo_, hasher_};
};

TEST_F(UserServiceTest, RegisteringAUserPublishesUserRegistered) {
  auto user = service_.create({"Ann@Example.COM", "  Ann Lee ", kPassword}, kTrace);
  ASSERT_TRUE(user) << user.error().message;
  auto appended = db_.outbox();
  ASSERT_EQ(appended.size(), 1U);
  const auto& e = appended[0];
  EXPECT_EQ(e.type, "user.registered");
  EXPECT_EQ(e.subject, user->id);
  EXPECT_EQ(e.source, "/mercato/user");
  EXPECT_EQ(e.traceparent, kTrace);
  EXPECT_EQ(events::schema_version(e), 1);
  auto data = boost::json::parse(e.data).as_object();
  // Exactly these fields: a field added to User (a password hash, say) must not leak into the event
  // by accident.
  EXPECT_EQ(keys_of(data), (std::set<std::string>{"user_id", "email", "name", "created_at", "updated_at"}));
  EXPECT_EQ(data.at("user_id").as_string(), user->id);
  EXPECT_EQ(data.at("email").as_string(), "Ann@example.com");  // as stored: the domain lower-cased
  EXPECT_EQ(data.at("name").as_string(), "Ann Lee");
  EXPECT_EQ(data.at("created_at").as_string(), format_rfc3339(user->created_at));
  EXPECT_EQ(data.at("updated_at").as_string(), format_rfc3339(user->updated_at));
}

TEST_F(UserServiceTest, ARefusedRegistrationPublishesNothing) {
  ASSERT_FALSE(service_.create({"not-an-email", "Ann", kPassword}));
  ASSERT_FALSE(service_.create({"ann@x.io", "", kPassword}));
  ASSERT_TRUE(service_.create({"ann@x.io", "Ann", kPassword}));
  auto taken = service_.create({"ANN@x.io", "Other", kPassword});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::kConflict);
  EXPECT_EQ(db_.outbox().size(), 1U) << "only the one registration that succeeded";
}

TEST_F(UserServiceTest, APatchThatChangesSomethingPublishesUserUpdatedWithTheNewState) {
  auto user = service_.create({"ann@x.io", "Ann", kPassword});
  ASSERT_TRUE(user);
  auto updated =
      service_.update(user->id, {.email = std::string("ann.lee@x.io"), .name = std::nullopt}, kTrace);
  ASSERT_TRUE(updated) << updated.error().message;
  auto appended = db_.outbox();
  ASSERT_EQ(appended.size(), 2U);
  const auto& e = appended[1];
  EXPECT_EQ(e.type, "user.updated");
  EXPECT_EQ(e.subject, user->id);
  EXPECT_EQ(e.source, "/mercato/user");
  EXPECT_EQ(e.traceparent, kTrace);
  auto data = boost::json::parse(e.data).as_object();
  EXPECT_EQ(keys_of(data), (std::set<std::string>{"user_id", "email", "name", "created_at", "updated_at"}));
  EXPECT_EQ(data.at("email").as_string(), "ann.lee@x.io");
  EXPECT_EQ(data.at("name").as_string(), "Ann");
  EXPECT_EQ(data.at("updated_at").as_string(), format_rfc3339(updated->updated_at));
}

TEST_F(UserServiceTest, ANoOpOrRefusedPatchPublishesNothing) {
  auto user = service_.create({"ann@x.io", "Ann", kPassword});
  ASSERT_TRUE(user);
  ASSERT_TRUE(service_.create({"bob@x.io", "Bob", kPassword}));
  // The same values again (after normalization): nothing changed.
  auto same = service_.update(user->id, {.email = std::string("ann@X.io"), .name = std::string(" Ann ")});
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, *user);
  EXPECT_FALSE(service_.update(user->id, {}));                                                 // empty
  EXPECT_FALSE(service_.update(user->id, {.email = std::string("x"), .name = std::nullopt}));  // invalid
  EXPECT_FALSE(service_.update(user->id, {.email = std::string("bob@x.io"), .name = std::nullopt}));  // taken
  EXPECT_FALSE(service_.update("nope", {.email = std::nullopt, .name = std::string("X")}));  // absent
  EXPECT_EQ(db_.outbox().size(), 2U) << "the two registrations only";
}

TEST_F(UserServiceTest, ThePasswordIsCheckedAndStoredOnlyAsItsHash) {
  auto short_one = service_.create({"ann@x.io", "Ann", "1234567"});
  ASSERT_FALSE(short_one);
  EXPECT_EQ(short_one.error().field, "password");
  ASSERT_FALSE(service_.create({"ann@x.io", "Ann", std::string(129, 'p')}));
  EXPECT_TRUE(db_.outbox().empty()) << "a refused password registers nothing";
  auto user = service_.create({"ann@x.io", "Ann", kPassword});
  ASSERT_TRUE(user) << user.error().message;
  auto stored = repo_.find_credentials("ANN@x.io");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->user_id, user->id);
  EXPECT_EQ(stored->role, Role::kCustomer);
  EXPECT_EQ(stored->password_hash.find(kPassword), std::string::npos);
  EXPECT_TRUE(hasher_.verify(stored->password_hash, kPassword));
  EXPECT_FALSE(hasher_.verify(stored->password_hash, "wrong horse"));
  EXPECT_EQ(db_.outbox()[0].data.find("fake$"), std::string::npos) << "the event carries no hash";
}

}  // namespace
}  // namespace mercato::user
