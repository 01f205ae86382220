// The notification aggregate and its rules: which kinds exist, what a valid message is, and the email a
// notification becomes. Pure logic: no I/O, no HTTP, no SQL.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::notification {

enum class Kind { kOrderConfirmed, kOrderCancelled, kPaymentFailed, kShipmentCreated };

// "order_confirmed", "order_cancelled", "payment_failed", "shipment_created".
std::string_view to_string(Kind kind) noexcept;
std::optional<Kind> parse_kind(std::string_view text) noexcept;
// The email subject line for a kind.
std::string_view subject_for(Kind kind) noexcept;

struct Notification {
  std::string id;
  std::string customer_id;
  std::string order_id;
  Kind kind = Kind::kOrderConfirmed;
  std::string message;
  SystemTime created_at{};

  friend bool operator==(const Notification&, const Notification&) = default;
};

// What a client asks to send; `kind` still as text.
struct NotificationRequest {
  std::string customer_id;
  std::string order_id;
  std::string kind;
  std::string message;
};

inline constexpr std::size_t kMaxMessageBytes = 2000;
inline constexpr int kDefaultListLimit = 20;
inline constexpr int kMaxListLimit = 100;

// An opaque id from another service: 1..128 bytes, no control characters. Errors name `field`.
Result<std::string> validate_reference(std::string_view field, std::string_view value);

// Validates a request (ids, kind one of the four, message 1..2000 bytes with a non-space character and no
// control characters besides tab, LF and CR) and builds the notification. Errors name the field.
Result<Notification> new_notification(std::string id, const NotificationRequest& request, SystemTime now);

// Whether `candidate` asks for what `existing` (recorded first for the same order and kind) is: the same
// recipient, order, kind and text. Only then is it a repeat; otherwise it is a second, different notice of
// the pair, which is refused rather than taken for the first.
bool is_repeat_of(const Notification& existing, const Notification& candidate) noexcept;

// 1..kMaxListLimit; errors name "limit".
Result<int> validate_limit(int limit);

// The email-like record a sent notification becomes.
struct Email {
  std::string id;  // the notification's id
  std::string to;  // the customer id: the user service owns addresses, so delivery resolves it later
  std::string order_id;
  Kind kind = Kind::kOrderConfirmed;
  std::string subject;
  std::string message;
  SystemTime created_at{};

  friend bool operator==(const Email&, const Email&) = default;
};

Email compose_email(const Notification& notification);

}  // namespace mercato::notification
