#include "adapters/sql_user_repository.hpp"

#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::user {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry. Uniqueness
// ignores case through the index (ASCII folding: SQLite's NOCASE, PostgreSQL's lower() in the C locale).
const std::vector<sql::Migration> kMigrations = {
    {1, "create users",
     "CREATE TABLE users ("
     " id TEXT PRIMARY KEY,"
     " email TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " created_at_ms {int64} NOT NULL,"
     " updated_at_ms {int64} NOT NULL);"
     "CREATE UNIQUE INDEX users_email ON users({nocase:email});"},
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
     " issued_at_ms {int64} NOT NULL,"
     " expires_at_ms {int64} NOT NULL,"
     " spent_at_ms {int64},"
     " revoked_at_ms {int64});"
     "CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);"},
};

Error email_taken() { return Error::conflict("email: already registered", "email"); }

// A write that may hit the unique email index.
Result<void> write_user(sql::Connection& c, std::string_view sql, const sql::Params& params) {
  auto r = c.query(sql, params);
  if (r) return {};
  if (c.last_failure() == sql::Failure::kUniqueViolation) return email_taken();
  return std::move(r).error();  // the lease rolls the transaction back
}

// `lock` reads for update: a concurrent patch waits for this one, so both land.
Result<User> select_user(sql::Connection& c, std::string_view id, bool lock = false) {
  static const std::string kSql =
      "SELECT id, email, name, created_at_ms, updated_at_ms FROM users WHERE id = $1";
  MERCATO_ASSIGN_OR_RETURN(auto rows, c.select(kSql, {id}, lock));
  if (rows.empty()) return user_not_found(id);
  auto row = rows[0];
  return User{row.text(0), row.text(1), row.text(2), row.time(3), row.time(4)};
}

Result<void> insert_token(sql::Connection& c, const RefreshToken& token) {
  return c.run(
      "INSERT INTO refresh_tokens(token_hash, family_id, user_id, issued_at_ms, expires_at_ms)"
      " VALUES ($1, $2, $3, $4, $5)",
      {token.token_hash, token.family_id, token.user_id, token.issued_at, token.expires_at});
}

Result<void> revoke_family(sql::Connection& c, const std::string& family_id, SystemTime now) {
  return c.run("UPDATE refresh_tokens SET revoked_at_ms = $2 WHERE family_id = $1 AND revoked_at_ms IS NULL",
               {family_id, now});
}

}  // namespace

