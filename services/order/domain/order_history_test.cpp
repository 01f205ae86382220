#include "domain/order_history.hpp"

#include <gtest/gtest.h>

#include <random>

namespace mercato::order {
namespace {

SystemTime at(int ms) { return SystemTime{std::chrono::milliseconds{ms}}; }

Order placed_order() {
  Order o;
  o.id = "o1";
  o.customer_id = "c1";
  o.lines = {Line{"mug", 2, 1299}};
  o.total_cents = 2598;
  o.payment_token = "tok_visa";
  o.created_at = at(1);
  o.saga = "orchestration";
  return o;
}

Order placed() {
  Order o;
  EXPECT_TRUE(evolve(o, OrderPlaced{placed_order()}));
  return o;
}

TEST(OrderHistory, PlacingStartsPendingAtVersionOne) {
  auto o = placed();
  EXPECT_EQ(o.version, 1);
  EXPECT_EQ(o.status, Status::kPending);
  EXPECT_EQ(o.updated_at, o.created_at);
  EXPECT_EQ(o.total_cents, 2598);
}

TEST(OrderHistory, EachEventMovesTheStatusAndTheVersion) {
  auto o = placed();
  ASSERT_TRUE(evolve(o, PaymentPending{at(2)}));
  EXPECT_EQ(o.status, Status::kPendingPayment);
  ASSERT_TRUE(evolve(o, OrderConfirmed{at(3)}));
  EXPECT_EQ(o.status, Status::kConfirmed);
  EXPECT_EQ(o.updated_at, at(3));
  EXPECT_EQ(o.version, 3);
}

TEST(OrderHistory, AnEventThatCannotFollowIsRefusedAndChangesNothing) {
  Order nothing;
  EXPECT_FALSE(evolve(nothing, OrderConfirmed{at(2)}));
  EXPECT_EQ(nothing.version, 0);

  auto o = placed();
  ASSERT_TRUE(evolve(o, OrderConfirmed{at(2)}));
  auto before = o;
  auto r = evolve(o, OrderCancelled{"late", CancelledBy::kSaga, at(3)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(o, before);
  EXPECT_FALSE(evolve(o, OrderPlaced{placed_order()}));
  EXPECT_FALSE(evolve(o, PaymentPending{at(4)}));
}

TEST(Cancel, PendingBecomesCancelledWithReasonAndWho) {
  auto o = placed();
  auto r = cancel(o, "changed my mind", CancelledBy::kCustomer, at(5));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  ASSERT_TRUE(evolve(o, (*r)[0]));
  EXPECT_EQ(o.status, Status::kCancelled);
  EXPECT_EQ(o.reason, "changed my mind");
  EXPECT_EQ(o.cancelled_by, CancelledBy::kCustomer);
  EXPECT_EQ(o.updated_at, at(5));
}

TEST(Cancel, CancelledStaysAsItWas) {
  auto o = placed();
  ASSERT_TRUE(evolve(o, OrderCancelled{"first", CancelledBy::kCustomer, at(2)}));
  auto r = cancel(o, "second", CancelledBy::kCustomer, at(3));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(Cancel, ConfirmedCannotBeCancelled) {
  auto o = placed();
  ASSERT_TRUE(evolve(o, OrderConfirmed{at(2)}));
  auto r = cancel(o, "x", CancelledBy::kCustomer, at(3));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
}

TEST(Settle, NeverUndoesAFinalStatusAndOnlyAPendingOrderWaitsForPayment) {
  auto o = placed();
  EXPECT_EQ(settle(o, Status::kPendingPayment, "", at(2)).size(), 1u);
  EXPECT_TRUE(settle(o, Status::kPending, "", at(2)).empty());
  ASSERT_TRUE(evolve(o, OrderConfirmed{at(2)}));
  EXPECT_TRUE(settle(o, Status::kCancelled, "x", at(3)).empty());
  EXPECT_TRUE(settle(o, Status::kConfirmed, "", at(3)).empty());
  auto c = placed();
  ASSERT_TRUE(evolve(c, OrderCancelled{"x", CancelledBy::kSaga, at(2)}));
  EXPECT_TRUE(settle(c, Status::kConfirmed, "", at(3)).empty());
  EXPECT_TRUE(settle(c, Status::kPendingPayment, "", at(3)).empty());
}

// Random histories made by the commands: the order kept up event by event is the fold of the whole
// stream, and of any snapshot plus the rest of the stream; no history leaves a final status.
TEST(OrderHistory, FoldOfAnyRandomHistoryEqualsTheOrderKeptUpAlongTheWay) {
  std::mt19937 random(20261206);
  for (int round = 0; round < 300; ++round) {
    std::vector<OrderEvent> stream{OrderPlaced{placed_order()}};
    Order live;
    ASSERT_TRUE(evolve(live, stream[0]));
    std::optional<Status> final_status;
    for (int step = 0; step < 8; ++step) {
      auto now = at(10 + step);
      std::vector<OrderEvent> added;
      switch (random() % 4) {
        case 0: {
          auto r = cancel(live, "customer " + std::to_string(step), CancelledBy::kCustomer, now);
          if (!r) {
            ASSERT_EQ(live.status, Status::kConfirmed);
            continue;
          }
          added = *r;
          break;
        }
        case 1:
          added = settle(live, Status::kCancelled, "saga " + std::to_string(step), now);
          break;
        case 2:
          added = settle(live, Status::kConfirmed, "", now);
          break;
        default:
          added = settle(live, Status::kPendingPayment, "", now);
          break;
      }
      for (const auto& e : added) {
        ASSERT_TRUE(evolve(live, e)) << "a command decided an event its own order cannot take";
        stream.push_back(e);
      }
      if (live.status == Status::kConfirmed || live.status == Status::kCancelled) {
        if (final_status) {
          ASSERT_EQ(*final_status, live.status) << "a final status changed";
        }
        final_status = live.status;
      }
    }
    auto folded = fold(stream);
    ASSERT_TRUE(folded);
    EXPECT_EQ(*folded, live);
    EXPECT_EQ(folded->version, static_cast<std::int64_t>(stream.size()));
    auto cut = random() % stream.size() + 1;
    auto snapshot = fold(std::span(stream).first(cut));
    ASSERT_TRUE(snapshot);
    auto resumed = fold(std::span(stream).subspan(cut), *snapshot);
    ASSERT_TRUE(resumed);
    EXPECT_EQ(*resumed, live);
  }
}

}  // namespace
}  // namespace mercato::order
