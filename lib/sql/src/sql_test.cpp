// Every case runs on SQLite and on PostgreSQL (the server ./mercato test starts): one SQL text, one
// behaviour.
#include "mercato/sql/sql.hpp"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "mercato/core/ids.hpp"
#include "mercato/testing/backends.hpp"

namespace mercato::sql {
namespace {

TEST(SqlRender, NumbersPlaceholdersForSqliteAndKeepsThemForPostgres) {
  EXPECT_EQ(render(Dialect::kSqlite, "SELECT a FROM t WHERE b = $2 AND c = $10"),
            "SELECT a FROM t WHERE b = ?2 AND c = ?10");
  EXPECT_EQ(render(Dialect::kPostgres, "SELECT a FROM t WHERE b = $2 AND c = $10"),
            "SELECT a FROM t WHERE b = $2 AND c = $10");
}

TEST(SqlRender, LeavesQuotedTextAlone) {
  EXPECT_EQ(render(Dialect::kSqlite, "SELECT '$1 {json}', \"{x}\" FROM t WHERE a = $1"),
            "SELECT '$1 {json}', \"{x}\" FROM t WHERE a = ?1");
}

TEST(SqlRender, RendersTokensPerDialect) {
  EXPECT_EQ(render(Dialect::kSqlite, "a {int64}, b {json}, c {blob}, seq {seq}"),
            "a INTEGER, b TEXT, c BLOB, seq INTEGER PRIMARY KEY");
  EXPECT_EQ(render(Dialect::kPostgres, "a {int64}, b {json}, c {blob}, seq {seq}"),
            "a BIGINT, b JSONB, c BYTEA, seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
  EXPECT_EQ(render(Dialect::kSqlite, "CREATE INDEX i ON t({nocase:email})"),
            "CREATE INDEX i ON t(email COLLATE NOCASE)");
  EXPECT_EQ(render(Dialect::kPostgres, "CREATE INDEX i ON t({nocase:email})"),
            "CREATE INDEX i ON t(lower(email))");
  EXPECT_EQ(render(Dialect::kSqlite, "WHERE {nocase:email} = {nocase:$1}"),
            "WHERE email COLLATE NOCASE = ?1 COLLATE NOCASE");
  EXPECT_EQ(render(Dialect::kPostgres, "WHERE {nocase:email} = {nocase:$1}"),
            "WHERE lower(email) = lower($1)");
  EXPECT_EQ(render(Dialect::kPostgres, "SELECT 1 FROM t JOIN u{for_update:t}"),
            "SELECT 1 FROM t JOIN u FOR UPDATE OF t");
  EXPECT_EQ(render(Dialect::kSqlite, "SELECT 1 FROM t{for_update}"), "SELECT 1 FROM t");
  EXPECT_EQ(render(Dialect::kPostgres, "SELECT 1 FROM t{for_update}"), "SELECT 1 FROM t FOR UPDATE");
  EXPECT_EQ(render(Dialect::kSqlite, "x IN {int64_set:$3}"), "x IN (SELECT value FROM json_each(?3))");
  EXPECT_THROW(render(Dialect::kSqlite, "{nonsense}"), std::logic_error);
}

TEST(SqlRender, WritesUpsertClauses) {
  std::array<std::string_view, 2> columns{"state", "saga"};
  EXPECT_EQ(upsert("order_id", columns),
            "ON CONFLICT (order_id) DO UPDATE SET state = excluded.state, saga = excluded.saga");
  EXPECT_EQ(upsert("a, b", {}), "ON CONFLICT (a, b) DO NOTHING");
}

TEST(SqlMigration, AnEngineOverrideReplacesTheCommonText) {
  Migration m{.version = 1,
              .name = "m",
              .sql = "CREATE TABLE t (n {int64})",
              .postgres = "CREATE TABLE t (n INTEGER)"};
  EXPECT_EQ(m.text(Dialect::kSqlite), "CREATE TABLE t (n INTEGER)");
  EXPECT_EQ(m.text(Dialect::kPostgres), "CREATE TABLE t (n INTEGER)");
}

const std::vector<Migration> kMigrations = {
    {1, "items",
     "CREATE TABLE items ("
     " seq {seq},"
     " id TEXT NOT NULL UNIQUE,"
     " n {int64} NOT NULL CHECK (n >= 0),"
     " flag {int64} NOT NULL DEFAULT 0,"
     " note TEXT,"
     " at_ms {int64},"
     " doc {json});"},
    {2, "keys", "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL){without_rowid};"},
};

class SqlTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / ("mercato-sql-" + random_hex(8));
      db_ = Database::open(sqlite::DatabaseSettings{.path = (dir_ / "t.db").string(), .connections = 2});
    } else {
      MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
      schema_ = std::make_unique<mercato::testing::PostgresSchema>(base, "sql");
      ASSERT_TRUE(schema_->ok()) << schema_->error();
      db_ = Database::open(postgres::DatabaseSettings{.url = schema_->url(), .connections = 2});
    }
    auto r = db_->migrate("sqltest", kMigrations);
    ASSERT_TRUE(r) << r.error().message;
  }
  void TearDown() override {
    db_.reset();
    schema_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  Result<Rows> query(std::string_view sql, const Params& params = {}) {
    return db_->with([&](Connection& c) { return c.query(sql, params); });
  }

  std::filesystem::path dir_;
  std::unique_ptr<mercato::testing::PostgresSchema> schema_;
  std::unique_ptr<Database> db_;
  int woken_ = 0;
};

TEST_P(SqlTest, BindsAndReadsTypedValues) {
  auto at = from_unix_ms(1'700'000'000'123);
  std::optional<std::string> none;
  auto in = query("INSERT INTO items(id, n, flag, note, at_ms, doc) VALUES ($1, $2, $3, $4, $5, $6)",
                  {"a", std::int64_t{9'000'000'000}, true, none, at, R"({"k": [1, 2]})"});
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->affected(), 1);
  auto rows = query("SELECT id, n, flag, note, at_ms, doc, seq FROM items WHERE id = $1", {"a"});
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 1U);
  auto row = (*rows)[0];
  EXPECT_EQ(row.text(0), "a");
  EXPECT_EQ(row.integer(1), 9'000'000'000);
  EXPECT_TRUE(row.boolean(2));
  EXPECT_TRUE(row.is_null(3));
  EXPECT_EQ(row.optional_text(3), std::nullopt);
  EXPECT_EQ(row.time(4), at);
  EXPECT_EQ(row.optional_time(4), at);
  EXPECT_EQ(row.text(5), R"({"k": [1, 2]})");
  EXPECT_GT(row.integer(6), 0);
}

TEST_P(SqlTest, PlaceholdersAreNumberedNotPositional) {
  ASSERT_TRUE(query("INSERT INTO items(id, n, note) VALUES ($2, $1, $2)", {std::int64_t{4}, "b"}));
  auto rows = query("SELECT n, note FROM items WHERE id = $1", {"b"});
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1U);
  EXPECT_EQ((*rows)[0].integer(0), 4);
  EXPECT_EQ((*rows)[0].text(1), "b");
}

TEST_P(SqlTest, ClassifiesConstraintFailures) {
  ASSERT_TRUE(query("INSERT INTO items(id, n) VALUES ($1, $2)", {"a", 1}));
  db_->with([](Connection& c) {
    auto again = c.query("INSERT INTO items(id, n) VALUES ($1, $2)", {"a", 2});
    EXPECT_FALSE(again);
    EXPECT_EQ(c.last_failure(), Failure::kUniqueViolation);
    auto negative = c.query("INSERT INTO items(id, n) VALUES ($1, $2)", {"z", -1});
    EXPECT_FALSE(negative);
    EXPECT_EQ(c.last_failure(), Failure::kCheckViolation);
    EXPECT_TRUE(c.query("SELECT 1"));
    EXPECT_EQ(c.last_failure(), Failure::kNone);
  });
}

TEST_P(SqlTest, UpsertsAndReturns) {
  std::array<std::string_view, 1> columns{"v"};
  auto sql = "INSERT INTO kv(k, v) VALUES ($1, $2) " + upsert("k", columns) + " RETURNING v";
  auto first = query(sql, {"k", "one"});
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->size(), 1U);
  EXPECT_EQ((*first)[0].text(0), "one");
  auto second = query(sql, {"k", "two"});
  ASSERT_TRUE(second);
  EXPECT_EQ((*second)[0].text(0), "two");
  auto nothing = query("INSERT INTO kv(k, v) VALUES ($1, $2) " + upsert("k", {}), {"k", "three"});
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->affected(), 0);
  auto kept = query("SELECT v FROM kv WHERE k = $1", {"k"});
  EXPECT_EQ((*kept)[0].text(0), "two");
}

