// The `database` section: which engine, and whether the HTTP handlers run on a storage pool.
#include "mercato/storage/storage.hpp"

#include <gtest/gtest.h>

#include "mercato/testing/context.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::storage {
namespace {

struct Fixture {
  explicit Fixture(std::string_view yaml) : test(yaml) {}
  Settings read() { return read_settings(test.context, true, true); }

  testing::TestContext test;
};

TEST(StorageSettings, HandlersLeaveTheIoThreadForANetworkDatabaseOnly) {
  auto sqlite = Fixture("database: {path: /tmp/x.db}").read();
  EXPECT_EQ(sqlite.engine, Engine::kSqlite);
  EXPECT_FALSE(sqlite.offload);
  auto postgres = Fixture("database: {url: 'postgresql://mercato@127.0.0.1:5432/x'}").read();
  EXPECT_EQ(postgres.engine, Engine::kPostgres);
  EXPECT_TRUE(postgres.offload);
  EXPECT_EQ(postgres.connections, 4u);  // the pool's threads
  auto redis = Fixture("database: {url: 'redis://127.0.0.1:6379'}").read();
  EXPECT_EQ(redis.engine, Engine::kRedis);
  EXPECT_TRUE(redis.offload);
  EXPECT_EQ(redis.max_waiting, 256u);
}

TEST(StorageSettings, OffloadCanBeForcedEitherWay) {
  EXPECT_TRUE(Fixture("database: {path: /tmp/x.db, offload: 'on', max_waiting: 10}").read().offload);
  EXPECT_FALSE(Fixture("database: {url: 'postgresql://h/x', offload: 'off'}").read().offload);
}

TEST(StorageSettings, TheStoragePoolIsSizedLikeTheConnectionPoolAndExportsItsGauges) {
  Fixture f("database: {url: 'postgresql://h/x', connections: 3, max_waiting: 7}");
  auto s = f.read();
  offload_to_storage_pool(f.test.context, s);
  ASSERT_NE(f.test.context.storage_pool(), nullptr);
  EXPECT_EQ(f.test.context.storage_pool()->max_waiting(), 7u);
  auto text = f.test.metrics.render();
  EXPECT_NE(text.find("mercato_storage_pool_threads 3"), std::string::npos) << text;
  EXPECT_NE(text.find("mercato_storage_pool_waiting 0"), std::string::npos) << text;
  EXPECT_NE(text.find("mercato_storage_pool_refused_total 0"), std::string::npos) << text;
}

TEST(StorageSettings, BadOffloadSettingsNameTheirKey) {
  auto says = [](std::string_view yaml, const std::string& key) {
    Fixture f(yaml);
    try {
      f.read();
      ADD_FAILURE() << yaml << ": accepted";
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  says("database: {path: /tmp/x.db, offload: sometimes}", "database.offload");
  says("database: {path: /tmp/x.db, max_waiting: 0}", "database.max_waiting");
  says("database: {url: 'postgresql://h/x', connections: 8, max_waiting: 4}", "database.max_waiting");
  says("database: {path: /tmp/x.db, group_commit: 0}", "database.group_commit");
  says("database: {path: /tmp/x.db, group_commit: 1001}", "database.group_commit");
  says("database: {path: /tmp/x.db, group_commit: many}", "database.group_commit");
  says("database: {path: /tmp/x.db, page_size: 3000}", "database.page_size");
  says("database: {path: /tmp/x.db, page_size: 256}", "database.page_size");
}

TEST(StorageSettings, NewSqliteFilesGet2KiBPagesUnlessConfigured) {
  EXPECT_EQ(Fixture("database: {path: /tmp/x.db}").read().page_size, 2048u);
  EXPECT_EQ(Fixture("database: {path: /tmp/x.db, page_size: 4096}").read().page_size, 4096u);
}

TEST(StorageSettings, GroupCommitIs64CallsByDefaultAndCanBeTurnedOff) {
  EXPECT_EQ(Fixture("database: {path: /tmp/x.db}").read().group_commit, 64u);
  EXPECT_EQ(Fixture("database: {path: /tmp/x.db, group_commit: 1}").read().group_commit, 1u);
  EXPECT_EQ(Fixture("database: {path: /tmp/x.db, group_commit: 1000}").read().group_commit, 1000u);
}

TEST(StorageSettings, TheStoragePoolExportsItsGroupCounters) {
  Fixture f("database: {path: /tmp/x.db, offload: 'on'}");
  testing::SqliteDatabase db("storage");
  offload_to_storage_pool(f.test.context, f.read(), &db.get());
  auto text = f.test.metrics.render();
  EXPECT_NE(text.find("mercato_storage_pool_groups_total 0"), std::string::npos) << text;
  EXPECT_NE(text.find("mercato_storage_pool_grouped_total 0"), std::string::npos) << text;
}

}  // namespace
}  // namespace mercato::storage
