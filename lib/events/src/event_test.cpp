#include "mercato/events/event.hpp"

#include <gtest/gtest.h>

#include "mercato/events/data.hpp"

namespace mercato::events {
namespace {

TEST(CloudEvent, RoundTripsThroughJson) {
  auto e = make_event("order", "order.created", "o-1", R"({"a":1})",
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto back = from_json(to_json(e));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, e);
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
