// Event streams (streams.hpp) on SQLite and PostgreSQL: versions, conflicts, the global position, and
// that stream events are outbox rows the relay publishes but the purge keeps.
#include "mercato/events/streams.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "mercato/events/store.hpp"
#include "mercato/sql/sql.hpp"
#include "mercato/testing/backends.hpp"

namespace mercato::events {
namespace {

CloudEvent thing(std::string stream, int n) {
  return make_event("things", "thing.changed", std::move(stream), "{\"n\":" + std::to_string(n) + "}");
}

class StreamsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = testing::temp_dir("streams").string();
      db_ = sql::Database::open(sqlite::DatabaseSettings{.path = dir_ + "/s.db", .connections = 4});
    } else {
      MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
      schema_ = std::make_unique<testing::PostgresSchema>(base, "streams");
      db_ = sql::Database::open(postgres::DatabaseSettings{.url = schema_->url(), .connections = 4});
    }
    store_ = open_store(*db_);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Result<std::int64_t> append(const std::string& stream, std::int64_t expected,
                              const std::vector<CloudEvent>& events) {
    return db_->with([&](sql::Connection& c) -> Result<std::int64_t> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      MERCATO_ASSIGN_OR_RETURN(auto position, append_stream(c, stream, expected, events));
      MERCATO_RETURN_IF_ERROR(c.commit());
      return position;
    });
  }
  std::vector<StoredEvent> stream(const std::string& id, std::int64_t after = 0,
                                  std::optional<std::int64_t> up_to = std::nullopt) {
    auto r = db_->with([&](sql::Connection& c) { return read_stream(c, id, after, up_to); });
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<StoredEvent>{};
  }

  std::unique_ptr<testing::PostgresSchema> schema_;  // first member: dropped last
  std::string dir_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<EventStore> store_;
};

TEST_P(StreamsTest, AppendsNumberVersionsFromTheExpectedOneAndReadBackInOrder) {
  auto a = thing("s1", 1), b = thing("s1", 2), c = thing("s1", 3);
  auto first = append("s1", 0, {a, b});
  ASSERT_TRUE(first) << first.error().message;
  auto second = append("s1", 2, {c});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_GT(*second, *first);

  auto all = stream("s1");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].event, a);
  EXPECT_EQ(all[1].event, b);
  EXPECT_EQ(all[2].event, c);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(all[i].stream, "s1");
  }
  EXPECT_LT(all[0].position, all[1].position);
  EXPECT_EQ(all[2].position, *second);

  auto tail = stream("s1", 1, 2);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].event, b);
  EXPECT_TRUE(stream("none").empty());
}

TEST_P(StreamsTest, AStaleExpectedVersionIsAConflictAndAppendsNothing) {
  ASSERT_TRUE(append("s1", 0, {thing("s1", 1)}));
  auto stale = append("s1", 0, {thing("s1", 2), thing("s1", 3)});
  ASSERT_FALSE(stale);
  EXPECT_TRUE(is_version_conflict(stale.error())) << stale.error().message;
  auto ahead = append("s1", 5, {thing("s1", 4)});
  ASSERT_FALSE(ahead);
  EXPECT_TRUE(is_version_conflict(ahead.error()));
  EXPECT_EQ(stream("s1").size(), 1u);
  EXPECT_FALSE(is_version_conflict(Error::conflict("an email is taken", "email")));
}

TEST_P(StreamsTest, ConcurrentWritersToOneStreamEachWinExactlyOneVersion) {
  constexpr int kWriters = 6;
  std::vector<std::thread> threads;
  threads.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      // Each writer reads the head and appends after it, re-reading on a conflict: the command handler's
      // loop. Bounded: six writers need at most six rounds each.
      for (int attempt = 0; attempt < 50; ++attempt) {
        auto head = stream("hot");
        auto r = append("hot", static_cast<std::int64_t>(head.size()), {thing("hot", w)});
        if (r) return;
        if (!is_version_conflict(r.error())) {
          ADD_FAILURE() << r.error().message;
          return;
        }
      }
      ADD_FAILURE() << "writer " << w << " never got a version";
    });
  }
  for (auto& t : threads) t.join();
  auto all = stream("hot");
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kWriters));
  std::set<std::string> writers;
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<std::int64_t>(i + 1));
    writers.insert(all[i].event.data);
  }
  EXPECT_EQ(writers.size(), static_cast<std::size_t>(kWriters)) << "a writer's event is missing or doubled";
}

