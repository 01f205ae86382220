// The saga handlers over the real SQLite store and event store: each command is answered once, in the
// outbox the relay publishes from, and a repeat never creates or cancels twice.
#include "app/saga_handlers.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <memory>
#include <utility>

#include "adapters/sql_shipment_repository.hpp"
#include "app/shipment_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"

namespace mercato::shipping {
namespace {

constexpr std::string_view kTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

boost::json::object address(std::string country = "DE") {
  // No line2: an absent line2 is "" (docs/saga.md lists it, the order service may leave it out).
  return {{"name", "Ann Lee"},
          {"line1", "1 Main St"},
          {"city", "Berlin"},
          {"postal_code", "10115"},
          {"country", std::move(country)}};
}

class ShippingSagaHandlers : public ::testing::Test {
 protected:
  ShippingSagaHandlers()
      : dir_(std::filesystem::temp_directory_path() / ("mercato-shipping-saga-" + random_hex(8))),
        db_(sql::Database::open(
            sqlite::DatabaseSettings{.path = (dir_ / "shipping.db").string(), .connections = 2})),
        repo_(*db_),
        store_(events::open_store(*db_)) {}
  ~ShippingSagaHandlers() override { std::filesystem::remove_all(dir_); }

  static events::CloudEvent command(std::string type, const std::string& order_id,
                                    const boost::json::object& data) {
    return events::make_event("order", std::move(type), order_id, boost::json::serialize(data),
                              std::string(kTraceparent));
  }
  static events::CloudEvent create(const std::string& order_id,
                                   boost::json::object shipping_address = address()) {
    return command("shipment.create_requested", order_id,
                   {{"order_id", order_id},
                    {"customer_id", "cust-1"},
                    {"shipping_address", std::move(shipping_address)},
                    {"a_field_from_the_future", 1}});
  }
  // The cancellation of the shipment `create` asks for by default.
  static events::CloudEvent cancel(const std::string& order_id) {
    return command("shipment.cancel_requested", order_id,
                   {{"order_id", order_id},
                    {"customer_id", "cust-1"},
                    {"shipping_address", address()},
                    {"reason", "payment declined"}});
  }
  // Someone else's shipment of `order_id`, made through the REST API: another address.
  Shipment foreign_shipment(const std::string& order_id) {
    Address elsewhere{"Mallory", "9 Side St", "", "Hamburg", "20095", "DE"};
    auto made = service_.create({order_id, "cust-1", elsewhere});
    EXPECT_TRUE(made) << made.error().message;
    return made ? made->shipment : Shipment{};
  }
  std::vector<events::CloudEvent> outbox() {
    auto rows = store_->unsent(1000);
    EXPECT_TRUE(rows) << rows.error().message;
    std::vector<events::CloudEvent> out;
    if (rows) {
      for (auto& row : *rows) out.push_back(std::move(row.event));
    }
    return out;
  }
  static boost::json::object data_of(const events::CloudEvent& e) {
    return boost::json::parse(e.data).as_object();
  }
  std::vector<Shipment> shipments_of(const std::string& order_id) {
    auto found = service_.list_for_order(order_id);
    EXPECT_TRUE(found) << found.error().message;
    return found ? *found : std::vector<Shipment>{};
  }
  // Whether the inbox has `command` recorded (it is recorded by asking: a test's last check only).
  bool recorded(const events::CloudEvent& command) {
    auto first = store_->handle_once("shipping", command.id);
    EXPECT_TRUE(first) << first.error().message;
    return first && !*first;
  }

  std::filesystem::path dir_;
  std::unique_ptr<sql::Database> db_;
  SqlShipmentRepository repo_;
  std::unique_ptr<events::EventStore> store_;
  ShippingService service_{repo_, ShippingSettings{.unserved_countries = {"AQ", "KP"}}};
  SagaHandlers handlers_{service_, *store_, "shipping"};
};

TEST_F(ShippingSagaHandlers, ACreateIsAnsweredByTheRepositoryWithTheShipment) {
  auto cmd = create("o-1");
  ASSERT_TRUE(handlers_.on_create_requested(cmd));
  auto shipments = shipments_of("o-1");
  ASSERT_EQ(shipments.size(), 1U);
  EXPECT_EQ(shipments[0].address.line2, "");
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].type, "shipment.created");
  EXPECT_EQ(sent[0].subject, "o-1");
  EXPECT_EQ(sent[0].source, "/mercato/shipping");
  EXPECT_EQ(sent[0].traceparent, kTraceparent) << "the command's trace goes on";
  auto data = data_of(sent[0]);
  EXPECT_EQ(data.at("shipment_id").as_string(), shipments[0].id);
  EXPECT_EQ(data.at("order_id").as_string(), "o-1");
  EXPECT_EQ(data.at("customer_id").as_string(), "cust-1");
  EXPECT_EQ(data.at("status").as_string(), "created");
  EXPECT_EQ(data.at("address").at("country").as_string(), "DE");
  EXPECT_TRUE(recorded(cmd));
}

