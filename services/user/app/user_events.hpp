// The events the user service publishes (docs/events.md; version 1 of each):
//   user.registered v1  {user_id, email, name, created_at, updated_at}
//   user.updated    v1  {user_id, email, name, created_at, updated_at}
// user.updated is published only when a PATCH changed something, and carries the whole user as it is
// after the change (not a diff), so a consumer keeping a copy of users just overwrites its row.
// The event data is a contract of its own, written here rather than reusing the REST representation,
// so the two can evolve separately. Timestamps are RFC 3339 UTC. Subject = the user id.
//
// The email is personal data, but it is what consumers need (the notification service addresses the
// customer). The password hash and role live apart (Credentials, the credentials table) and never go here.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "domain/user.hpp"
#include "mercato/events/event.hpp"

namespace mercato::user {

// `traceparent`: the W3C trace context of the request that caused the change ("" when none).
events::CloudEvent user_registered_event(const User& user, std::string traceparent);
events::CloudEvent user_updated_event(const User& user, std::string traceparent);

}  // namespace mercato::user
