#include "credentials.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "mercato/json/json.hpp"

namespace mercato::load {

namespace {

Error bad_tokens(std::string message) {
  return Error::validation("tokens", "token answer: " + std::move(message));
}

}  // namespace

Result<Session> parse_tokens(std::string_view body, SteadyClock::time_point received, double renew_at) {
  auto object = json::parse_object(body);
  if (!object) return bad_tokens("not a JSON object");
  auto text = [&](std::string_view key) -> const boost::json::string* {
    const auto* v = object->if_contains(key);
    return v != nullptr && v->is_string() && !v->get_string().empty() ? &v->get_string() : nullptr;
  };
  const auto* access = text("access_token");
  const auto* refresh = text("refresh_token");
  const auto* type = text("token_type");
  const auto* expires_in = object->if_contains("expires_in");
  if (access == nullptr) return bad_tokens("no access_token");
  if (refresh == nullptr) return bad_tokens("no refresh_token");
  if (type != nullptr && *type != "Bearer") return bad_tokens("token_type is not Bearer");
  if (expires_in == nullptr || !expires_in->is_int64() || expires_in->get_int64() <= 0) {
    return bad_tokens("expires_in is not a positive integer");
  }
  auto life = std::chrono::seconds(expires_in->get_int64());
  Session s;
  s.authorization = "Bearer " + std::string(*access);
  s.refresh_token = std::string(*refresh);
  s.expires_at = received + life;
  // By default renewed with a quarter of the life left (a 15-minute token at 11:15): early enough that a
  // failed renewal can be retried several times, late enough that a long run renews each token rarely.
  s.renew_at = received + std::chrono::duration_cast<SteadyClock::duration>(
                              std::chrono::duration<double>(life) * renew_at);
  return s;
}

std::string login_body(std::string_view email, std::string_view password) {
  return boost::json::serialize(boost::json::object{{"email", email}, {"password", password}});
}

std::string refresh_body(std::string_view refresh_token) {
  return boost::json::serialize(boost::json::object{{"refresh_token", refresh_token}});
}

std::chrono::milliseconds retry_after(std::optional<std::string_view> header, std::chrono::milliseconds cap) {
  using std::chrono::milliseconds;
  milliseconds wait{1000};
  if (header) {
    std::string_view v = *header;
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    std::uint64_t seconds = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (!v.empty() && ec == std::errc::result_out_of_range) {
      wait = cap;  // digits, only too many of them
    } else if (!v.empty() && ec == std::errc() && end == v.data() + v.size()) {
      // "0" asks for no wait; still wait a little, or a busy limiter would be asked again at once.
      wait = seconds > 86400
                 ? cap
                 : std::max(milliseconds(static_cast<std::int64_t>(seconds) * 1000), milliseconds(100));
    }
  }
  return std::min(wait, cap);
}

AdminCredentials choose_admin(const Options& options, std::string_view env_token,
                              const std::string& default_file, bool default_exists) {
  using Kind = AdminCredentials::Kind;
  if (!options.admin_token.empty()) return {Kind::kToken, options.admin_token, "--admin-token"};
  if (!options.admin_password_file.empty()) {
    return {Kind::kPasswordFile, options.admin_password_file,
            "--admin-password-file " + options.admin_password_file};
  }
  if (!env_token.empty()) return {Kind::kToken, std::string(env_token), "MERCATO_ADMIN_TOKEN"};
  if (default_exists) return {Kind::kPasswordFile, default_file, default_file};
  return {};
}

std::string default_admin_password_file(std::string_view var_dir_env, std::string_view source_dir) {
  std::string var = var_dir_env.empty() ? std::string(source_dir) + "/var" : std::string(var_dir_env);
  return var + "/secrets/admin-password";
}

std::string password_from_file_text(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace mercato::load