TEST_F(ShippingSagaHandlers, TheSameCommandAgainAppendsNothing) {
  auto cmd = create("o-dup");
  ASSERT_TRUE(handlers_.on_create_requested(cmd));
  ASSERT_TRUE(handlers_.on_create_requested(cmd));
  EXPECT_EQ(outbox().size(), 1U);
  EXPECT_EQ(shipments_of("o-dup").size(), 1U);
}

TEST_F(ShippingSagaHandlers, ARepeatWithANewIdAnswersWithTheExistingShipment) {
  ASSERT_TRUE(handlers_.on_create_requested(create("o-rep")));
  auto repeat = create("o-rep");
  ASSERT_TRUE(handlers_.on_create_requested(repeat));
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent.back().type, "shipment.created");
  EXPECT_EQ(sent.back().data, sent[0].data) << "the same shipment, reported again";
  EXPECT_EQ(sent.back().traceparent, kTraceparent);
  ASSERT_TRUE(handlers_.on_create_requested(repeat));
  EXPECT_EQ(outbox().size(), 2U) << "that answer went out with the inbox record";
  // Another address (a served one or not) is not a repeat: the order's shipment is someone else's to it.
  for (const auto& country : {"FR", "AQ"}) {
    ASSERT_TRUE(handlers_.on_create_requested(create("o-rep", address(country)))) << country;
    EXPECT_EQ(outbox().back().type, "shipment.failed") << country;
  }
  auto shipments = shipments_of("o-rep");
  ASSERT_EQ(shipments.size(), 1U);
  EXPECT_EQ(shipments[0].address.country, "DE");
}

TEST_F(ShippingSagaHandlers, ARepeatAfterACancelReportsTheCancelledShipment) {
  ASSERT_TRUE(handlers_.on_create_requested(create("o-late")));
  ASSERT_TRUE(handlers_.on_cancel_requested(cancel("o-late")));
  ASSERT_TRUE(handlers_.on_create_requested(create("o-late")));
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[2].type, "shipment.created");
  EXPECT_EQ(data_of(sent[2]).at("status").as_string(), "cancelled");
  EXPECT_EQ(shipments_of("o-late")[0].status, ShipmentStatus::kCancelled) << "not created again";
}

// Issue 15, item 2: a shipment created through the API for the order, to another address, is not the
// order's shipment: the saga's create fails as a conflict, and that shipment is left as it is.
TEST_F(ShippingSagaHandlers, AForeignShipmentOfTheOrderIsNotAdoptedAndTheCreateFails) {
  auto foreign = foreign_shipment("o-foreign");
  auto before = outbox().size();
  auto cmd = create("o-foreign");
  ASSERT_TRUE(handlers_.on_create_requested(cmd));
  auto sent = outbox();
  ASSERT_EQ(sent.size(), before + 1);
  EXPECT_EQ(sent.back().type, "shipment.failed");
  auto reason = std::string(data_of(sent.back()).at("reason").as_string());
  EXPECT_EQ(reason.rfind(kShipmentConflict, 0), 0U) << reason;
  auto shipments = shipments_of("o-foreign");
  ASSERT_EQ(shipments.size(), 1U);
  EXPECT_EQ(shipments[0], foreign);
  EXPECT_TRUE(recorded(cmd));
  // Another customer at the same address is someone else's shipment too.
  auto made =
      service_.create({"o-other", "cust-2", Address{"Ann Lee", "1 Main St", "", "Berlin", "10115", "DE"}});
  ASSERT_TRUE(made);
  ASSERT_TRUE(handlers_.on_create_requested(create("o-other")));
  EXPECT_EQ(outbox().back().type, "shipment.failed");
}

