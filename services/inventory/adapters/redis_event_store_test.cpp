// The event store on Redis: what lib/events' store_test checks of the SQL stores (commit order, sent and
// failed publishes, purge, inbox, dead letters, one relay), with the outbox written by the inventory
// repository's own scripts, and the bus relaying from it.
#include "adapters/redis_event_store.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "adapters/redis_inventory_repository.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/testing/backends.hpp"

namespace mercato::inventory {
namespace {

using namespace std::chrono_literals;

class RedisEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_REDIS_URL");
    client_ = redis::Client::open({.url = url, .connections = 4});
    prefix_ = "mercato:test:events:" + random_hex(8) + ":";
    repo_ = std::make_unique<RedisInventoryRepository>(*client_, prefix_);
    store_ = std::make_unique<RedisEventStore>(*client_, prefix_);
  }
  void TearDown() override {
    if (!client_) return;
    std::string cursor = "0";
    do {
      auto page = client_->command({"SCAN", cursor, "MATCH", prefix_ + "*", "COUNT", "1000"});
      if (!page) return;
      cursor = page->elements.at(0).text;
      for (const auto& key : page->elements.at(1).elements) (void)client_->command({"DEL", key.text});
    } while (cursor != "0");
  }

  static events::CloudEvent event(std::string subject, int n) {
    return events::make_event("inventory", "inventory.product_updated", std::move(subject),
                              "{\"n\":" + std::to_string(n) + "}");
  }
  // A change that appends `events` in its script, as every change of the repository does.
  Result<PutProductResult> change(const std::string& product, const std::vector<events::CloudEvent>& events) {
    return repo_->put_product(product, {"P", 100, 1}, now_utc(), events);
  }

  std::unique_ptr<redis::Client> client_;
  std::string prefix_;
  std::unique_ptr<RedisInventoryRepository> repo_;
  std::unique_ptr<RedisEventStore> store_;
};

TEST_F(RedisEventStoreTest, AppendedEventsAreUnsentInCommitOrder) {
  auto a = event("s", 1), b = event("s", 2), c = event("s", 3);
  ASSERT_TRUE(change("one", {a, b}));
  auto bad = event("s", 99);
  bad.data = "[]";
  ASSERT_FALSE(change("two", {bad}));  // refused before the script: nothing written
  ASSERT_TRUE(change("three", {c}));
  auto rows = store_->unsent(10);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].event, a);
  EXPECT_EQ((*rows)[1].event, b);
  EXPECT_EQ((*rows)[2].event, c);
  EXPECT_LT((*rows)[0].seq, (*rows)[1].seq);
  EXPECT_LT((*rows)[1].seq, (*rows)[2].seq);
  EXPECT_EQ((*rows)[0].attempts, 0);
  EXPECT_EQ(*store_->unsent_count(), 3);
  EXPECT_EQ(repo_->find_product("two").error().code, ErrorCode::kNotFound);
  auto first = store_->unsent(1);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].event, a);
  EXPECT_TRUE(store_->unsent(0)->empty());
}

TEST_F(RedisEventStoreTest, SentEntriesLeaveTheUnsentListAndArePurgedAfterRetention) {
  ASSERT_TRUE(change("one", {event("s", 1), event("s", 2)}));
  auto rows = store_->unsent(10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  std::vector<std::int64_t> seqs{(*rows)[0].seq};
  ASSERT_TRUE(store_->mark_failed((*rows)[1].seq, "broker down"));
  ASSERT_TRUE(store_->mark_sent(seqs));
  ASSERT_TRUE(store_->mark_sent(seqs));  // again: already sent, nothing counted twice
  rows = store_->unsent(10);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].attempts, 1);
  auto errors = client_->command({"HGET", prefix_ + "outbox:errors", std::to_string((*rows)[0].seq)});
  ASSERT_TRUE(errors);
  EXPECT_EQ(errors->text, "broker down");
  auto purged = store_->purge(now_utc() - 1h);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 0u) << "an entry sent just now is within retention";
  purged = store_->purge(now_utc() + 1s);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u) << "only the sent entry goes; the unsent one stays";
  EXPECT_EQ(*store_->unsent_count(), 1);
  auto left = client_->command({"HLEN", prefix_ + "outbox:events"});
  ASSERT_TRUE(left);
  EXPECT_EQ(left->integer, 1) << "the purged entry's envelope is deleted with it";
}

