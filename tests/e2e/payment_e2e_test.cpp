// End to end: the real payment service (and once, the gateway in front of it), as child processes on free
// loopback ports or as modules of the monolith (docs/topologies.md, testing::System), driven over HTTP
// exactly as a client would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <latch>
#include <mutex>
#include <thread>
#include <tuple>

#include "mercato/core/ids.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/openapi.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;
using testing::PostgresSchema;
using Headers = std::map<std::string, std::string>;

// The payment service (and the services in `services`) in `topology` (docs/topologies.md), with four
// I/O threads (the monolith's shared ones there).
struct PaymentSystem {
  // `connections` > 1 runs SQLite with a pool of shared-lock connections, so concurrent requests
  // overlap inside SQLite instead of queueing for the one exclusive connection.
  PaymentSystem(const fs::path& dir, testing::Topology topology, int connections = 1, Headers extra_env = {},
                std::vector<std::string> services = {"payment"})
      : system(dir, settings(topology, std::move(services), std::move(extra_env), connections)),
        port(system.port("payment")),
        db(dir / "payment.db") {}
  static testing::SystemSettings settings(testing::Topology topology, std::vector<std::string> services,
                                          Headers env, int connections) {
    env["APP_SERVER__THREADS"] = "4";
    env["APP_DATABASE__CONNECTIONS"] = std::to_string(connections);
    return {.topology = topology,
            .services = std::move(services),
            .per_service = {{"payment", std::move(env)}},
            .monolith = {{"APP_MONOLITH__SERVER__THREADS", "4"}}};
  }
  // Every answer from the payment routes is held to the contract (api/payment.yaml).
  HttpResult call(const std::string& method, const std::string& target, const std::string& body = {},
                  const Headers& headers = {}) const {
    auto r = testing::http(port, method, target, body, headers);
    if (target.rfind("/payments", 0) == 0) {
      EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    }
    return r;
  }
  // The process that runs the service: its own, or the monolith.
  testing::Process& process() { return system.process_of("payment"); }

  testing::System system;
  std::uint16_t port;
  fs::path db;  // the SQLite file it uses unless database.url says otherwise
};

std::string str(const boost::json::value& v, const char* key) { return std::string(v.at(key).as_string()); }

std::string unique(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

std::string charge_body(const std::string& order, const std::string& token, std::int64_t amount = 1999,
                        const std::string& customer = "cust-1") {
  return R"({"order_id":")" + order + R"(","customer_id":")" + customer + R"(","amount_cents":)" +
         std::to_string(amount) + R"(,"payment_token":")" + token + R"("})";
}

// The payment service alone, as its own process or as the one module of the monolith; per test (each
// runs in its own process), and each test uses its own order ids and keys.
class PaymentE2E : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("shared"));
    service_ = new PaymentSystem(*dir_, GetParam());
  }
  void TearDown() override {
    delete service_;
    service_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }
  static HttpResult call(const std::string& method, const std::string& target, const std::string& body = {},
                         const Headers& headers = {}) {
    return service_->call(method, target, body, headers);
  }
  static HttpResult charge(const std::string& body, const Headers& headers = {}) {
    return call("POST", "/payments", body, headers);
  }
  static boost::json::array list(const std::string& order) {
    auto r = call("GET", "/payments?order_id=" + order);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    return r.json().at("payments").as_array();
  }

  static inline fs::path* dir_ = nullptr;
  static inline PaymentSystem* service_ = nullptr;
};

TEST_P(PaymentE2E, ApprovedChargeIsCapturedAndReadable) {
  auto order = unique("order");
  auto created = charge(charge_body(order, "tok_visa", 4250, "cust-42"));
  ASSERT_EQ(created.status, 201) << created.body;
  auto p = created.json().as_object();
  EXPECT_FALSE(str(p, "id").empty());
  EXPECT_EQ(str(p, "order_id"), order);
  EXPECT_EQ(str(p, "customer_id"), "cust-42");
  EXPECT_EQ(p.at("amount_cents").as_int64(), 4250);
  EXPECT_EQ(str(p, "status"), "captured");
  EXPECT_FALSE(p.contains("decline_reason"));
  EXPECT_EQ(str(p, "created_at").size(), 24U);  // 2026-11-29T19:26:53.123Z
  EXPECT_EQ(str(p, "created_at"), str(p, "updated_at"));
  EXPECT_EQ(p.size(), 7U) << created.body;  // nothing else, the token least of all
  EXPECT_EQ(created.header("idempotent-replayed"), "");

  auto got = call("GET", "/payments/" + str(p, "id"));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), created.json());

  auto mastercard = charge(charge_body(unique("order"), "tok_mastercard"));
  ASSERT_EQ(mastercard.status, 201) << mastercard.body;
  EXPECT_EQ(str(mastercard.json(), "status"), "captured");
}

TEST_P(PaymentE2E, DeclinedThenApprovedRetryWorks) {
  auto order = unique("order");
  auto declined = charge(charge_body(order, "tok_chargeDeclined"));
  ASSERT_EQ(declined.status, 201) << declined.body;
  EXPECT_EQ(str(declined.json(), "status"), "declined");
  EXPECT_EQ(str(declined.json(), "decline_reason"), "card_declined");

  auto no_funds = charge(charge_body(order, "tok_insufficientFunds"));
  ASSERT_EQ(no_funds.status, 201) << no_funds.body;
  EXPECT_EQ(str(no_funds.json(), "status"), "declined");
  EXPECT_EQ(str(no_funds.json(), "decline_reason"), "insufficient_funds");

  auto approved = charge(charge_body(order, "tok_visa"));
  ASSERT_EQ(approved.status, 201) << approved.body;
  EXPECT_EQ(str(approved.json(), "status"), "captured");

  auto payments = list(order);
  ASSERT_EQ(payments.size(), 3U);
  EXPECT_EQ(payments[0], approved.json());  // newest first
  EXPECT_EQ(payments[1], no_funds.json());
  EXPECT_EQ(payments[2], declined.json());
  EXPECT_EQ(call("GET", "/payments/" + str(declined.json(), "id")).json(), declined.json());
}

