#include "app/user_service.hpp"

#include "app/user_events.hpp"
#include "mercato/core/ids.hpp"

namespace mercato::user {

Result<User> UserService::create(const NewUser& input, std::string traceparent) {
  auto email = normalize_email(input.email);
  if (!email) return std::move(email).error();
  auto name = normalize_name(input.name);
  if (!name) return std::move(name).error();
  if (auto ok = check_password(input.password); !ok) return std::move(ok).error();
  // Hashing is the slow part (by design): done only once the input is known to be valid.
  auto hash = hasher_.hash(input.password);
  if (!hash) return std::move(hash).error();
  auto now = now_utc();
  User user{new_uuid(), std::move(*email), std::move(*name), now, now};
  Credentials credentials{user.id, std::move(*hash), input.role};
  auto registered = user_registered_event(user, std::move(traceparent));
  if (auto r = repository_.insert(user, credentials, std::span(&registered, 1)); !r)
    return std::move(r).error();
  return user;
}

Result<User> UserService::get(std::string_view id) { return repository_.find(id); }

Result<User> UserService::update(std::string_view id, UserPatch patch, std::string traceparent) {
  if (!patch.email && !patch.name) {
    return Error::validation("", "nothing to update: give at least one of email, name");
  }
  if (patch.email) {
    auto email = normalize_email(*patch.email);
    if (!email) return std::move(email).error();
    patch.email = std::move(*email);
  }
  if (patch.name) {
    auto name = normalize_name(*patch.name);
    if (!name) return std::move(name).error();
    patch.name = std::move(*name);
  }
  return repository_.update(id, patch, now_utc(), [&traceparent](const User& u) {
    return std::vector{user_updated_event(u, traceparent)};
  });
}

}  // namespace mercato::user
