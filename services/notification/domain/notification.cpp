#include "domain/notification.hpp"

#include <algorithm>

#include "mercato/core/enum_names.hpp"
#include "mercato/core/text.hpp"

namespace mercato::notification {
namespace {

constexpr std::size_t kMaxReferenceBytes = 128;

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

constexpr auto kKindNames = enum_names<Kind>({{Kind::kOrderConfirmed, "order_confirmed"},
                                              {Kind::kOrderCancelled, "order_cancelled"},
                                              {Kind::kPaymentFailed, "payment_failed"},
                                              {Kind::kShipmentCreated, "shipment_created"}});

// The e-mail subject of each kind.
constexpr auto kSubjects = enum_names<Kind>({{Kind::kOrderConfirmed, "Your order has been confirmed"},
                                             {Kind::kOrderCancelled, "Your order has been cancelled"},
                                             {Kind::kPaymentFailed, "Your payment did not go through"},
                                             {Kind::kShipmentCreated, "Your order is on its way"}});

}  // namespace

std::string_view to_string(Kind kind) noexcept { return kKindNames.name(kind, "order_confirmed"); }

std::optional<Kind> parse_kind(std::string_view text) noexcept { return kKindNames.parse(text); }

std::string_view subject_for(Kind kind) noexcept { return kSubjects.name(kind, "Your order"); }

Result<std::string> validate_reference(std::string_view field, std::string_view value) {
  return check_reference(field, value, kMaxReferenceBytes);
}

Result<Notification> new_notification(std::string id, const NotificationRequest& request, SystemTime now) {
  MERCATO_ASSIGN_OR_RETURN(auto customer_id, validate_reference("customer_id", request.customer_id));
  MERCATO_ASSIGN_OR_RETURN(auto order_id, validate_reference("order_id", request.order_id));
  auto kind = parse_kind(request.kind);
  if (!kind) {
    return Error::validation(
        "kind", "kind: must be one of order_confirmed, order_cancelled, payment_failed, shipment_created");
  }
  const auto& m = request.message;
  if (m.empty()) return Error::validation("message", "message: must not be empty");
  if (m.size() > kMaxMessageBytes) {
    return Error::validation("message",
                             "message: must be at most " + std::to_string(kMaxMessageBytes) + " bytes");
  }
  if (m.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error::validation("message", "message: must not be blank");
  }
  // Line breaks and tabs are ordinary in a message body; other control characters are not text.
  if (std::any_of(m.begin(), m.end(), [](char c) {
        return is_control(static_cast<unsigned char>(c)) && c != '\t' && c != '\n' && c != '\r';
      })) {
    return Error::validation("message",
                             "message: must not contain control characters other than tab and line breaks");
  }
  return Notification{std::move(id), std::move(customer_id), std::move(order_id), *kind, m, now};
}

bool is_repeat_of(const Notification& existing, const Notification& candidate) noexcept {
  return existing.customer_id == candidate.customer_id && existing.order_id == candidate.order_id &&
         existing.kind == candidate.kind && existing.message == candidate.message;
}

Result<int> validate_limit(int limit) {
  if (limit < 1 || limit > kMaxListLimit) {
    return Error::validation("limit", "limit: must be between 1 and " + std::to_string(kMaxListLimit));
  }
  return limit;
}

Email compose_email(const Notification& n) {
  return Email{n.id,      n.customer_id, n.order_id, n.kind, std::string(subject_for(n.kind)),
               n.message, n.created_at};
}

}  // namespace mercato::notification
