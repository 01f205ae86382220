// Where users are stored. The domain and use cases see only this interface; the SQL adapter passes the
// same contract test on SQLite and PostgreSQL (adapters/user_repository_test.cpp).
//
// Every state change takes the events it publishes and appends them to the transactional outbox in the
// same transaction (lib/events/include/mercato/events/store.hpp): a change that fails or rolls back
// leaves no event, and a committed change always has its events.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/credentials.hpp"
#include "domain/user.hpp"
#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::user {

// The events a change of a user publishes, built from the user as changed.
using EventsOf = std::function<std::vector<events::CloudEvent>(const User&)>;

class UserRepository {
 public:
  virtual ~UserRepository() = default;
  // Stores a new user with its credentials and appends `events` to the outbox, all in one transaction.
  // kConflict (field "email") when the email is taken, compared case-insensitively; nothing is then
  // stored or appended.
  virtual Result<void> insert(const User& user, const Credentials& credentials,
                              std::span<const events::CloudEvent> events = {}) = 0;
  // kNotFound when absent.
  virtual Result<User> find(std::string_view id) = 0;
  // Applies `patch` (already validated) atomically — read, apply(), write in one transaction, so two
  // concurrent patches of different fields both land. kNotFound when absent, kConflict when the new
  // email is taken. Returns the user as stored. Only when the patch changed something are
  // `events_of(user)` appended to the outbox in the same transaction (a no-op patch publishes nothing).
  virtual Result<User> update(std::string_view id, const UserPatch& patch, SystemTime now,
                              const EventsOf& events_of = {}) = 0;

  // The credentials of the account with this email (compared case-insensitively); kNotFound when there
  // is none (or the user has no credentials: one registered before passwords existed).
  virtual Result<Credentials> find_credentials(std::string_view email) = 0;
  // Stores the first refresh token of a new family (a login).
  virtual Result<void> insert_refresh_token(const RefreshToken& token) = 0;
  // Spends the token whose hash is `token_hash` and stores `next` in its place — same family and user,
  // whatever `next` says — in one transaction; returns what it grants. kUnauthenticated when the token
  // is unknown, expired at `now`, revoked, or already spent: in that last case the whole family is
  // revoked (and that is committed) before answering, since a token presented twice means a copy is in
  // someone else's hands.
  virtual Result<Grant> rotate_refresh_token(std::string_view token_hash, RefreshToken next,
                                             SystemTime now) = 0;
  // Revokes every token of the family `token_hash` belongs to (logout). kUnauthenticated when unknown.
  virtual Result<void> revoke_refresh_family(std::string_view token_hash, SystemTime now) = 0;
  // Deletes every family whose tokens have all expired at `now` (nothing in it can be used or revoked
  // any more); returns how many tokens went. A family with a live token keeps its spent ones: presenting
  // one of them must still revoke the family.
  virtual Result<std::size_t> purge_refresh_tokens(SystemTime now) = 0;

  // Readiness: can the store be reached?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::user
