// One contract, two engines: the SQL repository on SQLite and PostgreSQL must behave the same, including
// what each change appends to the outbox.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "adapters/sql_user_repository.hpp"
#include "app/user_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::user {
namespace {

// The unsent outbox rows' events, oldest first.
template <typename Db>
std::vector<events::CloudEvent> unsent_events(Db& db) {
  auto rows = events::open_store(db)->unsent(100);
  if (!rows) throw std::runtime_error("cannot read the outbox: " + rows.error().message);
  std::vector<events::CloudEvent> out;
  for (auto& row : *rows) out.push_back(std::move(row.event));
  return out;
}

struct Fixture {
  virtual ~Fixture() = default;
  virtual UserRepository& repo() = 0;
  // What the changes so far appended to the outbox, in order.
  virtual std::vector<events::CloudEvent> outbox() = 0;
};

struct SqliteFixture : Fixture {
  SqliteFixture()
      : dir(std::filesystem::temp_directory_path() / ("mercato-user-repo-" + random_hex(8))),
        db(sql::Database::open(sqlite::DatabaseSettings{.path = (dir / "user.db").string()})),
        r(*db) {}
  ~SqliteFixture() override { std::filesystem::remove_all(dir); }
  UserRepository& repo() override { return r; }
  std::vector<events::CloudEvent> outbox() override { return unsent_events(*db); }
  std::filesystem::path dir;
  std::unique_ptr<sql::Database> db;
  SqlUserRepository r;
};

// A schema of its own on the PostgreSQL server that ./mercato test starts.
struct PostgresFixture : Fixture {
  explicit PostgresFixture(const std::string& url) : schema(url) {
    if (!schema.ok()) throw std::runtime_error("cannot create a test schema: " + schema.error());
    db = sql::Database::open(postgres::DatabaseSettings{.url = schema.url(), .connections = 2});
    r = std::make_unique<SqlUserRepository>(*db);
  }
  UserRepository& repo() override { return *r; }
  std::vector<events::CloudEvent> outbox() override { return unsent_events(*db); }
  mercato::testing::PostgresSchema schema;  // first member: dropped after the repository has closed
  std::unique_ptr<sql::Database> db;
  std::unique_ptr<SqlUserRepository> r;
};

class UserRepositoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      fixture_ = std::make_unique<SqliteFixture>();
    } else {
      auto url = mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL");
      if (url.empty()) {
        if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
      }
      fixture_ = std::make_unique<PostgresFixture>(url);
    }
  }
  UserRepository& repo() { return fixture_->repo(); }
  std::vector<events::CloudEvent> outbox() { return fixture_->outbox(); }
  static User make(std::string email) {
    auto now = now_utc();
    return User{new_uuid(), std::move(email), "Name", now, now};
  }
  static Credentials creds(const User& u, Role role = Role::kCustomer) {
    return {u.id, "hash-of-" + u.id, role};
  }
  Result<void> insert_new(std::string email) {
    auto u = make(std::move(email));
    return repo().insert(u, creds(u));
  }
  // A refresh token of `user` in `family`, issued now and living an hour.
  static RefreshToken token(const User& user, std::string family = new_uuid()) {
    auto now = now_utc();
    return {random_hex(32), std::move(family), user.id, now, now + std::chrono::hours(1)};
  }
  std::unique_ptr<Fixture> fixture_;
};

TEST_P(UserRepositoryContract, InsertThenFindReturnsSameUser) {
  auto u = make("a@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u)));
  auto found = repo().find(u.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, u);
}

TEST_P(UserRepositoryContract, FindUnknownIsNotFound) {
  auto r = repo().find("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(UserRepositoryContract, DuplicateEmailIsConflictIgnoringCase) {
  ASSERT_TRUE(insert_new("Ann@x.io"));
  auto r = insert_new("ann@x.io");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().field, "email");
}

TEST_P(UserRepositoryContract, UpdateAppliesPatch) {
  auto u = make("a@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u)));
  SystemTime later = u.updated_at + std::chrono::milliseconds(5);
  auto r = repo().update(u.id, {.email = std::nullopt, .name = std::string("New")}, later);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "New");
  EXPECT_EQ(r->email, "a@x.io");
  EXPECT_EQ(r->updated_at, later);
  EXPECT_EQ(*repo().find(u.id), *r);
}

TEST_P(UserRepositoryContract, UpdateToTakenEmailIsConflictAndChangesNothing) {
  auto a = make("a@x.io");
  auto b = make("b@x.io");
  ASSERT_TRUE(repo().insert(a, creds(a)));
  ASSERT_TRUE(repo().insert(b, creds(b)));
  auto r = repo().update(b.id, {.email = std::string("A@x.io"), .name = std::string("Changed")}, now_utc());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(*repo().find(b.id), b);
}

TEST_P(UserRepositoryContract, UpdateOwnEmailCaseIsAllowed) {
  auto a = make("ann@x.io");
  ASSERT_TRUE(repo().insert(a, creds(a)));
  auto r = repo().update(a.id, {.email = std::string("Ann@x.io"), .name = std::nullopt}, now_utc());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->email, "Ann@x.io");
}

