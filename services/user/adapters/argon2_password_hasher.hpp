// PasswordHasher with argon2id (RFC 9106) from libargon2. Each hash gets 16 random bytes of salt from the
// CSPRNG and carries its parameters in its encoding, so a hash made with older parameters still verifies
// after they are raised.
//
// Thread-safety: thread-safe (no shared state). Each call uses `memory` of RAM for its duration and
// keeps its thread busy (tens of milliseconds at the defaults): that is the point of the function.
#pragma once

#include <cstdint>

#include "app/password_hasher.hpp"

namespace mercato::user {

struct Argon2Settings {
  // OWASP's minimum for argon2id (Password Storage Cheat Sheet): 19 MiB, 2 iterations, 1 lane.
  std::uint32_t memory_kib = 19 * 1024;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;

  // Refuses anything below OWASP's minimum (memory < 19 MiB or iterations < 2), parallelism outside
  // 1..16 and memory above 1 GiB, naming the setting.
  Result<void> validate() const;
};

class Argon2PasswordHasher final : public PasswordHasher {
 public:
  explicit Argon2PasswordHasher(Argon2Settings settings) : settings_(settings) {}
  Result<std::string> hash(std::string_view password) override;
  bool verify(std::string_view encoded, std::string_view password) override;

 private:
  Argon2Settings settings_;
};

}  // namespace mercato::user
