#include "adapters/sqlite_user_repository.hpp"

#include <sqlite3.h>

#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::user {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
const std::vector<sqlite::Migration> kMigrations = {
    {1, "create users",
     "CREATE TABLE users ("
     " id TEXT PRIMARY KEY,"
     " email TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " created_at_ms INTEGER NOT NULL,"
     " updated_at_ms INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX users_email ON users(email COLLATE NOCASE);"},
    // The password hash and role apart from the profile, so that no query of a user can return it by
    // accident. Refresh tokens by their SHA-256 only; spent and revoked as times (NULL: not yet).
    {2, "credentials and refresh tokens",
     "CREATE TABLE credentials ("
     " user_id TEXT PRIMARY KEY REFERENCES users(id),"
     " password_hash TEXT NOT NULL,"
     " role TEXT NOT NULL);"
     "CREATE TABLE refresh_tokens ("
     " token_hash TEXT PRIMARY KEY,"
     " family_id TEXT NOT NULL,"
     " user_id TEXT NOT NULL REFERENCES users(id),"
     " issued_at_ms INTEGER NOT NULL,"
     " expires_at_ms INTEGER NOT NULL,"
     " spent_at_ms INTEGER,"
     " revoked_at_ms INTEGER);"
     "CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);"},
};

Error email_taken() { return Error::conflict("email: already registered", "email"); }

Result<User> select_user(sqlite::Connection& c, std::string_view id) {
  auto st = c.prepare("SELECT id, email, name, created_at_ms, updated_at_ms FROM users WHERE id = ?1");
  st.bind(1, id);
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return Error::not_found("user " + std::string(id) + " not found");
  return User{st.text(0), st.text(1), st.text(2), from_unix_ms(st.integer(3)), from_unix_ms(st.integer(4))};
}

}  // namespace

