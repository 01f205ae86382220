#include "adapters/argon2_password_hasher.hpp"

#include <argon2.h>

#include "mercato/auth/crypto.hpp"

namespace mercato::user {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

}  // namespace

Result<void> Argon2Settings::validate() const {
  if (memory_kib < 19 * 1024) return Error::validation("memory", "must be at least 19MiB (OWASP's minimum)");
  if (memory_kib > 1024 * 1024) return Error::validation("memory", "must be at most 1GiB");
  if (iterations < 2 || iterations > 100) return Error::validation("iterations", "must be within 2..100");
  if (parallelism < 1 || parallelism > 16) return Error::validation("parallelism", "must be within 1..16");
  return {};
}

Result<std::string> Argon2PasswordHasher::hash(std::string_view password) {
  auto salt = auth::random_bytes(kSaltBytes);
  std::size_t size = argon2_encodedlen(settings_.iterations, settings_.memory_kib, settings_.parallelism,
                                       kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(size, '\0');
  int rc = argon2id_hash_encoded(settings_.iterations, settings_.memory_kib, settings_.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(), kHashBytes,
                                 encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Error::internal(std::string("argon2id: ") + argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));  // the size bound includes the terminator
  return encoded;
}

bool Argon2PasswordHasher::verify(std::string_view encoded, std::string_view password) {
  std::string terminated(encoded);  // libargon2 reads a C string
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace mercato::user