TEST_P(SqlTest, TransactionsCommitOrRollBack) {
  int woken = 0;
  auto committed = db_->with([&](Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    EXPECT_TRUE(c.in_transaction());
    if (auto r = c.lock("subject"); !r) return r;
    if (auto r = c.lock(7, "subject"); !r) return r;
    if (auto r = c.query("INSERT INTO kv(k, v) VALUES ($1, $2)", {"kept", "1"}); !r)
      return std::move(r).error();
    c.after_commit([&] { ++woken; });
    EXPECT_EQ(woken, 0);
    return c.commit();
  });
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_EQ(woken, 1);
  // An early return leaves the transaction open: the lease rolls it back and its actions never run.
  db_->with([&](Connection& c) {
    ASSERT_TRUE(c.begin());
    ASSERT_TRUE(c.query("INSERT INTO kv(k, v) VALUES ($1, $2)", {"lost", "1"}));
    c.after_commit([&] { ++woken; });
  });
  EXPECT_EQ(woken, 1);
  auto rows = query("SELECT k FROM kv ORDER BY k");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1U);
  EXPECT_EQ((*rows)[0].text(0), "kept");
}

// Database::group: the scopes of one thread share one transaction. A scope that fails undoes only its
// own work, the rest commits once at the end, and nothing is visible (nor any after_commit run) before.
TEST_P(SqlTest, AGroupCommitsItsScopesTogetherAndUndoesOnlyAFailedOne) {
  auto insert = [&](const std::string& key, bool fail) {
    return db_->with([&](Connection& c) -> Result<void> {
      if (auto r = c.begin(); !r) return r;
      if (auto r = c.query("INSERT INTO kv(k, v) VALUES ($1, $2)", {key, "1"}); !r)
        return std::move(r).error();
      c.after_commit([&] { ++woken_; });
      if (fail) return Error::unavailable("this scope fails after its insert");  // left open: undone
      return c.commit();
    });
  };
  std::vector<std::string> seen_inside;
  auto grouped = db_->group([&] {
    EXPECT_TRUE(insert("a", false));
    // A scope's statement that fails says why, as outside a group (repositories map it: a conflict).
    db_->with([&](Connection& c) {
      ASSERT_TRUE(c.begin());
      EXPECT_FALSE(c.query("INSERT INTO kv(k, v) VALUES ($1, $2)", {"a", "2"}));
      EXPECT_EQ(c.last_failure(), Failure::kUniqueViolation);
      c.rollback();
    });
    EXPECT_FALSE(insert("b", true));
    EXPECT_TRUE(insert("c", false));
    // Inside the group its own work is visible to it...
    auto inside = db_->with([&](Connection& c) { return c.query("SELECT k FROM kv ORDER BY k"); });
    ASSERT_TRUE(inside);
    for (auto row : *inside) seen_inside.push_back(row.text(0));
    // ...and to nobody else, and no after_commit ran yet.
    std::thread other([&] {
      // SQLite: another connection would wait for the group's write lock (and the file is one process's).
      if (GetParam() == "sqlite") return;
      auto outside = query("SELECT COUNT(*) FROM kv");
      ASSERT_TRUE(outside);
      EXPECT_EQ((*outside)[0].integer(0), 0) << "a group's work was visible before its commit";
    });
    other.join();
    EXPECT_EQ(woken_, 0);
  });
  ASSERT_TRUE(grouped) << grouped.error().message;
  EXPECT_EQ(seen_inside, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(woken_, 2) << "the kept scopes' after_commit actions run once the group committed, the undone "
                          "one's never (it acted on work undone)";
  auto rows = query("SELECT k FROM kv ORDER BY k");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[0].text(0), "a");
  EXPECT_EQ((*rows)[1].text(0), "c");
}

