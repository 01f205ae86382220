// The user service's use cases: validate input with the domain rules, then store through the repository.
//
// Thread-safety: as thread-safe as the repository it is given.
#pragma once

#include <string_view>

#include "app/user_repository.hpp"

namespace mercato::user {

struct NewUser {
  std::string email;
  std::string name;
};

class UserService {
 public:
  explicit UserService(UserRepository& repository) : repository_(repository) {}

  Result<User> create(const NewUser& input);
  Result<User> get(std::string_view id);
  // At least one field must be given; both are validated as on create.
  Result<User> update(std::string_view id, UserPatch patch);

 private:
  UserRepository& repository_;
};

}  // namespace mercato::user