TEST_P(UserRepositoryContract, UpdateUnknownIsNotFound) {
  auto r = repo().update("nope", {.email = std::nullopt, .name = std::string("x")}, now_utc());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(UserRepositoryContract, InsertAppendsItsEventsWithTheUser) {
  auto u = make("a@x.io");
  auto registered = user_registered_event(u, "");
  ASSERT_TRUE(repo().insert(u, creds(u), std::span(&registered, 1)));
  auto appended = outbox();
  ASSERT_EQ(appended.size(), 1U);
  EXPECT_EQ(appended[0].id, registered.id);
  EXPECT_EQ(appended[0].type, "user.registered");
  EXPECT_EQ(appended[0].subject, u.id);
  EXPECT_EQ(appended[0].data, registered.data);
}

TEST_P(UserRepositoryContract, RefusedInsertAppendsNothing) {
  auto a = make("ann@x.io");
  auto first = user_registered_event(a, "");
  ASSERT_TRUE(repo().insert(a, creds(a), std::span(&first, 1)));
  auto b = make("ANN@x.io");
  auto second = user_registered_event(b, "");
  ASSERT_FALSE(repo().insert(b, creds(b), std::span(&second, 1)));
  auto appended = outbox();
  ASSERT_EQ(appended.size(), 1U);
  EXPECT_EQ(appended[0].id, first.id);
}

TEST_P(UserRepositoryContract, UpdateAppendsTheEventsOfTheChangedUserOnlyWhenSomethingChanged) {
  auto u = make("a@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u)));
  int built = 0;
  EventsOf events_of = [&](const User& changed) {
    ++built;
    return std::vector{user_updated_event(changed, "")};
  };
  // The same name again: nothing changes, so nothing is published.
  ASSERT_TRUE(
      repo().update(u.id, {.email = std::nullopt, .name = std::string("Name")}, now_utc(), events_of));
  EXPECT_EQ(built, 0);
  EXPECT_TRUE(outbox().empty());

  ASSERT_TRUE(repo().update(u.id, {.email = std::nullopt, .name = std::string("New")}, now_utc(), events_of));
  EXPECT_EQ(built, 1);
  auto appended = outbox();
  ASSERT_EQ(appended.size(), 1U);
  EXPECT_EQ(appended[0].type, "user.updated");
  EXPECT_EQ(appended[0].subject, u.id);
  EXPECT_NE(appended[0].data.find(R"("name":"New")"), std::string::npos) << appended[0].data;
}

TEST_P(UserRepositoryContract, FailedUpdateAppendsNothing) {
  auto a = make("a@x.io");
  auto b = make("b@x.io");
  ASSERT_TRUE(repo().insert(a, creds(a)));
  ASSERT_TRUE(repo().insert(b, creds(b)));
  EventsOf events_of = [](const User& changed) { return std::vector{user_updated_event(changed, "")}; };
  EXPECT_FALSE(
      repo().update(b.id, {.email = std::string("A@x.io"), .name = std::nullopt}, now_utc(), events_of));
  EXPECT_FALSE(
      repo().update("nope", {.email = std::nullopt, .name = std::string("x")}, now_utc(), events_of));
  EXPECT_TRUE(outbox().empty());
}

TEST_P(UserRepositoryContract, CredentialsAreFoundByEmailIgnoringCase) {
  auto u = make("Ann@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u, Role::kAdmin)));
  auto found = repo().find_credentials("ann@X.IO");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, creds(u, Role::kAdmin));
  auto none = repo().find_credentials("bob@x.io");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  // A refused registration stores no credentials either.
  auto dup = make("ANN@x.io");
  ASSERT_FALSE(repo().insert(dup, creds(dup)));
  EXPECT_EQ(repo().find_credentials("ann@x.io")->user_id, u.id);
}

TEST_P(UserRepositoryContract, ARefreshTokenRotatesOnceWithinItsFamily) {
  auto u = make("a@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u)));
  auto first = token(u);
  ASSERT_TRUE(repo().insert_refresh_token(first));
  auto second = token(u, "ignored: the family is the spent token's");
  second.user_id = "ignored too";
  auto grant = repo().rotate_refresh_token(first.token_hash, second, now_utc());
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_EQ(*grant, (Grant{u.id, Role::kCustomer, first.family_id}));
  auto third = token(u);
  auto again = repo().rotate_refresh_token(second.token_hash, third, now_utc());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->family_id, first.family_id);
  EXPECT_EQ(again->user_id, u.id);
}

TEST_P(UserRepositoryContract, ReusingASpentRefreshTokenRevokesItsWholeFamily) {
  auto u = make("a@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u)));
  auto first = token(u);
  ASSERT_TRUE(repo().insert_refresh_token(first));
  auto second = token(u);
  ASSERT_TRUE(repo().rotate_refresh_token(first.token_hash, second, now_utc()));
  // Another session of the same user, untouched by what happens to the first.
  auto other = token(u);
  ASSERT_TRUE(repo().insert_refresh_token(other));

  auto reused = repo().rotate_refresh_token(first.token_hash, token(u), now_utc());
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, ErrorCode::kUnauthenticated);
  // The family's live token is revoked with it, and so is anything else presented from it.
  auto live = repo().rotate_refresh_token(second.token_hash, token(u), now_utc());
  ASSERT_FALSE(live);
  EXPECT_EQ(live.error().code, ErrorCode::kUnauthenticated);
  EXPECT_FALSE(repo().rotate_refresh_token(first.token_hash, token(u), now_utc()));
  EXPECT_TRUE(repo().rotate_refresh_token(other.token_hash, token(u), now_utc()));
}

// Purging removes the families that have nothing left to use; a family with a live token keeps its
// spent ones, so reusing one of them still revokes the family.
TEST_P(UserRepositoryContract, PurgingDropsOnlyFamiliesWhoseTokensHaveAllExpired) {
  auto u = make("a@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u)));
  auto now = now_utc();
  auto dead = token(u);
  dead.issued_at = now - std::chrono::hours(3);
  dead.expires_at = now - std::chrono::hours(2);
  ASSERT_TRUE(repo().insert_refresh_token(dead));
  auto first = token(u);
  first.expires_at = now - std::chrono::minutes(1);  // spent, and expired by now
  ASSERT_TRUE(repo().insert_refresh_token(first));
  auto second = token(u);  // the family's live token
  ASSERT_TRUE(repo().rotate_refresh_token(first.token_hash, second, now - std::chrono::minutes(30)));

  auto purged = repo().purge_refresh_tokens(now);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 1U) << "only the dead family's one token";
  auto reused = repo().rotate_refresh_token(first.token_hash, token(u), now);
  ASSERT_FALSE(reused);
  EXPECT_FALSE(repo().rotate_refresh_token(second.token_hash, token(u), now))
      << "the reuse revoked the family";
  auto again = repo().purge_refresh_tokens(now + std::chrono::hours(2));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 2U) << "once all its tokens have expired, the family goes";
  EXPECT_EQ(*repo().purge_refresh_tokens(now + std::chrono::hours(2)), 0U);
}

TEST_P(UserRepositoryContract, UnknownExpiredAndRevokedRefreshTokensAreRefused) {
  auto u = make("a@x.io");
  ASSERT_TRUE(repo().insert(u, creds(u)));
  auto unknown = repo().rotate_refresh_token(random_hex(32), token(u), now_utc());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnauthenticated);

  auto old = token(u);
  ASSERT_TRUE(repo().insert_refresh_token(old));
  auto expired = repo().rotate_refresh_token(old.token_hash, token(u), old.expires_at);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);

  auto live = token(u);
  ASSERT_TRUE(repo().insert_refresh_token(live));
  auto next = token(u);
  ASSERT_TRUE(repo().rotate_refresh_token(live.token_hash, next, now_utc()));
  // Logout with the current token revokes the family; an unknown token is refused.
  ASSERT_TRUE(repo().revoke_refresh_family(next.token_hash, now_utc()));
  auto after = repo().rotate_refresh_token(next.token_hash, token(u), now_utc());
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, ErrorCode::kUnauthenticated);
  auto logout_unknown = repo().revoke_refresh_family(random_hex(32), now_utc());
  ASSERT_FALSE(logout_unknown);
  EXPECT_EQ(logout_unknown.error().code, ErrorCode::kUnauthenticated);
  // Logging out twice is harmless.
  EXPECT_TRUE(repo().revoke_refresh_family(next.token_hash, now_utc()));
}

INSTANTIATE_TEST_SUITE_P(Implementations, UserRepositoryContract, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace mercato::user
