// Batch messages of the NATS transport (nats_transport.cpp, "Publishing" and the batch paragraph):
// against the nats-server ./mercato test starts (MERCATO_TEST_NATS_URL). The contract every transport
// keeps is transport_contract_test.cpp's; this is what only NATS does: a publish call's events of one
// partition stored as one message, handled in order inside one batch_scope, a failing one retried
// where it is. The stream's message count is read with libnats itself.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "mercato/core/ids.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/testing/events.hpp"

namespace mercato::events {
namespace {

using namespace std::chrono_literals;

struct Seen {
  std::string data;
  std::string type;
  int attempt;
};

class NatsBatch : public ::testing::Test {
 protected:
  void SetUp() override {
    MERCATO_BROKER_URL_OR_SKIP(url, "nats");
    url_ = url;
    prefix_ = "b" + random_hex(6);
  }

  std::unique_ptr<Transport> open(int message_batch = 64) {
    // One partition: every event of a call is in it, so a call is one message (up to message_batch).
    auto t = open_transport({.url = url_,
                             .prefix = prefix_,
                             .client_id = "batch-test",
                             .partitions = 1,
                             .message_batch = message_batch});
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? std::move(*t) : nullptr;
  }

  SubscriptionOptions options(std::vector<std::string> types, int max_deliver = 3) {
    SubscriptionOptions o;
    o.group = "shipping";
    o.types = std::move(types);
    o.max_deliver = max_deliver;
    o.retry_delay = 20ms;
    o.max_retry_delay = 100ms;
    o.ack_wait = 5s;
    o.on_give_up = [this](const CloudEvent& e, const Error& error, int attempts) -> Result<void> {
      add_given_up(e.type + " " + e.data + " after " + std::to_string(attempts) + ": " + error.message);
      return {};
    };
    o.batch_scope = [this](const std::function<void()>& handle_all) -> Result<void> {
      ++scopes_;
      handle_all();
      if (fail_scopes_ > 0) {
        --fail_scopes_;
        return Error::unavailable("the scope's commit failed");
      }
      return {};
    };
    return o;
  }

  Handler recording(const std::function<Result<void>(const Delivery&)>& decide = nullptr) {
    return [this, decide](const Delivery& d) -> Result<void> {
      {
        std::lock_guard lock(mutex_);
        seen_.push_back({d.event.data, d.event.type, d.attempt});
      }
      changed_.notify_all();
      return decide ? decide(d) : Result<void>{};
    };
  }

  void add_given_up(std::string what) {
    {
      std::lock_guard lock(mutex_);
      given_up_.push_back(std::move(what));
    }
    changed_.notify_all();
  }

  // Waits (at most 10 s) until `n` deliveries and `g` give-ups were seen.
  bool wait_for(std::size_t n, std::size_t g = 0) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return seen_.size() >= n && given_up_.size() >= g; });
  }

  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  // How many messages the topic's stream holds, asked of the broker with libnats itself.
  std::int64_t stored_messages(const std::string& topic) {
    natsConnection* nc = nullptr;
    if (natsConnection_ConnectTo(&nc, url_.c_str()) != NATS_OK) return -1;
    jsCtx* js = nullptr;
    std::int64_t n = -1;
    if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK) {
      std::string stream;
      for (char c : prefix_ + "_" + topic)
        stream += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      jsStreamInfo* info = nullptr;
      if (js_GetStreamInfo(&info, js, stream.c_str(), nullptr, nullptr) == NATS_OK) {
        n = static_cast<std::int64_t>(info->State.Msgs);
        jsStreamInfo_Destroy(info);
      }
      jsCtx_Destroy(js);
    }
    natsConnection_Destroy(nc);
    return n;
  }

  // Publishes a batch message as another producer could (headers and body given), with libnats.
  bool publish_raw(const std::string& subject, const std::string& count, const std::string& body) {
    natsConnection* nc = nullptr;
    if (natsConnection_ConnectTo(&nc, url_.c_str()) != NATS_OK) return false;
    jsCtx* js = nullptr;
    bool ok = false;
    if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK) {
      natsMsg* m = nullptr;
      if (natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())) ==
          NATS_OK) {
        natsMsgHeader_Set(m, "Mercato-Batch", count.c_str());
        jsPubAck* ack = nullptr;
        ok = js_PublishMsg(&ack, js, m, nullptr, nullptr) == NATS_OK;
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(m);
      }
      jsCtx_Destroy(js);
    }
    natsConnection_Destroy(nc);
    return ok;
  }

  static CloudEvent event(const std::string& type, const std::string& subject, int n) {
    return make_event("batch-test", type, subject, "{\"n\":" + std::to_string(n) + "}");
  }

  std::string url_;
  std::string prefix_;
  std::atomic<int> scopes_ = 0;
  std::atomic<int> fail_scopes_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Seen> seen_;             // guarded by mutex_
  std::vector<std::string> given_up_;  // guarded by mutex_
};

