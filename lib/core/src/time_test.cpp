#include "mercato/core/time.hpp"

#include <gtest/gtest.h>

namespace mercato {
namespace {

TEST(Time, FormatsUtcWithMilliseconds) {
  SystemTime t{std::chrono::milliseconds{1764444413123}};
  EXPECT_EQ(format_rfc3339(t), "2025-11-29T19:26:53.123Z");
  EXPECT_EQ(format_rfc3339(SystemTime{}), "1970-01-01T00:00:00.000Z");
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
