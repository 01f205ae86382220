#include "mercato/observability/exposition.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace mercato::obs {
namespace {

TEST(Exposition, ReadsBackWhatTheRegistryRenders) {
  Registry registry;
  registry
      .counter("http_server_requests_total", "Requests", {{"route", "/orders/{id}"}, {"status_class", "2xx"}})
      .inc(7);
  registry.gauge("queue_depth", "Depth", {{"note", "a \"quoted\"\\back\nslash"}}).set(-2.5);
  auto& h = registry.histogram("latency_seconds", "Latency", {}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto samples = parse_exposition(registry.render());
  ASSERT_TRUE(samples) << samples.error().message;
  auto find = [&](std::string_view name, std::string_view label, std::string_view value) -> const Sample* {
    for (const auto& s : *samples) {
      if (s.name == name && (label.empty() || s.label(label) == value)) return &s;
    }
    return nullptr;
  };
  const auto* requests = find("http_server_requests_total", "route", "/orders/{id}");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->value, 7);
  EXPECT_EQ(requests->label("status_class"), "2xx");
  const auto* depth = find("queue_depth", "", "");
  ASSERT_NE(depth, nullptr);
  EXPECT_EQ(depth->value, -2.5);
  EXPECT_EQ(depth->label("note"), "a \"quoted\"\\back\nslash");
  EXPECT_EQ(find("latency_seconds_bucket", "le", "0.1")->value, 1);
  EXPECT_EQ(find("latency_seconds_bucket", "le", "1")->value, 2);
  EXPECT_EQ(find("latency_seconds_bucket", "le", "+Inf")->value, 3);
  EXPECT_EQ(find("latency_seconds_count", "", "")->value, 3);
  EXPECT_DOUBLE_EQ(find("latency_seconds_sum", "", "")->value, 5.55);
}

TEST(Exposition, AcceptsSpecialValuesTimestampsAndBlankLines) {
  auto samples = parse_exposition("\n# HELP x y\n  a +Inf\nb{} -Inf 1700000000000\nc NaN\r\nd 1e3\n");
  ASSERT_TRUE(samples) << samples.error().message;
  ASSERT_EQ(samples->size(), 4U);
  EXPECT_TRUE(std::isinf((*samples)[0].value) && (*samples)[0].value > 0);
  EXPECT_TRUE(std::isinf((*samples)[1].value) && (*samples)[1].value < 0);
  EXPECT_TRUE(std::isnan((*samples)[2].value));
  EXPECT_EQ((*samples)[3].value, 1000);
}

TEST(Exposition, RefusesWhatIsNotASampleNamingTheLine) {
  for (std::string_view bad : {"a", R"(a{b="c")", "a{b=c} 1", R"(a{b="c\q"} 1)", "a 1 2 3", "a x", "1a 2",
                               R"(a{b="c" d="e"} 1)", "a 1 12x"}) {
    auto samples = parse_exposition(std::string("ok 1\n") + std::string(bad) + "\n");
    ASSERT_FALSE(samples) << bad;
    EXPECT_EQ(samples.error().code, ErrorCode::kMalformedRequest) << bad;
    EXPECT_NE(samples.error().message.find("line 2"), std::string::npos) << samples.error().message;
  }
}

}  // namespace
}  // namespace mercato::obs
