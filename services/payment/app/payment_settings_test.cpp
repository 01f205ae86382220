#include "app/payment_settings.hpp"

#include <gtest/gtest.h>

namespace mercato::payment {
namespace {

using namespace std::chrono_literals;

TEST(PaymentSettings, DefaultsAndValuesAndBadValuesNamingTheKey) {
  auto defaults = read_settings(config::Source::from_strings("").section("payment"));
  EXPECT_EQ(defaults.idempotency_retention, 48h);
  EXPECT_EQ(defaults.processor_latency, 0ms);
  auto source = config::Source::from_strings("payment:\n  idempotency_retention: 72h\n",
                                             {{"APP_PAYMENT__PROCESSOR_LATENCY", "5ms"}});
  auto s = read_settings(source.section("payment"));
  EXPECT_EQ(s.idempotency_retention, 72h);
  EXPECT_EQ(s.processor_latency, 5ms);
  EXPECT_NO_THROW(source.check_all_used());
  try {
    read_settings(config::Source::from_strings("payment:\n  processor_latency: slow\n").section("payment"));
    ADD_FAILURE() << "a bad duration was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("payment.processor_latency"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mercato::payment