SqliteUserRepository::SqliteUserRepository(sqlite::Database& db) : db_(db) {
  if (auto r = db_.migrate(kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> SqliteUserRepository::insert(const User& user, const Credentials& credentials,
                                          std::span<const events::CloudEvent> events) {
  return db_.with([&](sqlite::Connection& c) -> Result<void> {
    if (auto r = c.begin_immediate(); !r) return r;
    auto st = c.prepare(
        "INSERT INTO users(id, email, name, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
    st.bind(1, user.id);
    st.bind(2, user.email);
    st.bind(3, user.name);
    st.bind(4, to_unix_ms(user.created_at));
    st.bind(5, to_unix_ms(user.updated_at));
    if (auto r = st.run(); !r) {
      if (c.last_error_code() == SQLITE_CONSTRAINT_UNIQUE) return email_taken();
      return r;  // the lease rolls the transaction back
    }
    auto cr = c.prepare("INSERT INTO credentials(user_id, password_hash, role) VALUES (?1, ?2, ?3)");
    cr.bind(1, user.id);
    cr.bind(2, credentials.password_hash);
    cr.bind(3, to_string(credentials.role));
    if (auto r = cr.run(); !r) return r;
    if (auto r = events::append_outbox(c, events); !r) return r;
    return c.commit();
  });
}

Result<User> SqliteUserRepository::find(std::string_view id) {
  return db_.with([&](sqlite::Connection& c) { return select_user(c, id); });
}

Result<User> SqliteUserRepository::update(std::string_view id, const UserPatch& patch, SystemTime now,
                                          const EventsOf& events_of) {
  return db_.with([&](sqlite::Connection& c) -> Result<User> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto user = select_user(c, id);
    if (!user) return user;  // the lease rolls the transaction back
    if (!apply(*user, patch, now)) return user;
    auto st = c.prepare("UPDATE users SET email = ?2, name = ?3, updated_at_ms = ?4 WHERE id = ?1");
    st.bind(1, user->id);
    st.bind(2, user->email);
    st.bind(3, user->name);
    st.bind(4, to_unix_ms(user->updated_at));
    if (auto r = st.run(); !r) {
      if (c.last_error_code() == SQLITE_CONSTRAINT_UNIQUE) return email_taken();
      return std::move(r).error();
    }
    if (events_of) {
      auto events = events_of(*user);
      if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    }
    if (auto r = c.commit(); !r) return std::move(r).error();
    return user;
  });
}

Result<Credentials> SqliteUserRepository::find_credentials(std::string_view email) {
  return db_.with([&](sqlite::Connection& c) -> Result<Credentials> {
    auto st = c.prepare(
        "SELECT c.user_id, c.password_hash, c.role FROM users u JOIN credentials c ON c.user_id = u.id"
        " WHERE u.email = ?1 COLLATE NOCASE");
    st.bind(1, email);
    auto row = st.step();
    if (!row) return std::move(row).error();
    if (!*row) return Error::not_found("no account with that email");
    auto role = parse_role(st.text(2));
    if (!role) return Error::internal("stored role '" + st.text(2) + "' is unknown");
    return Credentials{st.text(0), st.text(1), *role};
  });
}

Result<void> SqliteUserRepository::insert_refresh_token(const RefreshToken& token) {
  return db_.with([&](sqlite::Connection& c) -> Result<void> {
    auto st = c.prepare(
        "INSERT INTO refresh_tokens(token_hash, family_id, user_id, issued_at_ms, expires_at_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5)");
    st.bind(1, token.token_hash);
    st.bind(2, token.family_id);
    st.bind(3, token.user_id);
    st.bind(4, to_unix_ms(token.issued_at));
    st.bind(5, to_unix_ms(token.expires_at));
    return st.run();
  });
}

namespace {

Result<void> revoke_family(sqlite::Connection& c, const std::string& family_id, SystemTime now) {
  auto st = c.prepare(
      "UPDATE refresh_tokens SET revoked_at_ms = ?2 WHERE family_id = ?1 AND revoked_at_ms IS NULL");
  st.bind(1, family_id);
  st.bind(2, to_unix_ms(now));
  return st.run();
}

}  // namespace

Result<Grant> SqliteUserRepository::rotate_refresh_token(std::string_view token_hash, RefreshToken next,
                                                         SystemTime now) {
  return db_.with([&](sqlite::Connection& c) -> Result<Grant> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto st = c.prepare(
        "SELECT t.family_id, t.user_id, t.expires_at_ms, t.spent_at_ms IS NOT NULL, t.revoked_at_ms IS NOT "
        "NULL,"
        " c.role FROM refresh_tokens t JOIN credentials c ON c.user_id = t.user_id WHERE t.token_hash = ?1");
    st.bind(1, token_hash);
    auto row = st.step();
    if (!row) return std::move(row).error();
    if (!*row) return Error::unauthenticated("unknown refresh token");
    Grant grant{st.text(1), parse_role(st.text(5)).value_or(Role::kCustomer), st.text(0)};
    auto expires_at = from_unix_ms(st.integer(2));
    bool spent = st.integer(3) != 0;
    bool revoked = st.integer(4) != 0;
    if (revoked) return Error::unauthenticated("refresh token revoked");
    if (spent) {
      if (auto r = revoke_family(c, grant.family_id, now); !r) return std::move(r).error();
      if (auto r = c.commit(); !r) return std::move(r).error();
      return Error::unauthenticated("refresh token already used; its session is revoked");
    }
    if (now >= expires_at) return Error::unauthenticated("refresh token expired");
    auto spend = c.prepare("UPDATE refresh_tokens SET spent_at_ms = ?2 WHERE token_hash = ?1");
    spend.bind(1, token_hash);
    spend.bind(2, to_unix_ms(now));
    if (auto r = spend.run(); !r) return std::move(r).error();
    auto ins = c.prepare(
        "INSERT INTO refresh_tokens(token_hash, family_id, user_id, issued_at_ms, expires_at_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5)");
    ins.bind(1, next.token_hash);
    ins.bind(2, grant.family_id);
    ins.bind(3, grant.user_id);
    ins.bind(4, to_unix_ms(next.issued_at));
    ins.bind(5, to_unix_ms(next.expires_at));
    if (auto r = ins.run(); !r) return std::move(r).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return grant;
  });
}

Result<void> SqliteUserRepository::revoke_refresh_family(std::string_view token_hash, SystemTime now) {
  return db_.with([&](sqlite::Connection& c) -> Result<void> {
    if (auto r = c.begin_immediate(); !r) return r;
    auto st = c.prepare("SELECT family_id FROM refresh_tokens WHERE token_hash = ?1");
    st.bind(1, token_hash);
    auto row = st.step();
    if (!row) return std::move(row).error();
    if (!*row) return Error::unauthenticated("unknown refresh token");
    if (auto r = revoke_family(c, st.text(0), now); !r) return r;
    return c.commit();
  });
}

Result<void> SqliteUserRepository::ping() { return db_.ping(); }

}  // namespace mercato::user
