#include "mercato/events/bus.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "mercato/core/failpoint.hpp"

namespace mercato::events {

namespace {
// The types of the events a batch message's handlers ran on this thread while its scope is open
// (Bus::start): its crash point comes once the scope committed, not after each handler.
thread_local std::vector<std::string>* t_batch_handled = nullptr;
}  // namespace

Bus::Bus(Transport& transport, EventStore& store, BusSettings settings, const obs::Logger& logger,
         obs::Registry& metrics, const obs::Tracer* tracer)
    : transport_(transport),
      store_(store),
      settings_(std::move(settings)),
      logger_(logger),
      metrics_(metrics),
      tracer_(tracer),
      publish_failures_(metrics.counter("mercato_events_publish_failures_total",
                                        "Outbox batches the broker did not accept")),
      unsent_gauge_(metrics.gauge("mercato_events_outbox_unsent", "Outbox rows not yet published")),
      outbox_lag_gauge_(metrics.gauge("mercato_events_outbox_lag_seconds",
                                      "Age of the oldest outbox event not yet published (0: none waits)")),
      dead_letters_gauge_(metrics.gauge("mercato_events_dead_letters",
                                        "Dead letters stored now (events a consumer gave up on)")) {
  // Test-only fault injection (bus.hpp): the first n deliveries of a type fail.
  if (const char* spec = std::getenv("MERCATO_EVENTS_FAIL")) {
    std::string_view rest = spec;
    while (!rest.empty()) {
      auto item = rest.substr(0, rest.find(','));
      rest.remove_prefix(std::min(rest.size(), item.size() + 1));
      auto colon = item.rfind(':');
      if (colon == std::string_view::npos) continue;
      int n = std::atoi(std::string(item.substr(colon + 1)).c_str());
      if (n > 0) injected_failures_[std::string(item.substr(0, colon))] = n;
    }
  }
}

Bus::~Bus() { stop(); }

void Bus::on(std::string type, EventHandler handler) {
  auto handled = [&](const char* outcome) {
    return &metrics_.counter("mercato_events_handled_total",
                             "Event deliveries handed to a handler, by outcome",
                             {{"type", type}, {"outcome", outcome}});
  };
  Consumer consumer{std::move(handler), handled("ok"), handled("error"), &dead_lettered_counter(type)};
  handlers_[std::move(type)] = std::move(consumer);
}

void Bus::record_only(std::string type) {
  auto& duplicates =
      metrics_.counter("mercato_events_duplicates_total",
                       "Deliveries of events this consumer had already handled", {{"type", type}});
  on(std::move(type), [this, &duplicates](const CloudEvent& e) -> Result<void> {
    MERCATO_ASSIGN_OR_RETURN(auto first, store_.handle_once(settings_.service, e.id));
    if (!first) duplicates.inc();
    return {};
  });
}

Result<void> Bus::start() {
  {
    std::lock_guard lock(mutex_);
    if (started_) return {};
    started_ = true;
  }
  if (!handlers_.empty()) {
    SubscriptionOptions o;
    o.group = settings_.service;
    for (const auto& [type, _] : handlers_) o.types.push_back(type);
    o.max_deliver = settings_.max_deliver;
    o.retry_delay = settings_.retry_delay;
    o.max_retry_delay = settings_.max_retry_delay;
    o.ack_wait = settings_.ack_wait;
    o.on_give_up = [this](const CloudEvent& e, const Error& error, int attempts) -> Result<void> {
      logger_.error("event dead-lettered",
                    {{"event_id", e.id}, {"type", e.type}, {"attempts", attempts}, {"error", error.message}});
      auto r = store_.add_dead_letter(settings_.service, e, error.message, attempts);
      if (r) {
        // A message the transport could not decode may carry no type, or one nobody subscribed to: its
        // counter is looked up then (a rare path), every handled type's is at hand.
        auto consumer = handlers_.find(e.type);
        (consumer != handlers_.end() ? *consumer->second.dead_lettered : dead_lettered_counter(e.type)).inc();
      }
      return r;
    };
    o.batch_scope = [this](const std::function<void()>& handle_all) -> Result<void> {
      std::vector<std::string> handled;
      struct Scope {
        explicit Scope(std::vector<std::string>* h) { t_batch_handled = h; }
        ~Scope() { t_batch_handled = nullptr; }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;
      } scope(&handled);
      auto r = store_.group(handle_all);
      // "After the effect committed, before the ack": for a batch that is after its one transaction.
      if (r)
        for (const auto& type : handled) failpoint("consumer.before_ack", type);
      return r;
    };
    auto deliver = [this](const Delivery& d) -> Result<void> {
      auto r = dispatch(d.event);
      if (r && t_batch_handled != nullptr) {
        t_batch_handled->push_back(d.event.type);
      } else if (r) {
        failpoint("consumer.before_ack", d.event.type);
      }
      if (!r) {
        logger_.warn("event handler failed", {{"event_id", d.event.id},
                                              {"type", d.event.type},
                                              {"attempt", d.attempt},
                                              {"error", r.error().message}});
      }
      return r;
    };
    MERCATO_ASSIGN_OR_RETURN(subscription_, transport_.subscribe(o, std::move(deliver)));
  }
  relay_ = std::thread([this] { relay_loop(); });
  return {};
}

void Bus::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();
  outbox_signal::raise(store_.signal_key());  // wakes the relay if it waits for commits
  if (subscription_) subscription_->stop();
  if (relay_.joinable()) relay_.join();
}

