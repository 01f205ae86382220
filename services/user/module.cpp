// The user service: users in the service's own database (SQLite, or PostgreSQL with database.url),
// behind the REST API in api/; every change published as an event through the transactional outbox.
// Accounts log in here and get their tokens (the `auth` section of config/user.yaml).
#include "module.hpp"

#include <algorithm>
#include <fstream>

#include "adapters/argon2_password_hasher.hpp"
#include "adapters/signing_keys.hpp"
#include "adapters/sql_user_repository.hpp"
#include "api/grpc_service.hpp"
#include "api/handlers.hpp"
#include "mercato/core/periodic.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/grpc.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/storage/storage.hpp"

namespace {

using namespace mercato;
using std::chrono::duration_cast;
using std::chrono::seconds;

[[noreturn]] void bad(const config::Section& section, const Error& e) {
  throw config::ConfigError("config key '" + section.path() + "." + e.field + "': " + e.message);
}

// The operator's account, made at first start (docs/security.md, "Bootstrap").
struct AdminBootstrap {
  std::string email;
  std::string password_file;  // empty: no bootstrap
};

struct AuthConfig {
  std::chrono::milliseconds purge_interval{std::chrono::hours(1)};
  service::BlockingPoolSettings hashing;
  user::AuthSettings auth;
  AdminBootstrap admin;
  user::Argon2Settings argon2;
  user::KeyStoreSettings keys;
  user::ClientAddressSettings addresses;
};

// The `auth` section, typed and validated: a bad value stops the service before it listens.
AuthConfig read_auth_config(const service::Context& ctx) {
  AuthConfig c;
  auto a = ctx.config().section("auth");
  c.auth.issuer = a.string("issuer", c.auth.issuer);
  c.auth.audience = a.string("audience", c.auth.audience);
  c.auth.access_token_ttl = duration_cast<seconds>(a.duration("access_token_ttl", c.auth.access_token_ttl));
  c.auth.refresh_token_ttl =
      duration_cast<seconds>(a.duration("refresh_token_ttl", c.auth.refresh_token_ttl));
  auto limit = a.section("login_limit");
  c.auth.per_account.burst = limit.number("per_account_burst", c.auth.per_account.burst, 1, 1e6);
  c.auth.per_account.rate =
      limit.number("per_account_per_minute", c.auth.per_account.rate * 60, 1e-3, 1e6) / 60;
  c.auth.per_address.burst = limit.number("per_address_burst", c.auth.per_address.burst, 1, 1e6);
  c.auth.per_address.rate =
      limit.number("per_address_per_minute", c.auth.per_address.rate * 60, 1e-3, 1e6) / 60;
  auto clients = a.section("service_clients");
  for (const auto& name : clients.child_keys()) c.auth.service_clients[name] = clients.required_string(name);
  if (auto r = c.auth.validate(); !r) bad(a, r.error());

  auto admin = a.section("admin");
  c.admin.email = admin.string("email", "admin@mercato.local");
  c.admin.password_file = admin.string("password_file", "");

  c.purge_interval = a.duration("purge_interval", c.purge_interval);
  if (c.purge_interval < std::chrono::seconds(1)) {
    bad(a, Error::validation("purge_interval", "must be at least 1s"));
  }
  auto pool = a.section("hashing");
  c.hashing.threads = static_cast<std::size_t>(pool.integer("threads", 2, 1, 64));
  c.hashing.max_waiting = static_cast<std::size_t>(pool.integer("max_waiting", 64, 1, 100000));
  if (auto r = c.hashing.validate(); !r) bad(pool, r.error());

  auto h = a.section("argon2");
  c.argon2.memory_kib = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(h.bytes("memory", std::uint64_t{c.argon2.memory_kib} * 1024) / 1024, 1U << 31));
  c.argon2.iterations = static_cast<std::uint32_t>(h.integer("iterations", c.argon2.iterations, 0, 1000));
  c.argon2.parallelism = static_cast<std::uint32_t>(h.integer("parallelism", c.argon2.parallelism, 0, 1000));
  if (auto r = c.argon2.validate(); !r) bad(h, r.error());

  auto skew = a.duration("clock_skew", seconds(30));
  if (skew > std::chrono::minutes(5)) bad(a, Error::validation("clock_skew", "must be at most 5m"));
  auto key_dir = a.string("key_dir", "");
  if (key_dir.empty()) {
    // Beside the database file, so that MERCATO_VAR_DIR and the tests' temporary directories move it too.
    std::filesystem::path db = ctx.config().section("database").string("path", "var/user/user.db");
    key_dir = (db.parent_path() / "keys").string();
  }
  c.keys.dir = key_dir;
  c.keys.import_file = a.string("signing_key_file", "");
  c.keys.rotate_after = duration_cast<seconds>(a.duration("rotate_after", std::chrono::hours(24 * 30)));
  c.keys.grace = c.auth.access_token_ttl + duration_cast<seconds>(skew);