TEST_F(NatsBatch, APublishCallsEventsOfOnePartitionAreOneMessageHandledInOrderInOneScope) {
  auto t = open();
  ASSERT_TRUE(t);
  std::vector<CloudEvent> call;
  call.reserve(10);
  for (int n = 0; n < 10; ++n)
    call.push_back(event(n % 3 == 2 ? "order.cancelled" : "order.created", "order-" + std::to_string(n), n));
  ASSERT_TRUE(t->publish(call));
  EXPECT_EQ(stored_messages("order"), 1) << "ten events of one partition in one call are one message";

  // The group asked for order.created only: the others in the message are skipped, in place.
  auto sub = t->subscribe(options({"order.created"}), recording());
  ASSERT_TRUE(sub) << sub.error().message;
  ASSERT_TRUE(wait_for(7));
  auto s = seen();
  ASSERT_EQ(s.size(), 7U);
  std::vector<std::string> expected;
  for (int n = 0; n < 10; ++n)
    if (n % 3 != 2) expected.push_back("{\"n\":" + std::to_string(n) + "}");
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].data, expected[i]) << "out of order at " << i;
    EXPECT_EQ(s[i].type, "order.created");
    EXPECT_EQ(s[i].attempt, 1);
  }
  EXPECT_EQ(scopes_.load(), 1) << "one message, one scope";
}

TEST_F(NatsBatch, MessageBatchBoundsTheEventsPerMessage) {
  auto t = open(4);
  ASSERT_TRUE(t);
  std::vector<CloudEvent> call;
  call.reserve(10);
  for (int n = 0; n < 10; ++n) call.push_back(event("order.created", "order-" + std::to_string(n), n));
  ASSERT_TRUE(t->publish(call));
  EXPECT_EQ(stored_messages("order"), 3) << "10 events at most 4 a message";
  auto lone = open(1);
  ASSERT_TRUE(lone);
  ASSERT_TRUE(lone->publish(call));
  EXPECT_EQ(stored_messages("order"), 13) << "message_batch 1: every event alone";
  auto sub = t->subscribe(options({"order.created"}), recording());
  ASSERT_TRUE(sub);
  ASSERT_TRUE(wait_for(20));
  auto s = seen();
  ASSERT_EQ(s.size(), 20U);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s[i].data, "{\"n\":" + std::to_string(i % 10) + "}") << i;
}

