#include "api/handlers.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <boost/json/object.hpp>
#include <charconv>
#include <cstddef>
#include <optional>

#include "mercato/json/json.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::user {
namespace {

boost::json::object to_json(const User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"name", u.name},
          {"created_at", format_rfc3339(u.created_at)},
          {"updated_at", format_rfc3339(u.updated_at)}};
}

// Limits well above the domain's, so an oversized value is reported by the domain rule that names it.
constexpr json::StringRule kText{.min = 0, .max = 4096};

// Hashing a password takes tens of milliseconds by design: registration and login run on the blocking
// pool, and when it is full the answer is 503 with Retry-After rather than a queue without end.
http::Response busy(const http::Request& req) {
  auto res = http::Response::error(
      Error::unavailable("too many logins and registrations in progress; retry shortly")
          .with_public_message("too many logins and registrations in progress; retry shortly"),
      req.request_id);
  res.headers.set("Retry-After", "1");
  return res;
}

boost::asio::awaitable<http::Response> create(UserService& service, service::BlockingPool& pool,
                                              const http::Request& req) {
  auto input = json::read_object(req.body, [](json::FieldReader& in) {
    return NewUser{.email = in.string("email", json::kRequired, kText).value_or(""),
                   .name = in.string("name", json::kRequired, kText).value_or(""),
                   .password = in.string("password", json::kRequired, kText).value_or("")};
  });
  if (!input) co_return http::Response::error(input.error(), req.request_id);
  auto traceparent = req.trace.to_traceparent();
  // On a blocking-pool thread, where nothing is ambient: the scope makes the work's database transaction
  // a span of the request's trace.
  auto user = co_await pool.run([&] {
    obs::ContextScope scope(req.tracer, req.trace);
    return service.create(*input, traceparent);
  });
  if (!user) co_return busy(req);
  if (!*user) co_return http::Response::error(user->error(), req.request_id);
  auto res = http::Response::json(201, to_json(**user));
  res.headers.set("Location", "/users/" + (*user)->id);
  co_return res;
}

http::Response get(UserService& service, const http::Request& req, const auth::Principal& who) {
  if (!who.may_see(req.param("id")))
    return http::Response::error(user_not_found(req.param("id")), req.request_id);
  auto user = service.get(req.param("id"));
  if (!user) return http::Response::error(user.error(), req.request_id);
  return http::Response::json(200, to_json(*user));
}

http::Response patch(UserService& service, const http::Request& req, const auth::Principal& who) {
  if (!who.may_see(req.param("id")))
    return http::Response::error(user_not_found(req.param("id")), req.request_id);
  auto p = json::read_object(req.body, [](json::FieldReader& in) {
    return UserPatch{.email = in.string("email", json::kOptional, kText),
                     .name = in.string("name", json::kOptional, kText)};
  });
  if (!p) return http::Response::error(p.error(), req.request_id);
  auto user = service.update(req.param("id"), std::move(*p), req.trace.to_traceparent());
  if (!user) return http::Response::error(user.error(), req.request_id);
  return http::Response::json(200, to_json(*user));
}

// Token answers are never cached (RFC 6749 §5.1).
http::Response tokens(const TokenPair& pair) {
  auto res = http::Response::json(200, boost::json::object{{"access_token", pair.access_token},
                                                           {"token_type", "Bearer"},
                                                           {"expires_in", pair.expires_in.count()},
                                                           {"refresh_token", pair.refresh_token}});
  res.headers.set("Cache-Control", "no-store");
  return res;
}

