// The bus's operator gauges (bus.hpp): outbox lag, dead letters and consumer lag, read from a real
// event store on SQLite, with a transport whose publish can be made to fail (so events stay unsent)
// and whose subscription reports a chosen consumer lag.
#include "mercato/events/bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "mercato/sql/sql.hpp"
#include "mercato/testing/gate.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::events {
namespace {

using namespace std::chrono_literals;

class FakeSubscription final : public Subscription {
 public:
  explicit FakeSubscription(std::optional<std::uint64_t> pending) : pending_(pending) {}
  void stop() override {}
  std::optional<std::uint64_t> pending() const override { return pending_; }

 private:
  std::optional<std::uint64_t> pending_;
};

class FakeTransport final : public Transport {
 public:
  std::atomic<bool> fail_publish{false};
  std::optional<std::uint64_t> pending;

  Result<void> publish(std::span<const CloudEvent>) override {
    if (fail_publish) return Error::unavailable("broker down (test)");
    return {};
  }
  Result<std::unique_ptr<Subscription>> subscribe(const SubscriptionOptions&, Handler) override {
    return std::unique_ptr<Subscription>(std::make_unique<FakeSubscription>(pending));
  }
  Result<void> ping() override { return {}; }
  std::string_view kind() const noexcept override { return "fake"; }
};

class EventsBusMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("bus-gauges");
    db_ = sql::Database::open(sqlite::DatabaseSettings{.path = (dir_ / "e.db").string()});
    store_ = open_store(*db_);
    bus_ = std::make_unique<Bus>(transport_, *store_, BusSettings{.service = "test"}, logger_, metrics_);
  }
  void TearDown() override {
    bus_.reset();
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Appends one event whose `time` is `age` ago, committed as a repository does.
  void append_aged(std::chrono::seconds age) {
    auto e = make_event("test", "thing.changed", "t1", "{}");
    e.time = format_rfc3339(now_utc() - age);
    auto r = db_->with([&](sql::Connection& c) -> Result<void> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      MERCATO_RETURN_IF_ERROR(append_outbox(c, std::vector<CloudEvent>{e}));
      return c.commit();
    });
    ASSERT_TRUE(r) << r.error().message;
  }
  double gauge(std::string_view name) { return metrics_.gauge(name, help(name)).value(); }
  static std::string help(std::string_view name) {
    if (name == "mercato_events_outbox_lag_seconds")
      return "Age of the oldest outbox event not yet published (0: none waits)";
    if (name == "mercato_events_dead_letters")
      return "Dead letters stored now (events a consumer gave up on)";
    return "Outbox rows not yet published";
  }

  std::filesystem::path dir_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<EventStore> store_;
  FakeTransport transport_;
  obs::Logger logger_{"bus-test", obs::LogLevel::kError};
  obs::Registry metrics_;
  std::unique_ptr<Bus> bus_;
};

TEST(EventsOutboxLagMetrics, IsTheAgeOfTheOldestEventAndZeroWhenNoneWaits) {
  auto now = now_utc();
  CloudEvent e;
  e.time = format_rfc3339(now - 1500ms);
  EXPECT_NEAR(outbox_lag_seconds(&e, now).value(), 1.5, 0.001);
  EXPECT_EQ(outbox_lag_seconds(nullptr, now), 0.0);
  e.time = format_rfc3339(now + 10s);  // another instance's clock runs ahead
  EXPECT_EQ(outbox_lag_seconds(&e, now), 0.0);
  e.time = "yesterday";
  EXPECT_FALSE(outbox_lag_seconds(&e, now).has_value());
}

TEST_F(EventsBusMetrics, OutboxLagGrowsWhileTheBrokerRefusesAndDropsOnceItAccepts) {
  append_aged(42s);
  transport_.fail_publish = true;
  EXPECT_FALSE(bus_->relay_once());
  bus_->refresh_gauges();
  EXPECT_GE(gauge("mercato_events_outbox_lag_seconds"), 42.0);
  EXPECT_LT(gauge("mercato_events_outbox_lag_seconds"), 60.0);
  EXPECT_EQ(gauge("mercato_events_outbox_unsent"), 1.0);

  transport_.fail_publish = false;
  auto sent = bus_->relay_once();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(*sent, 1u);
  bus_->refresh_gauges();
  EXPECT_EQ(gauge("mercato_events_outbox_lag_seconds"), 0.0);
  EXPECT_EQ(gauge("mercato_events_outbox_unsent"), 0.0);
}

