// End to end: who may call what (docs/security.md, "Who may call what"). The whole system — gateway and
// the six services, each verifying tokens with the keys it fetched from the real user service — and one
// table: every route × {anonymous, customer A, customer B, admin, service}, with the status each cell
// must get. Every cell is sent twice: through the gateway (where a service's token is always refused:
// services call each other directly) and straight to the service (which checks again, trusting no one
// upstream). The whole table runs against both topologies: separate processes and the monolith
// (docs/topologies.md). The identities are real: A and B register and log in, the admin is the account the
// user service makes at first start, the service's token comes from the client-credentials grant.
//
// Reading another customer's object answers 404, as if it did not exist; a list of another customer's
// objects is empty. The test also checks those bodies, so that no cell leaks through a 200.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "mercato/core/ids.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

namespace fs = std::filesystem;
using testing::HttpResult;

enum Caller { kAnonymous, kCustomerA, kCustomerB, kAdmin, kService, kCallers };
constexpr std::array<const char*, kCallers> kCallerNames = {"anonymous", "customer A", "customer B", "admin",
                                                            "service"};
constexpr const char* kPassword = "correct horse battery";
constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

std::string field(const HttpResult& r, const char* name) {
  auto v = r.json();
  const auto* f = v.is_object() ? v.as_object().if_contains(name) : nullptr;
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
}