TEST_P(PaymentE2E, SecondCaptureOfAnOrderIs409UntilRefunded) {
  auto order = unique("order");
  auto first = charge(charge_body(order, "tok_visa"));
  ASSERT_EQ(first.status, 201) << first.body;
  for (const char* token : {"tok_visa", "tok_mastercard", "tok_chargeDeclined"}) {
    auto again = charge(charge_body(order, token));
    EXPECT_EQ(again.status, 409) << token << ": " << again.body;
    if (again.status != 409) continue;
    EXPECT_EQ(again.error_code(), "conflict");
    EXPECT_EQ(again.error_field(), "order_id");
  }
  EXPECT_EQ(list(order).size(), 1U);
  // A refunded order is no longer paid: it may be charged again.
  ASSERT_EQ(call("POST", "/payments/" + str(first.json(), "id") + "/refund").status, 200);
  auto recharge = charge(charge_body(order, "tok_mastercard"));
  EXPECT_EQ(recharge.status, 201) << recharge.body;
  EXPECT_EQ(list(order).size(), 2U);
}

TEST_P(PaymentE2E, RefundIsIdempotentAndOnlyForCapturedPayments) {
  auto order = unique("order");
  auto captured = charge(charge_body(order, "tok_visa"));
  ASSERT_EQ(captured.status, 201);
  std::string id = str(captured.json(), "id");

  auto refunded = call("POST", "/payments/" + id + "/refund");
  ASSERT_EQ(refunded.status, 200) << refunded.body;
  EXPECT_EQ(str(refunded.json(), "status"), "refunded");
  EXPECT_EQ(str(refunded.json(), "id"), id);
  EXPECT_EQ(str(refunded.json(), "created_at"), str(captured.json(), "created_at"));
  EXPECT_GE(str(refunded.json(), "updated_at"), str(captured.json(), "updated_at"));
  EXPECT_EQ(refunded.json().at("amount_cents"), captured.json().at("amount_cents"));

  auto again = call("POST", "/payments/" + id + "/refund", "{}");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, refunded.body);
  EXPECT_EQ(call("GET", "/payments/" + id).body, refunded.body);

  auto declined = charge(charge_body(unique("order"), "tok_chargeDeclined"));
  ASSERT_EQ(declined.status, 201);
  auto refuse = call("POST", "/payments/" + str(declined.json(), "id") + "/refund");
  EXPECT_EQ(refuse.status, 422) << refuse.body;
  EXPECT_EQ(refuse.error_code(), "unprocessable");
  EXPECT_EQ(call("GET", "/payments/" + str(declined.json(), "id")).json(), declined.json());

  auto unknown = call("POST", "/payments/no-such-payment/refund");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.error_code(), "not_found");
}

TEST_P(PaymentE2E, SameKeySameBodyReplaysTheFirstResponse) {
  auto order = unique("order");
  auto key = unique("key");
  auto body = charge_body(order, "tok_visa");
  auto first = charge(body, {{"Idempotency-Key", key}});
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.header("idempotent-replayed"), "");

  auto second = charge(body, {{"Idempotency-Key", key}});
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.header("idempotent-replayed"), "true");

  // The same request written differently (member order, whitespace) is the same request.
  std::string reordered =
      "{ \"payment_token\": \"tok_visa\", \"amount_cents\": 1999,\n \"customer_id\": "
      "\"cust-1\", \"order_id\": \"" +
      order + "\" }";
  auto third = charge(reordered, {{"Idempotency-Key", key}});
  EXPECT_EQ(third.status, 201);
  EXPECT_EQ(third.body, first.body);
  EXPECT_EQ(third.header("idempotent-replayed"), "true");

  auto payments = list(order);
  ASSERT_EQ(payments.size(), 1U);
  EXPECT_EQ(payments[0], first.json());
}

TEST_P(PaymentE2E, SameKeyDifferentBodyIs422AndChargesNothing) {
  auto order = unique("order");
  auto key = unique("key");
  ASSERT_EQ(charge(charge_body(order, "tok_visa"), {{"Idempotency-Key", key}}).status, 201);
  const auto others = std::to_array<std::string>(
      {charge_body(order, "tok_visa", 2000), charge_body(order, "tok_mastercard"),
       charge_body(order, "tok_visa", 1999, "cust-2"), charge_body(unique("order"), "tok_visa")});
  for (const auto& other : others) {
    auto r = charge(other, {{"Idempotency-Key", key}});
    EXPECT_EQ(r.status, 422) << other << ": " << r.body;
    if (r.status != 422) continue;
    EXPECT_EQ(r.error_code(), "unprocessable");
    EXPECT_EQ(r.error_field(), "Idempotency-Key");
    EXPECT_EQ(r.header("idempotent-replayed"), "");
  }
  EXPECT_EQ(list(order).size(), 1U);
}

