// A service's connection to the event bus: the outbox relay that publishes what its transactions
// appended, the consumers that hand incoming events to its handlers, and the dead letters.
//
//   auto& bus = events::attach(ctx, store);            // reads the `events` config section
//   bus.on("order.created", [&](const events::CloudEvent& e) { return payments.on_order_created(e); });
//   bus.start();                                        // after every handler is registered
//
// The relay wakes when a transaction that appended events commits (outbox_signal), publishes the
// unsent rows in commit order, marks them sent, and on a failed publish backs off (doubling, capped)
// and tries again from the first unsent row — so events of one subject never overtake each other.
// It polls every `events.relay_poll` as a fallback (rows written by another instance sharing the
// database). Sent rows and inbox records older than `events.retention` are purged.
//
// A handler returns Ok once its effect is committed (with its inbox record, see store.hpp). An Error is
// retried with backoff; after `events.max_deliver` attempts the event is stored as a dead letter with
// the error and acknowledged. `GET /admin/dead-letters` lists them and
// `POST /admin/dead-letters/{id}/redrive` hands one to its handler again (`./mercato dlq`).
//
// Fault injection for tests: MERCATO_EVENTS_FAIL="<type>:<n>[,<type>:<n>...]" makes the first n
// deliveries of each listed type fail before their handler runs (as a handler error: retried, then
// dead-lettered), e.g. "inventory.release_requested:2" — a compensation that fails twice then succeeds.
//
// Gauges an operator watches (docs/observability.md), set by the relay after a round, at most once a second
// (and within a second of the last round):
//   mercato_events_outbox_unsent          outbox rows not yet published
//   mercato_events_outbox_lag_seconds     age of the oldest unpublished event (its CloudEvent `time`), 0
//                                         when none waits: how far behind the broker this service is
//   mercato_events_consumer_lag_messages  events the broker holds for this service's group, not yet
//                                         delivered (where the transport can tell: NATS, Kafka)
//   mercato_events_dead_letters           dead letters stored now (refreshed every 5 s)
//
// Traces (with a tracer; docs/observability.md "Traces"): the relay gives every event that carries a
// traceparent a PRODUCER span ("publish <type>") and publishes the event with that span's context; each
// delivery gets a CONSUMER span ("process <type>"), and the handler sees the event with *its* context
// as traceparent and runs with it as the ambient context — so whatever the handler emits or writes
// continues the same trace, one hop further. Events without a traceparent get no spans.
//
// Thread-safety: register handlers before start(); afterwards everything is thread-safe. Handlers run
// on the transport's threads. Stopped (relay joined, subscriptions stopped) when destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "mercato/events/store.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::service {
class Context;
}

namespace mercato::events {

struct BusSettings {
  std::string service;  // the consumer group and the events' source
  int max_deliver = 5;
  std::chrono::milliseconds retry_delay{200};
  std::chrono::milliseconds max_retry_delay{10000};
  std::chrono::milliseconds ack_wait{30000};
  std::size_t relay_batch = 256;
  std::chrono::milliseconds relay_poll{500};
  std::chrono::milliseconds relay_max_backoff{5000};
  std::chrono::milliseconds retention{std::chrono::hours(24)};
};

using EventHandler = std::function<Result<void>(const CloudEvent&)>;

// The age of `oldest` at `now` in seconds, from its CloudEvent `time`: 0 when nothing waits (nullptr)
// or the time lies ahead (another instance's clock), nullopt when the time is not RFC 3339.
std::optional<double> outbox_lag_seconds(const CloudEvent* oldest, SystemTime now);

class Bus {
 public:
  // `tracer`: nullptr when tracing is off; else it must outlive the bus.
  Bus(Transport& transport, EventStore& store, BusSettings settings, const obs::Logger& logger,
      obs::Registry& metrics, const obs::Tracer* tracer = nullptr);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  void on(std::string type, EventHandler handler);
  // Consumes `type` with no effect but the inbox record (the event is acknowledged once per consumer;
  // duplicates are counted in mercato_events_duplicates_total). For a service that must see an event
  // before it has anything to do with it.
  void record_only(std::string type);
  // Starts the relay and, when handlers are registered, the subscription.
  Result<void> start();
  void stop();

  // Publishes every unsent outbox row now; returns how many were published (tests, benchmarks).
  Result<std::size_t> relay_once();

  // Sets the gauges above from the store and the subscription now (the relay does it every round,
  // the dead-letter count every 5 s; tests call it directly).
  void refresh_gauges();

  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit = 100);
  // Runs the handler for the dead letter's event; on success the dead letter is removed, on failure
  // it stays with the new error (kept: the returned Error says why).
  Result<void> redrive(std::string_view id);

  Transport& transport() noexcept { return transport_; }
  EventStore& store() noexcept { return store_; }
  const BusSettings& settings() const noexcept { return settings_; }

 private:
  // A handled type's handler and its metric handles, looked up once when it is registered: a delivery
  // only increments (a registry lookup takes a lock and builds a key).
  struct Consumer {
    EventHandler handler;
    obs::Counter* handled_ok = nullptr;
    obs::Counter* handled_error = nullptr;
    obs::Counter* dead_lettered = nullptr;
  };

  Result<void> dispatch(const CloudEvent& event);
  Result<void> dispatch_untraced(const CloudEvent& event);
  obs::Counter& dead_lettered_counter(const std::string& type);
  obs::Counter& published_counter(const std::string& type);  // the caller holds published_mutex_
  void relay_loop();
  void refresh_lag_gauges();
  void refresh_dead_letters_gauge();

  Transport& transport_;
  EventStore& store_;
  BusSettings settings_;
  const obs::Logger& logger_;
  obs::Registry& metrics_;
  const obs::Tracer* tracer_;
  obs::Counter& publish_failures_;
  obs::Gauge& unsent_gauge_;
  obs::Gauge& outbox_lag_gauge_;
  obs::Gauge& dead_letters_gauge_;
  // Registered only once the subscription reports a value, so a transport that cannot tell shows no
  // series rather than a misleading 0. Touched by the relay thread and refresh_gauges' caller.
  std::atomic<obs::Gauge*> consumer_lag_gauge_{nullptr};
  std::map<std::string, Consumer, std::less<>> handlers_;  // fixed once start() ran
  // The types this service publishes are only known as the relay meets them: their counters are
  // looked up on first use and kept.
  std::mutex published_mutex_;
  std::map<std::string, obs::Counter*, std::less<>> published_;  // guarded by published_mutex_
  std::map<std::string, int> injected_failures_;                 // MERCATO_EVENTS_FAIL; guarded by mutex_
  std::unique_ptr<Subscription> subscription_;
  std::thread relay_;
  std::mutex mutex_;
  std::condition_variable stopping_cv_;
  bool stopping_ = false;
  bool started_ = false;
};

// Builds the bus of a service from its `events` section (url, partitions, max_deliver, retry_delay,
// max_retry_delay, ack_wait, relay_poll, retention; url defaults to the context's default_events_url():
// inprocess://<service>, or the monolith's broker), owns the transport and the bus in `ctx`, adds the
// "events" readiness check and the dead-letter admin routes.
Bus& attach(service::Context& ctx, EventStore& store);

}  // namespace mercato::events
