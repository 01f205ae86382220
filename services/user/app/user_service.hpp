// The user service's use cases: validate input with the domain rules, then store through the repository,
// which appends the change's event (app/user_events.hpp) to the outbox in the same transaction.
//
// Thread-safety: as thread-safe as the repository it is given.
#pragma once

#include <string>
#include <string_view>

#include "app/password_hasher.hpp"
#include "app/user_repository.hpp"

namespace mercato::user {

struct NewUser {
  std::string email;
  std::string name;
  std::string password;  // checked by check_password, stored only as its hash
  Role role = Role::kCustomer;
};

class UserService {
 public:
  UserService(UserRepository& repository, PasswordHasher& hasher)
      : repository_(repository), hasher_(hasher) {}

  // Stores the user with its password's hash and publishes user.registered (which carries no credential).
  // `traceparent`: the caller's trace context, carried by the event.
  Result<User> create(const NewUser& input, std::string traceparent = {});
  Result<User> get(std::string_view id);
  // At least one field must be given; both are validated as on create. Publishes user.updated when
  // something changed.
  Result<User> update(std::string_view id, UserPatch patch, std::string traceparent = {});

 private:
  UserRepository& repository_;
  PasswordHasher& hasher_;
};

}  // namespace mercato::user
