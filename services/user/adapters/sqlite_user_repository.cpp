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

Result<void> SqliteUserRepository::insert(const User& user, std::span<const events::CloudEvent> events) {
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

Result<void> SqliteUserRepository::ping() { return db_.ping(); }

}  // namespace mercato::user
