// End to end: the real inventory service (and the gateway in front of it for one test), as child processes
// on free loopback ports or as modules of the monolith (docs/topologies.md, testing::System), driven over
// HTTP exactly as the order service and admins will.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <csignal>
#include <filesystem>
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

using testing::data_of;

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;
using testing::PostgresSchema;

// The inventory service in `topology` (docs/topologies.md) with `extra` for it, two I/O threads unless it
// says otherwise (the monolith's shared ones there), and the gateway too when `services` names it.
struct InventoryService {
  explicit InventoryService(const fs::path& dir, std::map<std::string, std::string> extra = {},
                            testing::Topology topology = testing::Topology::kProcesses,
                            std::vector<std::string> services = {"inventory"})
      : system(dir, settings(topology, std::move(services), std::move(extra))),
        port(system.port("inventory")),
        db(dir / "inventory.db") {}
  static testing::SystemSettings settings(testing::Topology topology, std::vector<std::string> services,
                                          std::map<std::string, std::string> env) {
    env.try_emplace("APP_SERVER__THREADS", "2");
    auto threads = env.at("APP_SERVER__THREADS");
    return {.topology = topology,
            .services = std::move(services),
            .per_service = {{"inventory", std::move(env)}},
            .monolith = {{"APP_MONOLITH__SERVER__THREADS", threads}}};
  }
  // Every answer under /inventory is held to the contract, api/inventory.yaml.
  HttpResult call(const std::string& method, const std::string& target, const std::string& body = {}) const {
    auto r = testing::http(port, method, target, body);
    if (target.rfind("/inventory", 0) == 0) {
      EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    }
    return r;
  }
  // The process that runs the service: its own, or the monolith.
  testing::Process& process() { return system.process_of("inventory"); }
  // Starts that process again: same port, same database, same environment.
  void start() { system.restart("inventory"); }

  testing::System system;
  std::uint16_t port;
  fs::path db;  // the SQLite file it uses unless database.url says otherwise
};

std::string message_of_error(const HttpResult& r) {
  return std::string(r.json().at("error").at("message").as_string());
}

std::string product_body(const std::string& name, std::int64_t price, std::int64_t available) {
  return boost::json::serialize(
      boost::json::object{{"name", name}, {"price_cents", price}, {"available", available}});
}

using Lines = std::vector<std::pair<std::string, std::int64_t>>;

std::string reservation_body(const std::string& order_id, const Lines& lines) {
  boost::json::array items;
  for (const auto& [product, quantity] : lines) {
    items.push_back(boost::json::object{{"product_id", product}, {"quantity", quantity}});
  }
  return boost::json::serialize(boost::json::object{{"order_id", order_id}, {"items", std::move(items)}});
}

struct Stock {
  std::int64_t available = -1;
  std::int64_t reserved = -1;
  std::int64_t sold = -1;
  friend bool operator==(const Stock&, const Stock&) = default;
};

std::ostream& operator<<(std::ostream& os, const Stock& s) {
  return os << "{available " << s.available << ", reserved " << s.reserved << ", sold " << s.sold << "}";
}

Stock stock_of(const InventoryService& service, const std::string& product) {
  auto r = service.call("GET", "/inventory/" + product);
  EXPECT_EQ(r.status, 200) << product << ": " << r.body;
  if (r.status != 200) return {};
  auto p = r.json().as_object();
  return {p.at("available").as_int64(), p.at("reserved").as_int64(), p.at("sold").as_int64()};
}

// Starts the inventory service in `topology` with `env`, which must stop it at start-up: what System
// reports then (which process exited, its status, the logs), or "" after a failure when it started.
std::string refusal(const fs::path& dir, testing::Topology topology, std::map<std::string, std::string> env) {
  try {
    InventoryService service(dir, std::move(env), topology);
    ADD_FAILURE() << "started:\n" << service.system.logs();
    return {};
  } catch (const std::runtime_error& e) {
    return e.what();
  }
}

// The inventory service alone, as its own process or as the one module of the monolith; per test (each
// runs in its own process), and each test uses its own product and order ids.
class InventoryE2E : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("shared"));
    service_ = new InventoryService(*dir_, {}, GetParam());
  }
  void TearDown() override {
    delete service_;
    service_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static std::string unique(const std::string& prefix) {
    static std::atomic<int> n{0};
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  }
  static HttpResult call(const std::string& method, const std::string& target, const std::string& body = {}) {
    return service_->call(method, target, body);
  }
  static HttpResult put(const std::string& product, const std::string& name, std::int64_t price,
                        std::int64_t available) {
    return call("PUT", "/inventory/" + product, product_body(name, price, available));
  }
  static HttpResult reserve(const std::string& order_id, const Lines& lines) {
    return call("POST", "/inventory/reservations", reservation_body(order_id, lines));
  }
  // A new product with `available` units; returns its id.
  static std::string new_product(std::int64_t available, std::int64_t price = 100) {
    auto id = unique("sku");
    auto r = put(id, "Product " + id, price, available);
    EXPECT_EQ(r.status, 201) << r.body;
    return id;
  }

  static inline fs::path* dir_ = nullptr;
  static inline InventoryService* service_ = nullptr;
};

TEST_P(InventoryE2E, PutCreatesThenReplacesKeepingReservedAndSold) {
  auto id = unique("mug");
  auto created = put(id, "  Red mug ", 1299, 10);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.header("location"), "/inventory/" + id);
  auto p = created.json().as_object();
  EXPECT_EQ(p.at("product_id").as_string(), id);
  EXPECT_EQ(p.at("name").as_string(), "Red mug");  // trimmed
  EXPECT_EQ(p.at("price_cents").as_int64(), 1299);
  EXPECT_EQ(p.at("available").as_int64(), 10);
  EXPECT_EQ(p.at("reserved").as_int64(), 0);
  EXPECT_EQ(p.at("sold").as_int64(), 0);
  EXPECT_EQ(p.at("updated_at").as_string().size(), 24U);  // 2026-11-29T19:26:53.123Z
  EXPECT_EQ(p.at("created_at"), p.at("updated_at"));
  EXPECT_EQ(p.size(), 8U);

  auto got = call("GET", "/inventory/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), created.json());

  ASSERT_EQ(reserve(unique("order"), {{id, 3}}).status, 201);
  auto sold_order = unique("order");
  ASSERT_EQ(reserve(sold_order, {{id, 2}}).status, 201);
  ASSERT_EQ(call("POST", "/inventory/reservations/" + sold_order + "/commit").status, 200);
  EXPECT_EQ(stock_of(*service_, id), (Stock{5, 3, 2}));

  auto replaced = put(id, "Blue mug", 1499, 40);
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(replaced.header("location"), "");
  auto r = replaced.json().as_object();
  EXPECT_EQ(r.at("name").as_string(), "Blue mug");
  EXPECT_EQ(r.at("price_cents").as_int64(), 1499);
  EXPECT_EQ(r.at("created_at"), p.at("created_at"));
  EXPECT_EQ(stock_of(*service_, id), (Stock{40, 3, 2}));
  EXPECT_EQ(call("GET", "/inventory/" + id).json(), replaced.json());
}