// A readiness check may run inside a group (the storage pool's group commit): on SQLite the group holds
// the one connection, and a ping that waited for it would wait forever.
TEST_P(SqlTest, APingInsideAGroupAnswersThroughTheGroupsConnection) {
  bool pinged = false;
  auto grouped = db_->group([&] {
    ASSERT_TRUE(query("INSERT INTO kv(k, v) VALUES ($1, $2)", {"a", "1"}));
    auto ping = db_->ping();
    EXPECT_TRUE(ping) << ping.error().message;
    pinged = true;
  });
  ASSERT_TRUE(grouped) << grouped.error().message;
  EXPECT_TRUE(pinged);
  auto rows = query("SELECT k FROM kv");
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 1U);
}

TEST_P(SqlTest, SelectsFromAListOfIntegers) {
  for (auto id : {"a", "b", "c"}) ASSERT_TRUE(query("INSERT INTO items(id, n) VALUES ($1, 0)", {id}));
  std::vector<std::int64_t> seqs;
  auto all = query("SELECT seq FROM items ORDER BY seq");
  ASSERT_TRUE(all);
  for (auto row : *all) seqs.push_back(row.integer(0));
  ASSERT_EQ(seqs.size(), 3U);
  std::vector<std::int64_t> chosen = {seqs[0], seqs[2]};
  auto updated = query("UPDATE items SET n = n + 1 WHERE seq IN {int64_set:$1}", {Param::int64_list(chosen)});
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->affected(), 2);
  auto rows = query("SELECT id FROM items WHERE n = 1 ORDER BY id");
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[1].text(0), "c");
}

