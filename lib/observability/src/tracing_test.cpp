#include "mercato/observability/tracing.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

namespace mercato::obs {
namespace {

struct CollectingSink : SpanSink {
  std::vector<SpanData> spans;
  void export_span(SpanData&& span) override { spans.push_back(std::move(span)); }
};

TraceContext parent(bool sampled) {
  auto ctx = *TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ctx.flags = sampled ? 1 : 0;
  return ctx;
}

// Trace ids whose random half is just below and just above half of the 64-bit range.
constexpr const char* kLowTraceId =
    "0000000000000000"
    "7fffffffffffff00";
constexpr const char* kHighTraceId =
    "0000000000000000"
    "8000000000000100";

TEST(Sampler, AlwaysOnAndOffIgnoreTheParent) {
  Sampler on({SamplerKind::kAlwaysOn, 1.0});
  Sampler off({SamplerKind::kAlwaysOff, 1.0});
  EXPECT_TRUE(on.should_sample(parent(false), kLowTraceId));
  EXPECT_FALSE(off.should_sample(parent(true), kLowTraceId));
}

TEST(Sampler, ParentBasedFollowsTheParentsFlag) {
  for (auto kind : {SamplerKind::kParentBasedAlwaysOn, SamplerKind::kParentBasedAlwaysOff,
                    SamplerKind::kParentBasedTraceIdRatio}) {
    Sampler s({kind, 0.0});
    EXPECT_TRUE(s.should_sample(parent(true), kHighTraceId));
    EXPECT_FALSE(s.should_sample(parent(false), kLowTraceId));
  }
  EXPECT_TRUE(Sampler({SamplerKind::kParentBasedAlwaysOn, 1.0}).should_sample(std::nullopt, kHighTraceId));
  EXPECT_FALSE(Sampler({SamplerKind::kParentBasedAlwaysOff, 1.0}).should_sample(std::nullopt, kLowTraceId));
}

TEST(Sampler, RatioDecidesByTheTraceIdAlone) {
  Sampler half({SamplerKind::kTraceIdRatio, 0.5});
  EXPECT_TRUE(half.should_sample(std::nullopt, kLowTraceId));
  EXPECT_FALSE(half.should_sample(std::nullopt, kHighTraceId));
  // The parent's flag does not matter to the plain ratio sampler.
  EXPECT_FALSE(half.should_sample(parent(true), kHighTraceId));
  Sampler root_ratio({SamplerKind::kParentBasedTraceIdRatio, 0.5});
  EXPECT_TRUE(root_ratio.should_sample(std::nullopt, kLowTraceId));
  EXPECT_FALSE(root_ratio.should_sample(std::nullopt, kHighTraceId));
  EXPECT_FALSE(Sampler({SamplerKind::kTraceIdRatio, 0.0}).should_sample(std::nullopt, kLowTraceId));
}

TEST(Sampler, RatioSamplesAboutItsShareOfRandomTraces) {
  Sampler tenth({SamplerKind::kTraceIdRatio, 0.1});
  int sampled = 0;
  for (int i = 0; i < 10000; ++i)
    sampled += tenth.should_sample(std::nullopt, TraceContext::new_root().trace_id);
  EXPECT_GT(sampled, 800);
  EXPECT_LT(sampled, 1200);
}

TEST(Tracer, ChildSpanContinuesTheTraceAndRecordsItsParent) {
  CollectingSink sink;
  Tracer tracer({SamplerKind::kParentBasedAlwaysOn, 1.0}, &sink);
  {
    auto span = tracer.start("GET /x", SpanKind::kServer, parent(true));
    EXPECT_TRUE(span.recording());
    EXPECT_EQ(span.context().trace_id, parent(true).trace_id);
    EXPECT_NE(span.context().span_id, parent(true).span_id);
    EXPECT_TRUE(span.context().sampled());
    span.set("http.request.method", "GET");
    span.set("http.response.status_code", std::int64_t{503});
    span.set_error("upstream down");
  }
  ASSERT_EQ(sink.spans.size(), 1U);
  const auto& s = sink.spans[0];
  EXPECT_EQ(s.parent_span_id, "00f067aa0ba902b7");
  EXPECT_EQ(s.kind, SpanKind::kServer);
  EXPECT_EQ(s.status, SpanStatus::kError);
  EXPECT_LE(s.start_unix_nano, s.end_unix_nano);
  ASSERT_EQ(s.attributes.size(), 2U);
  EXPECT_EQ(std::get<std::int64_t>(s.attributes[1].value), 503);
}

TEST(Tracer, UnsampledSpanRecordsNothingButPropagatesTheFlag) {
  CollectingSink sink;
  Tracer tracer({SamplerKind::kParentBasedAlwaysOn, 1.0}, &sink);
  auto span = tracer.start("x", SpanKind::kClient, parent(false));
  EXPECT_FALSE(span.recording());
  EXPECT_FALSE(span.context().sampled());
  EXPECT_EQ(span.context().trace_id, parent(false).trace_id);
  span.end();
  EXPECT_TRUE(sink.spans.empty());
}

TEST(Tracer, RootWithoutParentIsARootSpan) {
  CollectingSink sink;
  Tracer tracer({SamplerKind::kAlwaysOn, 1.0}, &sink);
  tracer.start("root", SpanKind::kConsumer, std::nullopt).end();
  ASSERT_EQ(sink.spans.size(), 1U);
  EXPECT_TRUE(sink.spans[0].parent_span_id.empty());
}

TEST(Span, EndsOnceWhenMovedAndDestroyed) {
  CollectingSink sink;
  Tracer tracer({SamplerKind::kAlwaysOn, 1.0}, &sink);
  {
    auto a = tracer.start("a", SpanKind::kInternal, std::nullopt);
    Span b = std::move(a);
    b.end();
    b.end();
  }
  EXPECT_EQ(sink.spans.size(), 1U);
}

TEST(ContextScope, InstallsAndRestoresTheAmbientContext) {
  CollectingSink sink;
  Tracer tracer({SamplerKind::kAlwaysOn, 1.0}, &sink);
  EXPECT_EQ(ambient(), nullptr);
  {
    ContextScope outer(&tracer, parent(true));
    ASSERT_NE(ambient(), nullptr);
    EXPECT_EQ(ambient()->context.span_id, "00f067aa0ba902b7");
    auto inner_ctx = parent(true).child();
    {
      ContextScope inner(&tracer, inner_ctx);
      EXPECT_EQ(ambient()->context.span_id, inner_ctx.span_id);
    }
    EXPECT_EQ(ambient()->context.span_id, "00f067aa0ba902b7");
    ContextScope off(nullptr, inner_ctx);  // tracing off: installs nothing
    EXPECT_EQ(ambient()->context.span_id, "00f067aa0ba902b7");
  }
  EXPECT_EQ(ambient(), nullptr);
}

}  // namespace
}  // namespace mercato::obs
