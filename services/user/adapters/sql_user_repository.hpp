// UserRepository on the user service's own SQL database — SQLite (the default) or PostgreSQL, chosen by
// database.url (lib/storage) — written once over lib/sql and held to one contract test
// (user_repository_test.cpp). Emails are unique ignoring case (docs/adr/0005-user-email-uniqueness.md).
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/user_repository.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::user {

class SqlUserRepository final : public UserRepository {
 public:
  // Applies the schema migrations (the event tables too); throws std::runtime_error if they fail (start-up
  // only).
  explicit SqlUserRepository(sql::Database& db);

  Result<void> insert(const User& user, const Credentials& credentials,
                      std::span<const events::CloudEvent> events) override;
  Result<User> find(std::string_view id) override;
  Result<User> update(std::string_view id, const UserPatch& patch, SystemTime now,
                      const EventsOf& events_of) override;
  Result<Credentials> find_credentials(std::string_view email) override;
  Result<void> insert_refresh_token(const RefreshToken& token) override;
  Result<Grant> rotate_refresh_token(std::string_view token_hash, RefreshToken next, SystemTime now) override;
  Result<void> revoke_refresh_family(std::string_view token_hash, SystemTime now) override;
  Result<std::size_t> purge_refresh_tokens(SystemTime now) override;
  Result<void> ping() override { return db_.ping(); }

 private:
  sql::Database& db_;
};

}  // namespace mercato::user
