#include "mercato/core/enum_names.hpp"

#include <gtest/gtest.h>

namespace mercato {
namespace {

enum class Color { kRed, kGreen, kBlue };

constexpr auto kColorNames =
    enum_names<Color>({{Color::kRed, "red"}, {Color::kGreen, "green"}, {Color::kBlue, "blue"}});

// The table is usable at compile time.
static_assert(kColorNames.name(Color::kGreen) == "green");
static_assert(kColorNames.parse("blue") == Color::kBlue);

TEST(EnumNames, NamesEveryValue) {
  EXPECT_EQ(kColorNames.name(Color::kRed), "red");
  EXPECT_EQ(kColorNames.name(Color::kGreen), "green");
  EXPECT_EQ(kColorNames.name(Color::kBlue), "blue");
}

TEST(EnumNames, ParseIsTheInverseOfName) {
  for (const auto& entry : kColorNames.entries()) {
    EXPECT_EQ(kColorNames.parse(kColorNames.name(entry.value)), entry.value);
  }
}

TEST(EnumNames, ParseRefusesOtherTexts) {
  EXPECT_EQ(kColorNames.parse(""), std::nullopt);
  EXPECT_EQ(kColorNames.parse("Red"), std::nullopt);  // case matters
  EXPECT_EQ(kColorNames.parse("red "), std::nullopt);
  EXPECT_EQ(kColorNames.parse("purple"), std::nullopt);
}

TEST(EnumNames, UnlistedValueGivesTheFallback) {
  const auto unlisted = static_cast<Color>(42);
  EXPECT_EQ(kColorNames.name(unlisted), "");
  EXPECT_EQ(kColorNames.name(unlisted, "unknown"), "unknown");
}

TEST(EnumNames, JoinedListsTheNamesInTableOrder) { EXPECT_EQ(kColorNames.joined(), "red, green, blue"); }

}  // namespace
}  // namespace mercato