TEST_P(PaymentE2E, DecisionsTakenWhileProcessingAreReplayedToo) {
  // A declined charge.
  auto declined_key = unique("key");
  auto declined_body = charge_body(unique("order"), "tok_insufficientFunds");
  auto declined = charge(declined_body, {{"Idempotency-Key", declined_key}});
  ASSERT_EQ(declined.status, 201);
  auto declined_again = charge(declined_body, {{"Idempotency-Key", declined_key}});
  EXPECT_EQ(declined_again.status, 201);
  EXPECT_EQ(declined_again.body, declined.body);
  EXPECT_EQ(declined_again.header("idempotent-replayed"), "true");

  // A token the processor refuses.
  auto unknown_key = unique("key");
  auto unknown_body = charge_body(unique("order"), "tok_amex");
  auto unknown = charge(unknown_body, {{"Idempotency-Key", unknown_key}});
  ASSERT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_EQ(unknown.error_field(), "payment_token");
  auto unknown_again = charge(unknown_body, {{"Idempotency-Key", unknown_key}});
  EXPECT_EQ(unknown_again.status, 422);
  EXPECT_EQ(unknown_again.body, unknown.body);  // the first request's request_id included
  EXPECT_EQ(unknown_again.header("idempotent-replayed"), "true");

  // An order already paid.
  auto order = unique("order");
  ASSERT_EQ(charge(charge_body(order, "tok_visa")).status, 201);
  auto paid_key = unique("key");
  auto paid = charge(charge_body(order, "tok_visa"), {{"Idempotency-Key", paid_key}});
  ASSERT_EQ(paid.status, 409);
  auto paid_again = charge(charge_body(order, "tok_visa"), {{"Idempotency-Key", paid_key}});
  EXPECT_EQ(paid_again.status, 409);
  EXPECT_EQ(paid_again.body, paid.body);
  EXPECT_EQ(paid_again.header("idempotent-replayed"), "true");
  EXPECT_EQ(list(order).size(), 1U);
}

TEST_P(PaymentE2E, RejectedRequestsAreNotStoredAgainstTheKey) {
  auto order = unique("order");
  auto key = unique("key");
  auto bad = charge(charge_body(order, "tok_visa", 0), {{"Idempotency-Key", key}});
  ASSERT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_field(), "amount_cents");
  auto malformed = charge("{", {{"Idempotency-Key", key}});
  ASSERT_EQ(malformed.status, 400);
  // The corrected request with the same key is processed as new, not refused as "a different body".
  auto fixed = charge(charge_body(order, "tok_visa"), {{"Idempotency-Key", key}});
  EXPECT_EQ(fixed.status, 201) << fixed.body;
  EXPECT_EQ(fixed.header("idempotent-replayed"), "");
  EXPECT_EQ(list(order).size(), 1U);
}

