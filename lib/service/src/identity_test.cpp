#include "mercato/service/identity.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "mercato/http/server.hpp"

namespace mercato::service {
namespace {

using namespace std::chrono_literals;

// A signing key and tokens for any role.
struct Issuer {
  explicit Issuer(std::string kid = "k1") : signer(auth::PrivateKey::generate(), std::move(kid)) {
    keys.add(signer.kid(), signer.public_key());
  }
  std::string token(std::string role, std::string subject, std::chrono::seconds ttl = 5min) const {
    auto now = now_utc();
    return signer.sign({.subject = std::move(subject),
                        .role = std::move(role),
                        .issuer = "mercato",
                        .audience = "mercato",
                        .issued_at = now,
                        .not_before = now,
                        .expires_at = now + ttl,
                        .token_id = "t"});
  }
  auth::Signer signer;
  auth::KeySet keys;
};

http::Request request(const std::string& authorization = {}) {
  http::Request req;
  req.path = "/x";
  req.request_id = "rid";
  if (!authorization.empty()) req.headers.set("Authorization", authorization);
  return req;
}

class IdentityTest : public ::testing::Test {
 protected:
  Issuer issuer_;
  obs::Logger logger_{"test", obs::LogLevel::kError};
  Identity identity_{"test", {}, issuer_.keys, nullptr, std::nullopt, logger_};
};

TEST_F(IdentityTest, NoHeaderIsAnonymousAndAValidTokenNamesItsBearer) {
  auto anonymous = identity_.identify(request());
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->role, auth::Role::kAnonymous);
  auto ann = identity_.identify(request("Bearer " + issuer_.token("customer", "ann")));
  ASSERT_TRUE(ann) << ann.error().message;
  EXPECT_EQ(ann->role, auth::Role::kCustomer);
  EXPECT_EQ(ann->subject, "ann");
  auto svc = identity_.identify(request("bearer " + issuer_.token("service", "service:order")));
  ASSERT_TRUE(svc) << "the scheme is case-insensitive";
  EXPECT_EQ(svc->role, auth::Role::kService);
}

TEST_F(IdentityTest, AnythingElseIs401) {
  Issuer stranger;
  for (const auto& bad :
       {std::string("Basic YTpi"), std::string("Bearer"), std::string("Bearer x.y.z"),
        "Bearer " + issuer_.token("customer", "ann", -10min), "Bearer " + issuer_.token("root", "ann"),
        "Bearer " + issuer_.token("anonymous", "ann"), "Bearer " + stranger.token("admin", "eve")}) {
    auto who = identity_.identify(request(bad));
    ASSERT_FALSE(who) << bad;
    EXPECT_EQ(who.error().code, ErrorCode::kUnauthenticated) << bad;
  }
  // A header sent empty is a credential that does not verify, not the absence of one.
  http::Request empty = request();
  empty.headers.set("Authorization", "");
  auto who = identity_.identify(empty);
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code, ErrorCode::kUnauthenticated);
}

// A gRPC call's authorization metadata: "" is a call without it.
TEST_F(IdentityTest, AuthorizeByValueChecksTheTokenThenTheRole) {
  auto anonymous = identity_.authorize("", auth::kEveryone);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->role, auth::Role::kAnonymous);
  EXPECT_EQ(identity_.authorize("", auth::kServiceOnly).error().code, ErrorCode::kUnauthenticated);
  auto customer = "Bearer " + issuer_.token("customer", "ann");
  EXPECT_EQ(identity_.authorize(customer, auth::kServiceOnly).error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(identity_.authorize("Bearer " + issuer_.token("service", "service:order"), auth::kServiceOnly));
  EXPECT_EQ(identity_.authorize("Bearer forged", auth::kEveryone).error().code, ErrorCode::kUnauthenticated);
}

TEST_F(IdentityTest, TheGuardAnswers401Then403ThenRunsTheHandler) {
  std::atomic<int> ran{0};
  auto handler = guard(identity_, auth::kStaff, [&](const http::Request&, const auth::Principal& who) {
    ++ran;
    return http::Response::json_text(200, "\"" + who.subject + "\"");
  });
  auto anonymous = handler(request());
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers.get("WWW-Authenticate").value_or(""), R"(Bearer realm="mercato")");
  auto bad = handler(request("Bearer x.y.z"));
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.headers.get("WWW-Authenticate").value_or(""),
            R"(Bearer realm="mercato", error="invalid_token")");
  auto customer = handler(request("Bearer " + issuer_.token("customer", "ann")));
  EXPECT_EQ(customer.status, 403);
  EXPECT_NE(customer.body.find("this route is for: admin, service"), std::string::npos) << customer.body;
  EXPECT_EQ(ran.load(), 0);
  auto admin = handler(request("Bearer " + issuer_.token("admin", "root-1")));
  EXPECT_EQ(admin.status, 200);
  EXPECT_EQ(admin.body, "\"root-1\"");
  EXPECT_EQ(ran.load(), 1);
}

// An open route still refuses a token that does not verify: its bearer is not quietly anonymous.
TEST_F(IdentityTest, AnOpenRouteRefusesABadToken) {
  auto handler = guard(identity_, auth::kEveryone, [](const http::Request&, const auth::Principal&) {
    return http::Response::no_content();
  });
  EXPECT_EQ(handler(request()).status, 204);
  EXPECT_EQ(handler(request("Bearer " + issuer_.token("customer", "ann", -10min))).status, 401);
}

