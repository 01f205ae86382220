// The outbox, inbox and dead letters on SQLite and PostgreSQL, and the bus that moves events between
// them over the in-process transport (the networked transports have their own contract test).
#include "mercato/events/store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/sql/sql.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::events {
namespace {

using namespace std::chrono_literals;

// A database with a transaction helper that appends events the way a repository does: state change +
// outbox rows in one transaction, committed or rolled back together.
class Db {
 public:
  virtual ~Db() = default;
  virtual EventStore& store() = 0;
  // Inserts a row into a `things` table and appends `events`, in one transaction; commits when
  // `commit` is true, else rolls back.
  virtual Result<void> change_with_events(const std::string& thing, const std::vector<CloudEvent>& events,
                                          bool commit) = 0;
  virtual Result<bool> handle(const std::string& consumer, const std::string& event_id,
                              const std::string& thing) = 0;
  virtual std::int64_t things() = 0;
};

// One database of either engine, through lib/sql as the repositories use it.
class SqlDb final : public Db {
 public:
  // SQLite in a temporary directory, or a schema of its own on the PostgreSQL server at `postgres_base`.
  explicit SqlDb(const std::string& postgres_base) {
    if (postgres_base.empty()) {
      dir_ = testing::temp_dir("events-store").string();
      db_ = sql::Database::open(sqlite::DatabaseSettings{.path = dir_ + "/e.db"});
    } else {
      schema_ = std::make_unique<testing::PostgresSchema>(postgres_base, "events");
      db_ = sql::Database::open(postgres::DatabaseSettings{.url = schema_->url(), .connections = 2});
    }
    (void)db_->with([](sql::Connection& c) { return c.exec("CREATE TABLE things (name TEXT PRIMARY KEY)"); });
    store_ = open_store(*db_);
  }
  ~SqlDb() override {
    store_.reset();
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  EventStore& store() override { return *store_; }
  Result<void> change_with_events(const std::string& thing, const std::vector<CloudEvent>& events,
                                  bool commit) override {
    return db_->with([&](sql::Connection& c) -> Result<void> {
      if (auto r = c.begin(); !r) return r;
      if (auto r = c.run("INSERT INTO things(name) VALUES ($1)", {thing}); !r) return r;
      if (auto r = append_outbox(c, events); !r) return r;
      if (!commit) {
        c.rollback();
        return {};
      }
      return c.commit();
    });
  }
  Result<bool> handle(const std::string& consumer, const std::string& event_id,
                      const std::string& thing) override {
    return db_->with([&](sql::Connection& c) -> Result<bool> {
      if (auto r = c.begin(); !r) return std::move(r).error();
      auto first = record_handled(c, consumer, event_id);
      if (!first || !*first) return first;
      if (auto r = c.run("INSERT INTO things(name) VALUES ($1)", {thing}); !r) return std::move(r).error();
      if (auto r = c.commit(); !r) return std::move(r).error();
      return true;
    });
  }
  std::int64_t things() override {
    return db_->with([](sql::Connection& c) -> std::int64_t {
      auto rows = c.query("SELECT COUNT(*) FROM things");
      return rows ? (*rows)[0].integer(0) : -1;
    });
  }

 private:
  std::unique_ptr<testing::PostgresSchema> schema_;  // first member: dropped last
  std::string dir_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<EventStore> store_;
};

CloudEvent event(std::string subject, int n) {
  return make_event("things", "thing.made", std::move(subject), "{\"n\":" + std::to_string(n) + "}");
}

class EventStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      db_ = std::make_unique<SqlDb>("");
    } else {
      MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
      db_ = std::make_unique<SqlDb>(base);
    }
  }
  std::unique_ptr<Db> db_;
};

TEST_P(EventStoreTest, CommittedEventsAreUnsentInCommitOrderAndRolledBackOnesNeverExist) {
  auto a = event("s", 1), b = event("s", 2), c = event("s", 3);
  ASSERT_TRUE(db_->change_with_events("one", {a, b}, true));
  ASSERT_TRUE(db_->change_with_events("two", {event("s", 99)}, false));
  ASSERT_TRUE(db_->change_with_events("three", {c}, true));
  auto rows = db_->store().unsent(10);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].event, a);
  EXPECT_EQ((*rows)[1].event, b);
  EXPECT_EQ((*rows)[2].event, c);
  EXPECT_EQ(db_->things(), 2);
  EXPECT_EQ(*db_->store().unsent_count(), 3);
}

TEST_P(EventStoreTest, AnInvalidEventAbortsTheWholeChange) {
  auto bad = event("s", 1);
  bad.data = "not json";
  auto r = db_->change_with_events("one", {event("s", 0), bad}, true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "data");
  EXPECT_EQ(db_->things(), 0);
  EXPECT_EQ(*db_->store().unsent_count(), 0);
}