TEST_P(StreamsTest, StreamEventsAreRelayedLikeAnyOutboxRowButNeverPurged) {
  ASSERT_TRUE(append("s1", 0, {thing("s1", 1)}));
  ASSERT_TRUE(db_->with([&](sql::Connection& c) -> Result<void> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    std::vector<CloudEvent> command{make_event("things", "thing.command", "s1", "{}")};
    MERCATO_RETURN_IF_ERROR(append_outbox(c, command));
    return c.commit();
  }));
  auto unsent = store_->unsent(10);
  ASSERT_TRUE(unsent);
  ASSERT_EQ(unsent->size(), 2u);
  EXPECT_EQ((*unsent)[0].event.type, "thing.changed");
  std::vector<std::int64_t> seqs{(*unsent)[0].seq, (*unsent)[1].seq};
  ASSERT_TRUE(store_->mark_sent(seqs));
  auto purged = store_->purge(now_utc() + std::chrono::hours(1));
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);  // the command; the stream event stays
  EXPECT_EQ(stream("s1").size(), 1u);
}

TEST_P(StreamsTest, ReadStreamsFollowsEveryStreamInPositionOrderFromACheckpoint) {
  ASSERT_TRUE(append("a", 0, {thing("a", 1)}));
  ASSERT_TRUE(append("b", 0, {thing("b", 1), thing("b", 2)}));
  ASSERT_TRUE(append("a", 1, {thing("a", 2)}));
  auto page = [&](std::int64_t after, std::size_t limit) {
    auto r = db_->with([&](sql::Connection& c) { return read_streams(c, after, limit); });
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<StoredEvent>{};
  };
  auto first = page(0, 3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].stream, "a");
  EXPECT_EQ(first[1].stream, "b");
  EXPECT_EQ(first[2].stream, "b");
  EXPECT_EQ(first[2].version, 2);
  auto rest = page(first.back().position, 10);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].stream, "a");
  EXPECT_EQ(rest[0].version, 2);
  auto head = db_->with([](sql::Connection& c) { return streams_head(c); });
  ASSERT_TRUE(head);
  EXPECT_EQ(*head, rest[0].position);
  EXPECT_TRUE(page(*head, 10).empty());
}

INSTANTIATE_TEST_SUITE_P(Engines, StreamsTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& test_info) { return test_info.param; });

// A SQLite database whose outbox predates streams gets the columns (and keeps its rows) when a service
// of this version opens it.
TEST(StreamsSchema, AnOutboxFromBeforeStreamsIsUpgradedInPlace) {
  auto dir = testing::temp_dir("streams-upgrade").string();
  {
    auto db = sql::Database::open(sqlite::DatabaseSettings{.path = dir + "/old.db"});
    ASSERT_TRUE(db->with([](sql::Connection& c) {
      return c.exec(
          "CREATE TABLE event_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,"
          " type TEXT NOT NULL, envelope TEXT NOT NULL, created_at_ms INTEGER NOT NULL, sent_at_ms INTEGER,"
          " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');"
          "INSERT INTO event_outbox(event_id, type, envelope, created_at_ms) VALUES ('e1', 't', '{}', 1);");
    }));
  }
  auto db = sql::Database::open(sqlite::DatabaseSettings{.path = dir + "/old.db"});
  ASSERT_TRUE(ensure_schema(*db));
  ASSERT_TRUE(ensure_schema(*db)) << "a second start must find the columns there";
  auto appended = db->with([&](sql::Connection& c) -> Result<std::int64_t> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    std::vector<CloudEvent> e{thing("s", 1)};
    MERCATO_ASSIGN_OR_RETURN(auto position, append_stream(c, "s", 0, e));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return position;
  });
  ASSERT_TRUE(appended) << appended.error().message;
  EXPECT_EQ(*appended, 2);
  auto count = db->with([](sql::Connection& c) { return c.query("SELECT COUNT(*) FROM event_outbox"); });
  ASSERT_TRUE(count);
  EXPECT_EQ((*count)[0].integer(0), 2);
  db.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mercato::events
