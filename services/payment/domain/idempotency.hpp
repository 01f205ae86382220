// Idempotency keys for charges, with Stripe's semantics. Pure logic: what a request carrying a key that
// is already known gets (a replay, 409 or 422); storage lives behind the repository.
//
//   A key is claimed (state kInProgress) before a charge is processed and completed with the response in
//   the transaction that records the payment. A later request with the same key and the same request
//   fingerprint gets the stored response replayed; with another fingerprint, 422; while the first is
//   still in progress, 409.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::payment {

// The header, and the `field` its errors name.
inline constexpr std::string_view kIdempotencyKeyHeader = "Idempotency-Key";
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 255;
// Keys are kept at least this long; the start-up purge never removes younger ones.
inline constexpr std::chrono::hours kMinKeyRetention{24};

// 1..255 bytes of printable ASCII (0x20..0x7E); otherwise kValidationFailed naming the header.
Result<void> validate_idempotency_key(std::string_view key);

// A response as sent, kept to be replayed byte for byte.
struct StoredResponse {
  int status = 0;
  std::string body;

  friend bool operator==(const StoredResponse&, const StoredResponse&) = default;
};

enum class KeyState { kInProgress, kCompleted };

struct IdempotencyRecord {
  std::string key;
  std::string fingerprint;  // of the request that claimed the key
  KeyState state = KeyState::kInProgress;
  std::optional<StoredResponse> response;  // once completed
  std::string payment_id;                  // the payment the request recorded, if any
  SystemTime created_at{};

  friend bool operator==(const IdempotencyRecord&, const IdempotencyRecord&) = default;
};

// What a request with `fingerprint` gets when its key is already `existing`: the stored response to
// replay; kUnprocessable when the key was used for a different request (checked first: a different
// request must never be told to wait for someone else's); kConflict while the first is in progress.
// Both errors name the Idempotency-Key header.
Result<StoredResponse> resume(const IdempotencyRecord& existing, std::string_view fingerprint);

}  // namespace mercato::payment