TEST_P(PaymentE2E, BadInputsGetA4xxNamingTheProblem) {
  auto order = unique("bad-order");
  auto ok = [&](const std::string& token = "tok_visa") { return charge_body(order, token); };
  auto with = [&](const std::string& fields) { return "{" + fields + "}"; };
  const std::string o = R"("order_id":")" + order + R"(")";
  const std::string c = R"("customer_id":"cust-1")";
  const std::string a = R"("amount_cents":100)";
  const std::string t = R"("payment_token":"tok_visa")";
  const std::string s65(65, 'x');
  struct Case {
    std::string name, method, target, body;
    Headers headers;
    int status;
    std::string code, field;
  };
  const auto cases = std::to_array<Case>({
      {"malformed JSON", "POST", "/payments", "{\"order_id\":", {}, 400, "malformed_request", ""},
      {"empty body", "POST", "/payments", "", {}, 400, "malformed_request", ""},
      {"array body", "POST", "/payments", "[1]", {}, 400, "malformed_request", ""},
      {"trailing garbage", "POST", "/payments", ok() + " x", {}, 400, "malformed_request", ""},
      {"invalid UTF-8",
       "POST",
       "/payments",
       with(o + "," + c + "," + a + R"(,"payment_token":"\xff")"),
       {},
       400,
       "malformed_request",
       ""},
      {"missing order_id",
       "POST",
       "/payments",
       with(c + "," + a + "," + t),
       {},
       400,
       "validation_failed",
       "order_id"},
      {"missing customer_id",
       "POST",
       "/payments",
       with(o + "," + a + "," + t),
       {},
       400,
       "validation_failed",
       "customer_id"},
      {"missing amount_cents",
       "POST",
       "/payments",
       with(o + "," + c + "," + t),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"missing payment_token",
       "POST",
       "/payments",
       with(o + "," + c + "," + a),
       {},
       400,
       "validation_failed",
       "payment_token"},
      {"order_id a number",
       "POST",
       "/payments",
       with(R"("order_id":42,)" + c + "," + a + "," + t),
       {},
       400,
       "validation_failed",
       "order_id"},
      {"customer_id null",
       "POST",
       "/payments",
       with(o + R"(,"customer_id":null,)" + a + "," + t),
       {},
       400,
       "validation_failed",
       "customer_id"},
      {"amount a string",
       "POST",
       "/payments",
       with(o + "," + c + R"(,"amount_cents":"100",)" + t),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount a float",
       "POST",
       "/payments",
       with(o + "," + c + R"(,"amount_cents":19.99,)" + t),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount a whole float",
       "POST",
       "/payments",
       with(o + "," + c + R"(,"amount_cents":100.0,)" + t),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount with exponent",
       "POST",
       "/payments",
       with(o + "," + c + R"(,"amount_cents":1e3,)" + t),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount a boolean",
       "POST",
       "/payments",
       with(o + "," + c + R"(,"amount_cents":true,)" + t),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount zero",
       "POST",
       "/payments",
       charge_body(order, "tok_visa", 0),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount negative",
       "POST",
       "/payments",
       charge_body(order, "tok_visa", -100),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount above 1e10",
       "POST",
       "/payments",
       charge_body(order, "tok_visa", 10'000'000'001),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"amount beyond int64",
       "POST",
       "/payments",
       with(o + "," + c + R"(,"amount_cents":18446744073709551615,)" + t),
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"token a number",
       "POST",
       "/payments",
       with(o + "," + c + "," + a + R"(,"payment_token":7)"),
       {},
       400,
       "validation_failed",
       "payment_token"},
      {"empty order_id",
       "POST",
       "/payments",
       charge_body("", "tok_visa"),
       {},
       400,
       "validation_failed",
       "order_id"},
      {"empty customer_id",
       "POST",
       "/payments",
       charge_body(order, "tok_visa", 100, ""),
       {},
       400,
       "validation_failed",
       "customer_id"},
      {"empty token", "POST", "/payments", ok(""), {}, 400, "validation_failed", "payment_token"},
      {"order_id too long",
       "POST",
       "/payments",
       charge_body(s65, "tok_visa"),
       {},
       400,
       "validation_failed",
       "order_id"},
      {"customer_id too long",
       "POST",
       "/payments",
       charge_body(order, "tok_visa", 100, s65),
       {},
       400,
       "validation_failed",
       "customer_id"},
      {"token too long", "POST", "/payments", ok(s65), {}, 400, "validation_failed", "payment_token"},
      {"unknown field",
       "POST",
       "/payments",
       with(o + "," + c + "," + a + "," + t + R"(,"currency":"EUR")"),
       {},
       400,
       "validation_failed",
       "currency"},
      {"unknown token", "POST", "/payments", ok("tok_amex"), {}, 422, "unprocessable", "payment_token"},
      {"token in the wrong case",
       "POST",
       "/payments",
       ok("TOK_VISA"),
       {},
       422,
       "unprocessable",
       "payment_token"},
      {"empty key",
       "POST",
       "/payments",
       ok(),
       {{"Idempotency-Key", ""}},
       400,
       "validation_failed",
       "Idempotency-Key"},
      {"key too long",
       "POST",
       "/payments",
       ok(),
       {{"Idempotency-Key", std::string(256, 'k')}},
       400,
       "validation_failed",
       "Idempotency-Key"},
      {"key not ASCII",
       "POST",
       "/payments",
       ok(),
       {{"Idempotency-Key", "caf\xc3\xa9"}},
       400,
       "validation_failed",
       "Idempotency-Key"},
      // The test client writes header lines as given: this value smuggles in a second key header.
      {"key sent twice",
       "POST",
       "/payments",
       ok(),
       {{"Idempotency-Key", "k1\r\nIdempotency-Key: k2"}},
       400,
       "validation_failed",
       "Idempotency-Key"},
      {"bad key and bad body",
       "POST",
       "/payments",
       "{",
       {{"Idempotency-Key", ""}},
       400,
       "validation_failed",
       "Idempotency-Key"},
      {"list without order_id", "GET", "/payments", "", {}, 400, "validation_failed", "order_id"},
      {"list with empty order_id",
       "GET",
       "/payments?order_id=",
       "",
       {},
       400,
       "validation_failed",
       "order_id"},
      {"list with long order_id",
       "GET",
       "/payments?order_id=" + s65,
       "",
       {},
       400,
       "validation_failed",
       "order_id"},
      {"unknown payment", "GET", "/payments/no-such-payment", "", {}, 404, "not_found", ""},
      {"refund unknown payment", "POST", "/payments/no-such-payment/refund", "", {}, 404, "not_found", ""},
      {"refund with an amount",
       "POST",
       "/payments/no-such-payment/refund",
       R"({"amount_cents":1})",
       {},
       400,
       "validation_failed",
       "amount_cents"},
      {"refund malformed body",
       "POST",
       "/payments/no-such-payment/refund",
       "nope",
       {},
       400,
       "malformed_request",
       ""},
      {"DELETE a payment", "DELETE", "/payments/x", "", {}, 405, "method_not_allowed", ""},
      {"PUT payments", "PUT", "/payments", ok(), {}, 405, "method_not_allowed", ""},
      {"GET refund", "GET", "/payments/x/refund", "", {}, 405, "method_not_allowed", ""},
      {"body over 1 MiB",
       "POST",
       "/payments",
       charge_body(order, std::string(2 << 20, 't')),
       {},
       413,
       "payload_too_large",
       ""},
  });
  for (const auto& k : cases) {
    auto r = call(k.method, k.target, k.body, k.headers);
    EXPECT_EQ(r.status, k.status) << k.name << ": " << r.body;
    if (r.status != k.status) continue;
    EXPECT_EQ(r.error_code(), k.code) << k.name;
    EXPECT_EQ(r.error_field(), k.field) << k.name;
    EXPECT_FALSE(r.json().at("error").at("message").as_string().empty()) << k.name;
    EXPECT_FALSE(r.json().at("error").at("request_id").as_string().empty()) << k.name;
  }
  // Nothing was recorded by any rejected request.
  EXPECT_TRUE(list(order).empty());
}

TEST_P(PaymentE2E, HealthReadyChecksTheDatabase) {
  auto ready = call("GET", "/health/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  EXPECT_EQ(call("GET", "/health/live").status, 200);
}

// 20 requests with one key and one body, all released at once: exactly one payment, and every answer
// is the first 201, a replay of it, or the in-progress 409. Run with one SQLite connection (the
// default), with a pool of four, and with a slow simulated processor: then requests served by other I/O
// threads arrive while the first is still being processed, so the in-progress 409 must occur.
// `env` adds settings, e.g. APP_DATABASE__URL to run the same on PostgreSQL.
void parallel_same_key(testing::Topology topology, int connections,
                       std::chrono::milliseconds processor_latency, int rounds, Headers env = {}) {
  auto dir = testing::temp_dir("parallel-" + std::to_string(connections) + "-" +
                               std::to_string(processor_latency.count()));
  env["APP_PAYMENT__PROCESSOR_LATENCY"] = std::to_string(processor_latency.count()) + "ms";
  PaymentSystem service(dir, topology, connections, env);
  for (int round = 0; round < rounds; ++round) {
    auto order = unique("order");
    auto key = unique("key");
    auto body = charge_body(order, "tok_visa");
    constexpr int kClients = 20;
    std::vector<HttpResult> results(kClients);
    std::latch start(kClients);
    std::vector<std::thread> threads;
    threads.reserve(kClients);
    for (int i = 0; i < kClients; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        results[static_cast<std::size_t>(i)] =
            service.call("POST", "/payments", body, {{"Idempotency-Key", key}});
      });
    }
    for (auto& t : threads) t.join();

    std::vector<const HttpResult*> originals;
    for (const auto& r : results) {
      if (r.status == 201 && r.header("idempotent-replayed").empty()) originals.push_back(&r);
    }
    ASSERT_EQ(originals.size(), 1U) << "exactly one request may charge";
    const auto& original = *originals.front();
    int replays = 0;
    int in_progress = 0;
    for (const auto& r : results) {
      if (&r == &original) continue;
      if (r.status == 201) {
        EXPECT_EQ(r.header("idempotent-replayed"), "true");
        EXPECT_EQ(r.body, original.body);
        ++replays;
      } else {
        ASSERT_EQ(r.status, 409) << r.error << " " << r.body;
        EXPECT_EQ(r.error_code(), "conflict");
        EXPECT_EQ(r.error_field(), "Idempotency-Key");
        EXPECT_EQ(r.header("retry-after"), "1");
        EXPECT_EQ(r.header("idempotent-replayed"), "");
        ++in_progress;
      }
    }
    EXPECT_EQ(replays + in_progress, kClients - 1);
    if (processor_latency.count() > 0) {
      EXPECT_GE(in_progress, 1) << "no request saw the key in progress";
    }
    auto listed = service.call("GET", "/payments?order_id=" + order);
    ASSERT_EQ(listed.status, 200);
    ASSERT_EQ(listed.json().at("payments").as_array().size(), 1U);
    EXPECT_EQ(listed.json().at("payments").as_array()[0], original.json());
    // Once it is done, the key answers every retry with the replay.
    auto after = service.call("POST", "/payments", body, {{"Idempotency-Key", key}});
    EXPECT_EQ(after.status, 201);
    EXPECT_EQ(after.body, original.body);
  }
  service.system.stop();
  fs::remove_all(dir);
}

