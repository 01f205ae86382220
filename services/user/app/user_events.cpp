#include "app/user_events.hpp"

#include <boost/json.hpp>

namespace mercato::user {
namespace {

constexpr std::string_view kService = "user";

// Both types carry the same fields: the user as it is once the change is committed.
std::string data_of(const User& u) {
  boost::json::object data{{"user_id", u.id},
                           {"email", u.email},
                           {"name", u.name},
                           {"created_at", format_rfc3339(u.created_at)},
                           {"updated_at", format_rfc3339(u.updated_at)}};
  return boost::json::serialize(data);
}

}  // namespace

events::CloudEvent user_registered_event(const User& user, std::string traceparent) {
  return events::make_event(kService, "user.registered", user.id, data_of(user), std::move(traceparent));
}

events::CloudEvent user_updated_event(const User& user, std::string traceparent) {
  return events::make_event(kService, "user.updated", user.id, data_of(user), std::move(traceparent));
}

}  // namespace mercato::user
