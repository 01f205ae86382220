// The user service's HTTP API (contract: api/user.yaml): JSON in, JSON out, errors in the
// one shape. Translates between HTTP and the use cases; holds no logic of its own.
#pragma once

#include <string>
#include <vector>

#include "app/auth_service.hpp"
#include "app/user_service.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/blocking.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::user {

// POST /users (anyone), GET /users/{id} (the owner, admin, services), PATCH /users/{id} (the owner,
// admin); another customer's account answers 404.
// Registration and login run on `pool` (password hashing must not stall an I/O thread).
void register_routes(http::Router& router, UserService& service, service::BlockingPool& pool,
                     const service::Identity& identity);

// Which address a login is counted against for the per-address limit: the peer's, unless the peer is
// one of `trusted_proxies` (the gateway), whose X-Forwarded-For's last entry — the address the proxy
// itself saw — is taken instead. Entries before the last are the client's own claims and never used.
// An entry is an IPv4 or IPv6 address, or a network as address/prefix-length ("10.89.0.0/16"): where
// the gateway's address is not known in advance (a container network) its network is named instead.
struct ClientAddressSettings {
  std::vector<std::string> trusted_proxies;
};
std::string client_address(const http::Request& req, const ClientAddressSettings& settings);
// Whether `address` (a peer's, as the server reports it) is one of `settings.trusted_proxies` or inside
// one of its networks. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) counts as its IPv4 address.
bool is_trusted_proxy(std::string_view address, const ClientAddressSettings& settings);
// Whether `entry` is an address or address/prefix-length that is_trusted_proxy understands.
bool valid_trusted_proxy(std::string_view entry);

// POST /auth/login, POST /auth/refresh, POST /auth/logout, POST /auth/token (services),
// GET /.well-known/jwks.json: all open to anyone
void register_auth_routes(http::Router& router, AuthService& auth, service::BlockingPool& pool,
                          const ClientAddressSettings& addresses);

}  // namespace mercato::user