class PaymentConcurrency : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(PaymentConcurrency, TwentyParallelRequestsWithOneKeyChargeOnce) {
  parallel_same_key(GetParam(), 1, 0ms, 3);
}

TEST_P(PaymentConcurrency, TwentyParallelRequestsWithOneKeyChargeOnceOnAConnectionPool) {
  parallel_same_key(GetParam(), 4, 0ms, 3);
}

TEST_P(PaymentConcurrency, RetriesWhileTheProcessorWorksGet409InProgress) {
  parallel_same_key(GetParam(), 1, 300ms, 1);
}

// 12 charges of one order without keys, all at once: exactly one is captured, the rest are 409.
void parallel_captures(testing::Topology topology, const Headers& env) {
  auto dir = testing::temp_dir("parallel-order");
  PaymentSystem service(dir, topology, 4, env);
  auto order = unique("order");
  constexpr int kClients = 12;
  std::vector<HttpResult> results(kClients);
  std::latch start(kClients);
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[static_cast<std::size_t>(i)] =
          service.call("POST", "/payments", charge_body(order, i % 2 == 0 ? "tok_visa" : "tok_mastercard"));
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : results) {
    if (r.status == 201) {
      ++created;
    } else {
      EXPECT_EQ(r.status, 409) << r.error << " " << r.body;
    }
  }
  EXPECT_EQ(created, 1);
  auto listed = service.call("GET", "/payments?order_id=" + order);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json().at("payments").as_array().size(), 1U);
  service.system.stop();
  fs::remove_all(dir);
}

TEST_P(PaymentConcurrency, ParallelCapturesOfOneOrderWithoutKeysHaveOneWinner) {
  parallel_captures(GetParam(), {});
}