boost::asio::awaitable<http::Response> login(AuthService& auth, service::BlockingPool& pool,
                                             const ClientAddressSettings& addresses,
                                             const http::Request& req) {
  struct Login {
    std::string email;
    std::string password;
  };
  auto input = json::read_object(req.body, [](json::FieldReader& in) {
    return Login{in.string("email", json::kRequired, kText).value_or(""),
                 in.string("password", json::kRequired, kText).value_or("")};
  });
  if (!input) co_return http::Response::error(input.error(), req.request_id);
  auto client = client_address(req, addresses);
  auto ran = co_await pool.run([&] {
    obs::ContextScope scope(req.tracer, req.trace);  // as for create
    return auth.login(input->email, input->password, client);
  });
  if (!ran) co_return busy(req);
  auto& outcome = *ran;
  if (!outcome.result) {
    auto res = http::Response::error(outcome.result.error(), req.request_id);
    if (outcome.retry_after.count() > 0) {
      // Whole seconds, rounded up (RFC 9110 §10.2.3).
      res.headers.set("Retry-After", std::to_string((outcome.retry_after.count() + 999) / 1000));
    }
    co_return res;
  }
  co_return tokens(*outcome.result);
}

// POST /auth/refresh and /auth/logout both take {"refresh_token"}.
Result<std::string> refresh_token_of(const http::Request& req) {
  return json::read_object(req.body, [](json::FieldReader& in) {
    return in.string("refresh_token", json::kRequired, {.min = 1, .max = 256}).value_or("");
  });
}

http::Response refresh(AuthService& auth, const http::Request& req) {
  auto token = refresh_token_of(req);
  if (!token) return http::Response::error(token.error(), req.request_id);
  auto pair = auth.refresh(*token);
  if (!pair) return http::Response::error(pair.error(), req.request_id);
  return tokens(*pair);
}

// POST /auth/token {"grant_type":"client_credentials","client_id","client_secret"}: a service's token.
http::Response service_token(AuthService& auth, const http::Request& req) {
  struct ClientCredentials {
    std::string grant_type;
    std::string client_id;
    std::string client_secret;
  };
  auto input = json::read_object(req.body, [](json::FieldReader& in) {
    return ClientCredentials{
        in.string("grant_type", json::kRequired, {.min = 1, .max = 64}).value_or(""),
        in.string("client_id", json::kRequired, {.min = 1, .max = 64}).value_or(""),
        in.string("client_secret", json::kRequired, {.min = 1, .max = 256}).value_or("")};
  });
  if (!input) return http::Response::error(input.error(), req.request_id);
  if (input->grant_type != "client_credentials") {
    return http::Response::error(Error::validation("grant_type", "must be \"client_credentials\""),
                                 req.request_id);
  }
  auto token = auth.service_token(input->client_id, input->client_secret);
  if (!token) return http::Response::error(token.error(), req.request_id);
  auto res = http::Response::json(200, boost::json::object{{"access_token", token->access_token},
                                                           {"token_type", "Bearer"},
                                                           {"expires_in", token->expires_in.count()}});
  res.headers.set("Cache-Control", "no-store");
  return res;
}

http::Response logout(AuthService& auth, const http::Request& req) {
  auto token = refresh_token_of(req);
  if (!token) return http::Response::error(token.error(), req.request_id);
  if (auto r = auth.logout(*token); !r) return http::Response::error(r.error(), req.request_id);
  return http::Response::no_content();
}

}  // namespace

namespace {

// An address as its bytes: 4 for IPv4, 16 for IPv6, an IPv4-mapped IPv6 address as its 4 IPv4 bytes.
struct AddressBytes {
  std::array<unsigned char, 16> bytes{};
  std::size_t size = 0;
};

std::optional<AddressBytes> parse_address(std::string_view text) {
  std::string s(text);  // inet_pton wants a terminated string
  AddressBytes a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.size = 4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  a.size = 16;
  constexpr std::array<unsigned char, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), a.bytes.begin())) {
    std::copy(a.bytes.begin() + 12, a.bytes.end(), a.bytes.begin());
    a.size = 4;
  }
  return a;
}

// A trusted_proxies entry: an address (every bit compared) or address/prefix-length.
struct ProxyEntry {
  AddressBytes network;
  std::size_t prefix = 0;
};