SqlUserRepository::SqlUserRepository(sql::Database& db) : db_(db) {
  if (auto r = db_.migrate("user", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> SqlUserRepository::insert(const User& user, const Credentials& credentials,
                                       std::span<const events::CloudEvent> events) {
  return db_.with([&](sql::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    if (auto r = write_user(
            c, "INSERT INTO users(id, email, name, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5)",
            {user.id, user.email, user.name, user.created_at, user.updated_at});
        !r) {
      return r;
    }
    if (auto r = c.run("INSERT INTO credentials(user_id, password_hash, role) VALUES ($1, $2, $3)",
                       {user.id, credentials.password_hash, std::string(to_string(credentials.role))});
        !r) {
      return r;
    }
    if (auto r = events::append_outbox(c, events); !r) return r;
    return c.commit();
  });
}

Result<User> SqlUserRepository::find(std::string_view id) {
  return db_.with([&](sql::Connection& c) { return select_user(c, id); });
}

Result<User> SqlUserRepository::update(std::string_view id, const UserPatch& patch, SystemTime now,
                                       const EventsOf& events_of) {
  return db_.with([&](sql::Connection& c) -> Result<User> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    auto user = select_user(c, id, true);
    if (!user) return user;  // the lease rolls the transaction back
    if (!apply(*user, patch, now)) return user;
    MERCATO_RETURN_IF_ERROR(
        write_user(c, "UPDATE users SET email = $2, name = $3, updated_at_ms = $4 WHERE id = $1",
                   {user->id, user->email, user->name, user->updated_at}));
    MERCATO_RETURN_IF_ERROR(events::append_outbox_of(c, events_of, *user));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return user;
  });
}

Result<Credentials> SqlUserRepository::find_credentials(std::string_view email) {
  return db_.with([&](sql::Connection& c) -> Result<Credentials> {
    // Compared as the unique index folds case, so the index serves the lookup.
    MERCATO_ASSIGN_OR_RETURN(
        auto rows,
        c.query(
            "SELECT c.user_id, c.password_hash, c.role FROM users u JOIN credentials c ON c.user_id = u.id"
            " WHERE {nocase:u.email} = {nocase:$1}",
            {email}));
    if (rows.empty()) return Error::not_found("no account with that email");
    auto row = rows[0];
    auto role = parse_role(row.text(2));
    if (!role) return Error::internal("stored role '" + row.text(2) + "' is unknown");
    return Credentials{row.text(0), row.text(1), *role};
  });
}

Result<void> SqlUserRepository::insert_refresh_token(const RefreshToken& token) {
  return db_.with([&](sql::Connection& c) { return insert_token(c, token); });
}

Result<Grant> SqlUserRepository::rotate_refresh_token(std::string_view token_hash, RefreshToken next,
                                                      SystemTime now) {
  return db_.with([&](sql::Connection& c) -> Result<Grant> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    // For update: two presentations of one token are serialized, so exactly one of them spends it and
    // the other sees it spent (and revokes the family).
    MERCATO_ASSIGN_OR_RETURN(
        auto rows,
        c.query("SELECT t.family_id, t.user_id, t.expires_at_ms, t.spent_at_ms, t.revoked_at_ms, c.role"
                " FROM refresh_tokens t JOIN credentials c ON c.user_id = t.user_id WHERE t.token_hash = $1"
                "{for_update:t}",
                {token_hash}));
    if (rows.empty()) return Error::unauthenticated("unknown refresh token");
    auto row = rows[0];
    Grant grant{row.text(1), parse_role(row.text(5)).value_or(Role::kCustomer), row.text(0)};
    auto expires_at = row.time(2);
    bool spent = !row.is_null(3);
    bool revoked = !row.is_null(4);
    if (revoked) return Error::unauthenticated("refresh token revoked");
    if (spent) {
      MERCATO_RETURN_IF_ERROR(revoke_family(c, grant.family_id, now));
      MERCATO_RETURN_IF_ERROR(c.commit());
      return Error::unauthenticated("refresh token already used; its session is revoked");
    }
    if (now >= expires_at) return Error::unauthenticated("refresh token expired");
    MERCATO_RETURN_IF_ERROR(
        c.run("UPDATE refresh_tokens SET spent_at_ms = $2 WHERE token_hash = $1", {token_hash, now}));
    next.family_id = grant.family_id;
    next.user_id = grant.user_id;
    MERCATO_RETURN_IF_ERROR(insert_token(c, next));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return grant;
  });
}

Result<void> SqlUserRepository::revoke_refresh_family(std::string_view token_hash, SystemTime now) {
  return db_.with([&](sql::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    MERCATO_ASSIGN_OR_RETURN(
        auto rows, c.query("SELECT family_id FROM refresh_tokens WHERE token_hash = $1", {token_hash}));
    if (rows.empty()) return Error::unauthenticated("unknown refresh token");
    if (auto r = revoke_family(c, rows[0].text(0), now); !r) return r;
    return c.commit();
  });
}

Result<std::size_t> SqlUserRepository::purge_refresh_tokens(SystemTime now) {
  return db_.with([&](sql::Connection& c) -> Result<std::size_t> {
    MERCATO_ASSIGN_OR_RETURN(
        auto rows,
        c.query("DELETE FROM refresh_tokens WHERE family_id IN"
                " (SELECT family_id FROM refresh_tokens GROUP BY family_id HAVING MAX(expires_at_ms) <= $1)"
                " RETURNING token_hash",
                {now}));
    return rows.size();
  });
}

}  // namespace mercato::user