// The same service on PostgreSQL, chosen by configuration alone (database.url): idempotent replay,
// the rules of a paid order, and keys and payments kept across a restart.
class PaymentOnPostgres : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(PaymentOnPostgres, IdempotencyReplayAndPaidOrderRules) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "e2e_payment");
  ASSERT_TRUE(schema.ok()) << schema.error();
  auto dir = testing::temp_dir("postgres");
  PaymentSystem service(dir, GetParam(), 4, {{"APP_DATABASE__URL", schema.url()}});
  auto ready = service.call("GET", "/health/ready");
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");

  auto order = unique("order");
  auto key = unique("key");
  auto body = charge_body(order, "tok_visa");
  auto first = service.call("POST", "/payments", body, {{"Idempotency-Key", key}});
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.header("idempotent-replayed"), "");
  auto replay = service.call("POST", "/payments", body, {{"Idempotency-Key", key}});
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.header("idempotent-replayed"), "true");
  auto other_body =
      service.call("POST", "/payments", charge_body(order, "tok_visa", 1), {{"Idempotency-Key", key}});
  EXPECT_EQ(other_body.status, 422) << other_body.body;
  EXPECT_EQ(other_body.error_field(), "Idempotency-Key");

  // A declined attempt is replayed too, and a paid order refuses any new attempt until refunded.
  auto declined_key = unique("key");
  auto declined_body = charge_body(unique("order"), "tok_chargeDeclined");
  auto declined = service.call("POST", "/payments", declined_body, {{"Idempotency-Key", declined_key}});
  ASSERT_EQ(declined.status, 201) << declined.body;
  EXPECT_EQ(str(declined.json(), "status"), "declined");
  EXPECT_EQ(str(declined.json(), "decline_reason"), "card_declined");
  EXPECT_EQ(service.call("POST", "/payments", declined_body, {{"Idempotency-Key", declined_key}}).body,
            declined.body);
  for (const char* token : {"tok_mastercard", "tok_chargeDeclined"}) {
    auto again = service.call("POST", "/payments", charge_body(order, token));
    EXPECT_EQ(again.status, 409) << token << ": " << again.body;
    EXPECT_EQ(again.error_field(), "order_id") << token;
  }
  auto id = str(first.json(), "id");
  auto refunded = service.call("POST", "/payments/" + id + "/refund");
  ASSERT_EQ(refunded.status, 200) << refunded.body;
  EXPECT_EQ(str(refunded.json(), "status"), "refunded");
  EXPECT_EQ(service.call("POST", "/payments/" + id + "/refund").json(), refunded.json());
  auto recharge = service.call("POST", "/payments", charge_body(order, "tok_mastercard"));
  ASSERT_EQ(recharge.status, 201) << recharge.body;
  auto listed = service.call("GET", "/payments?order_id=" + order);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json().at("payments").as_array().size(), 2U);
  EXPECT_EQ(listed.json().at("payments").as_array()[0], recharge.json());  // newest first
  EXPECT_EQ(service.call("GET", "/payments/nope").status, 404);

  // Nothing went to SQLite, and everything is still there after a restart.
  EXPECT_FALSE(fs::exists(service.db));
  service.process().signal(SIGTERM);
  auto status = service.process().wait(15s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << service.system.logs();
  service.system.restart("payment");
  auto after_restart = service.call("POST", "/payments", body, {{"Idempotency-Key", key}});
  EXPECT_EQ(after_restart.status, 201);
  EXPECT_EQ(after_restart.body, first.body);
  EXPECT_EQ(after_restart.header("idempotent-replayed"), "true");
  EXPECT_EQ(service.call("GET", "/payments/" + id).json(), refunded.json());
  service.system.stop();
  fs::remove_all(dir);
}

TEST_P(PaymentOnPostgres, TwentyParallelRequestsWithOneKeyChargeOnce) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "e2e_payment");
  ASSERT_TRUE(schema.ok()) << schema.error();
  parallel_same_key(GetParam(), 4, 0ms, 3, {{"APP_DATABASE__URL", schema.url()}});
}

TEST_P(PaymentOnPostgres, RetriesWhileTheProcessorWorksGet409InProgress) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "e2e_payment");
  ASSERT_TRUE(schema.ok()) << schema.error();
  parallel_same_key(GetParam(), 4, 300ms, 1, {{"APP_DATABASE__URL", schema.url()}});
}

TEST_P(PaymentOnPostgres, ParallelCapturesOfOneOrderWithoutKeysHaveOneWinner) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "e2e_payment");
  ASSERT_TRUE(schema.ok()) << schema.error();
  parallel_captures(GetParam(), {{"APP_DATABASE__URL", schema.url()}});
}

// In the monolith the SIGTERM stops the whole process, and the restart is the monolith's.
class PaymentService : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(PaymentService, PaymentsAndKeysSurviveARestart) {
  auto dir = testing::temp_dir("restart");
  PaymentSystem service(dir, GetParam());
  auto order = unique("order");
  auto body = charge_body(order, "tok_visa");
  auto first = service.call("POST", "/payments", body, {{"Idempotency-Key", "restart-key"}});
  ASSERT_EQ(first.status, 201) << first.body;

  service.process().signal(SIGTERM);
  auto status = service.process().wait(15s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << service.system.logs();
  service.system.restart("payment");  // same port, same database file

  auto replay = service.call("POST", "/payments", body, {{"Idempotency-Key", "restart-key"}});
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.header("idempotent-replayed"), "true");
  auto got = service.call("GET", "/payments/" + str(first.json(), "id"));
  EXPECT_EQ(got.body, first.body);
  service.system.stop();
  fs::remove_all(dir);
}

// Both topologies refuse to start: the service's process, or the whole monolith.
TEST_P(PaymentService, KeyRetentionUnderADayStopsTheProcess) {
  auto dir = testing::temp_dir("retention");
  try {
    PaymentSystem service(dir, GetParam(), 1, {{"APP_PAYMENT__IDEMPOTENCY_RETENTION", "1h"}});
    ADD_FAILURE() << "started:\n" << service.system.logs();
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("exited with status 2"), std::string::npos) << what;
    EXPECT_NE(what.find("payment.idempotency_retention"), std::string::npos) << what;
  }
  fs::remove_all(dir);
}

class PaymentThroughGateway : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(PaymentThroughGateway, ReadsAndRefundsPassChargesAreTheSagasOnly) {
  auto dir = testing::temp_dir("gateway");
  PaymentSystem service(dir, GetParam(), 1, {}, {"payment", "gateway"});
  auto gateway_port = service.system.port("gateway");
  auto api = [&](const std::string& method, const std::string& target, const std::string& body = {},
                 const Headers& headers = {}) {
    auto r = testing::http(gateway_port, method, "/api" + target, body, headers);
    EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    return r;
  };
  auto order = unique("order");
  auto body = charge_body(order, "tok_visa");
  // Payments are made by the saga, on the service's own port: not through the gateway, whoever asks.
  EXPECT_EQ(api("POST", "/payments", body, {{"Idempotency-Key", "gw-key"}}).status, 403);
  auto as_service = testing::http(
      gateway_port, "POST", "/api/payments", body,
      {{"Idempotency-Key", "gw-key"},
       {"Authorization", testing::TestTokens::instance().bearer(auth::Role::kService, "order")}});
  EXPECT_EQ(as_service.status, 403) << as_service.body;
  auto first = service.call("POST", "/payments", body, {{"Idempotency-Key", "gw-key"}});
  ASSERT_EQ(first.status, 201) << first.body;
  auto replay = service.call("POST", "/payments", body, {{"Idempotency-Key", "gw-key"}});
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.header("idempotent-replayed"), "true");
  auto listed = api("GET", "/payments?order_id=" + order);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json().at("payments").as_array().size(), 1U);
  auto id = str(first.json(), "id");
  EXPECT_EQ(api("POST", "/payments/" + id + "/refund").status, 200);
  EXPECT_EQ(str(api("GET", "/payments/" + id).json(), "status"), "refunded");
  service.system.stop();
  fs::remove_all(dir);
}

