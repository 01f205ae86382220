// Who the load generator acts as: a customer's session (access token, refresh token and when to renew
// them), the login and refresh answers it comes from, the wait a 429 asks for, and the admin credentials
// the setup stocks products with. No I/O here (the driver sends the requests and main() reads the
// environment and files), so every rule is unit-tested (credentials_test.cpp).
//
//   auto session = load::parse_tokens(res.body, Clock::now());  // a 200 of POST /api/auth/login or /refresh
//   if (!session) fail(session.error().message);
//   request.headers.set("Authorization", session->authorization);
//   if (session->due(Clock::now())) renew();                    // 3/4 into its life: before it expires
//
//   auto admin = load::choose_admin(options, getenv("MERCATO_ADMIN_TOKEN"), file, exists(file));
//
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "options.hpp"

namespace mercato::load {

using SteadyClock = std::chrono::steady_clock;

// Renewed before this close to its end: the token is not sent any more, whatever happens (a token the
// server sees after its `exp`, plus its clock skew, is a 401).
inline constexpr std::chrono::seconds kExpiryMargin{10};

// An access token and what renews it. Times are the client's (steady clock): the token's own `exp` is
// the server's clock, so it is approximated by when the answer arrived + expires_in, which is a little
// later than the server's (the token was signed before the answer travelled) — the margins cover it.
struct Session {
  std::string authorization;  // "Bearer <access token>"
  std::string refresh_token;
  SteadyClock::time_point renew_at;    // renew from here on: by default 3/4 of expires_in after the answer
  SteadyClock::time_point expires_at;  // the answer's arrival + expires_in

  bool due(SteadyClock::time_point now) const { return now >= renew_at; }
  // Too close to its end to be sent: renew first.
  bool expired(SteadyClock::time_point now) const { return now + kExpiryMargin >= expires_at; }
};

// The 200 answer of POST /api/auth/login or /api/auth/refresh:
// {"access_token","token_type":"Bearer","expires_in","refresh_token"}; `received`: when it arrived.
// The session is due for renewal `renew_at` (a fraction, --renew-at) into the token's life.
// kValidationFailed naming what is missing or wrong.
Result<Session> parse_tokens(std::string_view body, SteadyClock::time_point received, double renew_at = 0.75);

// The body of POST /api/auth/login (JSON, escaped).
std::string login_body(std::string_view email, std::string_view password);
// The body of POST /api/auth/refresh.
std::string refresh_body(std::string_view refresh_token);

// How long a 429 asks to wait: its Retry-After in seconds (RFC 9110 §10.2.3); 1 s when the header is
// missing or not delta-seconds (an HTTP date included); never more than `cap`.
std::chrono::milliseconds retry_after(std::optional<std::string_view> header, std::chrono::milliseconds cap);

// The bootstrap admin that `./mercato up` makes (config/user.yaml auth.admin.email).
inline constexpr std::string_view kAdminEmail = "admin@mercato.local";

// How the setup acts as the admin.
struct AdminCredentials {
  enum class Kind { kNone, kToken, kPasswordFile };
  Kind kind = Kind::kNone;
  std::string value;   // the token, or the password file's path
  std::string source;  // for messages and the summary: "--admin-token", "MERCATO_ADMIN_TOKEN",
                       // "--admin-password-file <path>", "<path>" (the default file)
};

// In this order: --admin-token, --admin-password-file, `env_token` (MERCATO_ADMIN_TOKEN) when not empty,
// `default_file` when `default_exists`; else kNone.
AdminCredentials choose_admin(const Options& options, std::string_view env_token,
                              const std::string& default_file, bool default_exists);

// Where `./mercato up` keeps the admin's password: <var>/secrets/admin-password, <var> being
// `var_dir_env` (MERCATO_VAR_DIR) when set, else <source_dir>/var (scripts/lib.sh).
std::string default_admin_password_file(std::string_view var_dir_env, std::string_view source_dir);

// A password file's text without its trailing line breaks (as the user service reads it).
std::string password_from_file_text(std::string text);

}  // namespace mercato::load