TEST_P(InventoryE2E, ReserveReplayCommit) {
  auto a = new_product(10, 250);
  auto b = new_product(5, 990);
  auto order = unique("order");
  auto reserved = reserve(order, {{a, 3}, {b, 2}});
  ASSERT_EQ(reserved.status, 201) << reserved.body;
  EXPECT_EQ(reserved.header("location"), "/inventory/reservations/" + order);
  auto body = reserved.json().as_object();
  EXPECT_EQ(body.at("order_id").as_string(), order);
  EXPECT_EQ(body.at("status").as_string(), "reserved");
  boost::json::array expected_items{
      boost::json::object{{"product_id", a}, {"quantity", 3}, {"price_cents", 250}},
      boost::json::object{{"product_id", b}, {"quantity", 2}, {"price_cents", 990}}};
  EXPECT_EQ(body.at("items"), expected_items);
  EXPECT_EQ(body.at("created_at").as_string().size(), 24U);
  EXPECT_EQ(body.at("updated_at"), body.at("created_at"));
  EXPECT_EQ(stock_of(*service_, a), (Stock{7, 3, 0}));
  EXPECT_EQ(stock_of(*service_, b), (Stock{3, 2, 0}));

  auto got = call("GET", "/inventory/reservations/" + order);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), reserved.json());

  // The order service retrying: the same items, in any order, replay without moving stock again.
  auto replay = reserve(order, {{b, 2}, {a, 3}});
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json(), reserved.json());
  EXPECT_EQ(stock_of(*service_, a), (Stock{7, 3, 0}));

  for (const auto& other :
       {Lines{{a, 4}, {b, 2}}, Lines{{a, 3}}, Lines{{a, 3}, {b, 2}, {new_product(1), 1}}}) {
    auto conflict = reserve(order, other);
    EXPECT_EQ(conflict.status, 409) << conflict.body;
    EXPECT_EQ(conflict.error_code(), "conflict");
    EXPECT_EQ(conflict.error_field(), "order_id");
  }
  EXPECT_EQ(stock_of(*service_, a), (Stock{7, 3, 0}));

  auto committed = call("POST", "/inventory/reservations/" + order + "/commit");
  ASSERT_EQ(committed.status, 200) << committed.body;
  EXPECT_EQ(committed.json().at("status").as_string(), "committed");
  EXPECT_EQ(committed.json().at("items"), expected_items);
  EXPECT_EQ(stock_of(*service_, a), (Stock{7, 0, 3}));
  EXPECT_EQ(stock_of(*service_, b), (Stock{3, 0, 2}));

  auto again = call("POST", "/inventory/reservations/" + order + "/commit");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json(), committed.json());
  EXPECT_EQ(stock_of(*service_, a), (Stock{7, 0, 3}));

  auto release = call("POST", "/inventory/reservations/" + order + "/release");
  EXPECT_EQ(release.status, 409) << release.body;
  EXPECT_EQ(release.error_code(), "conflict");
  EXPECT_EQ(stock_of(*service_, a), (Stock{7, 0, 3}));

  // A replay after the commit answers with the committed reservation.
  auto late_replay = reserve(order, {{a, 3}, {b, 2}});
  EXPECT_EQ(late_replay.status, 200);
  EXPECT_EQ(late_replay.json(), committed.json());
  EXPECT_EQ(call("GET", "/inventory/reservations/" + order).json(), committed.json());
}

TEST_P(InventoryE2E, ReleaseReturnsStockAndCannotBeCommittedAfterwards) {
  auto a = new_product(4);
  auto order = unique("order");
  ASSERT_EQ(reserve(order, {{a, 4}}).status, 201);
  EXPECT_EQ(stock_of(*service_, a), (Stock{0, 4, 0}));
  auto released = call("POST", "/inventory/reservations/" + order + "/release");
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_EQ(released.json().at("status").as_string(), "released");
  EXPECT_EQ(stock_of(*service_, a), (Stock{4, 0, 0}));

  auto again = call("POST", "/inventory/reservations/" + order + "/release");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json(), released.json());
  EXPECT_EQ(stock_of(*service_, a), (Stock{4, 0, 0}));

  auto commit = call("POST", "/inventory/reservations/" + order + "/commit");
  EXPECT_EQ(commit.status, 409) << commit.body;
  EXPECT_EQ(commit.error_code(), "conflict");
  EXPECT_EQ(stock_of(*service_, a), (Stock{4, 0, 0}));
  EXPECT_EQ(call("GET", "/inventory/reservations/" + order).json().at("status").as_string(), "released");
}

TEST_P(InventoryE2E, NotEnoughStockOnTheSecondLineChangesNothing) {
  auto a = new_product(5);
  auto b = new_product(1);
  auto order = unique("order");
  auto refused = reserve(order, {{a, 3}, {b, 2}});
  ASSERT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.error_code(), "unprocessable");
  EXPECT_EQ(refused.error_field(), "items[1].quantity");
  auto message = message_of_error(refused);
  EXPECT_NE(message.find(b), std::string::npos) << message;
  EXPECT_NE(message.find("1 available"), std::string::npos) << message;
  EXPECT_EQ(stock_of(*service_, a), (Stock{5, 0, 0}));
  EXPECT_EQ(stock_of(*service_, b), (Stock{1, 0, 0}));
  EXPECT_EQ(call("GET", "/inventory/reservations/" + order).status, 404);

  auto unknown = reserve(order, {{a, 1}, {unique("ghost"), 1}});
  ASSERT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_EQ(unknown.error_code(), "unprocessable");
  EXPECT_EQ(unknown.error_field(), "items[1].product_id");
  EXPECT_EQ(stock_of(*service_, a), (Stock{5, 0, 0}));

  // Nothing was recorded under the order id: a request that fits is a fresh reservation.
  EXPECT_EQ(reserve(order, {{a, 3}, {b, 1}}).status, 201);
  EXPECT_EQ(stock_of(*service_, b), (Stock{0, 1, 0}));
}

TEST_P(InventoryE2E, UnknownThingsAre404AndWrongMethods405) {
  auto missing = call("GET", "/inventory/" + unique("nothing"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_code(), "not_found");
  auto order = unique("no-order");
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/inventory/reservations/" + order},
           {"POST", "/inventory/reservations/" + order + "/commit"},
           {"POST", "/inventory/reservations/" + order + "/release"}}) {
    auto r = call(method, target);
    EXPECT_EQ(r.status, 404) << method << " " << target;
    EXPECT_EQ(r.error_code(), "not_found");
  }
  // The collection path is not a product called "reservations".
  for (const char* method : {"GET", "PUT"}) {
    auto r = call(method, "/inventory/reservations", product_body("X", 1, 1));
    EXPECT_EQ(r.status, 405) << method << ": " << r.body;
    EXPECT_EQ(r.error_code(), "method_not_allowed");
    EXPECT_EQ(r.header("allow"), "POST");
  }
  auto deleted = call("DELETE", "/inventory/" + new_product(1));
  EXPECT_EQ(deleted.status, 405);
  EXPECT_EQ(deleted.header("allow"), "GET, HEAD, PUT");
  EXPECT_EQ(call("GET", "/inventory/reservations/x/commit").status, 405);
  EXPECT_EQ(testing::http(service_->port, "POST", "/inventory").status, 404);  // no path: nothing to check
}

struct BadInput {
  const char* name;
  std::string method;
  std::string target;
  std::string body;
  const char* code;
  const char* field;  // "" when the error names no field
};

