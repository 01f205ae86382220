#include "mercato/events/event.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "mercato/events/data.hpp"
#include "mercato/events/transport.hpp"

namespace mercato::events {
namespace {

TEST(Topics, AnEventGoesToItsFamilyAndACommandToTheFamilysCommandTopic) {
  EXPECT_EQ(topic_of("order.created"), "order");
  EXPECT_EQ(topic_of("inventory.reserved"), "inventory");
  EXPECT_EQ(topic_of("inventory.reserve_requested"), "inventory-commands");
  EXPECT_EQ(topic_of("payment.refund_requested"), "payment-commands");
  EXPECT_TRUE(is_command("shipment.create_requested"));
  EXPECT_FALSE(is_command("shipment.created"));
  // Only the part right after the family decides; a family named like a command is still a family.
  EXPECT_FALSE(is_command("x_requested.done"));
  EXPECT_EQ(topic_of("x_requested.done"), "x_requested");
  EXPECT_TRUE(is_command("a.b_requested.v2"));
  EXPECT_FALSE(is_command("noseparator_requested"));
}

TEST(CloudEvent, RoundTripsThroughJson) {
  auto e = make_event("order", "order.created", "o-1", R"({"a":1})",
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto back = from_json(to_json(e));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, e);
}

// Found by fuzz/cloudevent_fuzz.cpp: the Kafka binding accepted header bytes that are not UTF-8, and
// such an event's JSON (the dead-letter store, a NATS republish) could not be read back.
TEST(CloudEvent, BinaryModeRefusesAttributesThatAreNotUtf8Text) {
  std::map<std::string, std::string, std::less<>> headers{{"ce_specversion", "1.0"},
                                                          {"ce_id", "e-1"},
                                                          {"ce_source", "/mercato/payment"},
                                                          {"ce_type", "payment.captured"},
                                                          {"ce_time", "2024-01-01T0\xde:00:00Z"},
                                                          {"content-type", "application/json"}};
  auto lookup = [&headers](std::string_view name) -> std::optional<std::string_view> {
    auto it = headers.find(name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  };
  CloudEvent e;
  auto decoded = from_binary(lookup, R"({"order_id":"o-1"})", e);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().field, "time");
  EXPECT_EQ(e.time, headers["ce_time"]) << "the attributes are kept for the dead letter";

  headers["ce_time"] = "2024-01-01T00:00:00Z";
  headers["ce_subject"] = "caf\xc3\xa9";  // UTF-8 is fine
  CloudEvent ok;
  ASSERT_TRUE(from_binary(lookup, R"({"order_id":"o-1"})", ok));
  auto back = from_json(to_json(ok));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->subject, "caf\xc3\xa9");

  for (const char* bad : {"a\nb", "\xc0\xaf", "\xed\xa0\x80", "\xc2\x85", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    headers["ce_subject"] = bad;
    CloudEvent refused;
    EXPECT_FALSE(from_binary(lookup, "{}", refused)) << ::testing::PrintToString(std::string(bad));
  }
  EXPECT_FALSE(from_json(R"({"specversion":"1.0","id":"a\u0001","source":"s","type":"a.b","data":{}})"))
      << "a control character in JSON form too";
}

// Found by fuzz/cloudevent_fuzz.cpp: Boost.JSON reads 2e951 as infinity and writes it back as
// "Infinity", so an event with such a number was accepted and then could not be read back.
TEST(CloudEvent, RefusesDataWithANumberBeyondTheRangeOfADouble) {
  auto structured =
      from_json(R"({"specversion":"1.0","id":"e-1","source":"/mercato/payment","type":"payment.captured",)"
                R"("data":{"order_id":"o-1","amount":2e951}})");
  ASSERT_FALSE(structured);
  EXPECT_EQ(structured.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(structured.error().field, "data");
  EXPECT_NE(structured.error().message.find("data.amount: number 2e951 is beyond the range of a double"),
            std::string::npos)
      << structured.error().message;

  std::map<std::string, std::string, std::less<>> headers{{"ce_specversion", "1.0"},
                                                          {"ce_id", "e-1"},
                                                          {"ce_source", "/mercato/payment"},
                                                          {"ce_type", "payment.captured"}};
  auto lookup = [&headers](std::string_view name) -> std::optional<std::string_view> {
    auto it = headers.find(name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  };
  CloudEvent binary;
  auto decoded = from_binary(lookup, R"({"lines":[{"price":-2e951}]})", binary);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(decoded.error().field, "data");
  EXPECT_EQ(decoded.error().message,
            "event data: lines[0].price: number -2e951 is beyond the range of a double");

  // A producer is refused before publishing, too (every transport validates).
  EXPECT_FALSE(validate(make_event("payment", "payment.captured", "o-1", R"({"amount":1e400})")));
  EXPECT_TRUE(validate(make_event("payment", "payment.captured", "o-1", R"({"amount":1.5e300})")));
}

}  // namespace
}  // namespace mercato::events

namespace mercato::events {
namespace {

TEST(SagaOf, ReadsTheSagaMemberOfTheDataAndNothingElse) {
  EXPECT_EQ(saga_of(make_event("order", "order.created", "o-1", R"({"saga":"choreography"})")),
            "choreography");
  EXPECT_TRUE(choreographed(make_event("order", "order.created", "o-1", R"({"saga":"choreography"})")));
  EXPECT_FALSE(choreographed(make_event("order", "order.created", "o-1", R"({"saga":"orchestration"})")));
  EXPECT_EQ(saga_of(make_event("order", "order.created", "o-1", R"({"order_id":"o-1"})")), "");
  EXPECT_EQ(saga_of(make_event("order", "order.created", "o-1", R"({"saga":7})")), "") << "not a string";
  EXPECT_EQ(saga_of(make_event("order", "order.created", "o-1", R"([1,2])")), "") << "not an object";
}

}  // namespace
}  // namespace mercato::events
