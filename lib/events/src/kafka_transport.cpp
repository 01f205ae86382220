// The Kafka transport (librdkafka, C API): how the contract in transport.hpp maps onto Kafka.
//
// Topics. One topic per type family, "<prefix>.<family>" ("mercato.order" holds order.created,
// order.cancelled, ...), with `settings.partitions` partitions. publish and subscribe create the topics
// they touch before using them: with the Admin API (CreateTopics; "already exists" is success) when the
// cluster names a controller, otherwise (librdkafka's mock cluster has no controller and no CreateTopics)
// by the broker's topic auto-creation on a metadata request, which uses the broker's default partition
// count. Either way every process reads the actual count from the cluster, so they all agree.
//
// Publishing. One idempotent producer per Transport (enable.idempotence: acks=all, no duplicates or
// reordering on internal retries). Key = subject and partitioner "fnv1a", which is exactly partition_of():
// all events of one subject land on one partition, in publish order. Value = the JSON data; the other
// attributes travel as headers in CloudEvents' Kafka binary mode (ce_id, ce_source, ce_type, ce_subject,
// ce_time, ce_specversion, ce_dataschema, ce_traceparent, ce_tracestate, content-type). publish() hands
// the whole batch to librdkafka (linger.ms=2 lets it batch without adding noticeable latency), then waits
// until every delivery report arrived; a failed report is the error of that event. Reports are served by
// one poller thread per Transport, so concurrent publishers never wait for each other's batches.
//
// Consuming. A Subscription is one consumer-group member: group "<prefix>.<group>", subscribed to the
// topics of its types, auto.offset.reset=earliest (a new group starts at the beginning), no auto-commit.
// One thread per Subscription polls, decodes and runs the handler; partitions are owned by one member at
// a time and their messages handled one after another, which is the per-subject order. Messages of types
// the group did not ask for are skipped (and committed).
// - Ack = commit of offset+1. Commits are batched: synchronously whenever the local queue runs dry, every
//   kCommitEvery acks, before partitions are revoked and before stop() returns. A crash in between
//   redelivers at most that batch, which at-least-once allows; a clean stop or rebalance redelivers none
//   (but see Rebalancing for the mock).
// - A failed handler pauses only its partition (rd_kafka_pause_partitions) and keeps the event in memory;
//   after retry_backoff() it runs again with attempt+1, then the partition resumes. Other partitions keep
//   flowing meanwhile; nothing after the failed event on its partition overtakes it (subjects sharing the
//   partition wait too, the price of per-partition order). librdkafka discards what it had prefetched for
//   a paused partition and refetches from the message after the last one handed out; should a stale
//   message still arrive, the partition is rewound explicitly once the parked event is done.
// - The attempt count lives in memory: after a rebalance or a restart the new owner starts again at 1.
// - After `max_deliver` failed attempts on_give_up is called; Ok → committed, Error → the event stays
//   and is retried (never dropped). An undecodable message goes straight to on_give_up with the reason.
// - ack_wait becomes max.poll.interval.ms: a handler stuck longer makes the member leave the group and its
//   partitions (uncommitted event included) go to another member.
// - Rebalancing: eager "range" assignment. The callback runs inside poll on the consumer thread, so no
//   handler is running then; acks are committed, parked events of revoked partitions dropped (they come
//   back to the new owner) and their pause lifted, then the partitions are given up. Kafka accepts that
//   commit while the group prepares the rebalance; librdkafka's mock refuses commits then
//   (REBALANCE_IN_PROGRESS). Acks whose commit was refused are kept until the next assignment: a partition
//   that comes back to this member (range gives the same members the same partitions) resumes right after
//   them, and they are committed then; a partition that moved is redelivered by its new owner, which
//   at-least-once allows. (The mock rebalances an unchanged group when a follower's SyncGroup loses a
//   race with the leader's, so this case is common in tests.)
//
// Thread-safety: KafkaTransport is thread-safe (librdkafka's producer is; the topic cache has mutexes).
// A Subscription's consumer handle is used only by its own thread, and by stop() after that thread ended.
// Handlers run on the Subscription's thread, never on librdkafka's internal threads.
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "librdkafka.hpp"
#include "mercato/events/transport.hpp"

namespace mercato::events {
namespace {

// librdkafka is opened at run time (librdkafka.hpp); open_kafka has loaded it before anything here runs.
const librdkafka::Api& rdk() { return librdkafka::api(); }

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Group membership timings. Small enough that a member that died is replaced within seconds and that a
// joining member is let in quickly, large enough for two busy shared cores.
constexpr int kSessionTimeoutMs = 6000;
constexpr int kHeartbeatIntervalMs = 500;
// How long one poll may block; bounds how late a parked retry or a pending commit is looked at.
constexpr auto kMaxPollWait = 500ms;
// Acks after which the consumer commits even while messages keep coming.
constexpr int kCommitEvery = 100;
// After a failed commit, the next attempt waits this long (the failure is usually a rebalance).
constexpr auto kCommitRetryDelay = 500ms;
// Pause between metadata requests while a new topic becomes visible.
constexpr auto kTopicPollInterval = 100ms;

void warn(const std::string& message) { std::fprintf(stderr, "events/kafka: %s\n", message.c_str()); }

std::string describe(rd_kafka_resp_err_t err) {
  return std::string(rdk().rd_kafka_err2name(err)) + " (" + rdk().rd_kafka_err2str(err) + ")";
}

int to_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 0, std::numeric_limits<int>::max()));
}