// --- events ------------------------------------------------------------------------------------------

// Over a real broker: every recorded charge is published once as payment.processed and every refund
// once as payment.refunded, keyed by the order; replays, conflicts and refused requests publish nothing.
class PaymentEvents : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(PaymentEvents, ChargesAndRefundsArePublishedOnceKeyedByTheOrder) {
  MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_NATS_URL");
  auto prefix = "e2e" + random_hex(6);
  testing::EventProbe observer(url, prefix, {"payment.processed", "payment.refunded"});
  auto dir = testing::temp_dir("events");
  PaymentSystem service(dir, GetParam(), 1, {{"APP_EVENTS__URL", url}, {"APP_EVENTS__PREFIX", prefix}});

  auto paid = unique("order");
  auto body = charge_body(paid, "tok_visa", 2500, "cust-ev");
  auto first = service.call("POST", "/payments", body, {{"Idempotency-Key", paid}});
  ASSERT_EQ(first.status, 201) << first.body;
  for (int i = 0; i < 2; ++i) {
    auto replay = service.call("POST", "/payments", body, {{"Idempotency-Key", paid}});
    EXPECT_EQ(replay.header("idempotent-replayed"), "true");
  }
  EXPECT_EQ(service.call("POST", "/payments", body).status, 409);  // the order is paid
  auto declined_order = unique("order");
  auto declined = service.call("POST", "/payments", charge_body(declined_order, "tok_chargeDeclined"));
  ASSERT_EQ(declined.status, 201) << declined.body;
  EXPECT_EQ(service.call("POST", "/payments", charge_body(unique("order"), "tok_unknown")).status, 422);
  auto payment_id = str(first.json(), "id");
  ASSERT_EQ(service.call("POST", "/payments/" + payment_id + "/refund").status, 200);
  ASSERT_EQ(service.call("POST", "/payments/" + payment_id + "/refund").status, 200);  // a no-op
  // Committed last, so published last: once it is out, everything before it is too.
  auto sentinel = unique("order");
  ASSERT_EQ(service.call("POST", "/payments", charge_body(sentinel, "tok_visa")).status, 201);

  auto captured = observer.first_with("payment.processed", "order_id", paid);
  ASSERT_TRUE(captured) << service.system.logs();
  EXPECT_EQ(captured->subject, paid);
  EXPECT_EQ(captured->source, "/mercato/payment");
  auto data = boost::json::parse(captured->data).as_object();
  EXPECT_EQ(data.at("payment_id").as_string(), payment_id);
  EXPECT_EQ(data.at("amount_cents").as_int64(), 2500);
  EXPECT_EQ(data.at("status").as_string(), "captured");
  EXPECT_EQ(data.at("customer_id").as_string(), "cust-ev");

  auto decline = observer.first_with("payment.processed", "order_id", declined_order);
  ASSERT_TRUE(decline);
  auto decline_data = boost::json::parse(decline->data).as_object();
  EXPECT_EQ(decline_data.at("status").as_string(), "declined");
  EXPECT_EQ(decline_data.at("decline_reason").as_string(), "card_declined");

  auto refunded = observer.first_with("payment.refunded", "payment_id", payment_id);
  ASSERT_TRUE(refunded);
  EXPECT_EQ(refunded->subject, paid);
  EXPECT_EQ(boost::json::parse(refunded->data).at("amount_cents").as_int64(), 2500);

  ASSERT_TRUE(observer.first_with("payment.processed", "order_id", sentinel));
  // Exactly: the capture, the decline and the sentinel; one refund. A replay or a conflict that had
  // appended an event would show here, published before the sentinel.
  EXPECT_EQ(
      testing::wait_metric(service.port, R"(mercato_events_published_total{type="payment.processed"})", 3),
      3);
  EXPECT_EQ(testing::metric(service.port, R"(mercato_events_published_total{type="payment.refunded"})"), 1);
  service.system.stop();
  fs::remove_all(dir);
}

// --- the order saga -----------------------------------------------------------------------------------

// The saga's commands published on the broker as the order service sends them; each is answered once,
// keyed by its order, in the order the order's commands were sent. On SQLite and PostgreSQL, in both
// topologies.
class PaymentSaga : public ::testing::TestWithParam<std::tuple<testing::Topology, std::string>> {
 protected:
  static testing::Topology topology() { return std::get<0>(GetParam()); }
  static const std::string& store() { return std::get<1>(GetParam()); }
};

