#include "mercato/core/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mercato {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

TEST(PlainText, AcceptsUtf8WithoutControls) {
  EXPECT_TRUE(is_plain_text(""));
  EXPECT_TRUE(is_plain_text("order-42"));
  EXPECT_TRUE(
      is_plain_text("Stra\xc3\x9f"
                    "e"));                         // ß, two bytes
  EXPECT_TRUE(is_plain_text("\xe2\x82\xac"));      // €, three bytes
  EXPECT_TRUE(is_plain_text("\xf0\x9f\x98\x80"));  // U+1F600, four bytes
  EXPECT_TRUE(is_plain_text("\xc2\xa0"));          // U+00A0, just past the C1 range
}

TEST(PlainText, RefusesControlCharacters) {
  EXPECT_FALSE(is_plain_text("a\0b"s));
  EXPECT_FALSE(is_plain_text("a\r\nb"));
  EXPECT_FALSE(is_plain_text("\x7f"));
  EXPECT_FALSE(is_plain_text("\xc2\x85"));  // U+0085, a C1 control
}

TEST(PlainText, RefusesMalformedUtf8) {
  EXPECT_FALSE(is_plain_text("\xde"));              // truncated
  EXPECT_FALSE(is_plain_text("\xe2\x82"));          // truncated
  EXPECT_FALSE(is_plain_text("\x80"));              // a continuation byte first
  EXPECT_FALSE(is_plain_text("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_plain_text("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(is_plain_text("\xf0\x80\x80\xaf"));  // overlong
  EXPECT_FALSE(is_plain_text("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(is_plain_text("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_plain_text("\xe2\x28\xa1"));      // a bad continuation
}

TEST(Reference, KeepsAReferenceWithinItsLimit) {
  auto id = check_reference("order_id", "order-42", 8);
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "order-42");
}

TEST(Reference, RefusesEmptyLongAndControlCharactersNamingTheField) {
  auto empty = check_reference("order_id", "", 8);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().field, "order_id");
  EXPECT_EQ(empty.error().message, "order_id: must not be empty");
  auto long_one = check_reference("order_id", "order-420", 8);
  ASSERT_FALSE(long_one);
  EXPECT_EQ(long_one.error().message, "order_id: must be at most 8 bytes");
  for (std::string_view bad : {"a\nb"sv, "a\x7f"sv, "\tab"sv}) {
    auto refused = check_reference("customer_id", bad, 8);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().message, "customer_id: must not contain control characters");
  }
}

}  // namespace
}  // namespace mercato