// "kafka://h1:9092,h2:9092" → "h1:9092,h2:9092", each entry checked to be host:port.
Result<std::string> bootstrap_servers(const std::string& url) {
  constexpr std::string_view kScheme = "kafka://";
  auto bad = [&](const std::string& why) {
    return Error::validation("events.url", "invalid Kafka URL '" + url + "': " + why +
                                               " (expected kafka://host:port[,host:port...])");
  };
  if (!url.starts_with(kScheme)) return bad("it must start with kafka://");
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return bad("no broker given");
  std::string_view entries = rest;
  while (!entries.empty()) {
    auto comma = entries.find(',');
    std::string_view entry = entries.substr(0, comma);
    entries = comma == std::string_view::npos ? std::string_view() : entries.substr(comma + 1);
    auto colon = entry.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return bad("'" + std::string(entry) + "' is not host:port");
    std::string_view port_text = entry.substr(colon + 1);
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535)
      return bad("'" + std::string(port_text) + "' is not a port");
    if (entry.find_first_of("/?# ") != std::string_view::npos)
      return bad("'" + std::string(entry) + "' is not host:port");
  }
  return std::string(rest);
}

// An rd_kafka_conf_t being filled in; the first invalid setting is remembered and reported by create().
class ClientConfig {
 public:
  ClientConfig() : conf_(rdk().rd_kafka_conf_new()) {}
  ~ClientConfig() {
    if (conf_ != nullptr) rdk().rd_kafka_conf_destroy(conf_);
  }
  ClientConfig(const ClientConfig&) = delete;
  ClientConfig& operator=(const ClientConfig&) = delete;

  ClientConfig& set(const char* key, const std::string& value) {
    std::array<char, 512> errstr{};
    if (error_.empty() &&
        rdk().rd_kafka_conf_set(conf_, key, value.c_str(), errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK)
      error_ = std::string(key) + "=" + value + ": " + errstr.data();
    return *this;
  }
  rd_kafka_conf_t* get() { return conf_; }

  // The client takes the configuration over when it is created.
  Result<rd_kafka_t*> create(rd_kafka_type_t type) {
    if (!error_.empty()) return Error::internal("invalid Kafka client setting " + error_);
    std::array<char, 512> errstr{};
    rd_kafka_t* rk = rdk().rd_kafka_new(type, conf_, errstr.data(), errstr.size());
    if (rk == nullptr)
      return Error::unavailable(std::string("cannot create a Kafka client: ") + errstr.data());
    conf_ = nullptr;
    return rk;
  }

 private:
  rd_kafka_conf_t* conf_;
  std::string error_;
};

void common_settings(ClientConfig& conf, const std::string& bootstrap, const TransportSettings& settings) {
  conf.set("bootstrap.servers", bootstrap);
  if (!settings.client_id.empty()) conf.set("client.id", settings.client_id);
  // Requests are small and latency-bound; Nagle plus delayed ACKs would add tens of milliseconds.
  conf.set("socket.nagle.disable", "true");
}

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* md) const { rdk().rd_kafka_metadata_destroy(md); }
};
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// Metadata for one topic (the broker may auto-create it) or, with an empty name, brokers only.
Result<Metadata> fetch_metadata(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = topic.empty() ? nullptr : rdk().rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rdk().rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  if (rkt != nullptr) rdk().rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Error::unavailable("Kafka metadata request failed: " + describe(err));
  return Metadata(md);
}

// ---------------------------------------------------------------------------------------------------
// Publishing

// The delivery reports of one publish() call.
struct Batch {
  explicit Batch(std::size_t n) : remaining(n) {}
  void report(std::size_t index, rd_kafka_resp_err_t err) {
    std::lock_guard lock(mutex);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && index < first_failed) {
      first_failed = index;
      error = err;
    }
    if (--remaining == 0) done.notify_all();
  }

  std::mutex mutex;
  std::condition_variable done;
  std::size_t remaining;
  std::size_t first_failed = std::numeric_limits<std::size_t>::max();
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

// A message's opaque: which batch and which event it is. Freed by the delivery report.
struct InFlight {
  std::shared_ptr<Batch> batch;
  std::size_t index;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  std::unique_ptr<InFlight> in_flight(static_cast<InFlight*>(message->_private));
  if (in_flight) in_flight->batch->report(in_flight->index, message->err);
}

rd_kafka_vu_t header(const char* name, const std::string& value) {
  rd_kafka_vu_t vu{};
  vu.vtype = RD_KAFKA_VTYPE_HEADER;
  vu.u.header.name = name;
  vu.u.header.val = value.data();
  vu.u.header.size = static_cast<ssize_t>(value.size());
  return vu;
}

