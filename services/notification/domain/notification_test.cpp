#include "domain/notification.hpp"

#include <gtest/gtest.h>

namespace mercato::notification {
namespace {

NotificationRequest request() { return {"cust-1", "order-1", "order_confirmed", "Thanks for your order!"}; }

void expect_invalid(const NotificationRequest& r, const std::string& field) {
  auto n = new_notification("n1", r, SystemTime{});
  ASSERT_FALSE(n) << field;
  EXPECT_EQ(n.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(n.error().field, field);
  EXPECT_FALSE(n.error().message.empty());
}

TEST(Kind, RoundTripsThroughTextAndRejectsOthers) {
  for (auto k :
       {Kind::kOrderConfirmed, Kind::kOrderCancelled, Kind::kPaymentFailed, Kind::kShipmentCreated}) {
    EXPECT_EQ(parse_kind(to_string(k)), k);
    EXPECT_FALSE(subject_for(k).empty());
  }
  EXPECT_EQ(to_string(Kind::kShipmentCreated), "shipment_created");
  for (const char* bad : {"", "order_shipped", "ORDER_CONFIRMED", "order_confirmed ", "order-confirmed"}) {
    EXPECT_FALSE(parse_kind(bad)) << bad;
  }
}

TEST(Kind, EachKindHasItsOwnSubject) {
  EXPECT_NE(subject_for(Kind::kOrderConfirmed), subject_for(Kind::kOrderCancelled));
  EXPECT_NE(subject_for(Kind::kPaymentFailed), subject_for(Kind::kShipmentCreated));
  EXPECT_NE(subject_for(Kind::kOrderConfirmed), subject_for(Kind::kShipmentCreated));
}

TEST(NewNotification, BuildsFromAValidRequest) {
  SystemTime now{std::chrono::milliseconds{42}};
  auto n = new_notification("n1", request(), now);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n,
            (Notification{"n1", "cust-1", "order-1", Kind::kOrderConfirmed, "Thanks for your order!", now}));
  auto multi = request();
  multi.message = "Line one\nLine two\ttabbed\r\n";
  EXPECT_TRUE(new_notification("n2", multi, now));
  multi.message = "Grüße 🚚";
  EXPECT_TRUE(new_notification("n3", multi, now));
}

TEST(NewNotification, ValidatesEveryField) {
  auto r = request();
  r.customer_id = "";
  expect_invalid(r, "customer_id");
  r = request();
  r.customer_id = std::string(129, 'c');
  expect_invalid(r, "customer_id");
  r.customer_id = std::string(128, 'c');
  EXPECT_TRUE(new_notification("n", r, SystemTime{}));
  r = request();
  r.order_id = "";
  expect_invalid(r, "order_id");
  r.order_id = "o\x7f";
  expect_invalid(r, "order_id");
  r = request();
  r.kind = "order_shipped";
  expect_invalid(r, "kind");
  r.kind = "";
  expect_invalid(r, "kind");
}

TEST(NewNotification, MessageIsOneTo2000BytesOfText) {
  auto r = request();
  r.message = "";
  expect_invalid(r, "message");
  r.message = " \n\t ";
  expect_invalid(r, "message");
  r.message = std::string(2000, 'm');
  EXPECT_TRUE(new_notification("n", r, SystemTime{}));
  r.message = std::string(2001, 'm');
  expect_invalid(r, "message");
  r.message.clear();
  for (int i = 0; i < 1001; ++i) r.message += "ü";  // 1001 characters, 2002 bytes
  expect_invalid(r, "message");
  r.message = "bell\a";
  expect_invalid(r, "message");
  r.message = std::string("nul\0byte", 8);
  expect_invalid(r, "message");
  r.message = "x";
  EXPECT_TRUE(new_notification("n", r, SystemTime{}));
}

TEST(ValidateLimit, AcceptsOneToOneHundred) {
  EXPECT_EQ(*validate_limit(1), 1);
  EXPECT_EQ(*validate_limit(100), 100);
  for (int bad : {0, -1, 101, 1000000}) {
    auto r = validate_limit(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "limit");
  }
}

TEST(ComposeEmail, AddressesTheCustomerWithTheKindsSubject) {
  SystemTime now{std::chrono::milliseconds{7}};
  Notification n{"n1", "cust-1", "order-1", Kind::kPaymentFailed, "Please update your card.", now};
  auto e = compose_email(n);
  EXPECT_EQ(e, (Email{"n1", "cust-1", "order-1", Kind::kPaymentFailed,
                      std::string(subject_for(Kind::kPaymentFailed)), "Please update your card.", now}));
}

}  // namespace
}  // namespace mercato::notification
