#include "adapters/postgres_user_repository.hpp"

#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::user {
namespace {

// Versioned and append-only, like the SQLite schema it mirrors. Uniqueness ignores case through an
// index on lower(email) (ASCII folding in the C locale the test cluster uses, as SQLite's NOCASE).
const std::vector<postgres::Migration> kMigrations = {
    {1, "create users",
     "CREATE TABLE users ("
     " id TEXT PRIMARY KEY,"
     " email TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " created_at_ms BIGINT NOT NULL,"
     " updated_at_ms BIGINT NOT NULL);"
     "CREATE UNIQUE INDEX users_email ON users (lower(email));"},
    {2, "credentials and refresh tokens",
     "CREATE TABLE credentials ("
     " user_id TEXT PRIMARY KEY REFERENCES users(id),"
     " password_hash TEXT NOT NULL,"
     " role TEXT NOT NULL);"
     "CREATE TABLE refresh_tokens ("
     " token_hash TEXT PRIMARY KEY,"
     " family_id TEXT NOT NULL,"
     " user_id TEXT NOT NULL REFERENCES users(id),"
     " issued_at_ms BIGINT NOT NULL,"
     " expires_at_ms BIGINT NOT NULL,"
     " spent_at_ms BIGINT,"
     " revoked_at_ms BIGINT);"
     "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);"},
};

Error email_taken() { return Error::conflict("email: already registered", "email"); }

constexpr std::string_view kSelect =
    "SELECT id, email, name, created_at_ms, updated_at_ms FROM users WHERE id = $1";

Result<User> select_user(postgres::Connection& c, std::string_view sql, std::string_view id) {
  auto rows = c.query(sql, {id});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return Error::not_found("user " + std::string(id) + " not found");
  return User{rows->text(0, 0), rows->text(0, 1), rows->text(0, 2), from_unix_ms(rows->integer(0, 3)),
              from_unix_ms(rows->integer(0, 4))};
}

}  // namespace

