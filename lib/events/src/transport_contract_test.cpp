// The transport contract (transport.hpp), checked the same way against every transport: in-process
// always (in memory, and durable on a file), NATS JetStream against the nats-server ./mercato test starts
// (MERCATO_TEST_NATS_URL), Kafka against librdkafka's mock cluster started by the test itself.
//
// Every test uses its own prefix, so streams, topics and consumer groups never meet across tests.
// Waits are bounded waits for a condition, never sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "mercato/core/ids.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/gate.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::events {
namespace {

using namespace std::chrono_literals;
using testing::Gate;

// Collects what handlers saw, and lets a test wait for a condition on it.
class Recorder {
 public:
  void add(const std::string& member, const CloudEvent& e, int attempt) {
    std::lock_guard lock(mutex_);
    seen_.push_back({member, e, attempt});
    changed_.notify_all();
  }
  template <typename Pred>
  bool wait_for(Pred pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(seen_); });
  }
  struct Seen {
    std::string member;
    CloudEvent event;
    int attempt;
  };
  std::vector<Seen> snapshot() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  // For a condition on state outside the recorder. Taking the lock first means a waiter is either
  // before its predicate check (and sees the new state) or already waiting (and is woken).
  void notify() {
    { std::lock_guard lock(mutex_); }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Seen> seen_;
};

std::size_t count(const std::vector<Recorder::Seen>& seen) { return seen.size(); }

CloudEvent event(std::string type, std::string subject, int n) {
  return make_event("contract", std::move(type), std::move(subject), "{\"n\":" + std::to_string(n) + "}");
}

class TransportContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    prefix_ = "t" + random_hex(6);
    if (GetParam() == "inprocess_file") {
      // The durable in-process broker: its log and offsets in a file of the test's own. A transport
      // reopened after every user of the broker is gone reads the file back (a restart).
      dir_ = testing::temp_dir("contract-" + random_hex(4));
      url_ = "inprocess://contract-" + random_hex(4) + "?file=" + (dir_ / "events.db").string();
      return;
    }
    MERCATO_BROKER_URL_OR_SKIP(url, GetParam());
    url_ = url;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Transport> open(const std::string& client = "test") {
    auto t = open_transport({.url = url_, .prefix = prefix_, .client_id = client, .partitions = 4});
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? std::move(*t) : nullptr;
  }

  SubscriptionOptions options(std::string group, std::vector<std::string> types) {
    SubscriptionOptions o;
    o.group = std::move(group);
    o.types = std::move(types);
    o.max_deliver = 3;
    o.retry_delay = 50ms;
    o.max_retry_delay = 200ms;
    o.ack_wait = 5s;
    o.on_give_up = [this](const CloudEvent& e, const Error& error, int attempts) -> Result<void> {
      std::lock_guard lock(give_up_mutex_);
      given_up_.push_back({e.id, error.message, attempts});
      return {};
    };
    return o;
  }

  Handler recording(Recorder& recorder, const std::string& member) {
    return [&recorder, member](const Delivery& d) -> Result<void> {
      recorder.add(member, d.event, d.attempt);
      return {};
    };
  }

  struct GivenUp {
    std::string id;
    std::string error;
    int attempts;
  };
  std::string url_;
  std::string prefix_;
  std::filesystem::path dir_;
  std::mutex give_up_mutex_;
  std::vector<GivenUp> given_up_;
};

TEST_P(TransportContract, DeliversEveryAttributeUnchanged) {
  auto t = open();
  ASSERT_TRUE(t);
  auto e = event("order.created", "order-1", 1);
  e.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  e.tracestate = "vendor=1";
  e.data = R"({"order_id":"order-1","total_cents":1250,"lines":[{"product_id":"p","quantity":2}]})";
  ASSERT_TRUE(t->publish(e));
  Recorder r;
  auto sub = t->subscribe(options("payment", {"order.created"}), recording(r, "a"));
  ASSERT_TRUE(sub) << sub.error().message;
  ASSERT_TRUE(r.wait_for([](auto& s) { return count(s) >= 1; }));
  auto seen = r.snapshot();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].event, e);
  EXPECT_EQ(seen[0].attempt, 1);
}