TEST_P(SqlTest, ReadsTheDatabaseClockAndLocksForUpdate) {
  auto rows = query("SELECT {now_ms}");
  ASSERT_TRUE(rows) << rows.error().message;
  auto skew = (*rows)[0].integer(0) - to_unix_ms(now_utc());
  EXPECT_LT(std::abs(skew), 5000);
  ASSERT_TRUE(query("INSERT INTO kv(k, v) VALUES ($1, $2)", {"k", "v"}));
  auto locked = db_->with([](Connection& c) -> Result<Rows> {
    if (auto r = c.begin(); !r) return std::move(r).error();
    return c.query("SELECT v FROM kv WHERE k = $1{for_update}", {"k"});
  });
  ASSERT_TRUE(locked) << locked.error().message;
  EXPECT_EQ((*locked)[0].text(0), "v");
  // select() is the same query, locking only when asked to.
  for (bool for_update : {false, true}) {
    auto read = db_->with([for_update](Connection& c) -> Result<Rows> {
      if (auto r = c.begin(); !r) return std::move(r).error();
      return c.select("SELECT v FROM kv WHERE k = $1", {"k"}, for_update);
    });
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ((*read)[0].text(0), "v");
  }
}

TEST_P(SqlTest, MigrationsApplyOnceAndRefuseANewerDatabase) {
  ASSERT_TRUE(db_->migrate("sqltest", kMigrations)) << "a second run applies nothing";
  auto older = std::vector<Migration>(kMigrations.begin(), kMigrations.begin() + 1);
  EXPECT_FALSE(db_->migrate("sqltest", older));
  EXPECT_TRUE(db_->ping());
}

TEST_P(SqlTest, OneSessionLockHolderAtATime) {
  auto first = db_->session_lock(42);
  auto held = first->try_hold();
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_TRUE(*held);
  EXPECT_TRUE(*first->try_hold()) << "the holder keeps it";
  auto second = db_->session_lock(42);
  // SQLite's file belongs to one process: every holder holds it. PostgreSQL has one holder.
  EXPECT_EQ(*second->try_hold(), db_->dialect() == Dialect::kSqlite);
  first.reset();
}

INSTANTIATE_TEST_SUITE_P(Engines, SqlTest, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace mercato::sql
