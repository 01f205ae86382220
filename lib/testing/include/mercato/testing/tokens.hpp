// The test suite's token issuer: one Ed25519 key per test process that signs tokens for any role, and
// the files that make every service a test starts trust it (docs/security.md, "Tests").
//
// Every Mercato binary a test starts (testing::Process on testing::binary(...)) gets, unless the test's
// own env says otherwise: the key set to verify with (APP_AUTH__JWKS_FILE), the user service the key to
// sign with (APP_AUTH__SIGNING_KEY_FILE) and the service clients' secret hashes, every other service its
// client secret (APP_AUTH__CLIENT_SECRET_FILE). So tokens from the real user service and from this
// issuer are the same thing to every service.
//
// testing::http() sends, when the caller passes no Authorization header, the token of a staff member
// allowed on that route (staff_authorization): behaviour tests act as an operator or a service, while
// the authorization tests pass their own header (an empty Authorization value sends none: anonymous).
//
//   auto& tokens = testing::TestTokens::instance();
//   auto ann = tokens.header(auth::Role::kCustomer, ann_id);     // {"Authorization": "Bearer ..."}
//   testing::http(port, "GET", "/orders/" + id, "", ann);
//
// Thread-safety: instance() and every const member are thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "mercato/auth/jwt.hpp"
#include "mercato/auth/principal.hpp"

namespace mercato::testing {

class TestTokens {
 public:
  static const TestTokens& instance();

  // A signed access token. `subject`: a user id, or the service's name for Role::kService (made
  // "service:<name>").
  std::string token(auth::Role role, const std::string& subject,
                    std::chrono::seconds ttl = std::chrono::minutes(15)) const;
  std::string bearer(auth::Role role, const std::string& subject) const {
    return "Bearer " + token(role, subject);
  }
  std::map<std::string, std::string> header(auth::Role role, const std::string& subject) const {
    return {{"Authorization", bearer(role, subject)}};
  }
  // Signs arbitrary claims (for the negative cases: expired, other issuer, ...).
  std::string sign(const auth::Claims& claims) const;

  const auth::KeySet& keys() const noexcept { return keys_; }
  const std::filesystem::path& jwks_file() const noexcept { return jwks_file_; }
  const std::filesystem::path& signing_key_file() const noexcept { return pem_file_; }
  const std::filesystem::path& client_secret_file() const noexcept { return secret_file_; }
  const std::string& client_secret() const noexcept { return secret_; }

  // The environment that makes the binary of `service` trust this issuer (see the file comment).
  std::map<std::string, std::string> env_for(const std::string& service) const;

 private:
  TestTokens();
  std::unique_ptr<auth::Signer> signer_;
  auth::KeySet keys_;
  std::filesystem::path jwks_file_, pem_file_, secret_file_;
  std::string secret_;
};

// "Bearer <token>" of a staff member allowed on `method` `target`: a service for the routes only
// services use (reservations, creating payments, shipments and notifications), an admin otherwise.
std::string staff_authorization(const std::string& method, const std::string& target);

}  // namespace mercato::testing
