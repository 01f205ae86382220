// The message broker seen from a service: publish CloudEvents, and subscribe to event types as a
// consumer group. Three implementations, chosen by configuration (`events.url`):
//   nats://host:port     NATS JetStream (the default for ./mercato up)
//   kafka://host:port    Kafka (librdkafka; tests use librdkafka's mock cluster)
//   inprocess://NAME     one process (unit tests, the monolith mode), memory only
//   inprocess://NAME?file=var/monolith/events.db&retention=1m
//                        the same, durable: the log and each group's committed offsets are kept in that
//                        SQLite file too, so a restarted process delivers what was not acked (the monolith)
//
// The in-process broker (in_process_transport.cpp says how):
// - `file=PATH` (no `&` in it): publish returns once the batch is committed to the file; an ack commits
//   the group's offset; opening the file again reads both back. Without it a crash of the process loses
//   every event published and not yet acked. One process opens a file at a time (SQLite's exclusive
//   lock); a file that cannot be opened, is no SQLite database or was written with other `partitions`
//   or `prefix` is an Error at open.
// - `retention=DURATION` (default 1m): an event is dropped from memory (and the file) once every group
//   holding events in its partition acked it and it is at least that old. A group that subscribes sees
//   the events of the last `retention` (so every module subscribing during a start-up sees the same);
//   a group without a member for longer than `retention` holds nothing (it left the process).
//
// The contract every transport keeps (lib/events/src/transport_contract_test.cpp checks it against all):
// - publish returns only once the broker has durably accepted the event (JetStream PubAck, Kafka delivery
//   report); an Error means "maybe not published" — the outbox will publish it again.
// - Delivery is at least once. Every group sees every event of the types it subscribed to; the members
//   (subscriptions with the same group, in any process) share the work.
// - Per group, events with the same subject are handled one at a time in publish order: the next one is
//   delivered only after the previous one is acked (or dead-lettered).
// - The handler's result decides: Ok → ack; an Error → redelivered after `retry_delay` (backoff grows
//   with the attempt); after `max_deliver` attempts the consumer gives up on the event: the
//   `on_give_up` hook (the dead-letter store) is called with the last error and the event is acked.
// - Events one publish call hands over together may travel as one broker message (NATS: those of one
//   partition, up to `message_batch`): they are delivered in their order, their handlers run inside
//   one `batch_scope`, and they are acknowledged together — so an event handled before a stop or a crash
//   can come back with the unhandled ones behind it (at least once; the inbox drops it). A failing one
//   is retried where it is, with the same attempts and backoff, holding the events behind it.
//
// Thread-safety: Transport is thread-safe. Handlers run on the transport's own threads (never on an
// HTTP I/O thread), so they may block on the database.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::events {

struct Delivery {
  const CloudEvent& event;
  int attempt = 1;  // 1 on first delivery
};

using Handler = std::function<Result<void>(const Delivery&)>;
// Called when an event has failed `max_deliver` times, with the last error, before it is acked.
// Returning an Error (e.g. the dead-letter store is down) leaves the event unacked so it comes back.
using GiveUpHook = std::function<Result<void>(const CloudEvent&, const Error& last_error, int attempts)>;

struct SubscriptionOptions {
  std::string group;               // the consuming service, e.g. "payment"
  std::vector<std::string> types;  // e.g. {"order.created", "order.cancelled"}
  int max_deliver = 5;
  std::chrono::milliseconds retry_delay{200};  // first redelivery delay; doubles per attempt, capped
  std::chrono::milliseconds max_retry_delay{10000};
  std::chrono::milliseconds ack_wait{30000};  // a handler running longer is assumed dead: redelivered
  GiveUpHook on_give_up;                      // required when max_deliver > 0
  // Runs the handlers of one broker message that carries several events (its argument calls them) as
  // one unit — the bus: one database transaction (EventStore::group). Its Error means none of their
  // effects were kept: the message comes back whole. Empty: each handler on its own.
  std::function<Result<void>(const std::function<void()>&)> batch_scope;
};

