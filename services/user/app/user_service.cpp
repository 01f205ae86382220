#include "app/user_service.hpp"

#include "app/user_events.hpp"
#include "mercato/core/ids.hpp"

namespace mercato::user {

Result<User> UserService::create(const NewUser& input, std::string traceparent) {
  MERCATO_ASSIGN_OR_RETURN(auto email, normalize_email(input.email));
  MERCATO_ASSIGN_OR_RETURN(auto name, normalize_name(input.name));
  MERCATO_RETURN_IF_ERROR(check_password(input.password));
  // Hashing is the slow part (by design): done only once the input is known to be valid.
  MERCATO_ASSIGN_OR_RETURN(auto hash, hasher_.hash(input.password));
  auto now = now_utc();
  User user{new_uuid(), std::move(email), std::move(name), now, now};
  Credentials credentials{user.id, std::move(hash), input.role};
  auto registered = user_registered_event(user, std::move(traceparent));
  MERCATO_RETURN_IF_ERROR(repository_.insert(user, credentials, std::span(&registered, 1)));
  return user;
}

Result<User> UserService::get(std::string_view id) { return repository_.find(id); }

Result<User> UserService::update(std::string_view id, UserPatch patch, std::string traceparent) {
  if (!patch.email && !patch.name) {
    return Error::validation("", "nothing to update: give at least one of email, name");
  }
  if (patch.email) {
    MERCATO_ASSIGN_OR_RETURN(auto email, normalize_email(*patch.email));
    patch.email = std::move(email);
  }
  if (patch.name) {
    MERCATO_ASSIGN_OR_RETURN(auto name, normalize_name(*patch.name));
    patch.name = std::move(name);
  }
  return repository_.update(id, patch, now_utc(), [&traceparent](const User& u) {
    return std::vector{user_updated_event(u, traceparent)};
  });
}

}  // namespace mercato::user