TEST_P(TransportContract, RefusesAnInvalidEventAtThePublisher) {
  auto t = open();
  ASSERT_TRUE(t);
  auto e = event("order.created", "o", 1);
  e.data = "[1,2]";
  auto r = t->publish(e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(r.error().field, "data");
  e = event("nodot", "o", 1);
  r = t->publish(e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "type");
}

TEST_P(TransportContract, EveryGroupSeesEveryEventAndOnlyTheTypesItAskedFor) {
  auto t = open();
  ASSERT_TRUE(t);
  Recorder payment, notification;
  auto s1 = t->subscribe(options("payment", {"order.created"}), recording(payment, "p"));
  auto s2 = t->subscribe(options("notification", {"order.created", "order.cancelled"}),
                         recording(notification, "n"));
  ASSERT_TRUE(s1 && s2);
  std::vector<CloudEvent> batch;
  batch.reserve(20);
  for (int i = 0; i < 20; ++i)
    batch.push_back(event(i % 2 ? "order.cancelled" : "order.created", "o" + std::to_string(i), i));
  ASSERT_TRUE(t->publish(batch));
  ASSERT_TRUE(notification.wait_for([](auto& s) { return count(s) >= 20; }));
  ASSERT_TRUE(payment.wait_for([](auto& s) { return count(s) >= 10; }));
  // A marker published last, to the payment group's type: once it arrives nothing else is in flight.
  ASSERT_TRUE(t->publish(event("order.created", "marker", 99)));
  ASSERT_TRUE(payment.wait_for([](auto& s) { return count(s) >= 11; }));
  std::set<std::string> ids;
  for (auto& s : payment.snapshot()) {
    EXPECT_EQ(s.event.type, "order.created");
    ids.insert(s.event.id);
  }
  EXPECT_EQ(ids.size(), 11u);
  ASSERT_TRUE(notification.wait_for([](auto& s) { return count(s) >= 21; }));
  std::set<std::string> all;
  for (auto& s : notification.snapshot()) all.insert(s.event.id);
  EXPECT_EQ(all.size(), 21u);
  EXPECT_EQ(notification.snapshot().size(), 21u) << "an event was delivered twice without a failure";
  EXPECT_EQ(payment.snapshot().size(), 11u) << "an event was delivered twice without a failure";
}

// The consumer lag (Subscription::pending): five events of one subject wait while the handler holds
// the first, so the broker reports the four behind it; once all are handled nothing is pending. JetStream
// and Kafka tell it cheaply; the in-process broker says it cannot (nullopt), which the bus leaves out.
TEST_P(TransportContract, PendingCountsWhatWaitsBehindTheEventBeingHandled) {
  auto t = open();
  ASSERT_TRUE(t);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t->publish(event("order.created", "same", i)));
  Recorder r;
  Gate gate;
  auto sub = t->subscribe(options("lag", {"order.created"}), [&](const Delivery& d) -> Result<void> {
    r.add("a", d.event, d.attempt);
    gate.wait();
    return {};
  });
  ASSERT_TRUE(sub) << sub.error().message;
  ASSERT_TRUE(r.wait_for([](auto& s) { return count(s) >= 1; }));
  auto held = (*sub)->pending();
  gate.open();
  ASSERT_TRUE(r.wait_for([](auto& s) { return count(s) >= 5; }));
  if (GetParam() != "nats" && GetParam() != "kafka") {
    EXPECT_FALSE(held.has_value()) << "a transport that reports pending() needs this test to check it";
    return;
  }
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(*held, 4u);
  EXPECT_EQ((*sub)->pending().value_or(99), 0u);
}

// Commands travel on a topic of their own (topic_of): a group executing a family's commands is not
// handed that family's events, nor the orchestrator the commands. Measured by what waits for the group
// behind the command it holds: on a shared topic the events behind it in its partition would count.
TEST_P(TransportContract, AFamilysCommandsAndEventsTravelApart) {
  auto t = open();
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->publish(event("stock.reserve_requested", "same", 0)));
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(t->publish(event("stock.reserved", "same", i)));
  ASSERT_TRUE(t->publish(event("stock.reserve_requested", "same", 4)));
  Recorder commands;
  Recorder answers;
  Gate gate;
  auto executor =
      t->subscribe(options("executor", {"stock.reserve_requested"}), [&](const Delivery& d) -> Result<void> {
        commands.add("executor", d.event, d.attempt);
        gate.wait();
        return {};
      });
  ASSERT_TRUE(executor) << executor.error().message;
  auto orchestrator = t->subscribe(options("orchestrator", {"stock.reserved"}), recording(answers, "o"));
  ASSERT_TRUE(orchestrator) << orchestrator.error().message;
  ASSERT_TRUE(commands.wait_for([](auto& s) { return count(s) >= 1; }));
  ASSERT_TRUE(answers.wait_for([](auto& s) { return count(s) >= 3; }));
  auto held = (*executor)->pending();
  gate.open();
  ASSERT_TRUE(commands.wait_for([](auto& s) { return count(s) >= 2; }));
  for (const auto& seen : commands.snapshot()) EXPECT_EQ(seen.event.type, "stock.reserve_requested");
  for (const auto& seen : answers.snapshot()) EXPECT_EQ(seen.event.type, "stock.reserved");
  EXPECT_EQ(answers.snapshot().size(), 3u);
  if (GetParam() != "nats" && GetParam() != "kafka") return;  // pending() is not reported (nullopt)
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(*held, 1u) << "only the second command waits behind the first; the events travel apart";
}