  auto present = a.child_keys();
  if (std::find(present.begin(), present.end(), "trusted_proxies") != present.end()) {
    c.addresses.trusted_proxies = a.string_list("trusted_proxies");
    for (const auto& entry : c.addresses.trusted_proxies) {
      if (!user::valid_trusted_proxy(entry)) {
        throw config::ConfigError("config key 'auth.trusted_proxies': '" + entry +
                                  "' is neither an IP address nor a network (address/prefix-length)");
      }
    }
  } else {
    c.addresses.trusted_proxies = {"127.0.0.1", "::1"};
  }
  return c;
}

std::string read_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config::ConfigError("config key 'auth.admin.password_file': cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The admin account exists once the service listens: made now if there is none with that email. An
// existing account with that email that is not an admin stops the start (someone took the address).
void bootstrap_admin(const AdminBootstrap& admin, user::UserRepository& repository, user::UserService& users,
                     const obs::Logger& logger) {
  if (admin.password_file.empty()) return;
  auto email = user::normalize_email(admin.email);
  if (!email) throw config::ConfigError("config key 'auth.admin.email': " + email.error().message);
  auto existing = repository.find_credentials(*email);
  if (existing) {
    if (existing->role != user::Role::kAdmin) {
      throw config::ConfigError("config key 'auth.admin.email': " + *email +
                                " belongs to an account that is not an admin");
    }
    return;
  }
  if (existing.error().code != ErrorCode::kNotFound) {
    throw std::runtime_error("cannot look up the admin account: " + existing.error().message);
  }
  auto created = users.create({.email = *email,
                               .name = "Administrator",
                               .password = read_secret(admin.password_file),
                               .role = user::Role::kAdmin});
  if (!created) throw config::ConfigError("the admin account: " + created.error().message);
  logger.info("admin account created", {{"email", *email}, {"id", created->id}});
}

}  // namespace

namespace mercato::user {

void set_up(service::Context& ctx) {
  auto settings = read_auth_config(ctx);
  auto [repository, event_store] = storage::open_repository_with_events<user::UserRepository>(
      ctx, {.sql = [](sql::Database& db) { return std::make_unique<user::SqlUserRepository>(db); }});
  auto& hasher = ctx.own(std::make_unique<user::Argon2PasswordHasher>(settings.argon2));
  auto& users = ctx.own(std::make_unique<user::UserService>(repository, hasher));
  auto keys = user::load_signing_keys(settings.keys, now_utc());
  ctx.logger().info("signing key loaded", {{"kid", keys.signer.kid()},
                                           {"published", static_cast<std::uint64_t>(keys.published.size())}});
  auto& auth =
      ctx.own(std::make_unique<user::AuthService>(repository, hasher, std::move(keys), settings.auth));
  bootstrap_admin(settings.admin, repository, users, ctx.logger());
  // The hashes of the start (the login's dummy hash, the admin's) are not traffic: their memory goes back
  // now rather than after keep_idle, so a service that nobody logs in to holds none.
  user::Argon2PasswordHasher::release_idle_memory(std::chrono::milliseconds(0));
  auto& identity = service::attach_identity(ctx, auth.published_keys());
  auto& hashing = ctx.own(std::make_unique<service::BlockingPool>(settings.hashing));
  // Sessions whose every token has expired are deleted (spent tokens of live sessions stay: reusing
  // one must still revoke its session).
  const auto& logger = ctx.logger();
  // An init-capture: clang (clang-tidy) before 16 cannot capture a structured binding by name.
  ctx.own(std::make_unique<core::Periodic>(settings.purge_interval, [&repo = repository, &logger] {
    auto purged = repo.purge_refresh_tokens(now_utc());
    if (!purged) {
      logger.warn("expired refresh tokens could not be purged", {{"error", purged.error().message}});
    } else if (*purged > 0) {
      logger.info("expired refresh tokens purged", {{"tokens", static_cast<std::uint64_t>(*purged)}});
    }
  }));
  user::register_routes(ctx.router(), users, hashing, identity);
  // The same users for other services over gRPC (api/user.proto), on the same port.
  service::grpc_server(ctx).add(ctx.own(
      std::make_unique<user::UsersGrpc>(service::grpc_server(ctx), users, identity, ctx.storage_pool())));
  user::register_auth_routes(ctx.router(), auth, hashing, settings.addresses);
  // Publishes user.registered / user.updated from the outbox; consumes nothing yet.
  auto& bus = events::attach(ctx, event_store);
  if (auto r = bus.start(); !r) throw std::runtime_error("cannot start the event bus: " + r.error().message);
}

}  // namespace mercato::user
