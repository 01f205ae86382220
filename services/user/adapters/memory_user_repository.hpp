// An in-memory UserRepository: the fake for use-case tests, held to the same contract as SQLite.
// The events a change appends are kept in order (appended()), standing in for the outbox, so tests see
// what a use case publishes and the contract test holds the fake to "a failed change appends nothing".
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "app/user_repository.hpp"

namespace mercato::user {

class MemoryUserRepository final : public UserRepository {
 public:
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
  Result<void> ping() override { return {}; }

  // Every event appended so far, in the order the changes happened.
  std::vector<events::CloudEvent> appended();

 private:
  bool email_taken(std::string_view email, std::string_view except_id) const;

  std::mutex mutex_;
  struct StoredToken {
    RefreshToken token;
    bool spent = false;
    bool revoked = false;
  };
  void revoke_family(const std::string& family_id);  // mutex held

  std::map<std::string, User, std::less<>> users_;
  std::map<std::string, Credentials, std::less<>> credentials_;  // by user id
  std::map<std::string, StoredToken, std::less<>> tokens_;       // by token hash
  std::vector<events::CloudEvent> outbox_;
};

}  // namespace mercato::user
