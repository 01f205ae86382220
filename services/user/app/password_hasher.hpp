// How passwords become stored hashes and are checked against them. The use cases see only this
// interface; adapters/argon2_password_hasher.hpp is the real one (argon2id), and tests may use a fast
// fake, since the point of a real one is to be slow.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::user {

class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;
  // An encoded hash with its own salt and parameters.
  virtual Result<std::string> hash(std::string_view password) = 0;
  // true when `password` matches `encoded`; false for a mismatch or an encoding it cannot read.
  virtual bool verify(std::string_view encoded, std::string_view password) = 0;
};

}  // namespace mercato::user