TEST_P(InventoryE2E, BadInputsGet400NamingTheFieldAndChangeNothing) {
  auto id = new_product(10);
  auto before = call("GET", "/inventory/" + id).json();
  const std::string target = "/inventory/" + id;
  auto put_case = [&](const char* name, std::string body, const char* code, const char* field) {
    return BadInput{name, "PUT", target, std::move(body), code, field};
  };
  auto item = [&](const std::string& fields) { return R"({"order_id":"o-bad","items":[)" + fields + "]}"; };
  auto reserve_case = [&](const char* name, std::string body, const char* field) {
    return BadInput{name, "POST", "/inventory/reservations", std::move(body), "validation_failed", field};
  };
  std::string too_many;
  for (int i = 0; i <= 100; ++i) {
    too_many +=
        std::string(i == 0 ? "" : ",") + R"({"product_id":"p)" + std::to_string(i) + R"(","quantity":1})";
  }
  const std::string ok_line = R"({"product_id":")" + id + R"(","quantity":1})";

  const auto cases = std::to_array<BadInput>({
      // PUT /inventory/{product_id}
      put_case("malformed JSON", R"({"name":)", "malformed_request", ""),
      put_case("empty body", "", "malformed_request", ""),
      put_case("array body", "[1]", "malformed_request", ""),
      put_case("invalid UTF-8", "{\"name\":\"\xff\",\"price_cents\":1,\"available\":1}", "malformed_request",
               ""),
      put_case("missing name", R"({"price_cents":1,"available":1})", "validation_failed", "name"),
      put_case("missing price", R"({"name":"N","available":1})", "validation_failed", "price_cents"),
      put_case("missing available", R"({"name":"N","price_cents":1})", "validation_failed", "available"),
      put_case("name null", R"({"name":null,"price_cents":1,"available":1})", "validation_failed", "name"),
      put_case("name a number", R"({"name":5,"price_cents":1,"available":1})", "validation_failed", "name"),
      put_case("name blank", R"({"name":"   ","price_cents":1,"available":1})", "validation_failed", "name"),
      put_case("name too long",
               R"({"name":")" + std::string(201, 'n') + R"(","price_cents":1,"available":1})",
               "validation_failed", "name"),
      put_case("name with control", R"({"name":"a\u0001b","price_cents":1,"available":1})",
               "validation_failed", "name"),
      put_case("price a float", R"({"name":"N","price_cents":12.5,"available":1})", "validation_failed",
               "price_cents"),
      put_case("price integral float", R"({"name":"N","price_cents":100.0,"available":1})",
               "validation_failed", "price_cents"),
      put_case("price exponent", R"({"name":"N","price_cents":1e3,"available":1})", "validation_failed",
               "price_cents"),
      put_case("price a string", R"({"name":"N","price_cents":"100","available":1})", "validation_failed",
               "price_cents"),
      put_case("price negative", R"({"name":"N","price_cents":-1,"available":1})", "validation_failed",
               "price_cents"),
      put_case("price above 1e12", R"({"name":"N","price_cents":1000000000001,"available":1})",
               "validation_failed", "price_cents"),
      put_case("price beyond int64", R"({"name":"N","price_cents":18446744073709551615,"available":1})",
               "validation_failed", "price_cents"),
      put_case("available negative", R"({"name":"N","price_cents":1,"available":-1})", "validation_failed",
               "available"),
      put_case("available above 1e9", R"({"name":"N","price_cents":1,"available":1000000001})",
               "validation_failed", "available"),
      put_case("available a float", R"({"name":"N","price_cents":1,"available":1.5})", "validation_failed",
               "available"),
      put_case("available a bool", R"({"name":"N","price_cents":1,"available":true})", "validation_failed",
               "available"),
      put_case("unknown field", R"({"name":"N","price_cents":1,"available":1,"reserved":5})",
               "validation_failed", "reserved"),
      // The product id in the path.
      {"id with a space", "PUT", "/inventory/bad%20id", product_body("N", 1, 1), "validation_failed",
       "product_id"},
      {"id with a slash", "PUT", "/inventory/a%2Fb", product_body("N", 1, 1), "validation_failed",
       "product_id"},
      {"id of 65 chars", "PUT", "/inventory/" + std::string(65, 'x'), product_body("N", 1, 1),
       "validation_failed", "product_id"},
      {"id '..'", "PUT", "/inventory/%2E%2E", product_body("N", 1, 1), "validation_failed", "product_id"},
      {"GET bad id", "GET", "/inventory/bad%20id", "", "validation_failed", "product_id"},
      // POST /inventory/reservations
      {"reserve malformed", "POST", "/inventory/reservations", "{", "malformed_request", ""},
      {"reserve empty body", "POST", "/inventory/reservations", "", "malformed_request", ""},
      {"reserve string body", "POST", "/inventory/reservations", "\"x\"", "malformed_request", ""},
      reserve_case("missing order_id", R"({"items":[)" + ok_line + "]}", "order_id"),
      reserve_case("order_id a number", R"({"order_id":7,"items":[)" + ok_line + "]}", "order_id"),
      reserve_case("order_id empty", R"({"order_id":"","items":[)" + ok_line + "]}", "order_id"),
      reserve_case("order_id bad chars", R"({"order_id":"o 1","items":[)" + ok_line + "]}", "order_id"),
      reserve_case("order_id too long",
                   R"({"order_id":")" + std::string(65, 'o') + R"(","items":[)" + ok_line + "]}", "order_id"),
      reserve_case("missing items", R"({"order_id":"o-bad"})", "items"),
      reserve_case("items null", R"({"order_id":"o-bad","items":null})", "items"),
      reserve_case("items an object", R"({"order_id":"o-bad","items":{}})", "items"),
      reserve_case("items empty", item(""), "items"),
      reserve_case("101 items", item(too_many), "items"),
      reserve_case("item a number", item("1"), "items[0]"),
      reserve_case("item null", item(ok_line + ",null"), "items[1]"),
      reserve_case("item missing product_id", item(R"({"quantity":1})"), "items[0].product_id"),
      reserve_case("item missing quantity", item(R"({"product_id":"p"})"), "items[0].quantity"),
      reserve_case("product_id a number", item(R"({"product_id":5,"quantity":1})"), "items[0].product_id"),
      reserve_case("product_id bad chars", item(R"({"product_id":"a b","quantity":1})"),
                   "items[0].product_id"),
      reserve_case("product_id empty", item(ok_line + R"(,{"product_id":"","quantity":1})"),
                   "items[1].product_id"),
      reserve_case("quantity zero", item(R"({"product_id":"p","quantity":0})"), "items[0].quantity"),
      reserve_case("quantity negative", item(R"({"product_id":"p","quantity":-1})"), "items[0].quantity"),
      reserve_case("quantity above 1e6", item(ok_line + R"(,{"product_id":"p","quantity":1000001})"),
                   "items[1].quantity"),
      reserve_case("quantity a float", item(R"({"product_id":"p","quantity":1.5})"), "items[0].quantity"),
      reserve_case("quantity exponent", item(R"({"product_id":"p","quantity":1e2})"), "items[0].quantity"),
      reserve_case("quantity a string", item(R"({"product_id":"p","quantity":"1"})"), "items[0].quantity"),
      reserve_case("quantity beyond int64", item(R"({"product_id":"p","quantity":18446744073709551615})"),
                   "items[0].quantity"),
      reserve_case("unknown field in an item",
                   item(ok_line + R"(,{"product_id":"p","quantity":1,"note":"x"})"), "items[1].note"),
      reserve_case("unknown top-level field",
                   R"({"order_id":"o-bad","customer_id":"c","items":[)" + ok_line + "]}", "customer_id"),
      reserve_case("product twice", item(ok_line + R"(,{"product_id":"other","quantity":1},)" + ok_line),
                   "items[2].product_id"),
      // The order id in the path.
      {"commit bad order id", "POST", "/inventory/reservations/o%201/commit", "", "validation_failed",
       "order_id"},
      {"release bad order id", "POST", "/inventory/reservations/o%201/release", "", "validation_failed",
       "order_id"},
      {"get bad order id", "GET", "/inventory/reservations/" + std::string(65, 'o'), "", "validation_failed",
       "order_id"},
  });
  for (const auto& c : cases) {
    auto r = call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
    if (r.status != 400) continue;
    EXPECT_EQ(r.error_code(), c.code) << c.name;
    EXPECT_EQ(r.error_field(), c.field) << c.name;
    EXPECT_FALSE(message_of_error(r).empty()) << c.name;
    EXPECT_FALSE(r.json().at("error").at("request_id").as_string().empty()) << c.name;
  }
  // Nothing was half-written by any of them.
  EXPECT_EQ(call("GET", "/inventory/" + id).json(), before);
  EXPECT_EQ(call("GET", "/inventory/reservations/o-bad").status, 404);
}