// The saga's cancellation undoes the order's shipment only: a foreign one is left as it is.
TEST_F(ShippingSagaHandlers, ACancelLeavesAForeignShipmentOfTheOrderAsItIs) {
  auto foreign = foreign_shipment("o-keep");
  ASSERT_TRUE(handlers_.on_cancel_requested(cancel("o-keep")));
  auto sent = outbox();
  EXPECT_EQ(sent.back().type, "shipment.cancelled");
  EXPECT_FALSE(data_of(sent.back()).contains("shipment_id"));
  EXPECT_EQ(shipments_of("o-keep")[0].status, ShipmentStatus::kCreated);
  // The choreographed cancellation names the order's address the same way.
  auto cancelled = command("order.cancelled", "o-keep",
                           {{"order_id", "o-keep"},
                            {"customer_id", "cust-1"},
                            {"total_cents", 2500},
                            {"shipping_address", address()},
                            {"reason", "ship failed"},
                            {"saga", "choreography"}});
  ASSERT_TRUE(handlers_.on_order_cancelled(cancelled));
  EXPECT_FALSE(data_of(outbox().back()).contains("shipment_id"));
  EXPECT_EQ(shipments_of("o-keep")[0].status, ShipmentStatus::kCreated);
}

TEST_F(ShippingSagaHandlers, AnUnservedCountryFailsTheShipment) {
  auto cmd = create("o-aq", address("AQ"));
  ASSERT_TRUE(handlers_.on_create_requested(cmd));
  EXPECT_TRUE(shipments_of("o-aq").empty());
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].type, "shipment.failed");
  EXPECT_EQ(sent[0].subject, "o-aq");
  EXPECT_EQ(sent[0].source, "/mercato/shipping");
  EXPECT_EQ(sent[0].traceparent, kTraceparent);
  auto data = data_of(sent[0]);
  EXPECT_EQ(data.at("order_id").as_string(), "o-aq");
  EXPECT_EQ(data.at("reason").as_string(), "address.country: the carrier does not deliver to AQ");
  EXPECT_EQ(data.size(), 2U);
  ASSERT_TRUE(handlers_.on_create_requested(cmd));
  EXPECT_EQ(outbox().size(), 1U) << "a redelivery appends nothing";
  // A repeat with a new id is refused again: nothing was created in between.
  ASSERT_TRUE(handlers_.on_create_requested(create("o-aq", address("AQ"))));
  sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[1].type, "shipment.failed");
  EXPECT_TRUE(shipments_of("o-aq").empty());
}

TEST_F(ShippingSagaHandlers, AnInvalidAddressFailsTheShipmentWithTheValidationMessage) {
  auto no_name = address();
  no_name["name"] = "   ";
  struct Case {
    events::CloudEvent cmd;
    std::string reason_prefix;
  };
  auto bad_customer = create("o-inv-3");
  bad_customer.data = boost::json::serialize(
      boost::json::object{{"order_id", "o-inv-3"}, {"customer_id", ""}, {"shipping_address", address()}});
  std::vector<Case> cases = {
      {create("o-inv-1", address("Germany")), "address.country: must be an ISO 3166-1 alpha-2 code"},
      {create("o-inv-2", no_name), "address.name: must not be empty"},
      {bad_customer, "customer_id: must not be empty"},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(handlers_.on_create_requested(c.cmd)) << c.reason_prefix;
    auto sent = outbox();
    ASSERT_FALSE(sent.empty());
    EXPECT_EQ(sent.back().type, "shipment.failed");
    EXPECT_EQ(sent.back().subject, c.cmd.subject);
    auto reason = std::string(data_of(sent.back()).at("reason").as_string());
    EXPECT_EQ(reason.rfind(c.reason_prefix, 0), 0U) << reason;
    EXPECT_TRUE(shipments_of(c.cmd.subject).empty());
  }
  EXPECT_EQ(outbox().size(), cases.size());
}