// The consume side of a trace: a CONSUMER span whose context the handler sees as the event's
// traceparent and as the ambient context (the handler is synchronous: nothing else runs on this thread
// meanwhile), so the events it emits and the transactions it runs are children of this delivery.
Result<void> Bus::dispatch(const CloudEvent& event) {
  std::optional<obs::TraceContext> parent;
  if (tracer_ != nullptr) parent = obs::TraceContext::parse(event.traceparent);
  if (!parent) return dispatch_untraced(event);
  auto span = tracer_->start("process " + event.type, obs::SpanKind::kConsumer, parent);
  if (span.recording()) {
    span.set("messaging.system", transport_.kind());
    span.set("messaging.operation", "process");
    span.set("messaging.destination.name", event.type);
    span.set("messaging.message.id", event.id);
    span.set("messaging.consumer.group.name", settings_.service);
  }
  CloudEvent traced = event;
  traced.traceparent = span.context().to_traceparent();
  obs::ContextScope scope(tracer_, span.context());
  auto r = dispatch_untraced(traced);
  if (!r) span.set_error(r.error().message);
  return r;
}

Result<void> Bus::dispatch_untraced(const CloudEvent& event) {
  if (!injected_failures_.empty()) {
    std::lock_guard lock(mutex_);
    auto injected = injected_failures_.find(event.type);
    if (injected != injected_failures_.end() && injected->second > 0) {
      --injected->second;
      return Error::unavailable("injected failure (MERCATO_EVENTS_FAIL) of " + event.type);
    }
  }
  auto it = handlers_.find(event.type);
  if (it == handlers_.end()) return {};  // a type this service no longer handles: nothing to do
  const Consumer& consumer = it->second;
  auto r = consumer.handler(event);
  (r ? consumer.handled_ok : consumer.handled_error)->inc();
  return r;
}

obs::Counter& Bus::dead_lettered_counter(const std::string& type) {
  return metrics_.counter("mercato_events_dead_lettered_total",
                          "Events given up on and stored as dead letters", {{"type", type}});
}

obs::Counter& Bus::published_counter(const std::string& type) {
  auto known = published_.find(type);
  if (known != published_.end()) return *known->second;
  auto& counter = metrics_.counter("mercato_events_published_total", "Events published from the outbox",
                                   {{"type", type}});
  published_.emplace(type, &counter);
  return counter;
}

Result<std::size_t> Bus::relay_once() {
  std::size_t published = 0;
  for (;;) {
    MERCATO_ASSIGN_OR_RETURN(auto lead, store_.try_lead());
    if (!lead) return published;
    MERCATO_ASSIGN_OR_RETURN(auto rows, store_.unsent(settings_.relay_batch));
    if (rows.empty()) return published;
    std::vector<CloudEvent> batch;
    std::vector<std::int64_t> seqs;
    batch.reserve(rows.size());
    for (auto& row : rows) {
      batch.push_back(row.event);
      seqs.push_back(row.seq);
    }
    // The publish side of a trace: a PRODUCER span per traced event, and the event goes out with its
    // context, so that the consumers' spans are its children. The row keeps the original traceparent:
    // a failed batch is published again, with spans of its own, next round.
    std::vector<obs::Span> spans;
    if (tracer_ != nullptr) {
      for (auto& e : batch) {
        auto parent = obs::TraceContext::parse(e.traceparent);
        if (!parent) continue;
        auto span = tracer_->start("publish " + e.type, obs::SpanKind::kProducer, parent);
        e.traceparent = span.context().to_traceparent();
        if (!span.recording()) continue;
        span.set("messaging.system", transport_.kind());
        span.set("messaging.operation", "publish");
        span.set("messaging.destination.name", e.type);
        span.set("messaging.message.id", e.id);
        spans.push_back(std::move(span));
      }
    }
    failpoint("relay.before_publish");
    auto sent = transport_.publish(batch);
    for (auto& span : spans) {
      if (!sent) span.set_error(sent.error().message);
      span.end();
    }
    if (!sent) {
      // Some may have reached the broker; they are published again next time (consumers dedupe by id,
      // and JetStream's Nats-Msg-Id window drops the repeat itself).
      (void)store_.mark_failed(seqs.front(), sent.error().message);
      publish_failures_.inc();
      return std::move(sent).error();
    }
    failpoint("relay.after_publish");
    MERCATO_RETURN_IF_ERROR(store_.mark_sent(seqs));
    {
      std::lock_guard lock(published_mutex_);
      for (const auto& e : batch) published_counter(e.type).inc();
    }
    published += batch.size();
    if (rows.size() < settings_.relay_batch) return published;
  }
}