// The outbox signal is per store (store.hpp): a commit that appended events wakes its own store's relay,
// not another database's; a transaction rolled back wakes nobody.
TEST_F(EventsBusMetrics, ACommitRaisesTheSignalOfItsOwnStoreOnly) {
  auto other_db = sql::Database::open(sqlite::DatabaseSettings{.path = (dir_ / "other.db").string()});
  auto other = open_store(*other_db);
  ASSERT_NE(store_->signal_key(), other->signal_key());
  auto mine = outbox_signal::generation(store_->signal_key());
  auto theirs = outbox_signal::generation(other->signal_key());
  auto rolled_back = db_->with([&](sql::Connection& c) -> Result<void> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_RETURN_IF_ERROR(
        append_outbox(c, std::vector<CloudEvent>{make_event("test", "thing.changed", "t1", "{}")}));
    c.rollback();
    return {};
  });
  ASSERT_TRUE(rolled_back) << rolled_back.error().message;
  EXPECT_EQ(outbox_signal::generation(store_->signal_key()), mine) << "a rollback woke the relay";
  append_aged(0s);
  EXPECT_GT(outbox_signal::generation(store_->signal_key()), mine);
  EXPECT_EQ(outbox_signal::generation(other->signal_key()), theirs) << "another store's relay was woken";
}

TEST_F(EventsBusMetrics, DeadLettersCountsWhatIsStoredNow) {
  bus_->refresh_gauges();
  EXPECT_EQ(gauge("mercato_events_dead_letters"), 0.0);
  for (int i = 0; i < 3; ++i) {
    auto e = make_event("test", "thing.changed", "t" + std::to_string(i), "{}");
    ASSERT_TRUE(store_->add_dead_letter("test", e, "handler failed", 5));
  }
  bus_->refresh_gauges();
  EXPECT_EQ(gauge("mercato_events_dead_letters"), 3.0);
  auto letters = store_->dead_letters(10);
  ASSERT_TRUE(letters);
  ASSERT_TRUE(store_->remove_dead_letter(letters->front().id));
  bus_->refresh_gauges();
  EXPECT_EQ(gauge("mercato_events_dead_letters"), 2.0);
}

TEST_F(EventsBusMetrics, ConsumerLagIsWhatTheSubscriptionReports) {
  transport_.pending = 7;
  bus_->on("thing.changed", [](const CloudEvent&) -> Result<void> { return {}; });
  ASSERT_TRUE(bus_->start());
  bus_->refresh_gauges();
  EXPECT_EQ(metrics_
                .gauge("mercato_events_consumer_lag_messages",
                       "Events the broker holds for this service's consumer group, not yet delivered")
                .value(),
            7.0);
}

TEST_F(EventsBusMetrics, NoConsumerLagSeriesWhenTheTransportCannotTell) {
  bus_->on("thing.changed", [](const CloudEvent&) -> Result<void> { return {}; });
  ASSERT_TRUE(bus_->start());
  bus_->refresh_gauges();
  EXPECT_EQ(metrics_.render().find("mercato_events_consumer_lag_messages"), std::string::npos);
  EXPECT_NE(metrics_.render().find("mercato_events_outbox_lag_seconds 0"), std::string::npos);
}

// What the fake transports below answer alike: a broker that is up, a subscription that delivers
// nothing.
class QuietTransport : public Transport {
 public:
  Result<std::unique_ptr<Subscription>> subscribe(const SubscriptionOptions&, Handler) override {
    return std::unique_ptr<Subscription>(std::make_unique<FakeSubscription>(std::nullopt));
  }
  Result<void> ping() override { return {}; }
  std::string_view kind() const noexcept override { return "fake"; }
};

// A transport whose publish waits at a gate the test opens, so a test can commit while a relay round
// is in flight.
class GatedTransport final : public QuietTransport {
 public:
  Result<void> publish(std::span<const CloudEvent>) override {
    gate.wait();
    return {};
  }
  testing::Gate gate;
};

// The relay refreshes the outbox gauges at most once a second, so the round that publishes the last
// rows may skip it; the refresh must still come within a second, even with nothing else to wake the
// relay (an hour's poll). Round 1 is held in publish while a second event commits, so its refresh
// counts that event unsent; round 2 publishes it and skips the refresh, and the relay then goes idle.
TEST_F(EventsBusMetrics, TheOutboxGaugesCatchUpWithTheLastRoundWhenTheRelayGoesIdle) {
  GatedTransport gated;
  BusSettings settings{.service = "test"};
  settings.relay_poll = 1h;
  Bus bus(gated, *store_, settings, logger_, metrics_);
  ASSERT_TRUE(bus.start());
  append_aged(0s);
  ASSERT_TRUE(gated.gate.wait_for_waiters(1, 10s)) << "the relay did not publish the first event";
  append_aged(0s);
  gated.gate.open();
  ASSERT_TRUE(gated.gate.wait_for_waiters(2, 10s)) << "the relay did not publish the second event";
  ASSERT_TRUE(testing::eventually([&] { return *store_->unsent_count() == 0; }, 5s));
  EXPECT_TRUE(testing::eventually([&] { return gauge("mercato_events_outbox_unsent") == 0.0; }, 5s))
      << "the gauge still says " << gauge("mercato_events_outbox_unsent");
}

