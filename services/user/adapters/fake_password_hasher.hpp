// A PasswordHasher for use-case tests: instant and deterministic-enough (a salted SHA-256, no work
// factor). Never for production — main.cpp uses Argon2PasswordHasher.
//
// Thread-safety: thread-safe (no state).
#pragma once

#include "app/password_hasher.hpp"
#include "mercato/auth/base64url.hpp"
#include "mercato/auth/crypto.hpp"

namespace mercato::user {

class FakePasswordHasher final : public PasswordHasher {
 public:
  Result<std::string> hash(std::string_view password) override {
    auto salt = auth::base64url_encode(auth::random_bytes(8));
    return "fake$" + salt + "$" + auth::sha256_hex(salt + std::string(password));
  }
  bool verify(std::string_view encoded, std::string_view password) override {
    if (encoded.rfind("fake$", 0) != 0) return false;
    auto rest = encoded.substr(5);
    auto dollar = rest.find('$');
    if (dollar == std::string_view::npos) return false;
    auto salt = std::string(rest.substr(0, dollar));
    return auth::constant_time_equal(rest.substr(dollar + 1), auth::sha256_hex(salt + std::string(password)));
  }
};

}  // namespace mercato::user
