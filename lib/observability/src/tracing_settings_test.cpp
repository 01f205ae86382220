#include "mercato/observability/tracing_settings.hpp"

#include <gtest/gtest.h>

namespace mercato::obs {
namespace {

Result<TracingSettings> read(std::vector<std::pair<std::string, std::string>> vars) {
  return read_tracing_settings(env_of(std::move(vars)), "order");
}

TEST(TracingSettings, OffWithoutAnEndpoint) {
  auto s = read({});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->enabled());
  EXPECT_EQ(s->service_name, "order");
  EXPECT_EQ(s->sampler.kind, SamplerKind::kParentBasedAlwaysOn);
  EXPECT_EQ(s->schedule_delay, std::chrono::milliseconds(5000));
  EXPECT_EQ(s->max_queue_size, 2048U);
  EXPECT_EQ(s->max_export_batch_size, 512U);
  EXPECT_EQ(s->export_timeout, std::chrono::milliseconds(30000));
}

TEST(TracingSettings, BaseEndpointGetsV1TracesAppended) {
  auto s = read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"}});
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->enabled());
  EXPECT_EQ(s->endpoint->url, "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(s->endpoint->host, "127.0.0.1");
  EXPECT_EQ(s->endpoint->port, 4318);
  EXPECT_EQ(s->endpoint->target, "/v1/traces");
}

TEST(TracingSettings, TracesEndpointIsUsedAsIsAndWins) {
  auto s = read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
                 {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://[::1]:9999/custom/path"}});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->endpoint->host, "::1");
  EXPECT_EQ(s->endpoint->port, 9999);
  EXPECT_EQ(s->endpoint->target, "/custom/path");
}

TEST(TracingSettings, SdkDisabledTurnsTracingOff) {
  auto s = read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"}, {"OTEL_SDK_DISABLED", "true"}});
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->enabled());
}

TEST(TracingSettings, ReadsSamplerServiceNameResourceAndBatching) {
  auto s =
      read({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
            {"OTEL_TRACES_SAMPLER_ARG", "0.01"},
            {"OTEL_SERVICE_NAME", "order-canary"},
            {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, team=shop%20floor,service.name=x"},
            {"OTEL_BSP_SCHEDULE_DELAY", "200"},
            {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
            {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"},
            {"OTEL_BSP_EXPORT_TIMEOUT", "1000"}});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->sampler.kind, SamplerKind::kParentBasedTraceIdRatio);
  EXPECT_DOUBLE_EQ(s->sampler.ratio, 0.01);
  EXPECT_EQ(s->service_name, "order-canary");  // OTEL_SERVICE_NAME beats the attribute
  ASSERT_EQ(s->resource_attributes.size(), 2U);
  EXPECT_EQ(s->resource_attributes[1].second, "shop floor");
  EXPECT_EQ(s->schedule_delay, std::chrono::milliseconds(200));
  EXPECT_EQ(s->max_queue_size, 100U);
  EXPECT_EQ(s->max_export_batch_size, 10U);
  EXPECT_EQ(s->export_timeout, std::chrono::milliseconds(1000));
}

TEST(TracingSettings, RefusesBadValuesNamingTheVariable) {
  struct Case {
    std::string variable;
    std::string value;
  };
  for (const auto& c :
       std::vector<Case>{{"OTEL_TRACES_SAMPLER", "sometimes"},
                         {"OTEL_BSP_SCHEDULE_DELAY", "5s"},
                         {"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
                         {"OTEL_BSP_EXPORT_TIMEOUT", "-1"},
                         {"OTEL_RESOURCE_ATTRIBUTES", "novalue"},
                         {"OTEL_RESOURCE_ATTRIBUTES", "k=%zz"},
                         {"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"},
                         {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://host:99999/v1/traces"},
                         {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http:///v1/traces"},
                         {"OTEL_SDK_DISABLED", "yes"}}) {
    auto s = read({{c.variable, c.value}});
    ASSERT_FALSE(s) << c.variable << "=" << c.value;
    EXPECT_EQ(s.error().field, c.variable);
    EXPECT_NE(s.error().message.find(c.variable), std::string::npos) << s.error().message;
  }
}

TEST(TracingSettings, RefusesARatioOutOfRangeOrForANonRatioSampler) {
  EXPECT_FALSE(read({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1.5"}}));
  EXPECT_FALSE(read({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "half"}}));
  EXPECT_FALSE(read({{"OTEL_TRACES_SAMPLER", "always_on"}, {"OTEL_TRACES_SAMPLER_ARG", "0.5"}}));
  EXPECT_TRUE(read({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0"}}));
}

TEST(TracingSettings, RefusesABatchLargerThanTheQueue) {
  auto s = read({{"OTEL_BSP_MAX_QUEUE_SIZE", "10"}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20"}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
}

TEST(TracingSettings, EmptyVariablesCountAsUnset) {
  auto s = read(
      {{"OTEL_EXPORTER_OTLP_ENDPOINT", ""}, {"OTEL_TRACES_SAMPLER", ""}, {"OTEL_BSP_MAX_QUEUE_SIZE", ""}});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->enabled());
  EXPECT_EQ(s->max_queue_size, 2048U);
}

}  // namespace
}  // namespace mercato::obs