// The failing event is retried where it is — what was handled before it is not handled again and
// nothing behind it overtakes it — with its attempts counted, each try in a scope of its own.
TEST_F(NatsBatch, AFailingEventIsRetriedInPlaceAndHoldsTheRestBehindIt) {
  auto t = open();
  ASSERT_TRUE(t);
  auto sub = t->subscribe(options({"order.created"}, 5), recording([](const Delivery& d) -> Result<void> {
                            if (d.event.data == "{\"n\":2}" && d.attempt < 3)
                              return Error::unavailable("not yet");
                            return {};
                          }));
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(std::vector{event("order.created", "same", 1), event("order.created", "same", 2),
                                     event("order.created", "same", 3)}));
  ASSERT_TRUE(wait_for(5));
  auto s = seen();
  ASSERT_EQ(s.size(), 5U);
  std::vector<std::pair<std::string, int>> got;
  got.reserve(s.size());
  for (auto& x : s) got.emplace_back(x.data, x.attempt);
  std::vector<std::pair<std::string, int>> want = {
      {"{\"n\":1}", 1}, {"{\"n\":2}", 1}, {"{\"n\":2}", 2}, {"{\"n\":2}", 3}, {"{\"n\":3}", 1}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(scopes_.load(), 3);
  std::lock_guard lock(mutex_);
  EXPECT_TRUE(given_up_.empty());
}

TEST_F(NatsBatch, GivesUpOnOneEventAfterMaxDeliverAndHandlesTheRestOfItsMessage) {
  auto t = open();
  ASSERT_TRUE(t);
  auto sub = t->subscribe(options({"order.created"}, 2), recording([](const Delivery& d) -> Result<void> {
                            if (d.event.data == "{\"n\":1}")
                              return Error::internal("cannot, attempt " + std::to_string(d.attempt));
                            return {};
                          }));
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(std::vector{event("order.created", "same", 1), event("order.created", "same", 2)}));
  ASSERT_TRUE(wait_for(3, 1));
  auto s = seen();
  ASSERT_EQ(s.size(), 3U);
  EXPECT_EQ(s[2].data, "{\"n\":2}");
  EXPECT_EQ(s[2].attempt, 1) << "the event behind a given-up one gets its own attempts";
  std::lock_guard lock(mutex_);
  ASSERT_EQ(given_up_.size(), 1U);
  EXPECT_EQ(given_up_[0], "order.created {\"n\":1} after 2: cannot, attempt 2");
}

TEST_F(NatsBatch, AScopeThatFailsToCommitSendsTheWholeMessageBack) {
  auto t = open();
  ASSERT_TRUE(t);
  fail_scopes_ = 1;
  auto sub = t->subscribe(options({"order.created"}), recording());
  ASSERT_TRUE(sub);
  ASSERT_TRUE(t->publish(std::vector{event("order.created", "a", 1), event("order.created", "b", 2)}));
  ASSERT_TRUE(wait_for(4));
  auto s = seen();
  ASSERT_EQ(s.size(), 4U);
  EXPECT_EQ(s[2].data, "{\"n\":1}");
  EXPECT_EQ(s[2].attempt, 2) << "the message came back: its second delivery";
  EXPECT_EQ(s[3].data, "{\"n\":2}");
}

// Hostile or broken input from another producer: a line that is no event is given up (a dead letter
// with the parse error) and the rest of the message handled; it blocks nothing.
TEST_F(NatsBatch, AnUnreadableLineIsGivenUpAndTheRestHandled) {
  auto t = open();
  ASSERT_TRUE(t);
  auto sub = t->subscribe(options({"order.created"}), recording());
  ASSERT_TRUE(sub);
  auto good = event("order.created", "x", 7);
  ASSERT_TRUE(publish_raw(prefix_ + ".order.0.batch", "2", "{not an event\n" + to_json(good)));
  ASSERT_TRUE(wait_for(1, 1));
  auto s = seen();
  ASSERT_EQ(s.size(), 1U);
  EXPECT_EQ(s[0].data, good.data);
  std::lock_guard lock(mutex_);
  ASSERT_EQ(given_up_.size(), 1U);
  EXPECT_NE(given_up_[0].find("unreadable event in a batch"), std::string::npos) << given_up_[0];
}

TEST_F(NatsBatch, MessageBatchIsValidated) {
  for (int bad : {0, 1001}) {
    auto t = open_transport({.url = url_, .prefix = prefix_, .partitions = 1, .message_batch = bad});
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().field, "events.message_batch");
  }
}

}  // namespace
}  // namespace mercato::events