// ---------------------------------------------------------------------------------------------------
// Consuming

struct PartitionKey {
  std::string topic;
  std::int32_t partition;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the 0 of a defaulted <=>
  auto operator<=>(const PartitionKey&) const = default;
};

// One message being worked on: decoded (or not) and how often it has been tried.
struct Work {
  PartitionKey where;
  std::int64_t offset = 0;
  CloudEvent event;  // as far as it could be decoded
  std::optional<Error> undecodable;
  int attempt = 1;
  Error last_error;
  Clock::time_point due;
};

// CloudEvents Kafka binding, binary content mode: attributes from headers, data from the value.
Work decode(const rd_kafka_message_t* message) {
  Work w;
  w.where = {rdk().rd_kafka_topic_name(message->rkt), message->partition};
  w.offset = message->offset;
  rd_kafka_headers_t* headers = nullptr;
  if (rdk().rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) headers = nullptr;
  auto header = [headers](std::string_view name) -> std::optional<std::string_view> {
    const void* value = nullptr;
    std::size_t size = 0;
    // librdkafka wants a C string; the names are our own literals, so std::string is only a formality.
    if (headers == nullptr || rdk().rd_kafka_header_get_last(headers, std::string(name).c_str(), &value,
                                                             &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::nullopt;
    return value == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(value), size);
  };
  std::string_view payload;
  if (message->payload != nullptr) payload = {static_cast<const char*>(message->payload), message->len};
  if (auto decoded = from_binary(header, payload, w.event); !decoded) {
    w.undecodable = std::move(decoded).error();
    if (w.undecodable->field == "specversion") {
      w.undecodable->message +=
          " at " + w.where.topic + "/" + std::to_string(w.where.partition) + "@" + std::to_string(w.offset);
    }
  }
  return w;
}

class KafkaSubscription final : public Subscription {
 public:
  KafkaSubscription(SubscriptionOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        wanted_(options_.types.begin(), options_.types.end()) {}

  ~KafkaSubscription() override { stop(); }
  KafkaSubscription(const KafkaSubscription&) = delete;
  KafkaSubscription& operator=(const KafkaSubscription&) = delete;

  Result<void> start(const std::string& bootstrap, const TransportSettings& settings,
                     const std::vector<std::string>& topics) {
    ClientConfig conf;
    common_settings(conf, bootstrap, settings);
    conf.set("group.id", settings.prefix + "." + options_.group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("session.timeout.ms", std::to_string(kSessionTimeoutMs))
        .set("heartbeat.interval.ms", std::to_string(kHeartbeatIntervalMs))
        // librdkafka requires max.poll.interval.ms >= session.timeout.ms.
        .set("max.poll.interval.ms", std::to_string(std::max(to_ms(options_.ack_wait), kSessionTimeoutMs)))
        // An idle fetch waits this long at the broker; short keeps delivery prompt where a broker answers
        // only at the deadline (the mock), and costs a few small requests per second when idle.
        .set("fetch.wait.max.ms", "100")
        // Eager and deterministic: when the members stay the same, each gets back what it had (see
        // rebalance()). The callback handles the cooperative protocol too.
        .set("partition.assignment.strategy", "range");
    rdk().rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaSubscription::on_rebalance);
    rdk().rd_kafka_conf_set_opaque(conf.get(), this);
    MERCATO_ASSIGN_OR_RETURN(auto rk, conf.create(RD_KAFKA_CONSUMER));
    rk_ = rk;
    // Everything (rebalances, errors, commit results) comes out of rd_kafka_consumer_poll.
    rdk().rd_kafka_poll_set_consumer(rk_);
    queue_ = rdk().rd_kafka_queue_get_consumer(rk_);

    rd_kafka_topic_partition_list_t* list =
        rdk().rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
    for (const auto& topic : topics)
      rdk().rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rdk().rd_kafka_subscribe(rk_, list);
    rdk().rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Error::unavailable("Kafka subscribe failed: " + describe(err));
    thread_ = std::thread([this] { run(); });
    thread_id_ = thread_.get_id();
    return {};
  }

  std::optional<std::uint64_t> pending() const override {
    std::lock_guard lock(lag_mutex_);
    std::uint64_t total = 0;
    for (const auto& [where, lag] : lag_) total += static_cast<std::uint64_t>(lag);
    return total;
  }

  void stop() override {
    stopping_ = true;
    // From a handler: the thread ends after it returns; the destructor finishes the job.
    if (std::this_thread::get_id() == thread_id_.load()) return;
    std::lock_guard lock(stop_mutex_);
    if (rk_ == nullptr) return;
    if (queue_ != nullptr) rdk().rd_kafka_queue_yield(queue_);
    if (thread_.joinable()) thread_.join();
    if (queue_ != nullptr) rdk().rd_kafka_queue_destroy(queue_);  // must precede consumer_close
    queue_ = nullptr;
    // Leaves the group now rather than after the session timeout; the revoke callback runs here.
    rd_kafka_resp_err_t err = rdk().rd_kafka_consumer_close(rk_);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      warn("closing consumer of group " + options_.group + ": " + describe(err));
    rdk().rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

 private:
  void run() {
    while (!stopping_.load()) {
      run_due_retries();
      if (stopping_.load()) break;
      rd_kafka_message_t* message = rdk().rd_kafka_consumer_poll(rk_, poll_timeout_ms());
      if (message == nullptr) {
        // The local queue ran dry: a good moment to make the acks so far durable.
        if (!positions_.empty() && Clock::now() >= next_commit_) commit();
        continue;
      }
      handle(message);
      rdk().rd_kafka_message_destroy(message);
      if (acks_since_commit_ >= kCommitEvery && Clock::now() >= next_commit_) commit();
    }
    commit();
  }

  int poll_timeout_ms() const {
    auto now = Clock::now();
    auto until = now + kMaxPollWait;
    if (!positions_.empty()) until = std::min(until, std::max(now, next_commit_));
    for (const auto& [where, w] : parked_) until = std::min(until, w.due);
    return to_ms(
        std::chrono::ceil<std::chrono::milliseconds>(std::max(until - now, Clock::duration::zero())));
  }

  void handle(rd_kafka_message_t* message) {
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Broker and fetch errors: librdkafka recovers from them itself, they are only worth a line.
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        warn("consumer of group " + options_.group + ": " + rdk().rd_kafka_message_errstr(message));
      return;
    }
    note_lag(message);
    Work w = decode(message);
    if (parked_.contains(w.where)) {
      // Prefetched before the pause took hold: ignore it, and refetch from after the parked event later.
      rewind_.insert(w.where);
      return;
    }
    if (!w.event.type.empty() && !wanted_.contains(w.event.type)) return done(w);
    process(std::move(w));
  }

  // The consumer lag of the message's partition: the high watermark librdkafka learnt with the fetch
  // that brought the message (cached, no request to the broker) minus the offset after it.
  void note_lag(const rd_kafka_message_t* message) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    const char* topic = rdk().rd_kafka_topic_name(message->rkt);
    if (rdk().rd_kafka_get_watermark_offsets(rk_, topic, message->partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0)
      return;
    std::lock_guard lock(lag_mutex_);
    lag_[PartitionKey{topic, message->partition}] = std::max<std::int64_t>(0, high - (message->offset + 1));
  }

  // One attempt at a message; on failure it is parked until its retry is due.
  void process(Work w) {
    if (!w.undecodable) {
      auto result = handler_(Delivery{w.event, w.attempt});
      if (result) return done(w);
      w.last_error = std::move(result).error();
      if (options_.max_deliver > 0 && w.attempt >= options_.max_deliver && give_up(w)) return done(w);
    } else {
      w.last_error = *w.undecodable;
      if (!options_.on_give_up) {
        warn("dropping an undecodable message (group " + options_.group +
             " has no give-up hook): " + w.last_error.message);
        return done(w);
      }
      if (give_up(w)) return done(w);
    }
    w.due = Clock::now() + retry_backoff(options_, w.attempt);
    ++w.attempt;
    park(std::move(w));
  }

  bool give_up(const Work& w) {
    auto hooked = options_.on_give_up(w.event, w.last_error, w.attempt);
    if (!hooked)
      warn("give-up hook of group " + options_.group + " failed for event " + w.event.id +
           ", keeping it: " + hooked.error().message);
    return hooked.ok();
  }

  // The event is acked: its offset will be committed, and its partition flows again.
  void done(const Work& w) {
    positions_[w.where] = w.offset + 1;
    ++acks_since_commit_;
    if (paused_.erase(w.where) > 0) resume(w.where, w.offset + 1);
  }

  void park(Work w) {
    if (paused_.insert(w.where).second) {
      auto* list = single(w.where, RD_KAFKA_OFFSET_INVALID);
      rd_kafka_resp_err_t err = rdk().rd_kafka_pause_partitions(rk_, list);
      rdk().rd_kafka_topic_partition_list_destroy(list);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) warn("pausing " + w.where.topic + ": " + describe(err));
    }
    auto where = w.where;
    parked_.insert_or_assign(where, std::move(w));
  }

  void resume(const PartitionKey& where, std::int64_t next_offset) {
    auto* list = single(where, RD_KAFKA_OFFSET_INVALID);
    rd_kafka_resp_err_t err = rdk().rd_kafka_resume_partitions(rk_, list);
    rdk().rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) warn("resuming " + where.topic + ": " + describe(err));
    if (rewind_.erase(where) > 0) {
      list = single(where, next_offset);
      rd_kafka_error_t* error = rdk().rd_kafka_seek_partitions(rk_, list, 5000);
      rdk().rd_kafka_topic_partition_list_destroy(list);
      if (error != nullptr) {
        warn("rewinding " + where.topic + ": " + rdk().rd_kafka_error_string(error));
        rdk().rd_kafka_error_destroy(error);
      }
    }
  }

  void run_due_retries() {
    auto now = Clock::now();
    for (auto it = parked_.begin(); it != parked_.end() && !stopping_.load();) {
      if (it->second.due > now) {
        ++it;
        continue;
      }
      Work w = std::move(it->second);
      it = parked_.erase(it);
      process(std::move(w));  // may park it again (a map insert does not invalidate `it`)
    }
  }

  static rd_kafka_topic_partition_list_t* single(const PartitionKey& where, std::int64_t offset) {
    auto* list = rdk().rd_kafka_topic_partition_list_new(1);
    rdk().rd_kafka_topic_partition_list_add(list, where.topic.c_str(), where.partition)->offset = offset;
    return list;
  }

  void commit() {
    if (positions_.empty()) return;
    auto* list = rdk().rd_kafka_topic_partition_list_new(static_cast<int>(positions_.size()));
    for (const auto& [where, offset] : positions_)
      rdk().rd_kafka_topic_partition_list_add(list, where.topic.c_str(), where.partition)->offset = offset;
    rd_kafka_resp_err_t err = rdk().rd_kafka_commit(rk_, list, 0);
    rdk().rd_kafka_topic_partition_list_destroy(list);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      positions_.clear();
      acks_since_commit_ = 0;
    } else {
      warn("commit of group " + options_.group + " refused, the acks stay pending: " + describe(err));
      next_commit_ = Clock::now() + kCommitRetryDelay;
    }
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaSubscription*>(opaque)->rebalance(rk, err, partitions);
  }

  // Takes `partitions` on (`add`) or gives them up: under the cooperative protocol only those, under the
  // eager one the whole assignment is replaced (by them, or by nothing).
  static void change_assignment(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* partitions, bool cooperative,
                                bool add) {
    if (!cooperative) {
      rdk().rd_kafka_assign(rk, add ? partitions : nullptr);
      return;
    }
    rd_kafka_error_t* error = add ? rdk().rd_kafka_incremental_assign(rk, partitions)
                                  : rdk().rd_kafka_incremental_unassign(rk, partitions);
    if (error != nullptr) {
      warn(std::string(add ? "incremental assign: " : "incremental unassign: ") +
           rdk().rd_kafka_error_string(error));
      rdk().rd_kafka_error_destroy(error);
    }
  }

  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    const bool cooperative = std::string_view(rdk().rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // A partition that comes back with acks whose commit was refused starts after those acks; they are
      // committed with the next commit. Acks of partitions that went elsewhere are forgotten: the new
      // owner redelivers them.
      for (int i = 0; i < partitions->cnt; ++i) {
        auto& p = partitions->elems[i];
        auto it = unconfirmed_.find(PartitionKey{p.topic, p.partition});
        if (it == unconfirmed_.end()) continue;
        p.offset = it->second;
        positions_.insert(*it);
      }
      unconfirmed_.clear();
      change_assignment(rk, partitions, cooperative, true);
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      // Handlers are not running (this is called from poll or close): make the acks durable before
      // another member starts from the committed offsets. A lost assignment cannot commit any more.
      if (!rdk().rd_kafka_assignment_lost(rk)) commit();
      for (int i = 0; i < partitions->cnt; ++i) {
        PartitionKey where{partitions->elems[i].topic, partitions->elems[i].partition};
        parked_.erase(where);  // the new owner redelivers it (attempt count restarts)
        rewind_.erase(where);
        {
          std::lock_guard lock(lag_mutex_);
          lag_.erase(where);  // the new owner reports it
        }
        if (auto it = positions_.find(where); it != positions_.end()) {
          unconfirmed_.insert(*it);
          positions_.erase(it);
        }
        if (paused_.erase(where) > 0) {
          // librdkafka keeps an application pause across reassignment; lift it with the parked event.
          auto* list = single(where, RD_KAFKA_OFFSET_INVALID);
          rdk().rd_kafka_resume_partitions(rk, list);
          rdk().rd_kafka_topic_partition_list_destroy(list);
        }
      }
      change_assignment(rk, partitions, cooperative, false);
      return;
    }
    warn("rebalance of group " + options_.group + " failed: " + describe(err));
    if (!cooperative) rdk().rd_kafka_assign(rk, nullptr);
  }

  const SubscriptionOptions options_;
  const Handler handler_;
  const std::set<std::string> wanted_;

  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_;  // compared without stop_mutex_, so a handler can call stop()
  std::atomic<bool> stopping_ = false;
  std::mutex stop_mutex_;

  // Consumer-thread state (and stop()'s, once the thread has ended).
  std::map<PartitionKey, std::int64_t> positions_;  // acked, not yet committed: the offset to commit
  int acks_since_commit_ = 0;
  Clock::time_point next_commit_{};
  std::map<PartitionKey, Work> parked_;  // failed events waiting for their next attempt
  std::set<PartitionKey> paused_;        // partitions paused for a parked event
  std::set<PartitionKey> rewind_;        // paused partitions that delivered a stale message anyway
  // Acks of revoked partitions whose commit failed, kept until the next assignment.
  std::map<PartitionKey, std::int64_t> unconfirmed_;
  // Per assigned partition, the consumer lag as of its last message (note_lag); read by pending().
  mutable std::mutex lag_mutex_;
  std::map<PartitionKey, std::int64_t> lag_;  // guarded by lag_mutex_
};

