// The in-process broker beyond the transport contract (transport_contract_test.cpp runs that on it, in
// memory and on a file): what its file keeps across a restart, the memory it lets go, and the refusals
// at open.
//
// A "restart" closes every transport and subscription of the broker (which closes its file) and opens
// the file under a broker name never used before, so nothing of the first broker's memory can answer:
// only what the file kept is there, as for a new process. Waits are bounded waits for a condition.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "mercato/core/ids.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/sql/sql.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::events {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

CloudEvent event(std::string type, std::string subject, int n) {
  return make_event("test", std::move(type), std::move(subject), "{\"n\":" + std::to_string(n) + "}");
}

std::string n_of(const CloudEvent& e) { return e.data.substr(5, e.data.size() - 6); }

// What a group's handler saw, with a wait for a condition on it.
class Seen {
 public:
  void add(const CloudEvent& e) {
    std::lock_guard lock(mutex_);
    events_.push_back(e);
    changed_.notify_all();
  }
  template <typename Pred>
  bool wait_for(Pred pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(events_); });
  }
  bool wait_count(std::size_t n) {
    return wait_for([n](const auto& events) { return events.size() >= n; });
  }
  std::vector<CloudEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<CloudEvent> events_;
};

// The acks that let events go happen on the dispatch threads just after the handler returns, with
// nothing to wait on: this polls the broker's count, bounded by a deadline.
bool wait_retained(const TransportSettings& settings, std::size_t n) {
  return testing::eventually([&] { return in_process_retained(settings) == n; }, 20s, 1ms);
}

class InProcessBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("inprocess-" + random_hex(4));
    file_ = (dir_ / "events.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A broker on the test's file under a fresh name (see the top of this file); `query` adds parameters.
  std::string fresh_url(const std::string& query = "") {
    return "inprocess://b" + random_hex(4) + "?file=" + file_ + query;
  }
  TransportSettings settings(const std::string& url) { return {.url = url, .prefix = "p", .partitions = 4}; }
  std::unique_ptr<Transport> open(const std::string& url) {
    auto t = open_transport(settings(url));
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? std::move(*t) : nullptr;
  }

  static SubscriptionOptions options(std::string group, std::vector<std::string> types) {
    SubscriptionOptions o;
    o.group = std::move(group);
    o.types = std::move(types);
    o.max_deliver = 1000;  // these tests never want a give-up
    o.retry_delay = 20ms;
    o.max_retry_delay = 100ms;
    o.on_give_up = [](const CloudEvent&, const Error&, int) -> Result<void> { return {}; };
    return o;
  }
  static Handler recording(Seen& seen) {
    return [&seen](const Delivery& d) -> Result<void> {
      seen.add(d.event);
      return {};
    };
  }

  fs::path dir_;
  std::string file_;
};

TEST_F(InProcessBroker, WhatWasPublishedSurvivesARestartBeforeAnyoneHandledIt) {
  std::vector<CloudEvent> batch{event("order.created", "a", 1), event("order.created", "b", 2),
                                event("order.cancelled", "a", 3)};
  batch[0].traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  batch[0].tracestate = "vendor=1";
  {
    auto t = open(fresh_url());
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->publish(batch));
  }  // the process "crashes" right after publish returned: nobody has subscribed yet

  auto t = open(fresh_url());
  ASSERT_TRUE(t);
  Seen seen;
  auto sub = t->subscribe(options("payment", {"order.created", "order.cancelled"}), recording(seen));
  ASSERT_TRUE(sub) << sub.error().message;
  ASSERT_TRUE(seen.wait_count(3));
  auto got = seen.events();
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, CloudEvent> by_id;
  for (auto& e : got) by_id[e.id] = e;
  for (auto& e : batch) EXPECT_EQ(by_id[e.id], e) << "an event came back changed, or not at all";
  // Subject a's two events in publish order.
  std::vector<std::string> a;
  for (auto& e : got)
    if (e.subject == "a") a.push_back(n_of(e));
  EXPECT_EQ(a, (std::vector<std::string>{"1", "3"}));
}