// 200 orders of one unit each, from 8 client threads at once, for 100 units: exactly 100 win. With a
// `second` instance (sharing the first one's store), odd client threads send to it.
void race_for_the_last_units(const InventoryService& service, const std::string& tag,
                             const InventoryService* second = nullptr) {
  auto product = "hot-" + tag + "-" + std::to_string(::getpid());
  ASSERT_EQ(service.call("PUT", "/inventory/" + product, product_body("Hot item", 500, 100)).status, 201);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> created{0};
  std::atomic<int> refused{0};
  std::mutex mutex;
  std::vector<std::string> unexpected;
  std::vector<std::thread> clients;
  clients.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto order = "race-" + tag + "-" + std::to_string(t) + "-" + std::to_string(i);
        const auto& target = second != nullptr && t % 2 == 1 ? *second : service;
        auto r = target.call("POST", "/inventory/reservations", reservation_body(order, {{product, 1}}));
        if (r.status == 201) {
          created++;
        } else if (r.status == 422 && r.error_code() == "unprocessable" &&
                   r.error_field() == "items[0].quantity") {
          refused++;
        } else {
          std::lock_guard lock(mutex);
          unexpected.push_back(std::to_string(r.status) + " " + r.error + " " + r.body);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  EXPECT_EQ(created, 100);
  EXPECT_EQ(refused, 100);
  EXPECT_EQ(stock_of(service, product), (Stock{0, 100, 0}));
  if (second != nullptr) {
    EXPECT_EQ(stock_of(*second, product), (Stock{0, 100, 0}));
  }
}

TEST_P(InventoryE2E, TwoHundredParallelReservationsOfAHundredUnitsExactlyAHundredWin) {
  race_for_the_last_units(*service_, "shared");
}

// The tests of one service instance that are not the shared fixture's, in both topologies.
class InventoryServiceTopologies : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(InventoryServiceTopologies, ParallelReservationsWithAConnectionPoolNeverOversell) {
  // Several connections in shared-lock mode and four I/O threads: transactions really overlap, and
  // BEGIN IMMEDIATE plus the busy timeout must still serialize every stock change.
  auto dir = testing::temp_dir("pool");
  InventoryService service(dir, {{"APP_SERVER__THREADS", "4"}, {"APP_DATABASE__CONNECTIONS", "4"}},
                           GetParam());
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  race_for_the_last_units(service, "pool");
  fs::remove_all(dir);
}

TEST_P(InventoryE2E, ConcurrentRetriesOfOneOrderReserveOnce) {
  auto product = new_product(50);
  auto order = unique("retried");
  std::atomic<int> created{0};
  std::atomic<int> replayed{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  clients.reserve(8);
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = reserve(order, {{product, 7}});
        if (r.status == 201) {
          created++;
        } else if (r.status == 200) {
          replayed++;
        } else {
          other++;
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(replayed, 79);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(stock_of(*service_, product), (Stock{43, 7, 0}));
}

TEST_P(InventoryE2E, CommitAndReleaseRacingEndEachOrderOneWayAndKeepStockWhole) {
  constexpr int kOrders = 40;
  auto product = new_product(kOrders);
  std::vector<std::string> orders;
  for (int i = 0; i < kOrders; ++i) {
    orders.push_back(unique("settle"));
    ASSERT_EQ(reserve(orders.back(), {{product, 1}}).status, 201);
  }
  std::atomic<int> commits{0};
  std::atomic<int> releases{0};
  std::atomic<int> other{0};
  auto settle = [&](const std::string& action, std::atomic<int>& won) {
    for (const auto& order : orders) {
      auto r = call("POST", "/inventory/reservations/" + order + "/" + action);
      if (r.status == 200) {
        won++;
      } else if (r.status != 409) {
        other++;
      }
    }
  };
  std::thread committer([&] { settle("commit", commits); });
  std::thread releaser([&] { settle("release", releases); });
  committer.join();
  releaser.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(commits + releases, kOrders);  // exactly one of the two wins each order
  int committed = 0;
  for (const auto& order : orders) {
    auto status = call("GET", "/inventory/reservations/" + order).json().at("status").as_string();
    EXPECT_NE(status, "reserved");
    committed += status == "committed" ? 1 : 0;
  }
  EXPECT_EQ(committed, commits);
  EXPECT_EQ(stock_of(*service_, product), (Stock{kOrders - committed, 0, committed}));
}

TEST_P(InventoryE2E, ReadinessChecksTheDatabase) {
  static const auto kContract = testing::OpenApiContract::load(testing::api_file("inventory"));
  auto live = call("GET", "/health/live");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(kContract.check("GET", "/health/live", live), "");
  auto ready = call("GET", "/health/ready");
  ASSERT_EQ(ready.status, 200);
  EXPECT_EQ(kContract.check("GET", "/health/ready", ready), "");
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  EXPECT_EQ(call("POST", "/inventory/reservations", "{").status, 400);
  auto metrics = call("GET", "/metrics");
  EXPECT_NE(metrics.body.find(R"(route="/inventory/reservations")"), std::string::npos);
}

TEST_P(InventoryServiceTopologies, AcknowledgedStockSurvivesKill9) {
  auto dir = testing::temp_dir("kill");
  InventoryService service(dir, {}, GetParam());
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  ASSERT_EQ(service.call("PUT", "/inventory/durable", product_body("Durable", 700, 9)).status, 201);
  ASSERT_EQ(
      service.call("POST", "/inventory/reservations", reservation_body("kept", {{"durable", 4}})).status,
      201);
  ASSERT_EQ(service.call("POST", "/inventory/reservations/kept/commit").status, 200);
  ASSERT_EQ(
      service.call("POST", "/inventory/reservations", reservation_body("open", {{"durable", 2}})).status,
      201);
  auto reservation = service.call("GET", "/inventory/reservations/open").json();

  service.process().signal(SIGKILL);
  ASSERT_TRUE(service.process().wait(5s));
  service.start();  // same port, same database file
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  EXPECT_EQ(stock_of(service, "durable"), (Stock{3, 2, 4}));
  EXPECT_EQ(service.call("GET", "/inventory/reservations/open").json(), reservation);
  EXPECT_EQ(service.call("POST", "/inventory/reservations/open/release").status, 200);
  EXPECT_EQ(stock_of(service, "durable"), (Stock{5, 0, 4}));
  fs::remove_all(dir);
}

TEST_P(InventoryServiceTopologies, ReachableThroughTheGateway) {
  auto dir = testing::temp_dir("gateway");
  InventoryService service(dir, {}, GetParam(), {"inventory", "gateway"});
  auto gateway_port = service.system.port("gateway");
  auto api = [&](const std::string& method, const std::string& target, const std::string& body = {}) {
    auto r = testing::http(gateway_port, method, "/api" + target, body, {{"X-Request-ID", "inv-gw-1"}});
    EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    return r;
  };
  EXPECT_EQ(api("PUT", "/inventory/gw-sku", product_body("Via gateway", 100, 2)).status, 201);
  auto refused = api("PUT", "/inventory/gw-sku", product_body("Via gateway", -1, 2));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.json().at("error").at("request_id").as_string(), "inv-gw-1");
  // The saga's routes are not reachable through the gateway: not for an admin (the service refuses
  // the role), not with a service's token (the gateway refuses it).
  auto reserve = reservation_body("gw-order", {{"gw-sku", 2}});
  EXPECT_EQ(api("POST", "/inventory/reservations", reserve).status, 403);
  auto service_token = testing::TestTokens::instance().bearer(auth::Role::kService, "order");
  auto as_service = testing::http(gateway_port, "POST", "/api/inventory/reservations", reserve,
                                  {{"Authorization", service_token}});
  EXPECT_EQ(as_service.status, 403) << as_service.body;
  // The saga reserves and commits on the service's own port.
  EXPECT_EQ(testing::http(service.port, "POST", "/inventory/reservations", reserve).status, 201);
  EXPECT_EQ(api("POST", "/inventory/reservations/gw-order/commit").status, 403);
  EXPECT_EQ(testing::http(service.port, "POST", "/inventory/reservations/gw-order/commit").status, 200);
  auto got = api("GET", "/inventory/gw-sku");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json().at("sold").as_int64(), 2);
  fs::remove_all(dir);
}

// The Redis server that ./mercato test starts, or a skip (a failure under MERCATO_REQUIRE_BACKENDS=1).
std::string redis_url() {
  auto url = testing::backend_url("MERCATO_TEST_REDIS_URL");
  if (url.empty() && testing::backends_required()) ADD_FAILURE() << "MERCATO_TEST_REDIS_URL is not set";
  return url;
}

// The service on Redis, chosen by configuration alone (database.url), under a key prefix of this run.
std::map<std::string, std::string> redis_env(const std::string& url, const std::string& tag) {
  return {{"APP_DATABASE__URL", url},
          {"APP_DATABASE__KEY_PREFIX", "mercato:e2e:" + std::to_string(::getpid()) + ":" + tag + ":"},
          {"APP_DATABASE__CONNECTIONS", "4"},
          {"APP_SERVER__THREADS", "4"}};
}

class InventoryServiceOnRedisTopologies : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(InventoryServiceOnRedisTopologies, TwoHundredParallelReservationsOfAHundredUnitsExactlyAHundredWin) {
  auto url = redis_url();
  if (url.empty()) GTEST_SKIP() << "no Redis server (run through ./mercato test)";
  auto dir = testing::temp_dir("redis-race");
  InventoryService service(dir, redis_env(url, "race"), GetParam());
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  auto ready = service.call("GET", "/health/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  race_for_the_last_units(service, "redis");
  EXPECT_FALSE(fs::exists(service.db)) << "database.url must select Redis, not the SQLite file";
  fs::remove_all(dir);
}

// Two instances on one Redis share the stock: the reserve script, not a process-local lock, decides.
// Separate processes only: the monolith runs one instance of each module.
TEST(InventoryServiceOnRedis, TwoInstancesSharingOneStoreNeverOversell) {
  auto url = redis_url();
  if (url.empty()) GTEST_SKIP() << "no Redis server (run through ./mercato test)";
  auto dir = testing::temp_dir("redis-two");
  InventoryService first(dir / "a", redis_env(url, "two"));
  InventoryService second(dir / "b", redis_env(url, "two"));
  ASSERT_TRUE(testing::wait_ready(first.port)) << first.system.logs();
  ASSERT_TRUE(testing::wait_ready(second.port)) << second.system.logs();
  race_for_the_last_units(first, "redis-two", &second);
  fs::remove_all(dir);
}

TEST_P(InventoryServiceOnRedisTopologies, ReservationsAreAllOrNothingReplayedAndSettledOnce) {
  auto url = redis_url();
  if (url.empty()) GTEST_SKIP() << "no Redis server (run through ./mercato test)";
  auto dir = testing::temp_dir("redis-flow");
  InventoryService service(dir, redis_env(url, "flow"), GetParam());
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  ASSERT_EQ(service.call("PUT", "/inventory/r-a", product_body("A", 150, 5)).status, 201);
  ASSERT_EQ(service.call("PUT", "/inventory/r-b", product_body("B", 990, 1)).status, 201);

  auto short_second =
      service.call("POST", "/inventory/reservations", reservation_body("r-o1", {{"r-a", 3}, {"r-b", 2}}));
  ASSERT_EQ(short_second.status, 422) << short_second.body;
  EXPECT_EQ(short_second.error_field(), "items[1].quantity");
  auto ghost =
      service.call("POST", "/inventory/reservations", reservation_body("r-o1", {{"r-a", 1}, {"r-zz", 1}}));
  ASSERT_EQ(ghost.status, 422);
  EXPECT_EQ(ghost.error_field(), "items[1].product_id");
  EXPECT_EQ(stock_of(service, "r-a"), (Stock{5, 0, 0}));
  EXPECT_EQ(stock_of(service, "r-b"), (Stock{1, 0, 0}));
  EXPECT_EQ(service.call("GET", "/inventory/reservations/r-o1").status, 404);

  auto created =
      service.call("POST", "/inventory/reservations", reservation_body("r-o1", {{"r-a", 3}, {"r-b", 1}}));
  ASSERT_EQ(created.status, 201) << created.body;
  auto replay =
      service.call("POST", "/inventory/reservations", reservation_body("r-o1", {{"r-b", 1}, {"r-a", 3}}));
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json(), created.json());
  auto other = service.call("POST", "/inventory/reservations", reservation_body("r-o1", {{"r-a", 2}}));
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(other.error_field(), "order_id");
  EXPECT_EQ(stock_of(service, "r-a"), (Stock{2, 3, 0}));

  // The admin's PUT sets available and keeps what orders hold.
  ASSERT_EQ(service.call("PUT", "/inventory/r-a", product_body("A2", 175, 10)).status, 200);
  EXPECT_EQ(stock_of(service, "r-a"), (Stock{10, 3, 0}));
  auto committed = service.call("POST", "/inventory/reservations/r-o1/commit");
  ASSERT_EQ(committed.status, 200) << committed.body;
  EXPECT_EQ(committed.json().at("status").as_string(), "committed");
  EXPECT_EQ(service.call("POST", "/inventory/reservations/r-o1/commit").status, 200);
  auto release = service.call("POST", "/inventory/reservations/r-o1/release");
  EXPECT_EQ(release.status, 409);
  EXPECT_EQ(release.error_code(), "conflict");
  EXPECT_EQ(stock_of(service, "r-a"), (Stock{10, 0, 3}));
  EXPECT_EQ(stock_of(service, "r-b"), (Stock{0, 0, 1}));
  EXPECT_EQ(service.call("POST", "/inventory/reservations/r-none/release").status, 404);

  // State lives in Redis: a restarted (killed) instance finds it all.
  auto reservation = service.call("GET", "/inventory/reservations/r-o1").json();
  service.process().signal(SIGKILL);
  ASSERT_TRUE(service.process().wait(5s));
  service.start();
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  EXPECT_EQ(service.call("GET", "/inventory/reservations/r-o1").json(), reservation);
  EXPECT_EQ(stock_of(service, "r-a"), (Stock{10, 0, 3}));
  fs::remove_all(dir);
}

// Both topologies refuse to start: the service's process, or the whole monolith.
TEST_P(InventoryServiceOnRedisTopologies, BadOrUnreachableDatabaseUrlStopsTheProcess) {
  auto dir = testing::temp_dir("redis-config");
  {
    auto refused = refusal(
        dir, GetParam(),
        {{"APP_DATABASE__URL", "mysql://127.0.0.1/x"}, {"APP_DATABASE__PATH", (dir / "x.db").string()}});
    EXPECT_NE(refused.find("exited with status 2"), std::string::npos) << refused;
    EXPECT_NE(refused.find("database.url"), std::string::npos) << refused;
  }
  {
    auto refused = refusal(
        dir, GetParam(),
        {{"APP_DATABASE__URL", "redis://127.0.0.1:1"}, {"APP_DATABASE__PATH", (dir / "x.db").string()}});
    EXPECT_NE(refused.find("exited with status 1"), std::string::npos) << refused;
    EXPECT_NE(refused.find("cannot connect to Redis"), std::string::npos) << refused;
  }
  fs::remove_all(dir);
}

// The service on PostgreSQL, chosen by configuration alone (database.url): four I/O threads and four
// server connections, so reservations really overlap in the server and only row locks order them.
std::map<std::string, std::string> postgres_env(const PostgresSchema& schema) {
  return {
      {"APP_DATABASE__URL", schema.url()}, {"APP_DATABASE__CONNECTIONS", "4"}, {"APP_SERVER__THREADS", "4"}};
}

class InventoryServiceOnPostgresTopologies : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(InventoryServiceOnPostgresTopologies,
       TwoHundredParallelReservationsOfAHundredUnitsExactlyAHundredWin) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "race");
  ASSERT_TRUE(schema.ok()) << schema.error();
  auto dir = testing::temp_dir("postgres-race");
  InventoryService service(dir, postgres_env(schema), GetParam());
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  auto ready = service.call("GET", "/health/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  race_for_the_last_units(service, "postgres");
  EXPECT_FALSE(fs::exists(service.db)) << "database.url must select PostgreSQL, not the SQLite file";
  fs::remove_all(dir);
}

