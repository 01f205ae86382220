// Against the real Redis server that ./mercato test starts (MERCATO_TEST_REDIS_URL); each test works under
// a key prefix of its own and deletes its keys afterwards.
#include "mercato/redis/redis.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::redis {
namespace {

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::backend_url("MERCATO_TEST_REDIS_URL");
    if (url_.empty()) {
      if (testing::backends_required()) FAIL() << "MERCATO_TEST_REDIS_URL is not set";
      GTEST_SKIP() << "no Redis server (run through ./mercato test)";
    }
    prefix_ = "mercato:redis-test:" + random_hex(8) + ":";
    client_ = Client::open({.url = url_, .connections = 4});
  }
  void TearDown() override {
    if (!client_) return;
    std::string cursor = "0";
    do {
      auto page = client_->command({"SCAN", cursor, "MATCH", prefix_ + "*", "COUNT", "1000"});
      ASSERT_TRUE(page) << page.error().message;
      cursor = page->elements.at(0).text;
      for (const auto& key : page->elements.at(1).elements) (void)client_->command({"DEL", key.text});
    } while (cursor != "0");
  }
  std::string key(const std::string& name) const { return prefix_ + name; }

  std::string url_;
  std::string prefix_;
  std::unique_ptr<Client> client_;
};

TEST_F(RedisTest, ArgumentsTravelAsTheyAreEvenHostileOnes) {
  // Inline-protocol and RESP fragments, spaces, quotes and a NUL byte: one argument each, stored verbatim.
  std::string hostile = "a b \"c\" 'd'\r\n*1\r\n$8\r\nFLUSHALL\r\n";
  hostile.push_back('\0');
  hostile += "tail";
  ASSERT_TRUE(client_->command({"SET", key("k"), hostile}));
  auto got = client_->command({"GET", key("k")});
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->type, Reply::Type::kString);
  EXPECT_EQ(got->text, hostile);
  auto hostile_key = client_->command({"SET", key(hostile), "v"});
  ASSERT_TRUE(hostile_key);
  EXPECT_EQ(client_->command({"GET", key(hostile)})->text, "v");
  EXPECT_EQ(client_->command({"EXISTS", key("k")})->integer, 1) << "nothing was flushed";
}

TEST_F(RedisTest, RepliesOfEveryType) {
  auto missing = client_->command({"GET", key("absent")});
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->is_nil());
  EXPECT_EQ(missing->as_text(), "");
  auto n = client_->command({"INCRBY", key("n"), "41"});
  ASSERT_TRUE(n);
  EXPECT_EQ(n->type, Reply::Type::kInteger);
  EXPECT_EQ(n->integer, 41);
  EXPECT_EQ(n->as_text(), "41");
  auto status = client_->command({"SET", key("s"), "x"});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->type, Reply::Type::kStatus);
  EXPECT_EQ(status->text, "OK");
  ASSERT_TRUE(client_->command({"HSET", key("h"), "a", "1", "b", "2"}));
  auto fields = client_->command({"HMGET", key("h"), "a", "zz", "b"});
  ASSERT_TRUE(fields);
  ASSERT_EQ(fields->type, Reply::Type::kArray);
  ASSERT_EQ(fields->elements.size(), 3u);
  EXPECT_EQ(fields->elements[0].text, "1");
  EXPECT_TRUE(fields->elements[1].is_nil());
  EXPECT_EQ(fields->elements[2].text, "2");
}

TEST_F(RedisTest, ServerErrorsAreInternalAndLeaveTheConnectionUsable) {
  auto wrong = client_->command({"NOSUCHCOMMAND", "x"});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInternal);
  EXPECT_NE(wrong.error().message.find("ERR"), std::string::npos) << wrong.error().message;
  ASSERT_TRUE(client_->command({"SET", key("s"), "x"}));
  auto type = client_->command({"HGET", key("s"), "f"});  // WRONGTYPE
  ASSERT_FALSE(type);
  EXPECT_EQ(type.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(client_->ping());
}