TEST_F(InProcessBroker, ARestartRedeliversWhatWasNotAckedAndNothingThatWas) {
  {
    auto t = open(fresh_url());
    ASSERT_TRUE(t);
    Seen before;
    // Acks s:1, s:2 and t:1; s:3 fails every time, so s:3 and s:4 stay unacked.
    auto sub = t->subscribe(options("shipping", {"order.created"}), [&](const Delivery& d) -> Result<void> {
      before.add(d.event);
      if (d.event.subject == "s" && n_of(d.event) == "3") return Error::unavailable("down");
      return {};
    });
    // A second group that subscribed and never handled anything: it too must get everything back.
    auto idle = t->subscribe(options("audit", {"order.created"}),
                             [](const Delivery&) -> Result<void> { return Error::unavailable("not yet"); });
    ASSERT_TRUE(sub && idle);
    ASSERT_TRUE(t->publish(std::vector{event("order.created", "s", 1), event("order.created", "s", 2),
                                       event("order.created", "s", 3), event("order.created", "s", 4),
                                       event("order.created", "t", 1)}));
    ASSERT_TRUE(before.wait_for([](const auto& events) {
      int s3 = 0, t1 = 0;
      for (auto& e : events) {
        s3 += e.subject == "s" && n_of(e) == "3";
        t1 += e.subject == "t";
      }
      return s3 >= 2 && t1 >= 1;  // s:3 failed at least twice: s:1 and s:2 are long acked
    }));
  }

  auto t = open(fresh_url());
  ASSERT_TRUE(t);
  Seen shipping, audit;
  auto sub = t->subscribe(options("shipping", {"order.created"}), recording(shipping));
  auto idle = t->subscribe(options("audit", {"order.created"}), recording(audit));
  ASSERT_TRUE(sub && idle);
  // A marker on t after the restart: once it arrives, an acked t:1 would have come before it.
  ASSERT_TRUE(t->publish(event("order.created", "t", 2)));
  ASSERT_TRUE(shipping.wait_count(3));
  ASSERT_TRUE(audit.wait_count(6));
  std::map<std::string, std::vector<std::string>> got;
  for (auto& e : shipping.events()) got[e.subject].push_back(n_of(e));
  EXPECT_EQ(got["s"], (std::vector<std::string>{"3", "4"}))
      << "an acked event came back or an unacked one was lost";
  EXPECT_EQ(got["t"], (std::vector<std::string>{"2"}));
  std::map<std::string, std::vector<std::string>> all;
  for (auto& e : audit.events()) all[e.subject].push_back(n_of(e));
  EXPECT_EQ(all["s"], (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(all["t"], (std::vector<std::string>{"1", "2"}));
}

TEST_F(InProcessBroker, PerSubjectOrderHoldsAcrossARestart) {
  constexpr int kSubjects = 8, kPerSubject = 20, kAckedBefore = 50;
  std::map<std::string, std::vector<std::string>> handled;  // per subject, in handling order
  {
    auto t = open(fresh_url());
    ASSERT_TRUE(t);
    Seen acked;
    std::mutex m;
    int acks = 0;
    // Acks the first kAckedBefore deliveries, then fails everything: each partition stops mid-way.
    auto sub = t->subscribe(options("inventory", {"order.created"}), [&](const Delivery& d) -> Result<void> {
      {
        std::lock_guard lock(m);
        if (acks >= kAckedBefore) return Error::unavailable("stopping");
        ++acks;
      }
      acked.add(d.event);
      return {};
    });
    ASSERT_TRUE(sub);
    std::vector<CloudEvent> batch;
    for (int n = 0; n < kPerSubject; ++n)
      for (int s = 0; s < kSubjects; ++s) batch.push_back(event("order.created", "o" + std::to_string(s), n));
    ASSERT_TRUE(t->publish(batch));
    ASSERT_TRUE(acked.wait_count(kAckedBefore));
    (*sub)->stop();
    for (auto& e : acked.events()) handled[e.subject].push_back(n_of(e));
  }

  auto t = open(fresh_url());
  ASSERT_TRUE(t);
  Seen after;
  auto sub = t->subscribe(options("inventory", {"order.created"}), recording(after));
  ASSERT_TRUE(sub);
  ASSERT_TRUE(after.wait_count(kSubjects * kPerSubject - kAckedBefore));
  for (auto& e : after.events()) handled[e.subject].push_back(n_of(e));
  ASSERT_EQ(handled.size(), static_cast<std::size_t>(kSubjects));
  for (auto& [subject, ns] : handled) {
    std::vector<std::string> expected;
    expected.reserve(kPerSubject);
    for (int n = 0; n < kPerSubject; ++n) expected.push_back(std::to_string(n));
    EXPECT_EQ(ns, expected) << subject << ": out of order, repeated or missing across the restart";
  }
}

TEST_F(InProcessBroker, PositionsGoOnAfterARestartWhenEveryEventWasDropped) {
  // retention=0s: acked events go at the next publish, so the file may hold none of a partition's
  // events while the group's offset is past them; a restart must not number the next event from 0.
  const std::string query = "&retention=0s";
  {
    auto url = fresh_url(query);
    auto t = open(url);
    ASSERT_TRUE(t);
    Seen seen;
    auto sub = t->subscribe(options("notification", {"order.created"}), recording(seen));
    ASSERT_TRUE(sub);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(t->publish(event("order.created", "same", i)));
    ASSERT_TRUE(seen.wait_count(10));
    ASSERT_TRUE(wait_retained(settings(url), 0));  // acked: gone from memory, still in the file
    ASSERT_TRUE(t->publish(event("order.created", "same", 10)));  // deletes the first ten from the file
    ASSERT_TRUE(seen.wait_count(11));
    ASSERT_TRUE(wait_retained(settings(url), 0));
    ASSERT_TRUE(t->publish(event("user.registered", "u", 0)));  // deletes the eleventh
  }
  auto url = fresh_url(query);
  auto t = open(url);
  ASSERT_TRUE(t) << "the file could not be read back";
  EXPECT_EQ(in_process_retained(settings(url)), 1u) << "only user.registered (no group yet) was kept";
  Seen seen;
  auto sub = t->subscribe(options("notification", {"order.created"}), recording(seen));
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(event("order.created", "same", 11)));
  ASSERT_TRUE(seen.wait_count(1)) << "the event after the restart was taken for an acked one";
  auto got = seen.events();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(n_of(got[0]), "11");
}

// Memory: with every group acking, what the broker holds stays at about one batch however many events
// went through (before, every event ever published stayed).
class BoundedMemory : public InProcessBroker, public ::testing::WithParamInterface<bool> {};

TEST_P(BoundedMemory, EventsEveryGroupAckedAreDropped) {
  const bool durable = GetParam();
  const std::string url =
      durable ? fresh_url("&retention=0s") : "inprocess://m" + random_hex(4) + "?retention=0s";
  constexpr int kBatches = 40, kBatch = 100;
  {
    auto t = open(url);
    ASSERT_TRUE(t);
    Seen a, b;
    auto s1 = t->subscribe(options("payment", {"order.created"}), recording(a));
    auto s2 = t->subscribe(options("notification", {"order.created", "order.cancelled"}), recording(b));
    ASSERT_TRUE(s1 && s2);
    std::size_t most = 0;
    for (int i = 0; i < kBatches; ++i) {
      std::vector<CloudEvent> batch;
      batch.reserve(kBatch);
      for (int n = 0; n < kBatch; ++n)
        batch.push_back(event(n % 2 ? "order.cancelled" : "order.created", "o" + std::to_string(n % 7), n));
      ASSERT_TRUE(t->publish(batch));
      most = std::max(most, in_process_retained(settings(url)).value_or(0));
      ASSERT_TRUE(a.wait_count(static_cast<std::size_t>((i + 1) * kBatch / 2)));
      ASSERT_TRUE(b.wait_count(static_cast<std::size_t>((i + 1) * kBatch)));
      // Every event handled by both groups: their acks let the whole batch go.
      ASSERT_TRUE(wait_retained(settings(url), 0)) << "after batch " << i << ": acked events were kept";
    }
    EXPECT_EQ(most, static_cast<std::size_t>(kBatch)) << "a publish found more than its own batch";
  }
  if (durable) {
    // The file too: one more open, one publish (which deletes the acked rows), and a look at the rows.
    {
      auto t = open(url);
      ASSERT_TRUE(t);
      ASSERT_TRUE(t->publish(event("user.registered", "u", 0)));
    }
    auto db = sql::Database::open(sqlite::DatabaseSettings{.path = file_});
    auto rows = db->with([](sql::Connection& c) { return c.query("SELECT COUNT(*) FROM broker_events"); });
    ASSERT_TRUE(rows);
    EXPECT_LE((*rows)[0].integer(0), 1) << "acked events stayed in the file";
  }
}

INSTANTIATE_TEST_SUITE_P(InMemoryAndOnFile, BoundedMemory, ::testing::Bool(),
                         [](const auto& test_info) { return test_info.param ? "file" : "memory"; });

TEST_F(InProcessBroker, AGroupSubscribingWithinTheRetentionSeesWhatOthersAlreadyAcked) {
  // The monolith's start-up: one module's relay publishes and another module's group acks before the
  // last module has subscribed. Within the window the late group still gets everything.
  auto url = "inprocess://w" + random_hex(4) + "?retention=1h";
  auto t = open(url);
  ASSERT_TRUE(t);
  Seen early, late;
  auto s1 = t->subscribe(options("inventory", {"order.created"}), recording(early));
  ASSERT_TRUE(s1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t->publish(event("order.created", "o" + std::to_string(i), i)));
  ASSERT_TRUE(early.wait_count(5));
  ASSERT_TRUE(t->publish(event("order.created", "o9", 9)));  // a publish trims: nothing may go yet
  EXPECT_EQ(in_process_retained(settings(url)), 6u);
  auto s2 = t->subscribe(options("order", {"order.created"}), recording(late));
  ASSERT_TRUE(s2);
  EXPECT_TRUE(late.wait_count(6));
}

TEST_F(InProcessBroker, AGroupAwayLongerThanTheRetentionHoldsNothing) {
  // retention=0s: the group that left holds nothing, so the next publish drops what only it had not
  // acked; it then starts again at the oldest event kept. (With a window, it would hold them: above.)
  auto url = "inprocess://g" + random_hex(4) + "?retention=0s";
  auto t = open(url);
  ASSERT_TRUE(t);
  {
    auto gone = t->subscribe(options("payment", {"order.created"}),
                             [](const Delivery&) -> Result<void> { return Error::unavailable("down"); });
    ASSERT_TRUE(gone);
    ASSERT_TRUE(t->publish(std::vector{event("order.created", "a", 1), event("order.created", "b", 2)}));
  }  // its last member stops: the group is gone
  ASSERT_TRUE(t->publish(event("user.registered", "u", 0)));
  EXPECT_EQ(in_process_retained(settings(url)), 1u)
      << "a group with no member kept events alive (1: the event "
         "just published, which the next publish drops)";
  Seen back;
  auto sub = t->subscribe(options("payment", {"order.created"}), recording(back));
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(event("order.created", "a", 3)));
  ASSERT_TRUE(back.wait_count(1));
  EXPECT_EQ(n_of(back.events()[0]), "3");
}