// Traces through the bus (bus.hpp, "Traces"): the relay's PRODUCER span is what the event goes out
// with, the delivery's CONSUMER span is what the handler sees as the event's traceparent and as the
// ambient context, so an event it makes continues the trace from there.
class RecordingTransport final : public QuietTransport {
 public:
  Handler handler;

  // The bus's relay publishes on its own thread.
  Result<void> publish(std::span<const CloudEvent> events) override {
    {
      std::lock_guard lock(mutex_);
      published_.insert(published_.end(), events.begin(), events.end());
    }
    changed_.notify_all();
    return {};
  }
  std::vector<CloudEvent> published() {
    std::lock_guard lock(mutex_);
    return published_;
  }
  bool wait_for_published(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return published_.size() >= n; });
  }
  Result<std::unique_ptr<Subscription>> subscribe(const SubscriptionOptions& o, Handler h) override {
    handler = std::move(h);
    return QuietTransport::subscribe(o, {});
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<CloudEvent> published_;  // guarded by mutex_
};

struct CollectingSink : obs::SpanSink {
  std::mutex mutex;
  std::vector<obs::SpanData> spans;
  void export_span(obs::SpanData&& span) override {
    std::lock_guard lock(mutex);
    spans.push_back(std::move(span));
  }
  const obs::SpanData* named(std::string_view name) {
    for (const auto& s : spans) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
};

TEST(EventsBusTracing, PublishAndProcessSpansChainTheTraceThroughTheHandler) {
  auto dir = testing::temp_dir("bus-tracing");
  auto db = sql::Database::open(sqlite::DatabaseSettings{.path = (dir / "e.db").string()});
  auto store = open_store(*db);
  RecordingTransport transport;
  CollectingSink sink;
  obs::Tracer tracer({obs::SamplerKind::kParentBasedAlwaysOn, 1.0}, &sink);
  obs::Logger logger{"bus-test", obs::LogLevel::kError};
  obs::Registry metrics;
  CloudEvent emitted;
  {
    Bus bus(transport, *store, BusSettings{.service = "test"}, logger, metrics, &tracer);
    bus.on("thing.changed", [&](const CloudEvent&) -> Result<void> {
      emitted = make_event("test", "thing.noticed", "t1", "{}");  // no context given: the ambient one
      return {};
    });
    ASSERT_TRUE(bus.start());
    auto caused_by = *obs::TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    auto e = make_event("test", "thing.changed", "t1", "{}", caused_by.to_traceparent());
    auto r = db->with([&](sql::Connection& c) -> Result<void> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      MERCATO_RETURN_IF_ERROR(append_outbox(c, std::vector<CloudEvent>{e}));
      return c.commit();
    });
    ASSERT_TRUE(r) << r.error().message;
    // The commit wakes the bus's own relay, which publishes it; relay_once() beside it could publish the
    // same row a second time (at least once), with a second span.
    ASSERT_TRUE(transport.wait_for_published(1, 10s));
    auto sent = transport.published().back();
    ASSERT_TRUE(transport.handler);
    ASSERT_TRUE(transport.handler(Delivery{sent}));
    bus.stop();
  }
  std::lock_guard lock(sink.mutex);
  const auto* publish = sink.named("publish thing.changed");
  const auto* process = sink.named("process thing.changed");
  ASSERT_NE(publish, nullptr);
  ASSERT_NE(process, nullptr);
  EXPECT_EQ(publish->kind, obs::SpanKind::kProducer);
  EXPECT_EQ(publish->parent_span_id, "00f067aa0ba902b7");
  ASSERT_EQ(transport.published().size(), 1u);
  EXPECT_EQ(transport.published().back().traceparent, publish->context.to_traceparent());
  EXPECT_EQ(process->kind, obs::SpanKind::kConsumer);
  EXPECT_EQ(process->parent_span_id, publish->context.span_id);
  EXPECT_EQ(emitted.traceparent, process->context.to_traceparent());
  EXPECT_EQ(process->context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mercato::events
