// Fuzz target: the services' JSON request decoding, through each service's real handler.
//
// Input: the first byte picks a route, the rest is the request body. Each run builds the service anew
// on its SQL repository over a fresh SQLite file (the services keep no in-memory repositories) and calls
// the route's handler as the server would (router match, path parameters, body), so a body that decodes
// also runs the use case behind it; the fresh service and database keep one input from growing the next
// one's state. Order placement is decoded with parse_new_order: the
// order service's handler needs a live catalog and saga.
//
// Expected: every body gets a response; a status outside 2xx/4xx, an exception or a sanitizer report
// is a finding.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../services/inventory/api/handlers.hpp"
#include "../services/notification/api/handlers.hpp"
#include "../services/order/api/handlers.hpp"
#include "../services/payment/api/handlers.hpp"
#include "../services/shipping/api/handlers.hpp"
#include "../services/user/api/handlers.hpp"
#include "adapters/fake_password_hasher.hpp"
#include "adapters/simulated_card_processor.hpp"
#include "adapters/sql_inventory_repository.hpp"
#include "adapters/sql_notification_repository.hpp"
#include "adapters/sql_payment_repository.hpp"
#include "adapters/sql_shipment_repository.hpp"
#include "adapters/sql_user_repository.hpp"
#include "mercato/http/router.hpp"
#include "mercato/json/json.hpp"
#include "mercato/service/blocking.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace {

using namespace mercato;

class NullMailer final : public notification::Mailer {
 public:
  Result<void> send(const notification::Email&) override { return {}; }
  Result<void> ping() override { return {}; }
};

// A 5xx from decoding is a bug: the body is the client's fault or fine, never the server's.
void check(const http::Response& res) {
  if (res.status >= 500 || res.status < 200) std::abort();
}

// The harness's token issuer: every call carries the token of a caller allowed on the route, so that
// the body reaches the decoding (the guard in front of it is not what is fuzzed here).
struct Tokens {
  Tokens() {
    auto key = auth::PrivateKey::generate();
    auth::KeySet keys;
    keys.add("fuzz", key.public_key());
    identity = std::make_unique<service::Identity>("fuzz", service::IdentitySettings{}, std::move(keys),
                                                   nullptr, std::nullopt, logger);
    auth::Signer signer(std::move(key), "fuzz");
    auto now = now_utc();
    auto sign = [&](std::string subject, std::string role) {
      return "Bearer " + signer.sign({.subject = std::move(subject),
                                      .role = std::move(role),
                                      .issuer = "mercato",
                                      .audience = "mercato",
                                      .issued_at = now,
                                      .not_before = now,
                                      .expires_at = now + std::chrono::hours(24 * 365),
                                      .token_id = "t"});
    };
    admin = sign("admin-1", "admin");
    service = sign("service:fuzz", "service");
  }
  obs::Logger logger{"fuzz", obs::LogLevel::kError};
  std::unique_ptr<service::Identity> identity;
  std::string admin, service;
};

const Tokens& tokens() {
  static const Tokens kTokens;
  return kTokens;
}

void call(const http::Router& router, http::Method method, std::string_view path, std::string_view body,
          std::string_view idempotency_key = {}) {
  auto match = router.match(method, path);
  if (match.kind != http::RouteMatch::Kind::kFound) std::abort();  // harness bug
  http::Request req;
  req.method = method;
  req.path = std::string(path);
  req.target = req.path;
  req.body = std::string(body);
  req.params = std::move(match.params);
  req.request_id = "fuzz";
  bool admin_route = method == http::Method::kPut || method == http::Method::kPatch;
  req.headers.set("Authorization", admin_route ? tokens().admin : tokens().service);
  if (!idempotency_key.empty()) req.headers.set("Idempotency-Key", idempotency_key);
  if (match.route->sync) return check(match.route->sync(req));
  // An async route (registration: its hashing runs on the blocking pool) runs to its end here.
  std::optional<http::Response> response;
  boost::asio::io_context io;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { response = co_await match.route->async(req); },
      boost::asio::detached);
  io.run();
  if (!response) std::abort();
  check(*response);
}

service::BlockingPool& blocking_pool() {
  static service::BlockingPool pool({.threads = 1, .max_waiting = 4});
  return pool;
}

// The generic decoder every handler starts with: parse_object plus FieldReader on whatever keys came.
void generic(std::string_view body) {
  auto object = json::parse_object(body);
  if (!object) return;
  json::FieldReader in(*object);
  for (const auto& kv : *object) {
    std::string_view key = kv.key();
    switch (key.size() % 5) {
      case 0:
        (void)in.string(key, json::kOptional, {.min = 1, .max = 16});
        break;
      case 1:
        (void)in.integer(key, json::kOptional, -1000, 1000);
        break;
      case 2:
        (void)in.boolean(key, json::kOptional);
        break;
      case 3:
        (void)in.array(key, json::kOptional);
        break;
      default:
        (void)in.object(key, json::kOptional);
        break;
    }
  }
  (void)in.finish();
  (void)json::serialize(*object);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0] % 12;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  http::Router router;
  switch (selector) {
    case 0:
    case 1: {
      testing::SqliteDatabase db("user");
      user::SqlUserRepository repository(db.get());
      user::FakePasswordHasher hasher;  // decoding is what is fuzzed, not argon2's cost
      user::UserService service(repository, hasher);
      user::register_routes(router, service, blocking_pool(), *tokens().identity);
      if (selector == 0) {
        call(router, http::Method::kPost, "/users", body);
      } else {
        call(router, http::Method::kPatch, "/users/u-1", body);
      }
      break;
    }
    case 2:
    case 3: {
      testing::SqliteDatabase db("inventory");
      inventory::SqlInventoryRepository repository(db.get());
      inventory::InventoryService service(repository);
      inventory::register_routes(router, service, *tokens().identity);
      if (selector == 2) {
        call(router, http::Method::kPut, "/inventory/p-1", body);
      } else {
        call(router, http::Method::kPost, "/inventory/reservations", body);
      }
      break;
    }
    case 4:
    case 5:
    case 6: {
      testing::SqliteDatabase db("payment");
      payment::SqlPaymentRepository repository(db.get());
      payment::SimulatedCardProcessor processor;
      payment::PaymentService service(repository, processor);
      payment::register_routes(router, service, *tokens().identity);
      if (selector == 4) {
        call(router, http::Method::kPost, "/payments", body);
      } else if (selector == 5) {
        call(router, http::Method::kPost, "/payments", body, "key-1");
      } else {
        call(router, http::Method::kPost, "/payments/pay-1/refund", body);
      }
      break;
    }
    case 7:
    case 8: {
      testing::SqliteDatabase db("shipping");
      shipping::SqlShipmentRepository repository(db.get());
      shipping::ShippingService service(repository);
      shipping::register_routes(router, service, *tokens().identity);
      if (selector == 7) {
        call(router, http::Method::kPost, "/shipments", body);
      } else {
        call(router, http::Method::kPost, "/shipments/s-1/cancel", body);
      }
      break;
    }
    case 9: {
      testing::SqliteDatabase db("notification");
      notification::SqlNotificationRepository repository(db.get());
      NullMailer mailer;
      notification::NotificationService service(repository, mailer);
      notification::register_routes(router, service, *tokens().identity);
      call(router, http::Method::kPost, "/notifications", body);
      break;
    }
    case 10:
      (void)order::parse_new_order(body);
      break;
    default:
      generic(body);
      break;
  }
  return 0;
}