TEST_F(ShippingSagaHandlers, MalformedCreateDataIsAnErrorNamingTheField) {
  auto good =
      boost::json::object{{"order_id", "o-bad"}, {"customer_id", "c"}, {"shipping_address", address()}};
  auto without = [&](const char* key) {
    auto d = good;
    d.erase(key);
    return d;
  };
  auto with = [&](const char* key, boost::json::value v) {
    auto d = good;
    d[key] = std::move(v);
    return d;
  };
  auto address_with = [&](const char* key, boost::json::value v) {
    auto a = address();
    if (v.is_null()) {
      a.erase(key);
    } else {
      a[key] = std::move(v);
    }
    return with("shipping_address", a);
  };
  struct Case {
    boost::json::object data;
    std::string field;
  };
  std::vector<Case> cases = {
      {without("order_id"), "order_id"},
      {with("order_id", 42), "order_id"},
      {with("order_id", ""), "order_id"},  // no answer could name the order
      {without("customer_id"), "customer_id"},
      {without("shipping_address"), "shipping_address"},
      {with("shipping_address", "1 Main St, Berlin"), "shipping_address"},
      {address_with("city", nullptr), "shipping_address.city"},
      {address_with("country", 49), "shipping_address.country"},
      {address_with("line2", false), "shipping_address.line2"},
  };
  for (const auto& c : cases) {
    auto r = handlers_.on_create_requested(command("shipment.create_requested", "o-bad", c.data));
    ASSERT_FALSE(r) << boost::json::serialize(c.data);
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed) << r.error().message;
    EXPECT_EQ(r.error().field, c.field) << r.error().message;
  }
  auto not_an_object = create("o-bad");
  not_an_object.data = "\"ship it\"";
  auto r = handlers_.on_create_requested(not_an_object);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kMalformedRequest);
  auto newer = create("o-bad");
  newer.dataschema = "urn:mercato:event:shipment.create_requested:v2";
  r = handlers_.on_create_requested(newer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_TRUE(outbox().empty());
  EXPECT_TRUE(shipments_of("o-bad").empty());
  EXPECT_FALSE(recorded(newer));
}

TEST_F(ShippingSagaHandlers, ACancelIsAnsweredByTheRepositoryOnce) {
  ASSERT_TRUE(handlers_.on_create_requested(create("o-c")));
  auto cmd = cancel("o-c");
  ASSERT_TRUE(handlers_.on_cancel_requested(cmd));
  auto shipments = shipments_of("o-c");
  ASSERT_EQ(shipments.size(), 1U);
  EXPECT_EQ(shipments[0].status, ShipmentStatus::kCancelled);
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[1].type, "shipment.cancelled");
  EXPECT_EQ(sent[1].subject, "o-c");
  EXPECT_EQ(sent[1].traceparent, kTraceparent);
  auto data = data_of(sent[1]);
  EXPECT_EQ(data.at("shipment_id").as_string(), shipments[0].id);
  EXPECT_EQ(data.at("status").as_string(), "cancelled");
  EXPECT_EQ(data.at("cancelled_at").as_string(), format_rfc3339(shipments[0].updated_at));
  EXPECT_TRUE(recorded(cmd));

  ASSERT_TRUE(handlers_.on_cancel_requested(cmd));
  EXPECT_EQ(outbox().size(), 2U) << "a redelivery appends nothing";
  auto repeat = cancel("o-c");
  ASSERT_TRUE(handlers_.on_cancel_requested(repeat));
  sent = outbox();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[2].type, "shipment.cancelled");
  EXPECT_EQ(sent[2].data, sent[1].data) << "the cancellation as it was";
  EXPECT_EQ(shipments_of("o-c")[0].updated_at, shipments[0].updated_at);
  ASSERT_TRUE(handlers_.on_cancel_requested(repeat));
  EXPECT_EQ(outbox().size(), 3U);
}

TEST_F(ShippingSagaHandlers, ACancelWithoutAShipmentSucceedsWithNothingCancelled) {
  // Also after a failed create: the saga compensates a step that timed out or failed.
  ASSERT_TRUE(handlers_.on_create_requested(create("o-failed", address("KP"))));
  for (const char* order : {"o-none", "o-failed"}) {
    auto before = outbox().size();
    auto cmd = cancel(order);
    ASSERT_TRUE(handlers_.on_cancel_requested(cmd)) << order;
    auto sent = outbox();
    ASSERT_EQ(sent.size(), before + 1) << order;
    EXPECT_EQ(sent.back().type, "shipment.cancelled");
    EXPECT_EQ(sent.back().subject, order);
    auto data = data_of(sent.back());
    EXPECT_EQ(data.at("order_id").as_string(), order);
    EXPECT_TRUE(data.at("cancelled_at").is_string());
    EXPECT_FALSE(data.contains("shipment_id")) << order;
    ASSERT_TRUE(handlers_.on_cancel_requested(cmd));
    EXPECT_EQ(outbox().size(), before + 1) << order << ": a redelivery appends nothing";
    EXPECT_TRUE(shipments_of(order).empty());
  }
}

