// The test receiver's strictness (what it refuses, it must refuse, or the end-to-end tracing test
// proves nothing) and the real exporter against it over HTTP: batches arrive, 503 and 429 are retried.
#include "mercato/testing/otlp_receiver.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "mercato/observability/otlp.hpp"
#include "mercato/otlp/trace.pb.h"
#include "mercato/testing/testing.hpp"

namespace mercato::testing {
namespace {

using namespace std::chrono_literals;
namespace pb = mercato::otlp::v1;

obs::SpanData a_span(std::string name) {
  obs::SpanData s;
  s.context = obs::TraceContext::new_root();
  s.name = std::move(name);
  s.kind = obs::SpanKind::kServer;
  s.start_unix_nano = obs::unix_nano_now();
  s.end_unix_nano = s.start_unix_nano + 1000;
  s.attributes = {{"http.response.status_code", std::int64_t{200}}};
  return s;
}

pb::ExportTraceServiceRequest valid_request() {
  pb::ExportTraceServiceRequest r;
  r.ParseFromString(obs::encode_export_request({a_span("GET /x")}, {"user", {}}));
  return r;
}

TEST(OtlpReceiver, ParsesWhatTheExporterWrites) {
  auto parsed = OtlpReceiver::parse(valid_request().SerializeAsString());
  ASSERT_TRUE(parsed.error.empty()) << parsed.error;
  ASSERT_EQ(parsed.spans.size(), 1U);
  EXPECT_EQ(parsed.spans[0].service, "user");
  EXPECT_EQ(parsed.spans[0].kind, 2);
  EXPECT_EQ(parsed.spans[0].attributes["http.response.status_code"], "200");
  EXPECT_EQ(parsed.spans[0].trace_id.size(), 32U);
}

TEST(OtlpReceiver, RefusesAnUnknownFieldAtAnyDepth) {
  auto top = valid_request();
  top.GetReflection()->MutableUnknownFields(&top)->AddVarint(99, 1);
  EXPECT_NE(OtlpReceiver::parse(top.SerializeAsString()).error, "");

  auto deep = valid_request();
  auto* value = deep.mutable_resource_spans(0)
                    ->mutable_scope_spans(0)
                    ->mutable_spans(0)
                    ->mutable_attributes(0)
                    ->mutable_value();
  value->GetReflection()->MutableUnknownFields(value)->AddLengthDelimited(42, "surprise");
  auto parsed = OtlpReceiver::parse(deep.SerializeAsString());
  EXPECT_NE(parsed.error.find("does not define"), std::string::npos) << parsed.error;
}

TEST(OtlpReceiver, RefusesAnUndefinedEnumValue) {
  auto r = valid_request();
  r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_kind(
      static_cast<pb::Span::SpanKind>(9));
  auto parsed = OtlpReceiver::parse(r.SerializeAsString());
  EXPECT_NE(parsed.error.find("is not a value of"), std::string::npos) << parsed.error;

  auto status = valid_request();
  status.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->mutable_status()->set_code(
      static_cast<pb::Status::StatusCode>(3));
  EXPECT_NE(OtlpReceiver::parse(status.SerializeAsString()).error, "");
}

TEST(OtlpReceiver, RefusesBadIdsAndGarbage) {
  auto r = valid_request();
  r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_trace_id("short");
  EXPECT_NE(OtlpReceiver::parse(r.SerializeAsString()).error, "");
  EXPECT_NE(OtlpReceiver::parse(std::string("\xff\xff\xff", 3)).error, "");
}

TEST(OtlpExport, RealExporterDeliversAndRetriesOverHttp) {
  OtlpReceiver receiver;
  receiver.answer_next(2, 503, 0);  // then a 503 with Retry-After: 0, answered at once
  obs::TracingSettings settings;
  auto endpoint = obs::parse_otlp_endpoint(receiver.endpoint() + "/v1/traces");
  ASSERT_TRUE(endpoint) << endpoint.error().message;
  settings.endpoint = *endpoint;
  settings.service_name = "payment";
  settings.schedule_delay = 20ms;
  settings.export_timeout = 10s;
  obs::Registry metrics;
  obs::BatchSpanProcessor exporter(settings, obs::make_http_sender(*settings.endpoint), metrics, nullptr,
                                   {.initial_backoff = 10ms, .max_backoff = 50ms, .max_retry_after = 1s});
  for (int i = 0; i < 5; ++i) exporter.export_span(a_span("span " + std::to_string(i)));
  exporter.flush();
  auto spans = receiver.wait_for([](const auto& all) { return all.size() >= 5; }, 10s);
  ASSERT_EQ(spans.size(), 5U);
  EXPECT_EQ(spans[0].service, "payment");
  EXPECT_EQ(receiver.refused(), 2);
  EXPECT_EQ(receiver.rejected(), 0) << receiver.rejections().front();
  EXPECT_EQ(exporter.stats().retries, 2U);
  EXPECT_EQ(exporter.stats().exported, 5U);

  receiver.answer_next(1, 429);  // no Retry-After: the backoff
  exporter.export_span(a_span("later"));
  exporter.flush();
  EXPECT_EQ(receiver.wait_for([](const auto& all) { return all.size() >= 6; }, 10s).size(), 6U);
  EXPECT_EQ(exporter.stats().retries, 3U);
}

TEST(OtlpExport, UnreachableCollectorCostsTheSpansNotTheCaller) {
  auto [port, fd] = reserve_port();  // bound but never accepting: connect is refused or hangs
  ::close(fd);
  obs::TracingSettings settings;
  settings.endpoint = *obs::parse_otlp_endpoint("http://127.0.0.1:" + std::to_string(port) + "/v1/traces");
  settings.service_name = "x";
  settings.export_timeout = 300ms;
  obs::Registry metrics;
  obs::BatchSpanProcessor exporter(settings, obs::make_http_sender(*settings.endpoint), metrics, nullptr,
                                   {.initial_backoff = 10ms, .max_backoff = 50ms, .max_retry_after = 1s});
  exporter.export_span(a_span("lost"));
  exporter.flush();
  EXPECT_EQ(exporter.stats().failed, 1U);
  EXPECT_GE(exporter.stats().retries, 1U);
}

}  // namespace
}  // namespace mercato::testing