TEST_P(PaymentSaga, EachCommandIsAnsweredOnceOverTheBroker) {
  MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_NATS_URL");
  auto prefix = "e2e" + random_hex(6);
  Headers env{{"APP_EVENTS__URL", url}, {"APP_EVENTS__PREFIX", prefix}};
  std::unique_ptr<PostgresSchema> schema;
  if (store() == "postgres") {
    MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
    schema = std::make_unique<PostgresSchema>(base, "paysaga");
    ASSERT_TRUE(schema->ok()) << schema->error();
    env["APP_DATABASE__URL"] = schema->url();
  }
  testing::EventProbe answers(url, prefix, {"payment.processed", "payment.refunded"});
  ASSERT_EQ(answers.error(), "");
  auto dir = testing::temp_dir("payment-saga-" + store());
  PaymentSystem service(dir, topology(), 1, env);
  auto transport = events::open_transport({.url = url, .prefix = prefix});
  ASSERT_TRUE(transport) << transport.error().message;
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto send = [&](const std::string& type, const std::string& order_id, const boost::json::object& data) {
    auto e = events::make_event("order", type, order_id, boost::json::serialize(data), traceparent);
    auto sent = (*transport)->publish(e);
    EXPECT_TRUE(sent) << sent.error().message;
    return e;
  };
  auto charge = [&](const std::string& order_id, const std::string& token) {
    return send("payment.charge_requested", order_id,
                {{"order_id", order_id},
                 {"customer_id", "cust-saga"},
                 {"amount_cents", 4200},
                 {"payment_token", token}});
  };
  auto refund = [&](const std::string& order_id) {
    return send("payment.refund_requested", order_id,
                {{"order_id", order_id}, {"reason", "shipping failed"}});
  };
  auto data_of = [](const events::CloudEvent& e) { return boost::json::parse(e.data).as_object(); };

  // ps-paid: captured; the same command published again (the broker's dedupe window or the inbox drops
  // it); the charge again under a new id and another token (answered from the payment, not charged);
  // refunded; the refund again under a new id (the same refund, not refunded twice).
  auto first = charge("ps-paid", "tok_visa");
  ASSERT_TRUE((*transport)->publish(first));
  charge("ps-paid", "tok_chargeDeclined");
  refund("ps-paid");
  refund("ps-paid");
  // ps-token: a token the processor does not know is declined; its refund has nothing to refund.
  charge("ps-token", "tok_unknown");
  refund("ps-token");
  // ps-none: a refund for an order never charged.
  refund("ps-none");

  auto paid = answers.wait_for("ps-paid", 4);
  ASSERT_EQ(paid.size(), 4U) << service.system.logs();
  for (const auto& e : paid) {
    EXPECT_EQ(e.source, "/mercato/payment");
    EXPECT_EQ(e.traceparent.substr(3, 32), traceparent.substr(3, 32)) << "the command's trace goes on";
    EXPECT_EQ(data_of(e).at("order_id").as_string(), "ps-paid");
  }
  EXPECT_EQ(paid[0].type, "payment.processed");
  EXPECT_EQ(data_of(paid[0]).at("status").as_string(), "captured");
  EXPECT_EQ(data_of(paid[0]).at("amount_cents").as_int64(), 4200);
  EXPECT_EQ(paid[1].type, "payment.processed");
  EXPECT_EQ(data_of(paid[1]), data_of(paid[0]));
  EXPECT_EQ(paid[2].type, "payment.refunded");
  EXPECT_EQ(data_of(paid[2]).at("payment_id"), data_of(paid[0]).at("payment_id"));
  EXPECT_EQ(data_of(paid[2]).at("amount_cents").as_int64(), 4200);
  EXPECT_EQ(paid[3].type, "payment.refunded");
  EXPECT_EQ(data_of(paid[3]), data_of(paid[2]));
  auto token = answers.wait_for("ps-token", 2);
  ASSERT_EQ(token.size(), 2U);
  EXPECT_EQ(token[0].type, "payment.processed");
  EXPECT_EQ(data_of(token[0]).at("status").as_string(), "declined");
  EXPECT_EQ(data_of(token[0]).at("decline_reason").as_string(), "invalid_token");
  EXPECT_FALSE(data_of(token[0]).contains("payment_id"));
  EXPECT_EQ(token[1].type, "payment.refunded");
  EXPECT_EQ(data_of(token[1]).at("amount_cents").as_int64(), 0);
  auto none = answers.wait_for("ps-none", 1);
  ASSERT_EQ(none.size(), 1U);
  EXPECT_EQ(none[0].type, "payment.refunded");
  EXPECT_EQ(data_of(none[0]).at("amount_cents").as_int64(), 0);
  EXPECT_FALSE(data_of(none[0]).contains("payment_id"));

  // One order's answers arrive in the order of its commands: each order's last answer came after any a
  // redelivered command could have caused, so these counts are final.
  std::map<std::string, int> per_order;
  for (const auto& e : answers.seen()) per_order[e.subject]++;
  EXPECT_EQ(per_order, (std::map<std::string, int>{{"ps-paid", 4}, {"ps-token", 2}, {"ps-none", 1}}));
  auto listed = service.call("GET", "/payments?order_id=ps-paid");
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto payments = listed.json().at("payments").as_array();
  ASSERT_EQ(payments.size(), 1U) << "charged once";
  EXPECT_EQ(payments[0].at("status").as_string(), "refunded");
  EXPECT_EQ(payments[0].at("id"), data_of(paid[0]).at("payment_id"));
  EXPECT_TRUE(service.call("GET", "/payments?order_id=ps-token").json().at("payments").as_array().empty());
  service.system.stop();
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Topologies, PaymentE2E, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, PaymentConcurrency, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, PaymentOnPostgres, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, PaymentService, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, PaymentThroughGateway, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, PaymentEvents, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(TopologiesAndStores, PaymentSaga,
                         ::testing::Combine(testing::kTopologies, ::testing::Values("sqlite", "postgres")),
                         [](const auto& test_info) {
                           return testing::to_string(std::get<0>(test_info.param)) + "_" +
                                  std::get<1>(test_info.param);
                         });

}  // namespace
}  // namespace mercato
