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
  Result<void> insert(const User& user, std::span<const events::CloudEvent> events) override;
  Result<User> find(std::string_view id) override;
  Result<User> update(std::string_view id, const UserPatch& patch, SystemTime now,
                      const EventsOf& events_of) override;
  Result<void> ping() override { return {}; }

  // Every event appended so far, in the order the changes happened.
  std::vector<events::CloudEvent> appended();

 private:
  bool email_taken(std::string_view email, std::string_view except_id) const;

  std::mutex mutex_;
  std::map<std::string, User, std::less<>> users_;
  std::vector<events::CloudEvent> outbox_;
};

}  // namespace mercato::user
