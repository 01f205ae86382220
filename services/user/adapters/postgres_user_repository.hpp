// UserRepository on PostgreSQL (selected with database.url = postgres://...; see main.cpp).
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/user_repository.hpp"
#include "mercato/postgres/postgres.hpp"

namespace mercato::user {

class PostgresUserRepository final : public UserRepository {
 public:
  // Applies the schema migrations (the event tables too); throws std::runtime_error if they fail (start-up
  // only).
  explicit PostgresUserRepository(postgres::Database& db);

  Result<void> insert(const User& user, std::span<const events::CloudEvent> events) override;
  Result<User> find(std::string_view id) override;
  Result<User> update(std::string_view id, const UserPatch& patch, SystemTime now,
                      const EventsOf& events_of) override;
  Result<void> ping() override { return db_.ping(); }

 private:
  postgres::Database& db_;
};

}  // namespace mercato::user
