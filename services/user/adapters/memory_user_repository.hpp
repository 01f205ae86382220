// An in-memory UserRepository: the fake for use-case tests, held to the same contract as SQLite.
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>

#include "app/user_repository.hpp"

namespace mercato::user {

class MemoryUserRepository final : public UserRepository {
 public:
  Result<void> insert(const User& user) override;
  Result<User> find(std::string_view id) override;
  Result<User> update(std::string_view id, const UserPatch& patch, SystemTime now) override;
  Result<void> ping() override { return {}; }

 private:
  bool email_taken(std::string_view email, std::string_view except_id) const;

  std::mutex mutex_;
  std::map<std::string, User, std::less<>> users_;
};

}  // namespace mercato::user