TEST_F(InProcessBroker, AFileThatIsNoDatabaseIsAnErrorAtOpen) {
  std::ofstream(file_) << "this is not a SQLite database, but it is long enough to have a header...........";
  auto t = open_transport(settings(fresh_url()));
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find(file_), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("not a database"), std::string::npos) << t.error().message;
}

TEST_F(InProcessBroker, AFileThatCannotBeCreatedIsAnErrorAtOpen) {
  std::ofstream(dir_ / "plain") << "a file, not a directory";
  auto path = (dir_ / "plain" / "events.db").string();
  auto t = open_transport(settings("inprocess://x" + random_hex(4) + "?file=" + path));
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find(path), std::string::npos) << t.error().message;
}

TEST_F(InProcessBroker, ACorruptLogIsAnErrorAtOpen) {
  {
    auto t = open(fresh_url());
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->publish(event("order.created", "a", 1)));
  }
  {
    auto db = sql::Database::open(sqlite::DatabaseSettings{.path = file_});
    ASSERT_TRUE(
        db->with([](sql::Connection& c) { return c.run("UPDATE broker_events SET envelope = '{'"); }));
  }
  auto t = open_transport(settings(fresh_url()));
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("malformed"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find(file_), std::string::npos) << t.error().message;
}

TEST_F(InProcessBroker, AFileWrittenWithOtherPartitionsIsRefused) {
  { ASSERT_TRUE(open(fresh_url())); }
  auto s = settings(fresh_url());
  s.partitions = 8;
  auto t = open_transport(s);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("partitions '4', not '8'"), std::string::npos) << t.error().message;
}

TEST_F(InProcessBroker, OneFileBacksOneBrokerAndOneBrokerIsNamedAlikeEverywhere) {
  auto url = fresh_url();
  auto t = open(url);
  ASSERT_TRUE(t);
  auto other = open_transport(settings(fresh_url()));  // another name, the same file
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("already used"), std::string::npos) << other.error().message;
  auto name = url.substr(0, url.find('?'));
  auto memory = open_transport(settings(name));  // the same name without the file
  ASSERT_FALSE(memory);
  EXPECT_NE(memory.error().message.find("already open"), std::string::npos) << memory.error().message;
  EXPECT_TRUE(open(url)) << "the same URL shares the broker";
}

TEST_F(InProcessBroker, RefusesUnknownOrMalformedUrlParameters) {
  for (const char* query : {"?fil=x.db", "?retention=soon", "?file=", "?retention=5"}) {
    auto t = open_transport(settings(std::string("inprocess://q") + random_hex(4) + query));
    ASSERT_FALSE(t) << query;
    EXPECT_EQ(t.error().code, ErrorCode::kValidationFailed) << query;
  }
}

}  // namespace
}  // namespace mercato::events