// Two instances on one schema share the stock: row locks in the server, not a process-local lock, decide.
// Separate processes only: the monolith runs one instance of each module.
TEST(InventoryServiceOnPostgres, TwoInstancesSharingOneSchemaNeverOversell) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "two");
  ASSERT_TRUE(schema.ok()) << schema.error();
  auto dir = testing::temp_dir("postgres-two");
  InventoryService first(dir / "a", postgres_env(schema));
  ASSERT_TRUE(testing::wait_ready(first.port)) << first.system.logs();
  InventoryService second(dir / "b", postgres_env(schema));
  ASSERT_TRUE(testing::wait_ready(second.port)) << second.system.logs();
  race_for_the_last_units(first, "postgres-two", &second);
  fs::remove_all(dir);
}

TEST_P(InventoryServiceOnPostgresTopologies, ReservationsAreAllOrNothingReplayedAndSettledOnce) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "flow");
  ASSERT_TRUE(schema.ok()) << schema.error();
  auto dir = testing::temp_dir("postgres-flow");
  InventoryService service(dir, postgres_env(schema), GetParam());
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  ASSERT_EQ(service.call("PUT", "/inventory/p-a", product_body("A", 150, 5)).status, 201);
  ASSERT_EQ(service.call("PUT", "/inventory/p-b", product_body("B", 990, 1)).status, 201);

  auto short_second =
      service.call("POST", "/inventory/reservations", reservation_body("p-o1", {{"p-a", 3}, {"p-b", 2}}));
  ASSERT_EQ(short_second.status, 422) << short_second.body;
  EXPECT_EQ(short_second.error_code(), "unprocessable");
  EXPECT_EQ(short_second.error_field(), "items[1].quantity");
  auto ghost =
      service.call("POST", "/inventory/reservations", reservation_body("p-o1", {{"p-a", 1}, {"p-zz", 1}}));
  ASSERT_EQ(ghost.status, 422);
  EXPECT_EQ(ghost.error_field(), "items[1].product_id");
  EXPECT_EQ(stock_of(service, "p-a"), (Stock{5, 0, 0}));
  EXPECT_EQ(stock_of(service, "p-b"), (Stock{1, 0, 0}));
  EXPECT_EQ(service.call("GET", "/inventory/reservations/p-o1").status, 404);

  auto created =
      service.call("POST", "/inventory/reservations", reservation_body("p-o1", {{"p-a", 3}, {"p-b", 1}}));
  ASSERT_EQ(created.status, 201) << created.body;
  auto replay =
      service.call("POST", "/inventory/reservations", reservation_body("p-o1", {{"p-b", 1}, {"p-a", 3}}));
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json(), created.json());
  auto other = service.call("POST", "/inventory/reservations", reservation_body("p-o1", {{"p-a", 2}}));
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(other.error_field(), "order_id");
  EXPECT_EQ(stock_of(service, "p-a"), (Stock{2, 3, 0}));

  // The admin's PUT sets available and keeps what orders hold.
  ASSERT_EQ(service.call("PUT", "/inventory/p-a", product_body("A2", 175, 10)).status, 200);
  EXPECT_EQ(stock_of(service, "p-a"), (Stock{10, 3, 0}));
  auto committed = service.call("POST", "/inventory/reservations/p-o1/commit");
  ASSERT_EQ(committed.status, 200) << committed.body;
  EXPECT_EQ(committed.json().at("status").as_string(), "committed");
  EXPECT_EQ(service.call("POST", "/inventory/reservations/p-o1/commit").status, 200);
  auto release = service.call("POST", "/inventory/reservations/p-o1/release");
  EXPECT_EQ(release.status, 409);
  EXPECT_EQ(release.error_code(), "conflict");
  EXPECT_EQ(stock_of(service, "p-a"), (Stock{10, 0, 3}));
  EXPECT_EQ(stock_of(service, "p-b"), (Stock{0, 0, 1}));
  EXPECT_EQ(service.call("POST", "/inventory/reservations/p-none/release").status, 404);

  // A second reservation released returns its stock.
  ASSERT_EQ(service.call("POST", "/inventory/reservations", reservation_body("p-o2", {{"p-a", 4}})).status,
            201);
  EXPECT_EQ(stock_of(service, "p-a"), (Stock{6, 4, 3}));
  auto released = service.call("POST", "/inventory/reservations/p-o2/release");
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_EQ(released.json().at("status").as_string(), "released");
  EXPECT_EQ(stock_of(service, "p-a"), (Stock{10, 0, 3}));

  // State lives in PostgreSQL: a restarted (killed) instance finds it all, and migrating again is a no-op.
  auto reservation = service.call("GET", "/inventory/reservations/p-o1").json();
  service.process().signal(SIGKILL);
  ASSERT_TRUE(service.process().wait(5s));
  service.start();
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  EXPECT_EQ(service.call("GET", "/inventory/reservations/p-o1").json(), reservation);
  EXPECT_EQ(stock_of(service, "p-a"), (Stock{10, 0, 3}));
  EXPECT_FALSE(fs::exists(service.db));
  fs::remove_all(dir);
}