class AuthzE2E : public ::testing::TestWithParam<testing::Topology> {
 protected:
  // Per test (each runs in its own process): the whole system in the topology of the parameter.
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("authz"));
    auto admin_password = *dir_ / "admin-password";
    std::ofstream(admin_password) << "admin password for the matrix";
    testing::SystemSettings settings{.topology = GetParam()};
    for (const auto& s : testing::all_services()) {
      // Keys from the user service over HTTP, not from the test issuer's file: the real path.
      if (s != "user") settings.per_service[s]["APP_AUTH__JWKS_FILE"] = "";
      // Each service's events stay with it, in both topologies: the matrix is about who may call what,
      // and sagas running underneath would change what a cell finds (a confirmed order cannot be
      // cancelled).
      if (s != "gateway") settings.per_service[s]["APP_EVENTS__URL"] = "inprocess://" + s;
    }
    settings.per_service["user"]["APP_AUTH__ADMIN__PASSWORD_FILE"] = admin_password.string();
    settings.per_service["notification"]["APP_NOTIFICATION__OUTBOX_FILE"] = (*dir_ / "outbox.log").string();
    system_ = new testing::System(*dir_, std::move(settings));
    gateway_port_ = system_->port("gateway");

    auto a = register_and_login("a");
    auto b = register_and_login("b");
    a_id_ = new std::string(a.first);
    b_id_ = new std::string(b.first);
    auth_[kAnonymous] = "";
    auth_[kCustomerA] = "Bearer " + a.second;
    auth_[kCustomerB] = "Bearer " + b.second;
    auth_[kAdmin] = "Bearer " + login("admin@mercato.local", "admin password for the matrix");
    auth_[kService] = "Bearer " + service_token();
    ASSERT_FALSE(auth_[kAdmin] == "Bearer ");
    ASSERT_FALSE(auth_[kService] == "Bearer ");
    // The product every order is for (each test runs in its own process, with its own system).
    setup(kAdmin, "PUT", "/inventory/mx-sku", R"({"name":"Mug","price_cents":1299,"available":1000})");
  }

  void TearDown() override {
    delete system_;
    fs::remove_all(*dir_);
    delete dir_;
    delete a_id_;
    delete b_id_;
  }

  static std::string login(const std::string& email, const std::string& password) {
    auto r =
        testing::http(gateway_port_, "POST", "/api/auth/login",
                      boost::json::serialize(boost::json::object{{"email", email}, {"password", password}}),
                      {{"Authorization", ""}});
    EXPECT_EQ(r.status, 200) << email << ": " << r.body;
    return r.status == 200 ? field(r, "access_token") : std::string();
  }

  static std::pair<std::string, std::string> register_and_login(const std::string& who) {
    auto email = "authz-" + who + "-" + std::to_string(::getpid()) + "@example.com";
    auto r = testing::http(gateway_port_, "POST", "/api/users",
                           boost::json::serialize(boost::json::object{
                               {"email", email}, {"name", "Customer " + who}, {"password", kPassword}}),
                           {{"Authorization", ""}});
    EXPECT_EQ(r.status, 201) << r.body;
    return {field(r, "id"), login(email, kPassword)};
  }

  // The client-credentials grant, as a service gets its token (the test suite's secret is every
  // service's: testing/tokens.hpp).
  static std::string service_token() {
    auto r = testing::http(system_->port("user"), "POST", "/auth/token",
                           boost::json::serialize(boost::json::object{
                               {"grant_type", "client_credentials"},
                               {"client_id", "payment"},
                               {"client_secret", testing::TestTokens::instance().client_secret()}}),
                           {{"Authorization", ""}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? field(r, "access_token") : std::string();
  }

  // The service that owns a path.
  static std::uint16_t port_of(const std::string& path) {
    auto starts = [&](const char* p) { return path.rfind(p, 0) == 0; };
    if (starts("/users") || starts("/auth") || starts("/.well-known")) return system_->port("user");
    if (starts("/orders") || starts("/admin/orders") || starts("/admin/projections"))
      return system_->port("order");
    if (starts("/payments")) return system_->port("payment");
    if (starts("/inventory")) return system_->port("inventory");
    if (starts("/shipments")) return system_->port("shipping");
    return system_->port("notification");
  }

  static HttpResult as(Caller who, std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {}) {
    return testing::http(port, method, target, body, {{"Authorization", auth_[who]}});
  }
  // Setup calls by the one allowed to make them, on the service's own port.
  static HttpResult setup(Caller who, const std::string& method, const std::string& path,
                          const std::string& body = {}) {
    auto r = as(who, port_of(path), method, path, body);
    EXPECT_TRUE(r.status == 200 || r.status == 201) << method << " " << path << ": " << r.body;
    return r;
  }

  static std::string unique(const std::string& what) { return what + "-" + random_hex(6); }

  // A's order, placed by A through the gateway.
  static std::string order_of_a(std::string* position = nullptr) {
    auto r = as(kCustomerA, gateway_port_, "POST", "/api/orders", order_body(""));
    EXPECT_EQ(r.status, 201) << r.body;
    // The stream position the write reached: a list (the read model, which the projector fills a
    // moment later) passed it as ?min_position= waits until it has the order.
    if (position != nullptr) *position = r.header("mercato-position");
    return field(r, "id");
  }
  static std::string order_body(const std::string& customer) {
    std::string who = customer.empty() ? "" : R"("customer_id":")" + customer + R"(",)";
    return "{" + who + R"("items":[{"product_id":"mx-sku","quantity":1}],"payment_token":"tok_visa",)" +
           R"("shipping_address":)" + kAddress + "}";
  }
  static std::string payment_body(const std::string& order) {
    return R"({"order_id":")" + order + R"(","customer_id":")" + *a_id_ +
           R"(","amount_cents":1299,"payment_token":"tok_visa"})";
  }
  static std::string shipment_body(const std::string& order) {
    return R"({"order_id":")" + order + R"(","customer_id":")" + *a_id_ + R"(","address":)" + kAddress + "}";
  }
  static std::string reservation_body(const std::string& order) {
    return R"({"order_id":")" + order + R"(","items":[{"product_id":"mx-sku","quantity":1}]})";
  }

  static inline fs::path* dir_ = nullptr;
  static inline testing::System* system_ = nullptr;
  static inline std::uint16_t gateway_port_ = 0;
  static inline std::array<std::string, kCallers> auth_;
  static inline std::string *a_id_ = nullptr, *b_id_ = nullptr;
};

// One row of the matrix: a route, how to make a fresh target and body for one cell (state-changing
// routes get their own object per cell, so that cells do not depend on each other), whether the gateway
// routes it, and the status per caller.
struct Row {
  std::string method;
  std::string route;  // for the report
  std::function<std::string()> target;
  std::function<std::string()> body;
  std::array<int, kCallers> expected;
  bool through_gateway = true;
  std::uint16_t port = 0;  // the service's port; 0: the one that owns the path
};

