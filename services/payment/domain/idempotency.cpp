#include "domain/idempotency.hpp"

namespace mercato::payment {

Result<void> validate_idempotency_key(std::string_view key) {
  std::string field(kIdempotencyKeyHeader);
  if (key.empty()) return Error::validation(field, field + ": must not be empty");
  if (key.size() > kMaxIdempotencyKeyBytes) {
    return Error::validation(
        field, field + ": must be at most " + std::to_string(kMaxIdempotencyKeyBytes) + " bytes");
  }
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return Error::validation(field, field + ": must be printable ASCII");
  }
  return {};
}

Result<StoredResponse> resume(const IdempotencyRecord& existing, std::string_view fingerprint) {
  std::string field(kIdempotencyKeyHeader);
  if (existing.fingerprint != fingerprint) {
    return Error::unprocessable(field + ": this key was already used with a different request body", field);
  }
  if (existing.state == KeyState::kInProgress || !existing.response) {
    return Error::conflict(field + ": a request with this key is still being processed; retry shortly",
                           field);
  }
  return *existing.response;
}

}  // namespace mercato::payment