TEST_F(RedisTest, ScriptsRunByShaAndSurviveAFlushedScriptCache) {
  static const Script kAdd("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto first = client_->eval(kAdd, {key("n")}, {"5"});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->integer, 5);
  // The script is now cached on the server under its SHA-1.
  auto sha = client_->command({"SCRIPT", "LOAD", kAdd.source()});
  ASSERT_TRUE(sha);
  EXPECT_EQ(client_->command({"SCRIPT", "EXISTS", sha->text})->elements.at(0).integer, 1);

  ASSERT_TRUE(client_->command({"SCRIPT", "FLUSH"}));
  auto after_flush = client_->eval(kAdd, {key("n")}, {"2"});
  ASSERT_TRUE(after_flush) << after_flush.error().message;
  EXPECT_EQ(after_flush->integer, 7) << "NOSCRIPT must load and run the script exactly once";
  EXPECT_EQ(client_->command({"GET", key("n")})->text, "7");
}

TEST_F(RedisTest, ScriptErrorsAreInternalWithTheirMessage) {
  static const Script kFail("return redis.error_reply('out of ' .. ARGV[1])");
  auto r = client_->eval(kFail, {}, {"stock"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_NE(r.error().message.find("out of stock"), std::string::npos) << r.error().message;
  static const Script kArray("return {ARGV[1], tonumber(ARGV[2]), false}");
  auto a = client_->eval(kArray, {}, {"x", "12"});
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_EQ(a->elements.size(), 3u);
  EXPECT_EQ(a->elements[0].text, "x");
  EXPECT_EQ(a->elements[1].integer, 12);
  EXPECT_TRUE(a->elements[2].is_nil());
}

TEST_F(RedisTest, ReconnectsAfterTheConnectionIsKilled) {
  auto single = Client::open({.url = url_, .connections = 1});
  auto id = single->command({"CLIENT", "ID"});
  ASSERT_TRUE(id);
  // Only this connection: other test binaries may share the server.
  auto killed = client_->command({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
  ASSERT_TRUE(killed) << killed.error().message;
  EXPECT_EQ(killed->integer, 1);
  auto broken = single->command({"SET", key("r"), "1"});
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, ErrorCode::kUnavailable);
  auto again = single->command({"SET", key("r"), "2"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(single->command({"GET", key("r")})->text, "2");
  EXPECT_NE(single->command({"CLIENT", "ID"})->integer, id->integer);
}

TEST_F(RedisTest, ConcurrentCallersShareThePool) {
  static const Script kIncr("return redis.call('INCR', KEYS[1])");
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r =
            (i + t) % 2 == 0 ? client_->command({"INCR", key("c")}) : client_->eval(kIncr, {key("c")}, {});
        EXPECT_TRUE(r) << r.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(client_->command({"GET", key("c")})->text, "400");
}

TEST_F(RedisTest, DatabaseNumberInTheUrlIsSelected) {
  auto db1 = Client::open({.url = url_ + "/1", .connections = 1});
  ASSERT_TRUE(db1->command({"SET", key("db"), "one"}));
  EXPECT_TRUE(client_->command({"GET", key("db")})->is_nil());
  EXPECT_EQ(db1->command({"GET", key("db")})->text, "one");
  ASSERT_TRUE(db1->command({"DEL", key("db")}));
}

TEST(RedisOpen, UnreachableServerOrBadUrlThrowsAtStart) {
  EXPECT_THROW(Client::open({.url = "redis://127.0.0.1:1", .connections = 1}), std::runtime_error);
  EXPECT_THROW(Client::open({.url = "http://127.0.0.1:6379"}), std::runtime_error);
  EXPECT_THROW(Client::open({.url = "redis://127.0.0.1:notaport"}), std::runtime_error);
  EXPECT_THROW(Client::open({.url = "redis://:6379"}), std::runtime_error);
  EXPECT_THROW(Client::open({.url = "redis://127.0.0.1:6379/x"}), std::runtime_error);
}

TEST(RedisUrl, RecognizesTheScheme) {
  EXPECT_TRUE(is_redis_url("redis://127.0.0.1:6379"));
  EXPECT_FALSE(is_redis_url("postgresql://u@h/db"));
  EXPECT_FALSE(is_redis_url("var/inventory/inventory.db"));
}

}  // namespace
}  // namespace mercato::redis
