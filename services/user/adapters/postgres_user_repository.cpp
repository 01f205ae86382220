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

Result<void> PostgresUserRepository::insert(const User& user, std::span<const events::CloudEvent> events) {
  return db_.with([&](postgres::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    auto r = c.query(
        "INSERT INTO users(id, email, name, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5)",
        {user.id, user.email, user.name, to_unix_ms(user.created_at), to_unix_ms(user.updated_at)});
    if (!r) {
      if (c.last_sqlstate() == postgres::kUniqueViolation) return email_taken();
      return std::move(r).error();  // the lease rolls the transaction back
    }
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

}  // namespace mercato::user
