#include "live_config.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace mercato::service {
namespace {

TEST(LiveConfig, AppliesChangesRefusesUnknownKeysAndRestoresOnRemoval) {
  obs::Logger logger("live-test", obs::LogLevel::kError);
  obs::Registry metrics;
  LiveConfig live(logger, metrics);
  std::vector<std::string> calls;
  live.add("limit", [&](const std::optional<std::string>& v) -> Result<void> {
    calls.push_back(v.value_or("<file>"));
    if (v && *v == "bad") return Error::validation("limit", "must be a number");
    return {};
  });
  live.update({{"limit", "5"}});
  live.update({{"limit", "5"}});  // unchanged: not applied again
  live.update({{"limit", "bad"}, {"nope", "1"}});
  EXPECT_EQ(calls, (std::vector<std::string>{"5", "bad"}));
  auto status = boost::json::serialize(live.status_json());
  EXPECT_NE(status.find(R"("limit":{"value":"bad","status":"refused","error":"must be a number"})"),
            std::string::npos)
      << status;
  EXPECT_NE(status.find(R"("nope":{"value":"1","status":"refused")"), std::string::npos) << status;
  EXPECT_NE(status.find("is not a live setting of this service (live: limit)"), std::string::npos) << status;
  live.update({});  // both removed: the file's value for limit
  EXPECT_EQ(calls.back(), "<file>");
  status = boost::json::serialize(live.status_json());
  EXPECT_EQ(status.find("\"limit\":{"), std::string::npos) << status;
  EXPECT_NE(metrics.render().find(R"(mercato_config_changes_total{result="refused"} 3)"), std::string::npos)
      << metrics.render();
}

}  // namespace
}  // namespace mercato::service

namespace mercato::service {
namespace {

TEST(LiveValue, IsReadWithTheFilesGetterAndItsMessages) {
  auto read = [](const config::Section& s) { return s.duration("step_timeout", std::chrono::seconds(30)); };
  auto ok = live_value<std::chrono::milliseconds>("saga.step_timeout", "5s", read);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, std::chrono::seconds(5));
  auto bad = live_value<std::chrono::milliseconds>("saga.step_timeout", "soon", read);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "saga.step_timeout");
  EXPECT_NE(bad.error().message.find("a duration such as 250ms"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(live_value<std::chrono::milliseconds>("saga.step-timeout;rm", "5s", read));
}

}  // namespace
}  // namespace mercato::service
