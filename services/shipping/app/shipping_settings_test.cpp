// The `shipping` configuration section: typed, validated, empty by default.
#include "app/shipping_settings.hpp"

#include <gtest/gtest.h>

namespace mercato::shipping {
namespace {

ShippingSettings from(std::string_view yaml, const std::map<std::string, std::string>& env = {}) {
  auto source = config::Source::from_strings(yaml, env);
  auto settings = read_settings(source.section("shipping"));
  source.check_all_used();
  return settings;
}

TEST(ShippingSettings, EveryCountryIsServedByDefault) {
  auto settings = from("");
  EXPECT_TRUE(settings.unserved_countries.empty());
  EXPECT_TRUE(settings.serves("DE"));
  EXPECT_TRUE(from("shipping:\n  unserved_countries: []\n").unserved_countries.empty());
}

TEST(ShippingSettings, ListedCountriesAreNotServed) {
  auto settings = from("shipping:\n  unserved_countries: [AQ, KP]\n");
  EXPECT_EQ(settings.unserved_countries, (std::set<std::string, std::less<>>{"AQ", "KP"}));
  EXPECT_FALSE(settings.serves("AQ"));
  EXPECT_FALSE(settings.serves("KP"));
  EXPECT_TRUE(settings.serves("DE"));
}

TEST(ShippingSettings, TheEnvironmentGivesTheListCommaSeparated) {
  auto settings =
      from("shipping:\n  unserved_countries: [AQ]\n", {{"APP_SHIPPING__UNSERVED_COUNTRIES", "FR, IT"}});
  EXPECT_EQ(settings.unserved_countries, (std::set<std::string, std::less<>>{"FR", "IT"}));
}

TEST(ShippingSettings, ACodeThatIsNoAssignedCountryStopsTheServiceNamingTheKey) {
  for (const char* bad : {"de", "ZZ", "Germany", "UK"}) {
    try {
      from(std::string("shipping:\n  unserved_countries: [FR, ") + bad + "]\n");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("shipping.unserved_countries"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(ShippingSettings, AScalarIsNotAList) {
  EXPECT_THROW(from("shipping:\n  unserved_countries: FR\n"), config::ConfigError);
}

}  // namespace
}  // namespace mercato::shipping