PostgresUserRepository::PostgresUserRepository(postgres::Database& db) : db_(db) {
  if (auto r = db_.migrate("user", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> PostgresUserRepository::insert(const User& user, const Credentials& credentials,
                                            std::span<const events::CloudEvent> events) {
  return db_.with([&](postgres::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    auto r = c.query(
        "INSERT INTO users(id, email, name, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5)",
        {user.id, user.email, user.name, to_unix_ms(user.created_at), to_unix_ms(user.updated_at)});
    if (!r) {
      if (c.last_sqlstate() == postgres::kUniqueViolation) return email_taken();
      return std::move(r).error();  // the lease rolls the transaction back
    }
    auto cr = c.query("INSERT INTO credentials(user_id, password_hash, role) VALUES ($1, $2, $3)",
                      {user.id, credentials.password_hash, std::string(to_string(credentials.role))});
    if (!cr) return std::move(cr).error();
    if (auto appended = events::append_outbox(c, events); !appended) return appended;
    return c.commit();
  });
}

Result<User> PostgresUserRepository::find(std::string_view id) {
  return db_.with([&](postgres::Connection& c) { return select_user(c, kSelect, id); });
}

Result<User> PostgresUserRepository::update(std::string_view id, const UserPatch& patch, SystemTime now,
                                            const EventsOf& events_of) {
  return db_.with([&](postgres::Connection& c) -> Result<User> {
    if (auto r = c.begin(); !r) return std::move(r).error();
    // FOR UPDATE: a concurrent patch waits for this one, so both land (read-modify-write is atomic).
    auto user = select_user(c, std::string(kSelect) + " FOR UPDATE", id);
    if (!user) return user;  // the lease rolls the transaction back
    if (!apply(*user, patch, now)) return user;
    auto r = c.query("UPDATE users SET email = $2, name = $3, updated_at_ms = $4 WHERE id = $1",
                     {user->id, user->email, user->name, to_unix_ms(user->updated_at)});
    if (!r) {
      if (c.last_sqlstate() == postgres::kUniqueViolation) return email_taken();
      return std::move(r).error();
    }
    if (events_of) {
      auto events = events_of(*user);
      if (auto appended = events::append_outbox(c, events); !appended) return std::move(appended).error();
    }
    if (auto done = c.commit(); !done) return std::move(done).error();
    return user;
  });
}

Result<Credentials> PostgresUserRepository::find_credentials(std::string_view email) {
  return db_.with([&](postgres::Connection& c) -> Result<Credentials> {
    auto rows = c.query(
        "SELECT c.user_id, c.password_hash, c.role FROM users u JOIN credentials c ON c.user_id = u.id"
        " WHERE lower(u.email) = lower($1)",
        {email});
    if (!rows) return std::move(rows).error();
    if (rows->empty()) return Error::not_found("no account with that email");
    auto role = parse_role(rows->text(0, 2));
    if (!role) return Error::internal("stored role '" + rows->text(0, 2) + "' is unknown");
    return Credentials{rows->text(0, 0), rows->text(0, 1), *role};
  });
}

Result<void> PostgresUserRepository::insert_refresh_token(const RefreshToken& token) {
  return db_.with([&](postgres::Connection& c) -> Result<void> {
    auto r = c.query(
        "INSERT INTO refresh_tokens(token_hash, family_id, user_id, issued_at_ms, expires_at_ms)"
        " VALUES ($1, $2, $3, $4, $5)",
        {token.token_hash, token.family_id, token.user_id, to_unix_ms(token.issued_at),
         to_unix_ms(token.expires_at)});
    if (!r) return std::move(r).error();
    return {};
  });
}

namespace {

Result<void> revoke_family(postgres::Connection& c, const std::string& family_id, SystemTime now) {
  auto r =
      c.query("UPDATE refresh_tokens SET revoked_at_ms = $2 WHERE family_id = $1 AND revoked_at_ms IS NULL",
              {family_id, to_unix_ms(now)});
  if (!r) return std::move(r).error();
  return {};
}

}  // namespace

Result<Grant> PostgresUserRepository::rotate_refresh_token(std::string_view token_hash, RefreshToken next,
                                                           SystemTime now) {
  return db_.with([&](postgres::Connection& c) -> Result<Grant> {
    if (auto r = c.begin(); !r) return std::move(r).error();
    // FOR UPDATE: two presentations of one token are serialized, so exactly one of them spends it and
    // the other sees it spent (and revokes the family).
    auto rows = c.query(
        "SELECT t.family_id, t.user_id, t.expires_at_ms, (t.spent_at_ms IS NOT NULL)::int,"
        " (t.revoked_at_ms IS NOT NULL)::int, c.role"
        " FROM refresh_tokens t JOIN credentials c ON c.user_id = t.user_id WHERE t.token_hash = $1"
        " FOR UPDATE OF t",
        {token_hash});
    if (!rows) return std::move(rows).error();
    if (rows->empty()) return Error::unauthenticated("unknown refresh token");
    Grant grant{rows->text(0, 1), parse_role(rows->text(0, 5)).value_or(Role::kCustomer), rows->text(0, 0)};
    auto expires_at = from_unix_ms(rows->integer(0, 2));
    bool spent = rows->integer(0, 3) != 0;
    bool revoked = rows->integer(0, 4) != 0;
    if (revoked) return Error::unauthenticated("refresh token revoked");
    if (spent) {
      if (auto r = revoke_family(c, grant.family_id, now); !r) return std::move(r).error();
      if (auto r = c.commit(); !r) return std::move(r).error();
      return Error::unauthenticated("refresh token already used; its session is revoked");
    }
    if (now >= expires_at) return Error::unauthenticated("refresh token expired");
    auto spend = c.query("UPDATE refresh_tokens SET spent_at_ms = $2 WHERE token_hash = $1",
                         {token_hash, to_unix_ms(now)});
    if (!spend) return std::move(spend).error();
    auto ins = c.query(
        "INSERT INTO refresh_tokens(token_hash, family_id, user_id, issued_at_ms, expires_at_ms)"
        " VALUES ($1, $2, $3, $4, $5)",
        {next.token_hash, grant.family_id, grant.user_id, to_unix_ms(next.issued_at),
         to_unix_ms(next.expires_at)});
    if (!ins) return std::move(ins).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return grant;
  });
}

Result<void> PostgresUserRepository::revoke_refresh_family(std::string_view token_hash, SystemTime now) {
  return db_.with([&](postgres::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    auto rows = c.query("SELECT family_id FROM refresh_tokens WHERE token_hash = $1", {token_hash});
    if (!rows) return std::move(rows).error();
    if (rows->empty()) return Error::unauthenticated("unknown refresh token");
    if (auto r = revoke_family(c, rows->text(0, 0), now); !r) return r;
    return c.commit();
  });
}

}  // namespace mercato::user