std::optional<double> outbox_lag_seconds(const CloudEvent* oldest, SystemTime now) {
  if (oldest == nullptr) return 0.0;
  auto at = parse_rfc3339(oldest->time);
  if (!at) return std::nullopt;
  return std::max(0.0, std::chrono::duration<double>(now - *at).count());
}

void Bus::refresh_gauges() {
  refresh_lag_gauges();
  refresh_dead_letters_gauge();
}

// After a relay round: what is still unsent is what the broker has not got, whichever instance
// sharing the database leads the relay (the rows are the database's, not this process's).
void Bus::refresh_lag_gauges() {
  if (auto n = store_.unsent_count(); n) unsent_gauge_.set(static_cast<double>(*n));
  if (auto oldest = store_.unsent(1); oldest) {
    auto lag = outbox_lag_seconds(oldest->empty() ? nullptr : &oldest->front().event, now_utc());
    if (lag) outbox_lag_gauge_.set(*lag);
  }
  if (!subscription_) return;
  auto pending = subscription_->pending();
  if (!pending) return;
  auto* gauge = consumer_lag_gauge_.load();
  if (gauge == nullptr) {
    gauge = &metrics_.gauge("mercato_events_consumer_lag_messages",
                            "Events the broker holds for this service's consumer group, not yet delivered");
    consumer_lag_gauge_.store(gauge);
  }
  gauge->set(static_cast<double>(*pending));
}

// Every few seconds rather than every relay round: dead letters change rarely.
void Bus::refresh_dead_letters_gauge() {
  if (auto n = store_.dead_letter_count(); n) dead_letters_gauge_.set(static_cast<double>(*n));
}

// Its own thread rather than a core::Periodic: the relay wakes when a commit to its store raises
// outbox_signal (keyed by the store: store.hpp), not on a period; the poll is only the fallback, and
// after a failed publish the wait is a backoff that the next commit must not cut short.
void Bus::relay_loop() {
  const void* signal = store_.signal_key();
  auto seen = outbox_signal::generation(signal);
  auto backoff = std::chrono::milliseconds(0);
  auto next_purge = std::chrono::steady_clock::now();
  auto next_dead_letters = std::chrono::steady_clock::now();
  auto next_lag = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    auto r = relay_once();
    if (r) {
      backoff = std::chrono::milliseconds(0);
    } else {
      backoff = std::clamp(backoff * 2, std::chrono::milliseconds(50), settings_.relay_max_backoff);
      logger_.warn(
          "outbox relay cannot publish; retrying",
          {{"error", r.error().message}, {"retry_in_ms", static_cast<std::int64_t>(backoff.count())}});
    }
    // At most once a second, not after every round: under load the relay runs a round per commit,
    // and the gauges' two queries were as many as the round's own (on PostgreSQL 9% of all statements
    // per order, docs/benchmarks.md 23). A round that skipped the refresh leaves it pending, and the
    // wait below then ends by the time it is due: the gauges show the last round's outcome within a
    // second even when no commit and no poll (relay_poll may be an hour) would wake the relay again.
    const bool lag_skipped = std::chrono::steady_clock::now() < next_lag;
    if (!lag_skipped) {
      refresh_lag_gauges();
      next_lag = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    if (std::chrono::steady_clock::now() >= next_dead_letters) {
      refresh_dead_letters_gauge();
      next_dead_letters = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    }
    if (std::chrono::steady_clock::now() >= next_purge) {
      (void)store_.purge(now_utc() - settings_.retention);
      next_purge = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }
    if (backoff.count() > 0) {
      std::unique_lock lock(mutex_);
      stopping_cv_.wait_for(lock, backoff, [&] { return stopping_; });
      seen = outbox_signal::generation(signal);
    } else {
      auto wait = settings_.relay_poll;
      if (lag_skipped) {
        auto until_lag =
            std::chrono::ceil<std::chrono::milliseconds>(next_lag - std::chrono::steady_clock::now());
        wait = std::min(wait, std::max(until_lag, std::chrono::milliseconds(1)));  // not clamp: a 0 poll
      }
      outbox_signal::wait(signal, seen, wait);
    }
  }
}

Result<std::vector<DeadLetter>> Bus::dead_letters(std::size_t limit) { return store_.dead_letters(limit); }

Result<void> Bus::redrive(std::string_view id) {
  MERCATO_ASSIGN_OR_RETURN(auto letter, store_.dead_letter(id));
  if (!letter) return Error::not_found("no dead letter " + std::string(id));
  if (letter->consumer != settings_.service)
    return Error::conflict("dead letter " + std::string(id) + " belongs to consumer " + letter->consumer);
  auto r = dispatch(letter->event);
  if (!r) {
    (void)store_.update_dead_letter(id, r.error().message);
    return Error::unprocessable("the handler failed again: " + r.error().message);
  }
  return store_.remove_dead_letter(id);
}

}  // namespace mercato::events