TEST_P(AuthzE2E, EveryRouteForEveryCallerAnswersAsTheTableSays) {
  // What the cells work on: A's order with its reservation, payment, shipment and notification (made
  // by the ones allowed to).
  auto order = order_of_a();
  ASSERT_FALSE(order.empty());
  auto reservation_order = unique("mx-res");
  setup(kService, "POST", "/inventory/reservations", reservation_body(reservation_order));
  auto payment = field(setup(kService, "POST", "/payments", payment_body(order)), "id");
  auto shipment = field(setup(kService, "POST", "/shipments", shipment_body(order)), "id");
  setup(kService, "POST", "/notifications",
        R"({"customer_id":")" + *a_id_ + R"(","order_id":")" + order +
            R"(","kind":"order_confirmed","message":"Thank you"})");
  const std::string a = *a_id_;
  auto fixed = [](const std::string& t) { return [t] { return t; }; };
  auto none = [] { return std::string(); };
  auto fresh_reservation = [&] {
    auto id = unique("mx-res");
    setup(kService, "POST", "/inventory/reservations", reservation_body(id));
    return id;
  };
  auto fresh_payment = [&] {
    return field(setup(kService, "POST", "/payments", payment_body(unique("mx-o"))), "id");
  };
  auto fresh_shipment = [&] {
    return field(setup(kService, "POST", "/shipments", shipment_body(unique("mx-o"))), "id");
  };

  //                                                                         anon  A    B    admin service
  std::vector<Row> rows = {
      {"GET", "/users/{A}", fixed("/users/" + a), none, {401, 200, 404, 200, 200}},
      {"PATCH",
       "/users/{A}",
       fixed("/users/" + a),
       [] { return std::string(R"({"name":"Ann B"})"); },
       {401, 200, 404, 200, 403}},
      {"POST",
       "/users",
       fixed("/users"),
       [] {
         return R"({"email":")" + unique("mx-reg") +
                R"(@example.com","name":"R","password":"correct horse"})";
       },
       {201, 201, 201, 201, 201}},
      {"GET",
       "/.well-known/jwks.json",
       fixed("/.well-known/jwks.json"),
       none,
       {200, 200, 200, 200, 200},
       false},
      {"GET", "/inventory/{product}", fixed("/inventory/mx-sku"), none, {200, 200, 200, 200, 200}},
      {"PUT",
       "/inventory/{product}",
       fixed("/inventory/mx-sku"),
       [] { return std::string(R"({"name":"Mug","price_cents":1299,"available":1000})"); },
       {401, 403, 403, 200, 403}},
      {"POST",
       "/inventory/reservations",
       fixed("/inventory/reservations"),
       [&] { return reservation_body(unique("mx-res")); },
       {401, 403, 403, 403, 201}},
      {"GET",
       "/inventory/reservations/{order}",
       fixed("/inventory/reservations/" + reservation_order),
       none,
       {401, 403, 403, 200, 200}},
      {"POST",
       "/inventory/reservations/{order}/commit",
       [&] { return "/inventory/reservations/" + fresh_reservation() + "/commit"; },
       none,
       {401, 403, 403, 403, 200}},
      {"POST",
       "/inventory/reservations/{order}/release",
       [&] { return "/inventory/reservations/" + fresh_reservation() + "/release"; },
       none,
       {401, 403, 403, 403, 200}},
      {"POST", "/orders (for A)", fixed("/orders"), [&] { return order_body(a); }, {401, 201, 403, 201, 403}},
      {"GET", "/orders?customer_id={A}", fixed("/orders?customer_id=" + a), none, {401, 200, 200, 200, 200}},
      // Without customer_id: a customer's own, an admin's every customer's; a service must name one.
      {"GET", "/orders", fixed("/orders"), none, {401, 200, 200, 200, 400}},
      {"GET", "/orders/{A's}", fixed("/orders/" + order), none, {401, 200, 404, 200, 200}},
      {"GET", "/orders/{A's}/saga", fixed("/orders/" + order + "/saga"), none, {401, 200, 404, 200, 200}},
      {"GET", "/orders/{A's}/events", fixed("/orders/" + order + "/events"), none, {401, 200, 404, 200, 200}},
      {"GET",
       "/orders/{A's}?at_version=1",
       fixed("/orders/" + order + "?at_version=1"),
       none,
       {401, 200, 404, 200, 200}},
      {"GET", "/orders/reports/sales", fixed("/orders/reports/sales"), none, {401, 403, 403, 200, 403}},
      {"POST",
       "/orders/{A's}/cancel",
       [&] { return "/orders/" + order_of_a() + "/cancel"; },
       none,
       {401, 200, 404, 200, 403}},
      {"GET", "/admin/orders", fixed("/admin/orders?limit=5"), none, {401, 403, 403, 200, 200}, false},
      {"GET", "/admin/projections", fixed("/admin/projections"), none, {401, 403, 403, 200, 200}, false},
      {"POST",
       "/admin/projections/{name}/rebuild",
       fixed("/admin/projections/nope/rebuild"),
       none,
       {401, 403, 403, 404, 403},
       false},
      {"GET",
       "/payments?order_id={A's}",
       fixed("/payments?order_id=" + order),
       none,
       {401, 200, 200, 200, 200}},
      {"GET", "/payments/{A's}", fixed("/payments/" + payment), none, {401, 200, 404, 200, 200}},
      {"POST",
       "/payments",
       fixed("/payments"),
       [&] { return payment_body(unique("mx-o")); },
       {401, 403, 403, 403, 201}},
      {"POST",
       "/payments/{id}/refund",
       [&] { return "/payments/" + fresh_payment() + "/refund"; },
       none,
       {401, 403, 403, 200, 200}},
      {"GET",
       "/shipments?order_id={A's}",
       fixed("/shipments?order_id=" + order),
       none,
       {401, 200, 200, 200, 200}},
      {"GET", "/shipments/{A's}", fixed("/shipments/" + shipment), none, {401, 200, 404, 200, 200}},
      {"POST",
       "/shipments",
       fixed("/shipments"),
       [&] { return shipment_body(unique("mx-o")); },
       {401, 403, 403, 403, 201}},
      {"POST",
       "/shipments/{id}/cancel",
       [&] { return "/shipments/" + fresh_shipment() + "/cancel"; },
       none,
       {401, 403, 403, 200, 200}},
      {"GET",
       "/notifications?customer_id={A}",
       fixed("/notifications?customer_id=" + a),
       none,
       {401, 200, 200, 200, 200}},
      {"POST",
       "/notifications",
       fixed("/notifications"),
       [&] {
         return R"({"customer_id":")" + a + R"(","order_id":")" + unique("mx-o") +
                R"(","kind":"order_confirmed","message":"Thank you"})";
       },
       {401, 403, 403, 403, 201}},
      {"GET",
       "/admin/dead-letters (payment)",
       fixed("/admin/dead-letters"),
       none,
       {401, 403, 403, 200, 200},
       false,
       system_->port("payment")},
  };

  std::ostringstream wrong;
  int cells = 0;
  for (const auto& row : rows) {
    for (int c = 0; c < kCallers; ++c) {
      auto who = static_cast<Caller>(c);
      auto target = row.target();
      auto port = row.port != 0 ? row.port : port_of(target);
      auto direct = as(who, port, row.method, target, row.body());
      ++cells;
      if (direct.status != row.expected[c]) {
        wrong << row.method << " " << row.route << " as " << kCallerNames[c]
              << " at the service: " << direct.status << " (expected " << row.expected[c] << ") "
              << direct.body.substr(0, 160) << "\n";
      }
      if (!row.through_gateway) continue;
      // Through the gateway: the same answer, except that a service's token is refused there.
      int via_expected = who == kService ? 403 : row.expected[c];
      auto via = as(who, gateway_port_, row.method, "/api" + row.target(), row.body());
      ++cells;
      if (via.status != via_expected) {
        wrong << row.method << " " << row.route << " as " << kCallerNames[c]
              << " through the gateway: " << via.status << " (expected " << via_expected << ") "
              << via.body.substr(0, 160) << "\n";
      }
    }
  }
  EXPECT_EQ(wrong.str(), "") << "cells that differ from the table (of " << cells << "):\n" << wrong.str();
}