TEST_P(EventStoreTest, SentRowsLeaveTheUnsentListAndArePurgedAfterRetention) {
  ASSERT_TRUE(db_->change_with_events("one", {event("s", 1), event("s", 2)}, true));
  auto rows = db_->store().unsent(10);
  ASSERT_TRUE(rows);
  std::vector<std::int64_t> seqs{(*rows)[0].seq};
  ASSERT_TRUE(db_->store().mark_failed((*rows)[1].seq, "broker down"));
  ASSERT_TRUE(db_->store().mark_sent(seqs));
  rows = db_->store().unsent(10);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].attempts, 1);
  auto purged = db_->store().purge(now_utc() - 1h);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 0u) << "a row sent just now is within retention";
  purged = db_->store().purge(now_utc() + 1s);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u) << "only the sent row goes; the unsent one stays";
  EXPECT_EQ(*db_->store().unsent_count(), 1);
}

TEST_P(EventStoreTest, TheInboxLetsAnEffectHappenOncePerConsumer) {
  auto first = db_->handle("payment", "e-1", "effect-1");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  auto again = db_->handle("payment", "e-1", "effect-1-again");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  auto other = db_->handle("shipping", "e-1", "effect-2");
  ASSERT_TRUE(other);
  EXPECT_TRUE(*other) << "another consumer handles the same event independently";
  EXPECT_EQ(db_->things(), 2);
  EXPECT_TRUE(*db_->store().handle_once("notification", "e-1"));
  EXPECT_FALSE(*db_->store().handle_once("notification", "e-1"));
}

// Choreography's join: two events about one subject, in either order; the second finds the first.
TEST_P(EventStoreTest, JoinKeepsEachEventUntilItsPartnerArrivesInEitherOrder) {
  auto& store = db_->store();
  auto created = make_event("order", "order.created", "order-1", R"({"n":1})");
  auto reserved = make_event("inventory", "inventory.reserved", "order-1", R"({"n":2})");
  auto first = store.join("payment", created, "inventory.reserved");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->duplicate);
  EXPECT_FALSE(first->partner) << "nothing to join yet";
  EXPECT_FALSE(*store.handle_once("payment", created.id)) << "kept and recorded: its part is done";
  auto again = store.join("payment", created, "inventory.reserved");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);

  auto second = store.join("payment", reserved, "order.created");
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(second->partner);
  EXPECT_EQ(*second->partner, created);
  EXPECT_TRUE(*store.handle_once("payment", reserved.id))
      << "the event that completes the join is left for the effect to record";

  // The other order: the reservation first, another subject's events never partner.
  auto other = make_event("inventory", "inventory.reserved", "order-2", R"({"n":3})");
  EXPECT_FALSE(store.join("payment", other, "order.created")->partner);
  auto late = make_event("order", "order.created", "order-2", R"({"n":4})");
  EXPECT_EQ(*store.join("payment", late, "inventory.reserved")->partner, other);

  ASSERT_TRUE(store.purge(now_utc() - 1h));
  auto kept = make_event("inventory", "inventory.reserved", "order-3", "{}");
  ASSERT_TRUE(store.join("payment", kept, "order.created"));
  ASSERT_TRUE(store.purge(now_utc() + 1s));
  EXPECT_FALSE(
      store.join("payment", make_event("order", "order.created", "order-3", "{}"), "inventory.reserved")
          ->partner)
      << "purged with the inbox";
}

// Partners arriving at the same moment on different threads: exactly one of each pair finds the other.
TEST_P(EventStoreTest, PartnersJoiningAtOnceFindEachOtherExactlyOnce) {
  auto& store = db_->store();
  constexpr int kPairs = 40;
  std::atomic<int> found{0}, failed{0};
  auto run = [&](const char* type, const char* partner) {
    for (int i = 0; i < kPairs; ++i) {
      auto r = store.join("payment", make_event("x", type, "s-" + std::to_string(i), "{}"), partner);
      if (!r)
        ++failed;
      else if (r->partner)
        ++found;
    }
  };
  std::thread a(run, "a.made", "b.made"), b(run, "b.made", "a.made");
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(found.load(), kPairs);
}

TEST_P(EventStoreTest, DeadLettersKeepTheEventAndTheError) {
  auto e = event("s", 7);
  ASSERT_TRUE(db_->store().add_dead_letter("payment", e, "boom", 5));
  auto letters = db_->store().dead_letters(10);
  ASSERT_TRUE(letters);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].event, e);
  EXPECT_EQ((*letters)[0].error, "boom");
  EXPECT_EQ((*letters)[0].attempts, 5);
  auto id = (*letters)[0].id;
  ASSERT_TRUE(db_->store().update_dead_letter(id, "boom again"));
  auto one = db_->store().dead_letter(id);
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->error, "boom again");
  EXPECT_EQ((*one)->attempts, 6);
  ASSERT_TRUE(db_->store().remove_dead_letter(id));
  EXPECT_FALSE(*db_->store().dead_letter(id));
}

TEST_P(EventStoreTest, OneRelayLeadsPerDatabase) {
  auto lead = db_->store().try_lead();
  ASSERT_TRUE(lead) << lead.error().message;
  EXPECT_TRUE(*lead);
  EXPECT_TRUE(*db_->store().try_lead()) << "the leader keeps leading";
}

