#include "mercato/observability/otlp.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "mercato/otlp/trace.pb.h"

namespace mercato::obs {
namespace {

using namespace std::chrono_literals;
namespace pb = mercato::otlp::v1;

SpanData span_named(std::string name) {
  SpanData s;
  s.context = *TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  s.parent_span_id = "b7ad6b7169203331";
  s.name = std::move(name);
  s.kind = SpanKind::kProducer;
  s.start_unix_nano = 1000;
  s.end_unix_nano = 2000;
  s.attributes = {{"messaging.system", std::string("nats")}, {"n", std::int64_t{7}}, {"ok", true}};
  s.status = SpanStatus::kError;
  s.status_message = "broken";
  return s;
}

TEST(OtlpEncoding, WritesTheSpecsMessages) {
  auto bytes = encode_export_request({span_named("order.created publish")}, {"order", {{"zone", "a"}}});
  pb::ExportTraceServiceRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes));
  ASSERT_EQ(request.resource_spans_size(), 1);
  const auto& rs = request.resource_spans(0);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "order");
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 1);
  const auto& s = rs.scope_spans(0).spans(0);
  EXPECT_EQ(s.trace_id().size(), 16U);
  EXPECT_EQ(static_cast<unsigned char>(s.trace_id()[0]), 0x4bU);
  EXPECT_EQ(s.span_id().size(), 8U);
  EXPECT_EQ(static_cast<unsigned char>(s.parent_span_id()[0]), 0xb7U);
  EXPECT_EQ(s.kind(), pb::Span::SPAN_KIND_PRODUCER);
  EXPECT_EQ(s.start_time_unix_nano(), 1000U);
  EXPECT_EQ(s.end_time_unix_nano(), 2000U);
  EXPECT_EQ(s.flags(), 1U);
  EXPECT_EQ(s.attributes(1).value().int_value(), 7);
  EXPECT_TRUE(s.attributes(2).value().bool_value());
  EXPECT_EQ(s.status().code(), pb::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(s.status().message(), "broken");
}

TEST(OtlpRetry, RetriesOnlyWhatTheCollectorMayTakeLater) {
  RetryPolicy p{.initial_backoff = 100ms, .max_backoff = 1s, .max_retry_after = 30s};
  EXPECT_FALSE(retry_delay({200, {}, {}}, 1, p));
  EXPECT_FALSE(retry_delay({400, {}, {}}, 1, p));
  EXPECT_FALSE(retry_delay({500, {}, {}}, 1, p));
  EXPECT_EQ(retry_delay({503, {}, {}}, 1, p), 100ms);
  EXPECT_EQ(retry_delay({503, {}, {}}, 2, p), 200ms);
  EXPECT_EQ(retry_delay({429, {}, {}}, 3, p), 400ms);
  EXPECT_EQ(retry_delay({502, {}, {}}, 10, p), 1s);  // capped
  EXPECT_EQ(retry_delay({0, {}, "refused"}, 1, p), 100ms);
  EXPECT_EQ(retry_delay({429, 3s, {}}, 1, p), 3000ms);      // Retry-After honoured
  EXPECT_EQ(retry_delay({503, 3600s, {}}, 1, p), 30000ms);  // but bounded
}

// A sender whose answers are scripted; it can be made to hang until released.
struct FakeSender : OtlpSender {
  std::mutex mutex;
  std::condition_variable cv;
  bool hold = false;
  std::vector<SendOutcome> script;  // answers in order; 200 once they run out
  std::vector<std::size_t> bodies;
  std::atomic<int> calls{0};

  SendOutcome send(const std::string& body, std::chrono::milliseconds) override {
    std::unique_lock lock(mutex);
    ++calls;
    bodies.push_back(body.size());
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    if (script.empty()) return {200, {}, {}};
    auto next = script.front();
    script.erase(script.begin());
    return next;
  }
  void release() {
    std::lock_guard lock(mutex);
    hold = false;
    cv.notify_all();
  }
  void wait_for_calls(int n) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, 5s, [&] { return calls >= n; });
  }
};