// Where a 200 is a list, another customer's list is empty, and a 404 says nothing else: no cell leaks.
TEST_P(AuthzE2E, AnotherCustomersListsAreEmptyAndTheir404sSayNothingMore) {
  std::string position;
  auto order = order_of_a(&position);
  ASSERT_FALSE(order.empty());
  ASSERT_FALSE(position.empty()) << "the placement did not say its position";
  setup(kService, "POST", "/payments", payment_body(order));
  setup(kService, "POST", "/shipments", shipment_body(order));
  setup(kService, "POST", "/notifications",
        R"({"customer_id":")" + *a_id_ + R"(","order_id":")" + order +
            R"(","kind":"order_confirmed","message":"Thank you"})");
  struct List {
    std::string target, member;
  };
  for (const auto& [target, member] :
       {List{"/orders?customer_id=" + *a_id_ + "&min_position=" + position, "orders"},
        List{"/payments?order_id=" + order, "payments"}, List{"/shipments?order_id=" + order, "shipments"},
        List{"/notifications?customer_id=" + *a_id_, "notifications"}}) {
    auto mine = as(kCustomerA, gateway_port_, "GET", "/api" + target);
    ASSERT_EQ(mine.status, 200) << target << ": " << mine.body;
    EXPECT_FALSE(mine.json().at(member).as_array().empty()) << target;
    auto theirs = as(kCustomerB, gateway_port_, "GET", "/api" + target);
    ASSERT_EQ(theirs.status, 200) << target << ": " << theirs.body;
    EXPECT_TRUE(theirs.json().at(member).as_array().empty()) << target << ": " << theirs.body;
  }
  // A 404 for another customer's object reads as one for an object that does not exist: the same body
  // but for the id and the request id.
  auto payment = field(setup(kService, "POST", "/payments", payment_body(unique("mx-o"))), "id");
  auto shipment = field(setup(kService, "POST", "/shipments", shipment_body(unique("mx-o"))), "id");
  auto normalized = [](const HttpResult& r, const std::string& id) {
    auto error = r.json().at("error").as_object();
    error.erase("request_id");
    auto text = boost::json::serialize(error);
    for (auto at = text.find(id); at != std::string::npos; at = text.find(id))
      text.replace(at, id.size(), "ID");
    return text;
  };
  for (const auto& [prefix, hidden] : {std::pair<std::string, std::string>{"/orders/", order},
                                       {"/payments/", payment},
                                       {"/shipments/", shipment},
                                       {"/users/", *a_id_}}) {
    auto theirs = as(kCustomerB, gateway_port_, "GET", "/api" + prefix + hidden);
    auto missing_id = new_uuid();
    auto missing = as(kCustomerB, gateway_port_, "GET", "/api" + prefix + missing_id);
    ASSERT_EQ(theirs.status, 404) << prefix << ": " << theirs.body;
    ASSERT_EQ(missing.status, 404) << prefix << ": " << missing.body;
    EXPECT_EQ(normalized(theirs, hidden), normalized(missing, missing_id)) << prefix;
  }
  // Without customer_id, a customer's lists are their own.
  auto own = as(kCustomerA, gateway_port_, "GET", "/api/orders");
  ASSERT_EQ(own.status, 200) << own.body;
  auto own_orders = own.json();
  ASSERT_FALSE(own_orders.at("orders").as_array().empty());
  for (const auto& o : own_orders.at("orders").as_array()) EXPECT_EQ(o.at("customer_id").as_string(), *a_id_);
  // Another customer's list without customer_id does not name A's order; an admin's list without
  // customer_id does (every customer's orders, newest first: the dashboard's recent orders).
  std::string a_order(own_orders.at("orders").as_array().front().at("id").as_string());
  auto listed = [&](Caller who, std::string target) {
    for (int page = 0; page < 50; ++page) {  // bounded: other tests' orders may come first
      auto r = as(who, gateway_port_, "GET", target);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) return false;
      auto body = r.json();
      for (const auto& o : body.at("orders").as_array()) {
        if (o.at("id").as_string() == a_order) return true;
      }
      if (!body.at("next_cursor").is_string()) return false;
      target = "/api/orders?limit=100&cursor=" + std::string(body.at("next_cursor").as_string());
    }
    return false;
  };
  EXPECT_FALSE(listed(kCustomerB, "/api/orders?limit=100"));
  EXPECT_TRUE(listed(kAdmin, "/api/orders?limit=100"));
}

