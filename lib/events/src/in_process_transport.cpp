// The in-process transport: a broker inside the process, for unit tests and the single-process mode.
//
// It keeps the same contract as the networked transports, so code tested on it behaves alike on NATS
// and Kafka: every topic is an append-only log split into partitions by subject; each group keeps a
// committed offset per partition and at most one event per partition in flight, which gives per-subject
// order while the group's members (subscriptions, each with its own dispatch thread) share the work.
// A failed event stays at its partition's head until its retry time, blocking only its partition.
//
// Brokers are looked up by the URL's name and live until the process exits, so a transport opened
// again with the same URL (a "restarted" consumer in a test) finds its group's offsets. Nothing is
// persisted: a process crash loses the broker, which is why it is not offered for multi-process use.
// `ack_wait` does not apply: a handler cannot die without its process.
//
// Thread-safety: everything goes through one mutex per broker; handlers run on dispatch threads
// without the lock held.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "mercato/events/transport.hpp"

namespace mercato::events {
namespace {

using Clock = std::chrono::steady_clock;

struct PartitionCursor {
  std::size_t offset = 0;  // next event to deliver (everything before is acked)
  bool in_flight = false;
  int attempt = 0;  // deliveries so far of the event at `offset`
  Clock::time_point not_before{};
};

class Broker {
 public:
  explicit Broker(int partitions) : partitions_(partitions) {}

  void append(const CloudEvent& e) {
    auto& topic = topic_log(topic_of(e.type));
    topic[static_cast<std::size_t>(partition_of(e.subject, partitions_))].push_back(e);
  }

  std::vector<std::vector<CloudEvent>>& topic_log(const std::string& topic) {
    auto& t = topics_[topic];
    if (t.empty()) t.resize(static_cast<std::size_t>(partitions_));
    return t;
  }

  PartitionCursor& cursor(const std::string& group, const std::string& topic, int partition) {
    return cursors_[{group, topic, partition}];
  }

  int partitions() const noexcept { return partitions_; }
  std::mutex mutex;
  std::condition_variable changed;

 private:
  int partitions_;
  std::map<std::string, std::vector<std::vector<CloudEvent>>> topics_;
  std::map<std::tuple<std::string, std::string, int>, PartitionCursor> cursors_;
};

std::shared_ptr<Broker> broker_named(const std::string& name, int partitions) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::shared_ptr<Broker>> registry;
  std::lock_guard lock(registry_mutex);
  auto& b = registry[name];
  if (!b) b = std::make_shared<Broker>(partitions);
  return b;
}

class InProcessSubscription final : public Subscription {
 public:
  InProcessSubscription(std::shared_ptr<Broker> broker, SubscriptionOptions options, Handler handler)
      : broker_(std::move(broker)), options_(std::move(options)), handler_(std::move(handler)) {
    for (const auto& type : options_.types) topics_.insert(topic_of(type));
    wanted_.insert(options_.types.begin(), options_.types.end());
    thread_ = std::thread([this] { dispatch(); });
  }
  ~InProcessSubscription() override { stop(); }

  void stop() override {
    {
      std::lock_guard lock(broker_->mutex);
      if (stopping_) return;
      stopping_ = true;
    }
    broker_->changed.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Claim {
    std::string topic;
    int partition;
    CloudEvent event;
    int attempt;
  };

  // Under the lock: the first partition with an event ready for this group, skipping (and acking)
  // events of types the group did not ask for.
  std::optional<Claim> claim(Clock::time_point now, Clock::time_point& next_wake) {
    for (const auto& topic : topics_) {
      auto& log = broker_->topic_log(topic);
      for (int p = 0; p < broker_->partitions(); ++p) {
        auto& cur = broker_->cursor(options_.group, topic, p);
        auto& events = log[static_cast<std::size_t>(p)];
        while (!cur.in_flight && cur.offset < events.size() && !wanted_.contains(events[cur.offset].type)) {
          ++cur.offset;
        }
        if (cur.in_flight || cur.offset >= events.size()) continue;
        if (cur.not_before > now) {
          next_wake = std::min(next_wake, cur.not_before);
          continue;
        }
        cur.in_flight = true;
        ++cur.attempt;
        return Claim{topic, p, events[cur.offset], cur.attempt};
      }
    }
    return std::nullopt;
  }

  void dispatch() {
    std::unique_lock lock(broker_->mutex);
    while (!stopping_) {
      auto now = Clock::now();
      auto next_wake = now + std::chrono::seconds(1);
      auto work = claim(now, next_wake);
      if (!work) {
        broker_->changed.wait_until(lock, next_wake);
        continue;
      }
      lock.unlock();
      auto result = handler_(Delivery{work->event, work->attempt});
      bool done = result.ok();
      if (!done && work->attempt >= options_.max_deliver && options_.on_give_up) {
        done = options_.on_give_up(work->event, result.error(), work->attempt).ok();
      }
      lock.lock();
      auto& cur = broker_->cursor(options_.group, work->topic, work->partition);
      cur.in_flight = false;
      if (done) {
        ++cur.offset;
        cur.attempt = 0;
        cur.not_before = {};
      } else {
        cur.not_before = Clock::now() + retry_backoff(options_, work->attempt);
      }
      broker_->changed.notify_all();
    }
  }

  std::shared_ptr<Broker> broker_;
  SubscriptionOptions options_;
  Handler handler_;
  std::set<std::string> topics_;
  std::set<std::string> wanted_;
  bool stopping_ = false;  // guarded by broker_->mutex
  std::thread thread_;
};

class InProcessTransport final : public Transport {
 public:
  explicit InProcessTransport(std::shared_ptr<Broker> broker) : broker_(std::move(broker)) {}

  Result<void> publish(std::span<const CloudEvent> events) override {
    for (const auto& e : events) {
      if (auto r = validate(e); !r) return r;
    }
    {
      std::lock_guard lock(broker_->mutex);
      for (const auto& e : events) broker_->append(e);
    }
    broker_->changed.notify_all();
    return {};
  }

  Result<std::unique_ptr<Subscription>> subscribe(const SubscriptionOptions& options,
                                                  Handler handler) override {
    if (options.group.empty()) return Error::validation("group", "a subscription needs a consumer group");
    if (options.types.empty())
      return Error::validation("types", "a subscription needs at least one event type");
    if (options.max_deliver > 0 && !options.on_give_up)
      return Error::validation("on_give_up", "a subscription with max_deliver needs a give-up hook");
    return std::unique_ptr<Subscription>(
        std::make_unique<InProcessSubscription>(broker_, options, std::move(handler)));
  }

  Result<void> ping() override { return {}; }
  std::string_view kind() const noexcept override { return "inprocess"; }

 private:
  std::shared_ptr<Broker> broker_;
};

}  // namespace

Result<std::unique_ptr<Transport>> open_in_process(const TransportSettings& settings) {
  auto name = settings.url.substr(std::string_view("inprocess://").size());
  if (name.empty())
    return Error::validation("events.url", "inprocess:// needs a name, e.g. inprocess://shop");
  return std::unique_ptr<Transport>(
      std::make_unique<InProcessTransport>(broker_named(name + "/" + settings.prefix, settings.partitions)));
}

}  // namespace mercato::events