TEST_P(TransportContract, AGroupThatSubscribesLaterStillGetsEarlierEvents) {
  auto t = open();
  ASSERT_TRUE(t);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t->publish(event("order.created", "k" + std::to_string(i), i)));
  Recorder r;
  auto sub = t->subscribe(options("late", {"order.created"}), recording(r, "a"));
  ASSERT_TRUE(sub);
  ASSERT_TRUE(r.wait_for([](auto& s) { return count(s) >= 5; }));
}

TEST_P(TransportContract, MembersShareTheWorkAndKeepPerSubjectOrder) {
  auto t1 = open("member-1");
  auto t2 = open("member-2");
  ASSERT_TRUE(t1 && t2);
  Recorder r;
  std::atomic<int> in_flight_per_subject_violations = 0;
  std::mutex busy_mutex;
  std::set<std::string> busy;
  auto handler = [&](const std::string& member) {
    return [&, member](const Delivery& d) -> Result<void> {
      {
        std::lock_guard lock(busy_mutex);
        if (!busy.insert(d.event.subject).second) ++in_flight_per_subject_violations;
      }
      std::this_thread::sleep_for(1ms);  // widens the window in which a second delivery could overlap
      {
        std::lock_guard lock(busy_mutex);
        busy.erase(d.event.subject);
      }
      r.add(member, d.event, d.attempt);
      return {};
    };
  };
  auto s1 = t1->subscribe(options("inventory", {"order.created"}), handler("m1"));
  auto s2 = t2->subscribe(options("inventory", {"order.created"}), handler("m2"));
  ASSERT_TRUE(s1 && s2);
  constexpr int kSubjects = 16, kPerSubject = 15;
  // One publish call per round: a broker that carries a call's events of one partition in one message
  // (NATS) still has 60 messages to share between the members, and those of a subject in several.
  for (int n = 0; n < kPerSubject; ++n) {
    std::vector<CloudEvent> round;
    round.reserve(kSubjects);
    for (int s = 0; s < kSubjects; ++s)
      round.push_back(event("order.created", "order-" + std::to_string(s), n));
    ASSERT_TRUE(t1->publish(round));
  }
  ASSERT_TRUE(r.wait_for([](auto& s) { return count(s) >= kSubjects * kPerSubject; }, 60s));
  auto seen = r.snapshot();
  std::map<std::string, std::vector<std::string>> order_by_subject;
  std::set<std::string> ids, members;
  for (auto& s : seen) {
    order_by_subject[s.event.subject].push_back(s.event.data);
    ids.insert(s.event.id);
    members.insert(s.member);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kSubjects * kPerSubject)) << "an event was handled twice";
  EXPECT_EQ(in_flight_per_subject_violations.load(), 0) << "two events of one subject were handled at once";
  for (auto& [subject, data] : order_by_subject) {
    ASSERT_EQ(data.size(), static_cast<std::size_t>(kPerSubject)) << subject;
    for (int n = 0; n < kPerSubject; ++n) EXPECT_EQ(data[n], "{\"n\":" + std::to_string(n) + "}") << subject;
  }
  EXPECT_EQ(members.size(), 2u) << "one member did all the work";
}

TEST_P(TransportContract, AFailedEventIsRedeliveredWithItsAttemptNumberAndBlocksItsSubject) {
  auto t = open();
  ASSERT_TRUE(t);
  Recorder r;
  auto sub = t->subscribe(options("payment", {"order.created"}), [&](const Delivery& d) -> Result<void> {
    r.add("a", d.event, d.attempt);
    if (d.event.data == "{\"n\":1}" && d.attempt < 3) return Error::unavailable("not yet");
    return {};
  });
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(std::vector{event("order.created", "same", 1), event("order.created", "same", 2)}));
  ASSERT_TRUE(r.wait_for([](auto& s) { return count(s) >= 4; }));
  auto seen = r.snapshot();
  ASSERT_EQ(seen.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].event.data, "{\"n\":1}");
    EXPECT_EQ(seen[i].attempt, i + 1);
  }
  EXPECT_EQ(seen[3].event.data, "{\"n\":2}") << "the second event overtook the first";
  std::lock_guard lock(give_up_mutex_);
  EXPECT_TRUE(given_up_.empty());
}

