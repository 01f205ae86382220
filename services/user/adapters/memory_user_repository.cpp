#include "adapters/memory_user_repository.hpp"

#include <algorithm>
#include <cctype>

namespace mercato::user {
namespace {

// The same comparison as SQLite's NOCASE collation: ASCII letters only.
bool same_email(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

bool MemoryUserRepository::email_taken(std::string_view email, std::string_view except_id) const {
  for (const auto& [id, u] : users_) {
    if (id != except_id && same_email(u.email, email)) return true;
  }
  return false;
}

Result<void> MemoryUserRepository::insert(const User& user, std::span<const events::CloudEvent> events) {
  std::lock_guard lock(mutex_);
  if (email_taken(user.email, {})) return Error::conflict("email: already registered", "email");
  users_.emplace(user.id, user);
  outbox_.insert(outbox_.end(), events.begin(), events.end());
  return {};
}

Result<User> MemoryUserRepository::find(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = users_.find(id);
  if (it == users_.end()) return Error::not_found("user " + std::string(id) + " not found");
  return it->second;
}

Result<User> MemoryUserRepository::update(std::string_view id, const UserPatch& patch, SystemTime now,
                                          const EventsOf& events_of) {
  std::lock_guard lock(mutex_);
  auto it = users_.find(id);
  if (it == users_.end()) return Error::not_found("user " + std::string(id) + " not found");
  if (patch.email && email_taken(*patch.email, id))
    return Error::conflict("email: already registered", "email");
  User updated = it->second;
  if (!apply(updated, patch, now)) return updated;
  it->second = updated;
  if (events_of) {
    auto events = events_of(updated);
    outbox_.insert(outbox_.end(), events.begin(), events.end());
  }
  return updated;
}

std::vector<events::CloudEvent> MemoryUserRepository::appended() {
  std::lock_guard lock(mutex_);
  return outbox_;
}

}  // namespace mercato::user
