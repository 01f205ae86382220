#include "mercato/http/query.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace mercato::http {
namespace {

Request with_query(std::string query) {
  Request r;
  r.query = std::move(query);
  return r;
}

constexpr IntegerRule kPage{.fallback = 1, .min = 1, .max = 1000};

TEST(QueryReader, ReadsDecodedStringsAndIntegers) {
  auto req = with_query("customer_id=J%C3%BCrgen+M&page=7&flag&unread=x");
  QueryReader query(req);
  EXPECT_EQ(query.string("customer_id", kRequired), "J\xC3\xBCrgen M");
  EXPECT_EQ(query.string("flag", kOptional), "");
  EXPECT_EQ(query.string("missing", kOptional), std::nullopt);
  EXPECT_EQ(query.integer("page", kPage), 7);
  EXPECT_EQ(query.integer("limit", {.fallback = 20, .min = 1, .max = 100}), 20);
  EXPECT_TRUE(query.finish().ok()) << "a parameter nobody reads is ignored";
}

TEST(QueryReader, AMissingOrEmptyRequiredParameterIsNamed) {
  for (const char* q : {"", "customerid=c", "customer_id=", "customer_id", "&&"}) {
    auto req = with_query(q);
    QueryReader query(req);
    EXPECT_EQ(query.string("customer_id", kRequired), std::nullopt) << q;
    auto done = query.finish();
    ASSERT_FALSE(done.ok()) << q;
    EXPECT_EQ(done.error().code, ErrorCode::kValidationFailed);
    EXPECT_EQ(done.error().field, "customer_id");
    EXPECT_EQ(done.error().message, "customer_id: query parameter is required");
  }
}

TEST(QueryReader, BadIntegersAreRefusedNamingTheParameter) {
  for (const char* value :
       {"", "0", "1001", "-1", "%2B5", "1.5", "ten", "5x", "%205", "5%20", "0x10", "99999999999999999999"}) {
    auto req = with_query(std::string("page=") + value);
    QueryReader query(req);
    EXPECT_EQ(query.integer("page", kPage), 1) << value << ": the fallback";
    auto done = query.finish();
    ASSERT_FALSE(done.ok()) << value;
    EXPECT_EQ(done.error().field, "page") << value;
    EXPECT_EQ(done.error().message, "page: must be an integer between 1 and 1000") << value;
  }
  auto req = with_query("page=007");
  QueryReader query(req);
  EXPECT_EQ(query.integer("page", kPage), 7);
  EXPECT_TRUE(query.finish().ok());
}

TEST(QueryReader, ACappedIntegerAboveItsMaximumIsTheMaximum) {
  constexpr IntegerRule kLimit{.fallback = 20, .min = 1, .max = 100, .above = AboveMax::kCap};
  for (auto [value, expected] :
       {std::pair{"100", 100}, {"101", 100}, {"1000000", 100}, {"99999999999999999999", 100}, {"5", 5}}) {
    auto req = with_query(std::string("limit=") + value);
    QueryReader query(req);
    EXPECT_EQ(query.integer("limit", kLimit), expected) << value;
    EXPECT_TRUE(query.finish().ok()) << value;
  }
  for (const char* value : {"0", "-5", "-99999999999999999999", "x"}) {
    auto req = with_query(std::string("limit=") + value);
    QueryReader query(req);
    (void)query.integer("limit", kLimit);
    auto done = query.finish();
    ASSERT_FALSE(done.ok()) << value;
    EXPECT_EQ(done.error().message, "limit: must be an integer of at least 1") << value;
  }
}

TEST(QueryReader, ARepeatedParameterIsRefused) {
  auto req = with_query("limit=1&customer_id=a&limit=1000");
  QueryReader query(req);
  EXPECT_EQ(query.string("customer_id", kRequired), "a");
  (void)query.integer("limit", kPage);
  auto done = query.finish();
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().field, "limit");
  EXPECT_EQ(done.error().message, "limit: query parameter must be sent at most once");
  // Also when the copies are spelled differently but decode to the same name.
  auto spelled = with_query("order_id=a&order%5Fid=b");
  QueryReader other(spelled);
  EXPECT_EQ(other.string("order_id", kOptional), std::nullopt);
  EXPECT_EQ(other.finish().error().field, "order_id");
}

TEST(QueryReader, ValuesMustBePlainText) {
  for (const char* value : {"a%00b", "a%0Ab", "%C0%AF", "%FF", "%7F"}) {
    auto req = with_query(std::string("order_id=") + value);
    QueryReader query(req);
    EXPECT_EQ(query.string("order_id", kOptional), std::nullopt) << value;
    auto done = query.finish();
    ASSERT_FALSE(done.ok()) << value;
    EXPECT_EQ(done.error().field, "order_id") << value;
  }
}

TEST(QueryReader, TheFirstProblemIsTheOneReported) {
  auto req = with_query("page=0&limit=0");
  QueryReader query(req);
  EXPECT_EQ(query.string("customer_id", kRequired), std::nullopt);
  (void)query.integer("page", kPage);
  (void)query.integer("limit", kPage);
  EXPECT_TRUE(query.failed());
  EXPECT_EQ(query.finish().error().field, "customer_id");
}

TEST(QueryReader, IntegersMayBeNegativeWhenTheRuleSaysSo) {
  auto req = with_query("offset=-3");
  QueryReader query(req);
  EXPECT_EQ(query.integer("offset", {.fallback = 0,
                                     .min = std::numeric_limits<std::int64_t>::min(),
                                     .max = std::numeric_limits<std::int64_t>::max()}),
            -3);
  EXPECT_TRUE(query.finish().ok());
}

}  // namespace
}  // namespace mercato::http