// Both topologies refuse to start: the service's process, or the whole monolith.
TEST_P(InventoryServiceOnPostgresTopologies, UnreachableDatabaseUrlStopsTheProcess) {
  auto dir = testing::temp_dir("postgres-config");
  auto refused =
      refusal(dir, GetParam(),
              {{"APP_DATABASE__URL", "postgresql://mercato@127.0.0.1:1/postgres?connect_timeout=2"},
               {"APP_DATABASE__PATH", (dir / "x.db").string()}});
  EXPECT_NE(refused.find("exited with status 1"), std::string::npos) << refused;
  EXPECT_NE(refused.find("cannot connect to PostgreSQL"), std::string::npos) << refused;
  EXPECT_FALSE(fs::exists(dir / "x.db"));
  fs::remove_all(dir);
}

// --- events ------------------------------------------------------------------------------------------

// The value of `series` (name{labels}) on a service's /metrics, 0 when absent (nothing counted yet).
double metric(std::uint16_t port, const std::string& series) {
  auto page = "\n" + testing::http(port, "GET", "/metrics").body;
  auto pos = page.find("\n" + series + " ");
  if (pos == std::string::npos) return 0;
  return std::stod(page.substr(pos + series.size() + 2));
}

// Published events of `type`, summed over every instance (on a shared store, the relay leader publishes
// what any instance appended).
double published(const std::vector<std::unique_ptr<InventoryService>>& instances, const std::string& type) {
  double sum = 0;
  for (const auto& s : instances) {
    sum += metric(s->port, "mercato_events_published_total{type=\"" + type + "\"}");
  }
  return sum;
}