TEST_P(TransportContract, GivesUpAfterMaxDeliverWithTheLastErrorAndMovesOn) {
  auto t = open();
  ASSERT_TRUE(t);
  Recorder r;
  auto poison = event("order.created", "same", 1);
  auto sub = t->subscribe(options("payment", {"order.created"}), [&](const Delivery& d) -> Result<void> {
    r.add("a", d.event, d.attempt);
    if (d.event.id == poison.id) return Error::internal("cannot handle attempt " + std::to_string(d.attempt));
    return {};
  });
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(std::vector{poison, event("order.created", "same", 2)}));
  ASSERT_TRUE(r.wait_for([](auto& s) { return count(s) >= 4; }));
  auto seen = r.snapshot();
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen.back().event.data, "{\"n\":2}");
  std::lock_guard lock(give_up_mutex_);
  ASSERT_EQ(given_up_.size(), 1u);
  EXPECT_EQ(given_up_[0].id, poison.id);
  EXPECT_EQ(given_up_[0].error, "cannot handle attempt 3");
  EXPECT_EQ(given_up_[0].attempts, 3);
}

TEST_P(TransportContract, AFailingGiveUpHookKeepsTheEvent) {
  auto t = open();
  ASSERT_TRUE(t);
  Recorder r;
  std::atomic<int> hook_calls = 0;
  auto o = options("payment", {"order.created"});
  o.max_deliver = 1;
  o.on_give_up = [&](const CloudEvent&, const Error&, int) -> Result<void> {
    int calls = ++hook_calls;
    r.notify();  // the wait below is on hook_calls, which Recorder::add does not signal
    if (calls < 3) return Error::unavailable("dead-letter store is down");
    return {};
  };
  auto sub = t->subscribe(o, [&](const Delivery& d) -> Result<void> {
    r.add("a", d.event, d.attempt);
    return Error::internal("always fails");
  });
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(event("order.created", "x", 1)));
  ASSERT_TRUE(r.wait_for([&](auto&) { return hook_calls.load() >= 3; }));
  EXPECT_GE(r.snapshot().size(), 3u) << "the event was dropped although the dead-letter hook failed";
}

TEST_P(TransportContract, AckedEventsStayAckedAcrossAResubscribeAndUnackedOnesComeBack) {
  auto t = open();
  ASSERT_TRUE(t);
  Recorder first;
  std::atomic<bool> fail_second = true;
  auto o = options("shipping", {"order.created"});
  o.max_deliver = 100;
  auto sub = t->subscribe(o, [&](const Delivery& d) -> Result<void> {
    first.add("a", d.event, d.attempt);
    if (d.event.data == "{\"n\":2}" && fail_second) return Error::unavailable("down");
    return {};
  });
  ASSERT_TRUE(sub);
  // Two publish calls: events published together may share a broker message and with it their ack
  // (transport.hpp), which this test is not about.
  ASSERT_TRUE(t->publish(event("order.created", "s", 1)));
  ASSERT_TRUE(t->publish(event("order.created", "s", 2)));
  ASSERT_TRUE(first.wait_for([](auto& s) {
    int n2 = 0;
    for (auto& x : s) n2 += x.event.data == "{\"n\":2}";
    return n2 >= 1;
  }));
  (*sub)->stop();
  sub->reset();
  t.reset();

  auto t2 = open();
  ASSERT_TRUE(t2);
  Recorder second;
  auto sub2 = t2->subscribe(o, recording(second, "b"));
  ASSERT_TRUE(sub2);
  ASSERT_TRUE(second.wait_for([](auto& s) { return count(s) >= 1; }));
  // Once n=2 is handled, anything else would have come first (same subject, in order).
  auto seen = second.snapshot();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].event.data, "{\"n\":2}") << "an acked event came back, or the unacked one was lost";
}

TEST_P(TransportContract, PingSaysTheBrokerIsThere) {
  auto t = open();
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->ping());
}

INSTANTIATE_TEST_SUITE_P(AllTransports, TransportContract,
                         ::testing::Values("inprocess", "inprocess_file", "nats", "kafka"),
                         [](const auto& test_info) { return test_info.param; });

}  // namespace
}  // namespace mercato::events