// The bus end to end over the in-process transport: the relay publishes committed events without
// waiting for its poll interval, the consumer handles each once, failures become dead letters that
// can be redriven.
TEST_P(EventStoreTest, TheBusRelaysCommittedEventsToHandlersPromptly) {
  obs::Logger logger("test", obs::LogLevel::kError);
  obs::Registry metrics;
  auto transport = open_transport({.url = "inprocess://bus-" + random_hex(4), .partitions = 2});
  ASSERT_TRUE(transport);
  BusSettings settings;
  settings.service = "things";
  settings.relay_poll = 1h;  // only the commit signal can wake it within the test's wait
  settings.max_deliver = 2;
  settings.retry_delay = 10ms;
  Bus bus(**transport, db_->store(), settings, logger, metrics);
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> handled;
  std::atomic<bool> fail_poison = true;
  bus.on("thing.made", [&](const CloudEvent& e) -> Result<void> {
    if (e.data == "{\"n\":13}" && fail_poison) return Error::internal("unlucky number");
    std::lock_guard lock(m);
    handled.push_back(e.data);
    cv.notify_all();
    return {};
  });
  ASSERT_TRUE(bus.start());
  ASSERT_TRUE(db_->change_with_events("a", {event("k", 1), event("k", 13), event("k", 2)}, true));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return handled.size() >= 2; }));
    EXPECT_EQ(handled, (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}"}));
  }
  EXPECT_EQ(*db_->store().unsent_count(), 0);
  auto letters = bus.dead_letters();
  ASSERT_TRUE(letters);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].error, "unlucky number");
  EXPECT_EQ((*letters)[0].attempts, 2);
  auto again = bus.redrive((*letters)[0].id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kUnprocessable);
  fail_poison = false;
  ASSERT_TRUE(bus.redrive((*letters)[0].id));
  EXPECT_TRUE(bus.dead_letters()->empty());
  EXPECT_EQ(bus.redrive((*letters)[0].id).error().code, ErrorCode::kNotFound);
  std::lock_guard lock(m);
  EXPECT_EQ(handled.back(), "{\"n\":13}");
}

// The bus's counters: a handled type's series exist (at 0) from the registration of its handler, and
// each delivery, publication and dead letter increments its own series.
TEST_P(EventStoreTest, TheBusCountsDeliveriesPublicationsAndDeadLettersPerType) {
  obs::Logger logger("test", obs::LogLevel::kError);
  obs::Registry metrics;
  auto transport = open_transport({.url = "inprocess://bus-" + random_hex(4), .partitions = 2});
  ASSERT_TRUE(transport);
  BusSettings settings;
  settings.service = "things";
  settings.max_deliver = 1;
  Bus bus(**transport, db_->store(), settings, logger, metrics);
  bus.on("thing.made", [](const CloudEvent& e) -> Result<void> {
    if (e.data == "{\"n\":13}") return Error::internal("unlucky number");
    return {};
  });
  bus.record_only("thing.seen");
  auto text = metrics.render();
  for (const char* series : {R"(mercato_events_handled_total{outcome="ok",type="thing.made"} 0)",
                             R"(mercato_events_handled_total{outcome="error",type="thing.made"} 0)",
                             R"(mercato_events_dead_lettered_total{type="thing.made"} 0)",
                             R"(mercato_events_duplicates_total{type="thing.seen"} 0)",
                             "mercato_events_publish_failures_total 0"}) {
    EXPECT_NE(text.find(series), std::string::npos) << series << " in\n" << text;
  }
  auto counter = [&](std::string_view name, std::string_view help, const obs::Labels& labels) {
    return metrics.counter(name, help, labels).value();
  };
  auto handled = [&](const char* outcome) {
    return counter("mercato_events_handled_total", "Event deliveries handed to a handler, by outcome",
                   {{"type", "thing.made"}, {"outcome", outcome}});
  };
  auto dead_lettered = [&] {
    return counter("mercato_events_dead_lettered_total", "Events given up on and stored as dead letters",
                   {{"type", "thing.made"}});
  };
  auto published = [&] {
    return counter("mercato_events_published_total", "Events published from the outbox",
                   {{"type", "thing.made"}});
  };
  ASSERT_TRUE(bus.start());
  ASSERT_TRUE(db_->change_with_events("a", {event("k", 1), event("k", 13), event("k", 2)}, true));
  EXPECT_TRUE(testing::eventually(
      [&] { return handled("ok") >= 2 && dead_lettered() >= 1 && published() >= 3; }, 20s));
  EXPECT_EQ(handled("ok"), 2u);
  EXPECT_EQ(handled("error"), 1u);
  EXPECT_EQ(dead_lettered(), 1u);
  EXPECT_EQ(published(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Engines, EventStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& test_info) { return test_info.param; });

}  // namespace
}  // namespace mercato::events