// Over a real broker, on every engine: each change is published once, keyed by the order (or the
// product), and replays, retries, conflicts and refusals publish nothing. "redis-two" runs two instances
// on one Redis: the outbox is shared, one relay publishes, and calls alternate between the instances.
// Both topologies; "redis-two" with separate processes only (the monolith runs one instance of each module).
class InventoryEvents : public ::testing::TestWithParam<std::tuple<testing::Topology, std::string>> {
 protected:
  static testing::Topology topology() { return std::get<0>(GetParam()); }
  static const std::string& engine() { return std::get<1>(GetParam()); }
};

TEST_P(InventoryEvents, EveryChangeIsPublishedOnceKeyedByTheOrder) {
  MERCATO_BACKEND_URL_OR_SKIP(nats, "MERCATO_TEST_NATS_URL");
  auto bus_prefix = "e2e" + random_hex(6);
  std::map<std::string, std::string> env{{"APP_EVENTS__URL", nats}, {"APP_EVENTS__PREFIX", bus_prefix}};
  std::unique_ptr<PostgresSchema> schema;
  int instances_count = 1;
  if (engine() == "postgres") {
    MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
    schema = std::make_unique<PostgresSchema>(base, "events");
    ASSERT_TRUE(schema->ok()) << schema->error();
    env.merge(postgres_env(*schema));
  } else if (engine().starts_with("redis")) {
    MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_REDIS_URL");
    env.merge(redis_env(url, "events-" + random_hex(4)));
    if (engine() == "redis-two") instances_count = 2;
  }
  testing::EventProbe observer(
      nats, bus_prefix,
      {"inventory.reserved", "inventory.committed", "inventory.released", "inventory.product_updated"});
  auto dir = testing::temp_dir("events-" + engine());
  std::vector<std::unique_ptr<InventoryService>> instances;
  instances.reserve(instances_count);
  for (int i = 0; i < instances_count; ++i) {
    instances.push_back(std::make_unique<InventoryService>(dir / std::to_string(i), env, topology()));
  }
  for (const auto& s : instances) ASSERT_TRUE(testing::wait_ready(s->port)) << s->system.logs();
  int turn = 0;
  auto call = [&](const std::string& method, const std::string& target, const std::string& body = {}) {
    return instances[static_cast<std::size_t>(turn++) % instances.size()]->call(method, target, body);
  };

  ASSERT_EQ(call("PUT", "/inventory/ev-a", product_body(" Apple ", 150, 10)).status, 201);
  ASSERT_EQ(call("PUT", "/inventory/ev-b", product_body("Bread", 300, 1)).status, 201);
  auto reserved =
      call("POST", "/inventory/reservations", reservation_body("ev-o1", {{"ev-a", 2}, {"ev-b", 1}}));
  ASSERT_EQ(reserved.status, 201) << reserved.body;
  EXPECT_EQ(
      call("POST", "/inventory/reservations", reservation_body("ev-o1", {{"ev-b", 1}, {"ev-a", 2}})).status,
      200);  // a replay
  EXPECT_EQ(call("POST", "/inventory/reservations", reservation_body("ev-o1", {{"ev-a", 1}})).status, 409);
  EXPECT_EQ(call("POST", "/inventory/reservations", reservation_body("ev-o2", {{"ev-b", 1}})).status, 422);
  ASSERT_EQ(call("POST", "/inventory/reservations/ev-o1/commit").status, 200);
  ASSERT_EQ(call("POST", "/inventory/reservations/ev-o1/commit").status, 200);  // a retry
  ASSERT_EQ(call("POST", "/inventory/reservations", reservation_body("ev-o3", {{"ev-a", 3}})).status, 201);
  ASSERT_EQ(call("POST", "/inventory/reservations/ev-o3/release").status, 200);
  ASSERT_EQ(call("POST", "/inventory/reservations/ev-o3/release").status, 200);  // a retry
  EXPECT_EQ(call("POST", "/inventory/reservations/ev-o3/commit").status, 409);
  // Committed last, so published last: once it is out, everything before it is too.
  ASSERT_EQ(call("PUT", "/inventory/ev-sentinel", product_body("Sentinel", 1, 1)).status, 201);

  auto r = observer.first(
      [](const events::CloudEvent& e) { return e.type == "inventory.reserved" && e.subject == "ev-o1"; });
  ASSERT_TRUE(r) << instances[0]->system.logs();
  EXPECT_EQ(r->source, "/mercato/inventory");
  auto rdata = data_of(*r);
  EXPECT_EQ(rdata.at("order_id").as_string(), "ev-o1");
  EXPECT_EQ(boost::json::serialize(rdata.at("lines")),
            R"([{"product_id":"ev-a","quantity":2},{"product_id":"ev-b","quantity":1}])");
  EXPECT_EQ(rdata.at("reserved_at").as_string(), reserved.json().at("created_at").as_string());
  auto c = observer.first(
      [](const events::CloudEvent& e) { return e.type == "inventory.committed" && e.subject == "ev-o1"; });
  ASSERT_TRUE(c);
  EXPECT_EQ(data_of(*c).at("lines").as_array().size(), 2U);
  auto rel = observer.first(
      [](const events::CloudEvent& e) { return e.type == "inventory.released" && e.subject == "ev-o3"; });
  ASSERT_TRUE(rel);
  EXPECT_EQ(boost::json::serialize(data_of(*rel).at("lines")), R"([{"product_id":"ev-a","quantity":3}])");
  EXPECT_FALSE(data_of(*rel).contains("reason"));
  auto product = observer.first([](const events::CloudEvent& e) {
    return e.type == "inventory.product_updated" && e.subject == "ev-a";
  });
  ASSERT_TRUE(product);
  EXPECT_EQ(data_of(*product).at("name").as_string(), "Apple");
  EXPECT_EQ(data_of(*product).at("available").as_int64(), 10);
  ASSERT_TRUE(observer.first([](const events::CloudEvent& e) {
    return e.type == "inventory.product_updated" && e.subject == "ev-sentinel";
  }));

  // Exactly once each. Counters move after the broker acknowledged a batch: poll them (bounded) until
  // the sentinel's batch is counted, then nothing may exceed the expected count.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (published(instances, "inventory.product_updated") < 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // polls counters; bounded by the deadline
  }
  EXPECT_EQ(published(instances, "inventory.product_updated"), 3);
  EXPECT_EQ(published(instances, "inventory.reserved"), 2);
  EXPECT_EQ(published(instances, "inventory.committed"), 1);
  EXPECT_EQ(published(instances, "inventory.released"), 1);
  instances.clear();
  fs::remove_all(dir);
}