// ---------------------------------------------------------------------------------------------------

class KafkaTransport final : public Transport {
 public:
  KafkaTransport(TransportSettings settings, std::string bootstrap)
      : settings_(std::move(settings)), bootstrap_(std::move(bootstrap)) {}

  ~KafkaTransport() override {
    if (producer_ == nullptr) return;
    stopping_ = true;
    rdk().rd_kafka_queue_yield(main_queue_);
    if (poller_.joinable()) poller_.join();
    // Whatever is still queued belongs to publish() calls that already gave up; give it a moment, then
    // purge it so its delivery reports (and their InFlight records) are served before destruction.
    rdk().rd_kafka_flush(producer_, 1000);
    rdk().rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rdk().rd_kafka_poll(producer_, 0);
    rdk().rd_kafka_queue_destroy(main_queue_);
    rdk().rd_kafka_destroy(producer_);
  }
  KafkaTransport(const KafkaTransport&) = delete;
  KafkaTransport& operator=(const KafkaTransport&) = delete;

  Result<void> start() {
    ClientConfig conf;
    common_settings(conf, bootstrap_, settings_);
    conf.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        // A message not delivered by then fails its report; publish() has given up on it by that time.
        .set("message.timeout.ms", std::to_string(std::max(to_ms(settings_.publish_timeout), 100)))
        // FNV-1a 32-bit of the key modulo the partition count: exactly partition_of().
        .set("partitioner", "fnv1a");
    rdk().rd_kafka_conf_set_dr_msg_cb(conf.get(), &on_delivery);
    MERCATO_ASSIGN_OR_RETURN(auto rk, conf.create(RD_KAFKA_PRODUCER));
    producer_ = rk;
    main_queue_ = rdk().rd_kafka_queue_get_main(producer_);
    poller_ = std::thread([this] {
      while (!stopping_.load()) rdk().rd_kafka_poll(producer_, 1000);
    });
    if (auto md = fetch_metadata(producer_, {}, to_ms(settings_.publish_timeout)); !md)
      return Error::unavailable("Kafka at " + settings_.url + " is unreachable: " + md.error().message);
    return {};
  }