TEST(Identity, WithoutKeysYetATokenIs503AndNoTokenIsAnonymous) {
  obs::Logger logger{"test", obs::LogLevel::kError};
  Identity identity{"test", {}, std::nullopt, nullptr, http::Endpoint{"127.0.0.1", 1}, logger};
  EXPECT_FALSE(identity.keys_loaded());
  EXPECT_TRUE(identity.identify(request()));
  auto who = identity.identify(request("Bearer " + Issuer().token("customer", "ann")));
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code, ErrorCode::kUnavailable);
}

TEST(Identity, WithoutCredentialsThereIsNoServiceToken) {
  obs::Logger logger{"test", obs::LogLevel::kError};
  Identity identity{"test", {}, Issuer().keys, nullptr, std::nullopt, logger};
  boost::asio::io_context io;
  std::optional<Result<std::string>> result;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { result = co_await identity.authorization(); },
      boost::asio::detached);
  io.run();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code, ErrorCode::kUnavailable);
}

TEST(Identity, SettingsAreValidated) {
  EXPECT_TRUE(IdentitySettings{}.validate());
  EXPECT_EQ(IdentitySettings{.issuer = ""}.validate().error().field, "issuer");
  EXPECT_EQ(IdentitySettings{.audience = ""}.validate().error().field, "audience");
  EXPECT_EQ(IdentitySettings{.clock_skew = std::chrono::minutes(6)}.validate().error().field, "clock_skew");
  EXPECT_EQ(IdentitySettings{.jwks_refresh = std::chrono::seconds(0)}.validate().error().field,
            "jwks_refresh");
}

// The keys come from the issuer's JWKS in the background; a token signed by a key the service has not
// seen yet (the issuer rotated) is refused once, makes the service fetch again at once, and the next
// token of that key passes — without waiting for the periodic refresh.
TEST(Identity, KeysAreFetchedAndAnUnknownKidFetchesAgain) {
  Issuer first("k1");
  Issuer second("k2");
  std::mutex mutex;
  std::string jwks = boost::json::serialize(first.keys.to_jwks());
  std::atomic<int> fetches{0};
  http::IoPool server_pool(1);
  http::Router router;
  router.get("/.well-known/jwks.json", [&](const http::Request&) {
    ++fetches;
    std::lock_guard lock(mutex);
    return http::Response::json_text(200, jwks);
  });
  obs::Logger logger{"test", obs::LogLevel::kError};
  obs::Registry metrics;
  http::Server server(server_pool, http::ServerSettings{.host = "127.0.0.1"}, std::move(router), logger,
                      metrics);
  server.start();
  server_pool.start();

  http::IoPool pool(1);
  http::Client client(pool, {});
  // A refresh hour away, and the verifier's own once-per-interval limit shortened: only the unknown kid
  // can explain a second fetch.
  IdentitySettings settings{.jwks_refresh = std::chrono::hours(1), .unknown_key_refetch = 10ms};
  Identity identity("test", settings, std::nullopt, &client, http::Endpoint{"127.0.0.1", server.port()},
                    logger);
  identity.start(pool);
  pool.start();
  auto wait_for = [](auto condition) {
    for (int i = 0; i < 500 && !condition(); ++i) std::this_thread::sleep_for(10ms);
    return condition();
  };
  ASSERT_TRUE(wait_for([&] { return identity.keys_loaded(); }));
  EXPECT_TRUE(identity.identify(request("Bearer " + first.token("customer", "ann"))));
  EXPECT_EQ(fetches.load(), 1);

  {
    std::lock_guard lock(mutex);
    auth::KeySet both = first.keys;
    both.add("k2", second.signer.public_key());
    jwks = boost::json::serialize(both.to_jwks());
  }
  auto rotated = "Bearer " + second.token("customer", "bob");
  auto refused = identity.identify(request(rotated));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
  ASSERT_TRUE(wait_for([&] { return fetches.load() >= 2; }));
  EXPECT_TRUE(wait_for([&] { return static_cast<bool>(identity.identify(request(rotated))); }));

  // The first key is withdrawn: its token, verified (and remembered) above, stops passing as soon as
  // the service has the new set — here fetched because of a third, unknown key.
  auto ann = request("Bearer " + first.token("customer", "ann"));
  ASSERT_TRUE(identity.identify(ann));
  {
    std::lock_guard lock(mutex);
    jwks = boost::json::serialize(second.keys.to_jwks());
  }
  Issuer third("k3");
  std::this_thread::sleep_for(20ms);  // past the refetch interval of 10 ms (the verifier's own limit)
  auto before = fetches.load();
  (void)identity.identify(request("Bearer " + third.token("customer", "eve")));
  ASSERT_TRUE(wait_for([&] { return fetches.load() > before; }));
  EXPECT_TRUE(wait_for([&] { return !identity.identify(ann); })) << "a withdrawn key's token still passes";

  pool.stop();
  pool.join();
  std::promise<void> done;
  server.shutdown([&done] { done.set_value(); });
  done.get_future().wait_for(5s);
  server_pool.stop();
  server_pool.join();
}

}  // namespace
}  // namespace mercato::service
