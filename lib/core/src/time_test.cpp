#include "mercato/core/time.hpp"

#include <gtest/gtest.h>

namespace mercato {
namespace {

TEST(Time, FormatsUtcWithMilliseconds) {
  SystemTime t{std::chrono::milliseconds{1764444413123}};
  EXPECT_EQ(format_rfc3339(t), "2025-11-29T19:26:53.123Z");
  EXPECT_EQ(format_rfc3339(SystemTime{}), "1970-01-01T00:00:00.000Z");
}

// Every field at its largest and at its smallest, and the years without four digits.
TEST(Time, FormatsEveryFieldPaddedAndYearsOutsideFourDigits) {
  using namespace std::chrono;
  auto at = [](int y, unsigned mo, unsigned d, int h, int mi, int s, int ms) {
    return SystemTime{sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} +
                      milliseconds{ms}};
  };
  EXPECT_EQ(format_rfc3339(at(1999, 12, 31, 23, 59, 59, 999)), "1999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(at(1, 2, 3, 4, 5, 6, 7)), "0001-02-03T04:05:06.007Z");
  EXPECT_EQ(format_rfc3339(at(9999, 12, 31, 23, 59, 59, 999)), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(at(1969, 12, 31, 23, 59, 59, 1)), "1969-12-31T23:59:59.001Z");
  EXPECT_EQ(format_rfc3339(at(10000, 1, 1, 0, 0, 0, 0)), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(at(-1, 1, 1, 0, 0, 0, 0)), "-001-01-01T00:00:00.000Z");
}

TEST(Time, RoundTrips) {
  auto t = now_utc();
  auto parsed = parse_rfc3339(format_rfc3339(t));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, t);
}

TEST(Time, ParsesOffsets) {
  auto a = parse_rfc3339("2026-11-29T22:26:53+03:00");
  auto b = parse_rfc3339("2026-11-29T19:26:53Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(Time, RejectsMalformed) {
  for (const char* s :
       {"", "2026-11-29", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z",
        "2026-11-29T19:26:53", "2026-11-29T19:26:53.Z", "2026-11-29T19:26:53Zjunk"}) {
    EXPECT_FALSE(parse_rfc3339(s)) << s;
  }
}

}  // namespace
}  // namespace mercato