TracingSettings batching(std::size_t queue, std::size_t batch, std::chrono::milliseconds delay = 10ms) {
  TracingSettings s;
  s.service_name = "test";
  s.max_queue_size = queue;
  s.max_export_batch_size = batch;
  s.schedule_delay = delay;
  s.export_timeout = 5s;
  return s;
}

TEST(BatchSpanProcessor, DropsAndCountsWhenFullWithoutWaitingForTheCollector) {
  Registry metrics;
  auto sender = std::make_unique<FakeSender>();
  auto* fake = sender.get();
  fake->hold = true;  // the collector hangs
  BatchSpanProcessor p(batching(4, 1), std::move(sender), metrics, nullptr);
  p.export_span(span_named("first"));
  fake->wait_for_calls(1);  // the thread holds "first" in a send that does not return
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) p.export_span(span_named("more"));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 500ms);             // 100 spans queued or dropped; none waited for the hanging send
  EXPECT_EQ(p.stats().dropped, 96U);  // 4 fit in the queue
  fake->release();
  p.shutdown();
  EXPECT_EQ(p.stats().exported, 5U);
}

TEST(BatchSpanProcessor, SendsFullBatchesAndTheRestOnFlush) {
  Registry metrics;
  auto sender = std::make_unique<FakeSender>();
  auto* fake = sender.get();
  BatchSpanProcessor p(batching(100, 3, 1h), std::move(sender), metrics, nullptr);
  for (int i = 0; i < 7; ++i) p.export_span(span_named("s"));
  p.flush();
  EXPECT_EQ(p.stats().exported, 7U);
  EXPECT_EQ(fake->calls.load(), 3);  // 3 + 3 + 1
}

TEST(BatchSpanProcessor, RetriesUnavailableThenSucceeds) {
  Registry metrics;
  auto sender = std::make_unique<FakeSender>();
  auto* fake = sender.get();
  fake->script = {{503, {}, {}}, {429, 0s, {}}, {0, {}, "connection refused"}};
  BatchSpanProcessor p(batching(10, 10), std::move(sender), metrics, nullptr,
                       {.initial_backoff = 1ms, .max_backoff = 4ms, .max_retry_after = 1s});
  p.export_span(span_named("s"));
  p.flush();
  EXPECT_EQ(fake->calls.load(), 4);
  EXPECT_EQ(p.stats().retries, 3U);
  EXPECT_EQ(p.stats().exported, 1U);
  EXPECT_EQ(p.stats().failed, 0U);
}

TEST(BatchSpanProcessor, GivesUpOnARefusalAndCountsTheSpans) {
  Registry metrics;
  auto sender = std::make_unique<FakeSender>();
  auto* fake = sender.get();
  fake->script = {{400, {}, {}}};
  BatchSpanProcessor p(batching(10, 10), std::move(sender), metrics, nullptr);
  p.export_span(span_named("a"));
  p.export_span(span_named("b"));
  p.flush();
  EXPECT_EQ(fake->calls.load(), 1);
  EXPECT_EQ(p.stats().failed, 2U);
}

TEST(BatchSpanProcessor, GivesUpWhenRetriesWouldOutlastTheExportTimeout) {
  Registry metrics;
  auto sender = std::make_unique<FakeSender>();
  auto* fake = sender.get();
  fake->script = {{503, 10s, {}}};  // Retry-After beyond the 5 s budget
  BatchSpanProcessor p(batching(10, 10), std::move(sender), metrics, nullptr);
  p.export_span(span_named("a"));
  auto started = std::chrono::steady_clock::now();
  p.flush();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(fake->calls.load(), 1);
  EXPECT_EQ(p.stats().failed, 1U);
}

}  // namespace
}  // namespace mercato::obs
