#include "mercato/testing/tokens.hpp"

#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <fstream>
#include <stdexcept>

#include "mercato/auth/base64url.hpp"
#include "mercato/auth/crypto.hpp"
#include "mercato/catalog/catalog.hpp"
#include "mercato/core/time.hpp"

namespace mercato::testing {
namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
  std::filesystem::permissions(path,
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace

TestTokens::TestTokens() {
  auto key = auth::PrivateKey::generate();
  auto kid = key.public_key().thumbprint();
  keys_.add(kid, key.public_key());
  auto dir = std::filesystem::temp_directory_path() / ("mercato-e2e-" + std::to_string(::getpid()) + "-auth");
  std::filesystem::create_directories(dir);
  jwks_file_ = dir / "jwks.json";
  pem_file_ = dir / "signing-key.pem";
  secret_file_ = dir / "client-secret";
  write_file(jwks_file_, boost::json::serialize(keys_.to_jwks()));
  write_file(pem_file_, key.to_pem());
  secret_ = auth::base64url_encode(auth::random_bytes(32));
  write_file(secret_file_, secret_ + "\n");
  signer_ = std::make_unique<auth::Signer>(std::move(key), kid);
}

const TestTokens& TestTokens::instance() {
  static const TestTokens kTokens;
  return kTokens;
}

std::string TestTokens::sign(const auth::Claims& claims) const { return signer_->sign(claims); }

std::string TestTokens::token(auth::Role role, const std::string& subject, std::chrono::seconds ttl) const {
  auto now = now_utc();
  return sign({.subject = role == auth::Role::kService ? "service:" + subject : subject,
               .role = std::string(auth::to_string(role)),
               .issuer = "mercato",
               .audience = "mercato",
               .issued_at = now,
               .not_before = now,
               .expires_at = now + ttl,
               .token_id = auth::base64url_encode(auth::random_bytes(12))});
}

std::map<std::string, std::string> TestTokens::env_for(const std::string& service) const {
  std::map<std::string, std::string> env;
  if (service == "user") {
    env["APP_AUTH__SIGNING_KEY_FILE"] = pem_file_.string();
    auto hash = auth::sha256_hex(secret_);
    // Every described service may have a token of its own, as ./mercato up allows them: all but the user
    // service, which issues them (and the gateway, which only forwards).
    for (const auto& client : catalog::all()) {
      if (client.kind != catalog::Kind::kService || client.name == "user") continue;
      std::string upper(client.name);
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      env["APP_AUTH__SERVICE_CLIENTS__" + upper] = hash;
    }
    return env;
  }
  env["APP_AUTH__JWKS_FILE"] = jwks_file_.string();
  if (service != "gateway") env["APP_AUTH__CLIENT_SECRET_FILE"] = secret_file_.string();
  return env;
}

std::string staff_authorization(const std::string& method, const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  bool service_only =
      method == "POST" && (path == "/payments" || path == "/shipments" || path == "/notifications" ||
                           path.rfind("/inventory/reservations", 0) == 0);
  const auto& tokens = TestTokens::instance();
  return service_only ? tokens.bearer(auth::Role::kService, "tests")
                      : tokens.bearer(auth::Role::kAdmin, "test-admin");
}

}  // namespace mercato::testing