class Subscription {
 public:
  virtual ~Subscription() = default;
  // Stops delivering and waits for a running handler to return. Unacked events are redelivered to
  // another member of the group (or to this one after a restart). Idempotent; the destructor calls it.
  virtual void stop() = 0;
  // Events the broker holds for this group that it has not yet handed over (the consumer lag), summed
  // over the subscription's partitions, as last learnt without asking the broker: NATS JetStream tells
  // it with every message it delivers (the metadata's num_pending), Kafka with every fetch (the
  // partition's high watermark), so the value is as fresh as the last delivery or redelivery. nullopt
  // when the transport cannot tell it cheaply (the default: the in-process broker). Thread-safe.
  virtual std::optional<std::uint64_t> pending() const { return std::nullopt; }
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Publishes in order; returns once all are durably accepted, or the first failure (events before it
  // may have been accepted). Refuses invalid events (validate()) with kValidationFailed.
  virtual Result<void> publish(std::span<const CloudEvent> events) = 0;
  Result<void> publish(const CloudEvent& event) { return publish(std::span<const CloudEvent>(&event, 1)); }

  virtual Result<std::unique_ptr<Subscription>> subscribe(const SubscriptionOptions& options,
                                                          Handler handler) = 0;

  // Whether the broker is reachable now (readiness check).
  virtual Result<void> ping() = 0;
  // "nats", "kafka" or "inprocess".
  virtual std::string_view kind() const noexcept = 0;
};

// Where events go: the topic (Kafka topic / JetStream stream) of an event is its type's family, the part
// before the first '.' ("order.created" → "order"), so every event about one aggregate shares a topic;
// within a topic, events are spread over `partitions` by their subject, which is what keeps per-key
// order while several members share the work.
// Commands — types whose second part ends in "_requested" ("inventory.reserve_requested") — go to a
// topic of their own, "<family>-commands" ('-' never occurs in a type, so no family can collide with
// it). A broker hands a group everything in a partition of each topic it reads, whatever the type; with
// commands beside the family's events, the service that executes the commands received every answer it
// sent and the orchestrator every command, only to skip them (measured: about a third of all
// deliveries of an orchestrated order; docs/benchmarks.md). Per-subject order holds within a topic: a
// group that consumes both a family's commands and its events must not rely on the order between them.
std::string topic_of(std::string_view type);
// Whether `type` names a command (see topic_of).
bool is_command(std::string_view type);
// Stable across processes and languages: FNV-1a 32-bit of the subject, modulo `partitions`.
int partition_of(std::string_view subject, int partitions);

struct TransportSettings {
  std::string url;  // nats://127.0.0.1:4222 | kafka://127.0.0.1:9092 | inprocess://name[?file=PATH]
  std::string prefix = "mercato";  // namespaces streams/topics/durables; tests use a unique one each
  std::string client_id;           // shows up in broker logs, e.g. "order-12345"
  int partitions = 8;              // per topic; must be the same for every process on one broker
  // The most events one broker message carries (NATS: the events of one partition a publish call
  // holds — an outbox relay's round — go as one message, 1 to 1000); 1 sends every event alone.
  int message_batch = 64;
  std::chrono::milliseconds publish_timeout{5000};
};

// Opens the transport the URL names. Errors (bad URL, broker unreachable at start) name the URL.
Result<std::unique_ptr<Transport>> open_transport(const TransportSettings& settings);

// The individual transports (open_transport dispatches to these).
Result<std::unique_ptr<Transport>> open_in_process(const TransportSettings& settings);
Result<std::unique_ptr<Transport>> open_nats(const TransportSettings& settings);
Result<std::unique_ptr<Transport>> open_kafka(const TransportSettings& settings);

// For tests: how many events the in-process broker that `settings` names (url and prefix) holds in
// memory; nullopt when no such broker is open in this process.
std::optional<std::size_t> in_process_retained(const TransportSettings& settings);

// The delay before redelivery number `attempt` + 1: retry_delay * 2^(attempt-1), capped.
std::chrono::milliseconds retry_backoff(const SubscriptionOptions& options, int attempt);

}  // namespace mercato::events