TEST_F(ShippingSagaHandlers, MalformedCancelDataIsAnErrorNamingTheField) {
  auto r = handlers_.on_cancel_requested(command("shipment.cancel_requested", "o-x", {{"reason", "r"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(r.error().field, "order_id");
  r = handlers_.on_cancel_requested(
      command("shipment.cancel_requested", "o-x", {{"order_id", "o-x"}, {"reason", 1}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "reason");
  r = handlers_.on_cancel_requested(command("shipment.cancel_requested", "o-x", {{"order_id", ""}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "order_id");
  EXPECT_TRUE(outbox().empty());
}

// --- choreography: a choreographed order's events stand in for the commands --------------------------

events::CloudEvent order_event(const std::string& source, std::string type, const std::string& order_id,
                               boost::json::object data, std::string_view saga = "choreography") {
  data["order_id"] = order_id;
  data["saga"] = saga;
  return events::make_event(source, std::move(type), order_id, boost::json::serialize(data),
                            std::string(kTraceparent));
}

events::CloudEvent order_created(const std::string& order_id, std::string country = "DE") {
  return order_event(
      "order", "order.created", order_id,
      {{"customer_id", "cust-7"}, {"total_cents", 900}, {"shipping_address", address(std::move(country))}});
}

events::CloudEvent processed(const std::string& order_id, std::string status = "captured",
                             std::string_view saga = "choreography") {
  return order_event("payment", "payment.processed", order_id, {{"status", std::move(status)}}, saga);
}

TEST_F(ShippingSagaHandlers, AChoreographedCaptureShipsToTheKeptOrdersAddressAndACancellationCancels) {
  ASSERT_TRUE(handlers_.on_order_created(order_created("o-ch")));
  EXPECT_TRUE(outbox().empty()) << "nothing to ship before the charge";
  auto charge = processed("o-ch");
  ASSERT_TRUE(handlers_.on_payment_processed(charge));
  auto shipments = shipments_of("o-ch");
  ASSERT_EQ(shipments.size(), 1U);
  EXPECT_EQ(shipments[0].customer_id, "cust-7");
  EXPECT_EQ(shipments[0].address.city, "Berlin");
  ASSERT_EQ(outbox().size(), 1U);
  EXPECT_EQ(outbox()[0].type, "shipment.created");
  ASSERT_TRUE(handlers_.on_payment_processed(charge));
  EXPECT_EQ(outbox().size(), 1U) << "a redelivery ships and answers nothing";
  ASSERT_TRUE(
      handlers_.on_order_cancelled(order_event("order", "order.cancelled", "o-ch", {{"reason", "x"}})));
  EXPECT_EQ(shipments_of("o-ch")[0].status, ShipmentStatus::kCancelled);
  EXPECT_EQ(outbox().back().type, "shipment.cancelled");
}

TEST_F(ShippingSagaHandlers, AChoreographedUnservedAddressFailsTheShipment) {
  ASSERT_TRUE(handlers_.on_order_created(order_created("o-aq", "AQ")));
  ASSERT_TRUE(handlers_.on_payment_processed(processed("o-aq")));
  EXPECT_TRUE(shipments_of("o-aq").empty());
  EXPECT_EQ(outbox().back().type, "shipment.failed");
}

TEST_F(ShippingSagaHandlers, ACaptureHandledBeforeItsOrderCreatedShipsWhenItComes) {
  auto charge = processed("o-early");
  ASSERT_TRUE(handlers_.on_payment_processed(charge)) << "kept until its order.created comes";
  EXPECT_TRUE(outbox().empty());
  ASSERT_TRUE(handlers_.on_order_created(order_created("o-early")));
  EXPECT_EQ(shipments_of("o-early").size(), 1U);
  EXPECT_EQ(outbox().size(), 1U);
}

TEST_F(ShippingSagaHandlers, DeclinedChargesAndOtherOrdersEventsAreRecordedAndChangeNothing) {
  auto declined = processed("o-x", "declined");
  auto orchestrated = processed("o-x", "captured", "orchestration");
  auto untagged =
      events::make_event("payment", "payment.processed", "o-x", R"({"order_id":"o-x","status":"captured"})");
  auto cancelled = order_event("order", "order.cancelled", "o-x", {{"reason", "x"}}, "orchestration");
  for (const auto& e : {declined, orchestrated, untagged}) ASSERT_TRUE(handlers_.on_payment_processed(e));
  ASSERT_TRUE(handlers_.on_order_created(order_created("o-x")))
      << "kept: the declined charge was not, so nothing ships";
  ASSERT_TRUE(handlers_.on_order_cancelled(cancelled));
  EXPECT_TRUE(outbox().empty());
  EXPECT_TRUE(shipments_of("o-x").empty());
  for (const auto& e : {declined, orchestrated, untagged, cancelled}) EXPECT_TRUE(recorded(e));
}

}  // namespace
}  // namespace mercato::shipping
