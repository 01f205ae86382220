// Where users are stored. The domain and use cases see only this interface; SQLite is one adapter and
// an in-memory fake is another, and both pass the same contract test (adapters/user_repository_test.cpp).
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <string_view>

#include "domain/user.hpp"
#include "mercato/core/result.hpp"

namespace mercato::user {

class UserRepository {
 public:
  virtual ~UserRepository() = default;
  // kConflict (field "email") when the email is taken, compared case-insensitively.
  virtual Result<void> insert(const User& user) = 0;
  // kNotFound when absent.
  virtual Result<User> find(std::string_view id) = 0;
  // Applies `patch` (already validated) atomically — read, apply(), write in one transaction, so two
  // concurrent patches of different fields both land. kNotFound when absent, kConflict when the new
  // email is taken. Returns the user as stored.
  virtual Result<User> update(std::string_view id, const UserPatch& patch, SystemTime now) = 0;
  // Readiness: can the store be reached?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::user