// "processes_sqlite", "monolith_redis", ...
std::string topology_and_engine(
    const ::testing::TestParamInfo<std::tuple<testing::Topology, std::string>>& info) {
  auto name = testing::to_string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Processes, InventoryEvents,
                         ::testing::Combine(::testing::Values(testing::Topology::kProcesses),
                                            ::testing::Values("sqlite", "postgres", "redis", "redis-two")),
                         topology_and_engine);
INSTANTIATE_TEST_SUITE_P(Monolith, InventoryEvents,
                         ::testing::Combine(::testing::Values(testing::Topology::kMonolith),
                                            ::testing::Values("sqlite", "postgres", "redis")),
                         topology_and_engine);

// --- the order saga's commands ------------------------------------------------------------------------

// The order service's commands published on a real broker, on every engine: each is answered once on the
// bus (docs/saga.md), a redelivered command adds nothing, and one repeated under a new id is answered
// from the current state without moving stock again.
// Both topologies.
class InventorySaga : public ::testing::TestWithParam<std::tuple<testing::Topology, std::string>> {
 protected:
  static testing::Topology topology() { return std::get<0>(GetParam()); }
  static const std::string& engine() { return std::get<1>(GetParam()); }
};

TEST_P(InventorySaga, EachCommandIsAnsweredExactlyOnce) {
  MERCATO_BACKEND_URL_OR_SKIP(nats, "MERCATO_TEST_NATS_URL");
  auto bus_prefix = "e2e" + random_hex(6);
  std::map<std::string, std::string> env{{"APP_EVENTS__URL", nats}, {"APP_EVENTS__PREFIX", bus_prefix}};
  std::unique_ptr<PostgresSchema> schema;
  if (engine() == "postgres") {
    MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
    schema = std::make_unique<PostgresSchema>(base, "saga");
    ASSERT_TRUE(schema->ok()) << schema->error();
    env.merge(postgres_env(*schema));
  } else if (engine() == "redis") {
    MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_REDIS_URL");
    env.merge(redis_env(url, "saga-" + random_hex(4)));
  }
  testing::EventProbe answers(
      nats, bus_prefix,
      {"inventory.reserved", "inventory.rejected", "inventory.committed", "inventory.released"});
  ASSERT_EQ(answers.error(), "");
  auto dir = testing::temp_dir("saga-" + engine());
  InventoryService service(dir, env, topology());
  ASSERT_TRUE(testing::wait_ready(service.port)) << service.system.logs();
  ASSERT_EQ(service.call("PUT", "/inventory/sg-a", product_body("A", 150, 5)).status, 201);
  ASSERT_EQ(service.call("PUT", "/inventory/sg-b", product_body("B", 300, 1)).status, 201);

  auto transport = events::open_transport({.url = nats, .prefix = bus_prefix});
  ASSERT_TRUE(transport) << transport.error().message;
  auto send = [&](const std::string& type, const std::string& order_id, const std::string& data) {
    auto e = events::make_event("order", type, order_id, data);
    auto sent = (*transport)->publish(e);
    EXPECT_TRUE(sent) << sent.error().message;
    return e;
  };
  auto reserve_data = [](const std::string& order_id, const Lines& lines) {
    boost::json::array out;
    for (const auto& [product, quantity] : lines) {
      out.push_back(boost::json::object{{"product_id", product}, {"quantity", quantity}});
    }
    return boost::json::serialize(boost::json::object{{"order_id", order_id}, {"lines", std::move(out)}});
  };
  auto order_data = [](const std::string& order_id) { return R"({"order_id":")" + order_id + R"("})"; };

  // sg-o1: reserved, the reserve redelivered (same id: the broker's dedupe window or the inbox drops it),
  // committed, the commit repeated under a new id, then a release of what was sold — refused, and
  // answered last.
  auto reserve = send("inventory.reserve_requested", "sg-o1", reserve_data("sg-o1", {{"sg-a", 2}}));
  ASSERT_TRUE((*transport)->publish(reserve));
  send("inventory.commit_requested", "sg-o1", order_data("sg-o1"));
  send("inventory.commit_requested", "sg-o1", order_data("sg-o1"));
  send("inventory.release_requested", "sg-o1", R"({"order_id":"sg-o1","reason":"too late"})");
  // sg-o2: short of stock; sg-o3: nothing to release.
  send("inventory.reserve_requested", "sg-o2", reserve_data("sg-o2", {{"sg-a", 1}, {"sg-b", 2}}));
  send("inventory.release_requested", "sg-o3", R"({"order_id":"sg-o3","reason":"payment declined"})");

  auto o1 = answers.wait_for("sg-o1", 4);
  ASSERT_EQ(o1.size(), 4U) << service.system.logs();
  EXPECT_EQ(o1[0].type, "inventory.reserved");
  EXPECT_EQ(data_of(o1[0]).at("lines"), (boost::json::array{{{"product_id", "sg-a"}, {"quantity", 2}}}));
  EXPECT_EQ(o1[1].type, "inventory.committed");
  EXPECT_EQ(o1[2].type, "inventory.committed");
  EXPECT_EQ(data_of(o1[2]).at("committed_at"), data_of(o1[1]).at("committed_at"));
  EXPECT_EQ(o1[3].type, "inventory.rejected");
  EXPECT_EQ(data_of(o1[3]).at("reason").as_string(), "already committed");
  for (const auto& e : o1) {
    EXPECT_EQ(e.source, "/mercato/inventory");
    EXPECT_EQ(data_of(e).at("order_id").as_string(), "sg-o1");
  }
  auto o2 = answers.wait_for("sg-o2", 1);
  ASSERT_EQ(o2.size(), 1U);
  EXPECT_EQ(o2[0].type, "inventory.rejected");
  EXPECT_EQ(data_of(o2[0]),
            (boost::json::object{{"order_id", "sg-o2"}, {"reason", "out of stock"}, {"product_id", "sg-b"}}));
  auto o3 = answers.wait_for("sg-o3", 1);
  ASSERT_EQ(o3.size(), 1U);
  EXPECT_EQ(o3[0].type, "inventory.released");
  EXPECT_TRUE(data_of(o3[0]).at("lines").as_array().empty());

  // One subject's answers arrive in the order of its commands: sg-o1's last answer came after any the
  // redelivered reserve could have caused, so these counts are final.
  std::map<std::string, int> per_order;
  for (const auto& e : answers.seen()) per_order[e.subject]++;
  EXPECT_EQ(per_order, (std::map<std::string, int>{{"sg-o1", 4}, {"sg-o2", 1}, {"sg-o3", 1}}));
  EXPECT_EQ(stock_of(service, "sg-a"), (Stock{3, 0, 2})) << "reserved and sold once";
  EXPECT_EQ(stock_of(service, "sg-b"), (Stock{1, 0, 0}));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Topologies, InventorySaga,
                         ::testing::Combine(testing::kTopologies,
                                            ::testing::Values("sqlite", "postgres", "redis")),
                         topology_and_engine);

INSTANTIATE_TEST_SUITE_P(Topologies, InventoryE2E, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, InventoryServiceTopologies, testing::kTopologies,
                         testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, InventoryServiceOnRedisTopologies, testing::kTopologies,
                         testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, InventoryServiceOnPostgresTopologies, testing::kTopologies,
                         testing::topology_name);

}  // namespace
}  // namespace mercato