TEST_F(RedisEventStoreTest, PurgeDeletesMoreThanOneBatch) {
  std::vector<events::CloudEvent> many;
  many.reserve(2500);
  for (int i = 0; i < 2500; ++i) many.push_back(event("s", i));
  for (std::size_t from = 0; from < many.size(); from += 500) {
    ASSERT_TRUE(
        change("p" + std::to_string(from),
               std::vector<events::CloudEvent>(many.begin() + static_cast<std::ptrdiff_t>(from),
                                               many.begin() + static_cast<std::ptrdiff_t>(from + 500))));
  }
  auto rows = store_->unsent(5000);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), many.size());
  std::vector<std::int64_t> seqs;
  for (const auto& r : *rows) seqs.push_back(r.seq);
  ASSERT_TRUE(store_->mark_sent(seqs));
  auto purged = store_->purge(now_utc() + 1s);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, many.size());
  EXPECT_EQ(client_->command({"EXISTS", prefix_ + "outbox:events"})->integer, 0);
}

TEST_F(RedisEventStoreTest, HandleOnceIsTruePerConsumerOnceAndExpiresAfterRetention) {
  EXPECT_TRUE(*store_->handle_once("payment", "e-1"));
  EXPECT_FALSE(*store_->handle_once("payment", "e-1"));
  EXPECT_TRUE(*store_->handle_once("shipping", "e-1")) << "another consumer handles it independently";
  auto ttl = client_->command({"PTTL", prefix_ + "inbox:payment:e-1"});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, std::chrono::milliseconds(23h).count());
  EXPECT_LE(ttl->integer, std::chrono::milliseconds(24h).count());
}

TEST_F(RedisEventStoreTest, HandleOnceAppendsItsEventsTheFirstTimeOnly) {
  ASSERT_TRUE(change("before", {event("s", 1)}));
  auto answer = event("order-1", 2);
  auto first = store_->handle_once("inventory", "cmd-1", std::span(&answer, 1));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  ASSERT_TRUE(change("after", {event("s", 3)}));
  // Appended where the repository's scripts append: one outbox, in commit order, for the relay.
  auto rows = store_->unsent(10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[1].event, answer);
  EXPECT_LT((*rows)[0].seq, (*rows)[1].seq);
  EXPECT_LT((*rows)[1].seq, (*rows)[2].seq);
  auto ttl = client_->command({"PTTL", prefix_ + "inbox:inventory:cmd-1"});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, std::chrono::milliseconds(23h).count()) << "the inbox record expires as usual";

  // A duplicate delivery: false, and its events are not appended.
  auto again = event("order-1", 4);
  auto second = store_->handle_once("inventory", "cmd-1", std::span(&again, 1));
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);
  EXPECT_EQ(*store_->unsent_count(), 3);
}

TEST_F(RedisEventStoreTest, HandleOnceWithAMalformedEventRecordsNothing) {
  auto bad = event("order-1", 1);
  bad.data = "[]";
  EXPECT_FALSE(store_->handle_once("inventory", "cmd-1", std::span(&bad, 1)));
  EXPECT_EQ(*store_->unsent_count(), 0);
  // Not recorded either: the redelivery is handled as a first delivery.
  auto good = event("order-1", 2);
  EXPECT_TRUE(*store_->handle_once("inventory", "cmd-1", std::span(&good, 1)));
  EXPECT_EQ(*store_->unsent_count(), 1);
}

