#include "mercato/core/country.hpp"

#include <gtest/gtest.h>

namespace mercato {
namespace {

TEST(Country, AcceptsAssignedCodes) {
  for (const char* code : {"AD", "DE", "GB", "US", "ZW"}) EXPECT_TRUE(is_iso3166_alpha2(code)) << code;
}

TEST(Country, RefusesUnassignedLowerCaseAndMalformed) {
  for (const char* code : {"ZZ", "UK", "EU", "de", "D", "DEU", "", "D1"})
    EXPECT_FALSE(is_iso3166_alpha2(code)) << code;
}

}  // namespace
}  // namespace mercato