std::optional<ProxyEntry> parse_proxy_entry(std::string_view entry) {
  auto slash = entry.find('/');
  auto address = parse_address(entry.substr(0, slash));
  if (!address) return std::nullopt;
  ProxyEntry e{.network = *address, .prefix = address->size * 8};
  if (slash != std::string_view::npos) {
    auto digits = entry.substr(slash + 1);
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, e.prefix);
    if (digits.empty() || ec != std::errc{} || ptr != end || e.prefix > address->size * 8)
      return std::nullopt;
  }
  return e;
}

bool in_network(const AddressBytes& a, const ProxyEntry& e) {
  if (a.size != e.network.size) return false;
  std::size_t whole = e.prefix / 8, rest = e.prefix % 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(whole),
                  e.network.bytes.begin()))
    return false;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (e.network.bytes[whole] & mask);
}

}  // namespace

bool valid_trusted_proxy(std::string_view entry) { return parse_proxy_entry(entry).has_value(); }

bool is_trusted_proxy(std::string_view address, const ClientAddressSettings& settings) {
  auto a = parse_address(address);
  if (!a) return false;
  return std::any_of(settings.trusted_proxies.begin(), settings.trusted_proxies.end(),
                     [&](const std::string& t) {
                       auto e = parse_proxy_entry(t);
                       return e && in_network(*a, *e);
                     });
}

std::string client_address(const http::Request& req, const ClientAddressSettings& settings) {
  if (!is_trusted_proxy(req.remote_address, settings)) return req.remote_address;
  // The last X-Forwarded-For header's last entry.
  std::string_view last;
  for (const auto& [name, value] : req.headers.entries()) {
    if (http::iequals(name, "X-Forwarded-For")) last = value;
  }
  if (auto comma = last.rfind(','); comma != std::string_view::npos) last = last.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  return last.empty() ? req.remote_address : std::string(last);
}

void register_auth_routes(http::Router& router, AuthService& auth, service::BlockingPool& pool,
                          const ClientAddressSettings& addresses) {
  // These routes do not read Authorization: a client still sending an expired access token must be able
  // to log in or refresh.
  router.add_async(http::Method::kPost, "/auth/login", [&auth, &pool, addresses](const http::Request& req) {
    return login(auth, pool, addresses, req);
  });
  router.post("/auth/refresh", [&auth](const http::Request& req) { return refresh(auth, req); });
  router.post("/auth/logout", [&auth](const http::Request& req) { return logout(auth, req); });
  // Services ask for their tokens directly; through the gateway (a trusted proxy that names a client in
  // X-Forwarded-For) the route does not exist.
  router.post("/auth/token", [&auth, addresses](const http::Request& req) {
    bool via_proxy =
        is_trusted_proxy(req.remote_address, addresses) && req.headers.get("X-Forwarded-For").has_value();
    if (via_proxy) return http::Response::error(Error::not_found("no route for /auth/token"), req.request_id);
    return service_token(auth, req);
  });
  router.get("/.well-known/jwks.json", [&auth](const http::Request&) {
    auto res = http::Response::json(200, auth.published_keys().to_jwks());
    // Short, so that verifiers see a rotation soon; they also refetch on an unknown kid.
    res.headers.set("Cache-Control", "public, max-age=300");
    return res;
  });
}

void register_routes(http::Router& router, UserService& service, service::BlockingPool& pool,
                     const service::Identity& identity) {
  using auth::Role;
  // Registration is open; the account is a customer's whoever asks.
  router.add_async(http::Method::kPost, "/users",
                   service::guard_async(identity, auth::kEveryone,
                                        [&service, &pool](const http::Request& req, const auth::Principal&) {
                                          return create(service, pool, req);
                                        }));
  router.get("/users/{id}",
             service::guard(identity, auth::kSignedIn,
                            [&service](const auto& req, const auto& who) { return get(service, req, who); }));
  // The owner or an operator; a service has no business changing an account.
  router.patch("/users/{id}", service::guard(identity, Role::kCustomer | Role::kAdmin,
                                             [&service](const auto& req, const auto& who) {
                                               return patch(service, req, who);
                                             }));
}

}  // namespace mercato::user