TEST_F(RedisEventStoreTest, DeadLettersKeepTheEventAndTheError) {
  auto e = event("s", 7);
  ASSERT_TRUE(store_->add_dead_letter("payment", e, "boom", 5));
  auto letters = store_->dead_letters(10);
  ASSERT_TRUE(letters) << letters.error().message;
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].event, e);
  EXPECT_EQ((*letters)[0].consumer, "payment");
  EXPECT_EQ((*letters)[0].error, "boom");
  EXPECT_EQ((*letters)[0].attempts, 5);
  EXPECT_LE((*letters)[0].failed_at, now_utc());
  auto id = (*letters)[0].id;
  ASSERT_TRUE(store_->update_dead_letter(id, "boom again"));
  auto one = store_->dead_letter(id);
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->error, "boom again");
  EXPECT_EQ((*one)->attempts, 6);
  ASSERT_TRUE(store_->update_dead_letter("unknown", "x"));  // nothing to update: not an error
  EXPECT_FALSE(*store_->dead_letter("unknown"));
  ASSERT_TRUE(store_->add_dead_letter("shipping", event("s", 8), "later", 1));
  EXPECT_EQ(store_->dead_letters(10)->size(), 2u);
  EXPECT_EQ(store_->dead_letters(1)->size(), 1u);
  ASSERT_TRUE(store_->remove_dead_letter(id));
  EXPECT_FALSE(*store_->dead_letter(id));
  letters = store_->dead_letters(10);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].consumer, "shipping");
}

TEST_F(RedisEventStoreTest, OneRelayLeadsAndALeaderThatStopsRenewingHandsOver) {
  RedisEventStore first(*client_, prefix_, {.lease = 300ms});
  RedisEventStore second(*client_, prefix_, {.lease = 300ms});
  ASSERT_TRUE(*first.try_lead());
  EXPECT_TRUE(*first.try_lead()) << "the leader keeps leading (and renews)";
  EXPECT_FALSE(*second.try_lead());
  // The first stops renewing (as a dead process would): its lease expires and the second takes over.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool took_over = false;
  while (!took_over && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // waits for the server's lease expiry; bounded by the deadline
    took_over = *second.try_lead();
  }
  EXPECT_TRUE(took_over);
  EXPECT_FALSE(*first.try_lead());
}

// The bus over the in-process transport, reading this store: the relay publishes what a script appended
// without waiting for its poll, and failures become dead letters that can be redriven.
TEST_F(RedisEventStoreTest, TheBusRelaysAppendedEventsPromptly) {
  obs::Logger logger("test", obs::LogLevel::kError);
  obs::Registry metrics;
  auto transport = events::open_transport({.url = "inprocess://redis-bus-" + random_hex(4), .partitions = 2});
  ASSERT_TRUE(transport);
  events::BusSettings settings;
  settings.service = "inventory-test";
  settings.relay_poll = 1h;  // only the append signal can wake it within the test's wait
  settings.max_deliver = 2;
  settings.retry_delay = 10ms;
  events::Bus bus(**transport, *store_, settings, logger, metrics);
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> handled;
  std::atomic<bool> fail_poison = true;
  bus.on("inventory.product_updated", [&](const events::CloudEvent& e) -> Result<void> {
    if (e.data == "{\"n\":13}" && fail_poison) return Error::internal("unlucky number");
    std::lock_guard lock(m);
    handled.push_back(e.data);
    cv.notify_all();
    return {};
  });
  ASSERT_TRUE(bus.start());
  ASSERT_TRUE(change("a", {event("k", 1), event("k", 13), event("k", 2)}));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return handled.size() >= 2; }));
    EXPECT_EQ(handled, (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}"}));
  }
  EXPECT_EQ(*store_->unsent_count(), 0);
  auto letters = bus.dead_letters();
  ASSERT_TRUE(letters);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].error, "unlucky number");
  fail_poison = false;
  ASSERT_TRUE(bus.redrive((*letters)[0].id));
  EXPECT_TRUE(bus.dead_letters()->empty());
  {
    std::lock_guard lock(m);
    EXPECT_EQ(handled.back(), "{\"n\":13}");
  }
  // An answer appended with an inbox record wakes the relay too.
  auto answer = event("k", 5);
  ASSERT_TRUE(*store_->handle_once("inventory-test", "cmd-1", std::span(&answer, 1)));
  std::unique_lock lock(m);
  ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return handled.back() == "{\"n\":5}"; }));
}

}  // namespace
}  // namespace mercato::inventory