// The order a customer places is theirs whatever the body says; an admin may place one for a customer.
TEST_P(AuthzE2E, ACustomerPlacesOrdersForThemselvesOnly) {
  auto own = as(kCustomerB, gateway_port_, "POST", "/api/orders", order_body(""));
  ASSERT_EQ(own.status, 201) << own.body;
  EXPECT_EQ(field(own, "customer_id"), *b_id_);
  auto for_a = as(kCustomerB, gateway_port_, "POST", "/api/orders", order_body(*a_id_));
  EXPECT_EQ(for_a.status, 403) << for_a.body;
  EXPECT_EQ(for_a.error_code(), "permission_denied");
  auto by_admin = as(kAdmin, gateway_port_, "POST", "/api/orders", order_body(*a_id_));
  ASSERT_EQ(by_admin.status, 201) << by_admin.body;
  EXPECT_EQ(field(by_admin, "customer_id"), *a_id_);
  auto admin_without = as(kAdmin, gateway_port_, "POST", "/api/orders", order_body(""));
  EXPECT_EQ(admin_without.status, 400);
  EXPECT_EQ(admin_without.error_field(), "customer_id");
}

// Identities that do not verify are 401 everywhere, with WWW-Authenticate; the client-credentials grant
// has one answer for an unknown client and a wrong secret.
TEST_P(AuthzE2E, BadTokensAndBadClientCredentialsAre401) {
  auto& tokens = testing::TestTokens::instance();
  auto now = now_utc();
  auth::Claims forged{.subject = *a_id_,
                      .role = "admin",
                      .issuer = "someone-else",
                      .audience = "mercato",
                      .issued_at = now,
                      .not_before = now,
                      .expires_at = now + std::chrono::minutes(5),
                      .token_id = "x"};
  for (const auto& bad : {std::string("Bearer ") + tokens.sign(forged), std::string("Bearer x.y.z"),
                          std::string("Bearer"), std::string("Basic YTpi")}) {
    for (auto port : {gateway_port_, system_->port("order")}) {
      auto r = testing::http(port, "GET", port == gateway_port_ ? "/api/orders" : "/orders", "",
                             {{"Authorization", bad}});
      EXPECT_EQ(r.status, 401) << bad << ": " << r.body;
      EXPECT_EQ(r.error_code(), "unauthenticated");
      EXPECT_NE(r.header("www-authenticate").find("Bearer"), std::string::npos);
    }
  }
  // Even an open route refuses a bad token rather than treating its bearer as anonymous.
  EXPECT_EQ(
      testing::http(gateway_port_, "GET", "/api/inventory/mx-sku", "", {{"Authorization", "Bearer x.y.z"}})
          .status,
      401);
  auto grant = [&](const std::string& id, const std::string& secret) {
    return testing::http(
        system_->port("user"), "POST", "/auth/token",
        boost::json::serialize(boost::json::object{
            {"grant_type", "client_credentials"}, {"client_id", id}, {"client_secret", secret}}),
        {{"Authorization", ""}});
  };
  auto wrong_secret = grant("payment", "not the secret");
  auto unknown = grant("nobody", tokens.client_secret());
  EXPECT_EQ(wrong_secret.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong_secret.body.substr(0, wrong_secret.body.find("request_id")),
            unknown.body.substr(0, unknown.body.find("request_id")));
  EXPECT_EQ(grant("payment", tokens.client_secret()).status, 200);
  // Through the gateway the grant does not exist, even with the right secret.
  auto via_gateway =
      testing::http(gateway_port_, "POST", "/api/auth/token",
                    boost::json::serialize(boost::json::object{{"grant_type", "client_credentials"},
                                                               {"client_id", "payment"},
                                                               {"client_secret", tokens.client_secret()}}),
                    {{"Authorization", ""}});
  EXPECT_EQ(via_gateway.status, 404) << via_gateway.body;
}

// The monolith answers every cell as the separate processes do: its calls between modules are function
// calls, and still go through every module's own checks.
INSTANTIATE_TEST_SUITE_P(Both, AuthzE2E, testing::kTopologies, testing::topology_name);

}  // namespace
}  // namespace mercato