  Result<void> publish(std::span<const CloudEvent> events) override {
    for (const auto& e : events)
      if (auto valid = validate(e); !valid) return valid;
    if (events.empty()) return {};
    std::vector<std::string> topics;
    topics.reserve(events.size());
    for (const auto& e : events) topics.push_back(topic_name(e.type));
    if (auto ready = ensure_topics(topics); !ready) return ready;

    const auto deadline = Clock::now() + settings_.publish_timeout;
    auto batch = std::make_shared<Batch>(events.size());
    std::optional<Error> produce_error;
    std::size_t failed_at = events.size();
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (auto produced = produce(topics[i], events[i], batch, i); !produced) {
        produce_error = std::move(produced).error();
        failed_at = i;
        break;
      }
    }
    // Events never handed to librdkafka will not report; count them off so the wait can end.
    for (std::size_t i = failed_at; i < events.size(); ++i) batch->report(i, RD_KAFKA_RESP_ERR_NO_ERROR);

    std::unique_lock lock(batch->mutex);
    if (!batch->done.wait_until(lock, deadline, [&] { return batch->remaining == 0; }))
      return Error::deadline_exceeded("Kafka did not confirm " + std::to_string(batch->remaining) + " of " +
                                      std::to_string(events.size()) + " events within " +
                                      std::to_string(settings_.publish_timeout.count()) + " ms");
    if (batch->first_failed < failed_at) {
      const auto& e = events[batch->first_failed];
      return Error::unavailable("Kafka did not accept event " + e.id + " (" + e.type + ") on topic " +
                                topics[batch->first_failed] + ": " + describe(batch->error));
    }
    if (produce_error) return *produce_error;
    return {};
  }

  Result<std::unique_ptr<Subscription>> subscribe(const SubscriptionOptions& options,
                                                  Handler handler) override {
    if (options.group.empty()) return Error::validation("group", "a subscription needs a consumer group");
    if (options.types.empty())
      return Error::validation("types", "a subscription needs at least one event type");
    if (!handler) return Error::validation("handler", "a subscription needs a handler");
    if (options.max_deliver > 0 && !options.on_give_up)
      return Error::validation("on_give_up", "required when max_deliver > 0");
    std::vector<std::string> topics;
    for (const auto& type : options.types) {
      if (type.empty() || type.find('.') == std::string::npos)
        return Error::validation("types", "'" + type + "' is not an event type");
      auto topic = topic_name(type);
      if (std::find(topics.begin(), topics.end(), topic) == topics.end()) topics.push_back(std::move(topic));
    }
    MERCATO_RETURN_IF_ERROR(ensure_topics(topics));
    auto subscription = std::make_unique<KafkaSubscription>(options, std::move(handler));
    MERCATO_RETURN_IF_ERROR(subscription->start(bootstrap_, settings_, topics));
    return std::unique_ptr<Subscription>(std::move(subscription));
  }

  Result<void> ping() override {
    std::array<char, 512> reason{};
    if (rd_kafka_resp_err_t fatal = rdk().rd_kafka_fatal_error(producer_, reason.data(), reason.size()))
      return Error::unavailable("the Kafka producer failed for good (" + describe(fatal) +
                                "): " + reason.data());
    MERCATO_RETURN_IF_ERROR(fetch_metadata(producer_, {}, 2000));
    return {};
  }

  std::string_view kind() const noexcept override { return "kafka"; }

 private:
  std::string topic_name(std::string_view type) const { return settings_.prefix + "." + topic_of(type); }

  Result<void> produce(const std::string& topic, const CloudEvent& e, const std::shared_ptr<Batch>& batch,
                       std::size_t index) {
    static const std::string kSpecVersion = "1.0";
    auto in_flight = std::make_unique<InFlight>(InFlight{batch, index});
    std::vector<rd_kafka_vu_t> vus;
    vus.reserve(16);
    rd_kafka_vu_t vu{};
    vu.vtype = RD_KAFKA_VTYPE_TOPIC;
    vu.u.cstr = topic.c_str();
    vus.push_back(vu);
    vu = {};
    vu.vtype = RD_KAFKA_VTYPE_KEY;
    vu.u.mem = {const_cast<char*>(e.subject.data()), e.subject.size()};
    vus.push_back(vu);
    vu = {};
    vu.vtype = RD_KAFKA_VTYPE_VALUE;
    vu.u.mem = {const_cast<char*>(e.data.data()), e.data.size()};
    vus.push_back(vu);
    vu = {};
    vu.vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu.u.i = RD_KAFKA_MSG_F_COPY;
    vus.push_back(vu);
    vu = {};
    vu.vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu.u.ptr = in_flight.get();
    vus.push_back(vu);
    vus.push_back(header("ce_specversion", kSpecVersion));
    vus.push_back(header("ce_id", e.id));
    vus.push_back(header("ce_source", e.source));
    vus.push_back(header("ce_type", e.type));
    vus.push_back(header("content-type", e.datacontenttype));
    // Optional attributes travel only when set, so an absent one reads back as empty.
    for (auto [name, value] : {std::pair{"ce_subject", &e.subject},
                               {"ce_time", &e.time},
                               {"ce_dataschema", &e.dataschema},
                               {"ce_traceparent", &e.traceparent},
                               {"ce_tracestate", &e.tracestate}})
      if (!value->empty()) vus.push_back(header(name, *value));
    rd_kafka_error_t* error = rdk().rd_kafka_produceva(producer_, vus.data(), vus.size());
    if (error != nullptr) {
      std::string message = rdk().rd_kafka_error_string(error);
      rdk().rd_kafka_error_destroy(error);
      return Error::unavailable("Kafka refused event " + e.id + " (" + e.type + ") on topic " + topic + ": " +
                                message);
    }
    static_cast<void>(in_flight.release());  // owned by the message now; freed by its delivery report
    return {};
  }

  // Makes sure the topics exist, creating the missing ones; remembers the ones known to exist.
  Result<void> ensure_topics(const std::vector<std::string>& topics) {
    auto find_missing = [&] {
      std::lock_guard lock(known_mutex_);
      std::vector<std::string> missing;
      for (const auto& t : topics)
        if (!known_topics_.contains(t) && std::find(missing.begin(), missing.end(), t) == missing.end())
          missing.push_back(t);
      return missing;
    };
    if (find_missing().empty()) return {};    // the common case; never waits for a creation in progress
    std::lock_guard creating(create_mutex_);  // one creation at a time; the next caller finds them known
    auto missing = find_missing();
    if (missing.empty()) return {};
    const int timeout_ms = to_ms(settings_.publish_timeout);
    const auto deadline = Clock::now() + settings_.publish_timeout;

    auto cluster = fetch_metadata(producer_, {}, timeout_ms);
    if (!cluster) return Error::unavailable("Kafka at " + settings_.url + ": " + cluster.error().message);
    // Admin requests go to the controller. A cluster that names none of its brokers as controller (the
    // mock) cannot create topics that way; it creates them on a metadata request instead.
    const std::int32_t controller = rdk().rd_kafka_controllerid(producer_, 0);
    bool has_controller = false;
    for (int i = 0; i < (*cluster)->broker_cnt; ++i)
      has_controller |= (*cluster)->brokers[i].id == controller;
    if (has_controller) {
      if (auto created = create_topics(missing, std::min(3, (*cluster)->broker_cnt), timeout_ms); !created)
        return created;
    }

    for (const auto& topic : missing) {
      for (int tries = 0;; ++tries) {
        auto md = fetch_metadata(producer_, topic, timeout_ms);
        std::string problem = md ? std::string() : md.error().message;
        if (md) {
          const auto& t = (*md)->topic_cnt > 0 ? (*md)->topics[0] : rd_kafka_metadata_topic_t{};
          bool leaders = t.partition_cnt > 0 && t.err == RD_KAFKA_RESP_ERR_NO_ERROR;
          for (int p = 0; leaders && p < t.partition_cnt; ++p) leaders = t.partitions[p].leader >= 0;
          if (leaders) {
            if (t.partition_cnt != settings_.partitions)
              warn("topic " + topic + " has " + std::to_string(t.partition_cnt) + " partitions, not the " +
                   std::to_string(settings_.partitions) + " configured (created by the broker's defaults)");
            break;
          }
          problem = t.err != RD_KAFKA_RESP_ERR_NO_ERROR ? describe(t.err) : "partitions without a leader";
        }
        if (Clock::now() + kTopicPollInterval > deadline || tries > 1000)
          return Error::unavailable("Kafka topic " + topic + " at " + settings_.url +
                                    " is not ready: " + problem);
        std::this_thread::sleep_for(kTopicPollInterval);  // the broker has no "wait for topic"; ask again
      }
      std::lock_guard lock(known_mutex_);
      known_topics_.insert(topic);
    }
    return {};
  }

  Result<void> create_topics(const std::vector<std::string>& names, int replication, int timeout_ms) {
    std::array<char, 512> errstr{};
    std::vector<rd_kafka_NewTopic_t*> new_topics;
    auto cleanup = [&] {
      for (auto* t : new_topics) rdk().rd_kafka_NewTopic_destroy(t);
    };
    for (const auto& name : names) {
      auto* t = rdk().rd_kafka_NewTopic_new(name.c_str(), settings_.partitions, replication, errstr.data(),
                                            errstr.size());
      if (t == nullptr) {
        cleanup();
        return Error::internal("cannot describe Kafka topic " + name + ": " + errstr.data());
      }
      new_topics.push_back(t);
    }
    rd_kafka_AdminOptions_t* options =
        rdk().rd_kafka_AdminOptions_new(producer_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rdk().rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr.data(), errstr.size());
    // Wait for the controller to have created them, so they are usable when this returns.
    rdk().rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr.data(), errstr.size());
    rd_kafka_queue_t* queue = rdk().rd_kafka_queue_new(producer_);
    rdk().rd_kafka_CreateTopics(producer_, new_topics.data(), new_topics.size(), options, queue);
    rd_kafka_event_t* event = rdk().rd_kafka_queue_poll(queue, timeout_ms + 1000);
    Result<void> result;
    if (event == nullptr) {
      result = Error::unavailable("Kafka at " + settings_.url + " did not answer CreateTopics");
    } else if (rdk().rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = Error::unavailable("Kafka CreateTopics failed: " +
                                  std::string(rdk().rd_kafka_event_error_string(event)));
    } else {
      std::size_t n = 0;
      const rd_kafka_topic_result_t** results =
          rdk().rd_kafka_CreateTopics_result_topics(rdk().rd_kafka_event_CreateTopics_result(event), &n);
      for (std::size_t i = 0; i < n && result; ++i) {
        rd_kafka_resp_err_t err = rdk().rd_kafka_topic_result_error(results[i]);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          const char* why = rdk().rd_kafka_topic_result_error_string(results[i]);
          result = Error::unavailable("cannot create Kafka topic " +
                                      std::string(rdk().rd_kafka_topic_result_name(results[i])) + ": " +
                                      describe(err) + (why != nullptr ? std::string(": ") + why : ""));
        }
      }
    }
    if (event != nullptr) rdk().rd_kafka_event_destroy(event);
    rdk().rd_kafka_queue_destroy(queue);
    rdk().rd_kafka_AdminOptions_destroy(options);
    cleanup();
    return result;
  }

  const TransportSettings settings_;
  const std::string bootstrap_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_queue_t* main_queue_ = nullptr;  // to wake the poller
  std::thread poller_;                      // serves delivery reports
  std::atomic<bool> stopping_ = false;
  std::mutex create_mutex_;
  std::mutex known_mutex_;  // guards known_topics_
  std::set<std::string> known_topics_;
};

}  // namespace

Result<std::unique_ptr<Transport>> open_kafka(const TransportSettings& settings) {
  if (settings.partitions < 1 || settings.partitions > 256)
    return Error::validation("events.partitions", "must be between 1 and 256");
  MERCATO_ASSIGN_OR_RETURN(auto bootstrap, bootstrap_servers(settings.url));
  try {
    (void)librdkafka::api();
  } catch (const std::exception& e) {
    return Error::unavailable(e.what());
  }
  auto transport = std::make_unique<KafkaTransport>(settings, std::move(bootstrap));
  MERCATO_RETURN_IF_ERROR(transport->start());
  return std::unique_ptr<Transport>(std::move(transport));
}

}  // namespace mercato::events
