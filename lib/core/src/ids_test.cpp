#include "mercato/core/ids.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace mercato {
namespace {

TEST(Ids, UuidHasVersion4Form) {
  static const std::regex kForm("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(std::regex_match(new_uuid(), kForm));
}

TEST(Ids, UuidsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(new_uuid());
  EXPECT_EQ(seen.size(), 10000U);
}

TEST(Ids, RandomHexLengthAndAlphabet) {
  for (std::size_t n : {1U, 8U, 16U, 17U}) {
    auto s = random_hex(n);
    EXPECT_EQ(s.size(), 2 * n);
    EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(s, std::string(2 * n, '0'));
  }
}

}  // namespace
}  // namespace mercato
