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

Result<void> MemoryUserRepository::insert(const User& user, const Credentials& credentials,
                                          std::span<const events::CloudEvent> events) {
  std::lock_guard lock(mutex_);
  if (email_taken(user.email, {})) return Error::conflict("email: already registered", "email");
  users_.emplace(user.id, user);
  auto stored = credentials;
  stored.user_id = user.id;
  credentials_.insert_or_assign(user.id, std::move(stored));
  outbox_.insert(outbox_.end(), events.begin(), events.end());
  return {};
}

Result<User> MemoryUserRepository::find(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = users_.find(id);
  if (it == users_.end()) return user_not_found(id);
  return it->second;
}

Result<User> MemoryUserRepository::update(std::string_view id, const UserPatch& patch, SystemTime now,
                                          const EventsOf& events_of) {
  std::lock_guard lock(mutex_);
  auto it = users_.find(id);
  if (it == users_.end()) return user_not_found(id);
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

Result<Credentials> MemoryUserRepository::find_credentials(std::string_view email) {
  std::lock_guard lock(mutex_);
  for (const auto& [id, u] : users_) {
    if (!same_email(u.email, email)) continue;
    auto it = credentials_.find(id);
    if (it == credentials_.end()) break;
    return it->second;
  }
  return Error::not_found("no account with that email");
}

Result<void> MemoryUserRepository::insert_refresh_token(const RefreshToken& token) {
  std::lock_guard lock(mutex_);
  if (!tokens_.emplace(token.token_hash, StoredToken{token}).second)
    return Error::conflict("refresh token already stored");
  return {};
}

void MemoryUserRepository::revoke_family(const std::string& family_id) {
  for (auto& [hash, stored] : tokens_) {
    if (stored.token.family_id == family_id) stored.revoked = true;
  }
}

Result<Grant> MemoryUserRepository::rotate_refresh_token(std::string_view token_hash, RefreshToken next,
                                                         SystemTime now) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token_hash);
  if (it == tokens_.end()) return Error::unauthenticated("unknown refresh token");
  auto& stored = it->second;
  if (stored.revoked) return Error::unauthenticated("refresh token revoked");
  if (stored.spent) {
    revoke_family(stored.token.family_id);
    return Error::unauthenticated("refresh token already used; its session is revoked");
  }
  if (now >= stored.token.expires_at) return Error::unauthenticated("refresh token expired");
  auto creds = credentials_.find(stored.token.user_id);
  if (creds == credentials_.end()) return Error::unauthenticated("unknown refresh token");
  stored.spent = true;
  next.family_id = stored.token.family_id;
  next.user_id = stored.token.user_id;
  Grant grant{next.user_id, creds->second.role, next.family_id};
  auto key = next.token_hash;  // not next.token_hash itself: the argument below moves from `next`
  tokens_.insert_or_assign(std::move(key), StoredToken{std::move(next)});
  return grant;
}

Result<void> MemoryUserRepository::revoke_refresh_family(std::string_view token_hash, SystemTime) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token_hash);
  if (it == tokens_.end()) return Error::unauthenticated("unknown refresh token");
  revoke_family(it->second.token.family_id);
  return {};
}

std::vector<events::CloudEvent> MemoryUserRepository::appended() {
  std::lock_guard lock(mutex_);
  return outbox_;
}

Result<std::size_t> MemoryUserRepository::purge_refresh_tokens(SystemTime now) {
  std::lock_guard lock(mutex_);
  std::map<std::string, SystemTime> latest;  // family → its latest expiry
  for (const auto& [hash, stored] : tokens_) {
    auto& at = latest[stored.token.family_id];
    at = std::max(at, stored.token.expires_at);
  }
  return std::erase_if(tokens_,
                       [&](const auto& entry) { return latest[entry.second.token.family_id] <= now; });
}

}  // namespace mercato::user
