#include "mercato/etcd/etcd.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <random>

#include "codec.hpp"
#include "mercato/http/io_pool.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/block_on.hpp"

namespace mercato::etcd {
namespace {

TEST(EtcdCodec, Base64RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 10; ++i) {
    auto encoded = detail::base64_encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = detail::base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(0xf0 + i));
  }
  EXPECT_EQ(detail::base64_encode("/a/b"), "L2EvYg==");
  EXPECT_FALSE(detail::base64_decode("L2E"));
  EXPECT_FALSE(detail::base64_decode("L2E*Yg=="));
}

TEST(EtcdCodec, PrefixEndIsTheNextKeyAfterThePrefix) {
  EXPECT_EQ(prefix_end("/a/"), "/a0");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST(EtcdCodec, ParsesEndpointLists) {
  auto list = parse_endpoints("http://127.0.0.1:2379, 127.0.0.1:22379/");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].to_string(), "127.0.0.1:2379");
  EXPECT_EQ((*list)[1].port, 22379);
  EXPECT_FALSE(parse_endpoints(""));
  EXPECT_FALSE(parse_endpoints("127.0.0.1"));
}

TEST(EtcdCodec, ReadsWatchMessages) {
  auto batch = detail::watch_batch(
      R"({"result":{"header":{"revision":"7"},"events":[{"kv":{"key":"L2EvYg==","mod_revision":"7","value":"aGk="}},)"
      R"({"type":"DELETE","kv":{"key":"L2EvYw==","mod_revision":"7"}}]}})");
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->revision, 7);
  ASSERT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(batch->events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(batch->events[0].kv.key, "/a/b");
  EXPECT_EQ(batch->events[0].kv.value, "hi");
  EXPECT_EQ(batch->events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(batch->events[1].kv.key, "/a/c");
  EXPECT_FALSE(batch->created);
  auto created = detail::watch_batch(R"({"result":{"header":{"revision":"9"},"created":true}})");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_TRUE(created->events.empty());

  auto compacted = detail::watch_batch(R"({"result":{"canceled":true,"compact_revision":"5"}})");
  ASSERT_FALSE(compacted);
  EXPECT_EQ(compacted.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(detail::watch_batch("not json"));
  EXPECT_FALSE(detail::watch_batch(R"({"result":{"events":[{"kv":{"key":"***"}}]}})"));
}

// Against the etcd server `./mercato test` runs; every test under a key prefix of its own.
class EtcdServer : public ::testing::Test {
 protected:
  template <typename F>
  auto run(F f) {
    return testing::block_on(pool_, f());
  }

  void SetUp() override {
    auto url = testing::backend_url("MERCATO_TEST_ETCD_URL");
    if (url.empty()) {
      if (testing::backends_required()) FAIL() << "MERCATO_TEST_ETCD_URL is not set";
      GTEST_SKIP() << "no etcd server (run the tests through ./mercato test)";
    }
    auto endpoints = parse_endpoints(url);
    ASSERT_TRUE(endpoints) << url;
    http_ = std::make_unique<http::Client>(pool_, http::ClientSettings{});
    client_ = std::make_unique<Client>(*http_, Settings{.endpoints = *endpoints});
    prefix_ = "/mercato-test/" + std::to_string(std::random_device{}()) + "/";
    pool_.start();
  }
  void TearDown() override {
    if (client_) (void)run([&]() { return client_->erase_prefix(prefix_); });
    pool_.stop();
    pool_.join();
  }

  http::IoPool pool_{1};
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<Client> client_;
  std::string prefix_;
};

TEST_F(EtcdServer, PutsGetsAndErasesKeys) {
  auto written = run([&]() { return client_->put(prefix_ + "a", "one"); });
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_GT(*written, 0);
  ASSERT_TRUE(run([&]() { return client_->put(prefix_ + "b", std::string("two\0bytes", 9)); }));
  auto a = run([&]() { return client_->get(prefix_ + "a"); });
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_EQ(a->kvs.size(), 1u);
  EXPECT_EQ(a->kvs[0].value, "one");
  EXPECT_EQ(a->kvs[0].mod_revision, *written);
  auto all = run([&]() { return client_->get_prefix(prefix_); });
  ASSERT_TRUE(all);
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[1].value, std::string("two\0bytes", 9));
  auto missing = run([&]() { return client_->get(prefix_ + "zzz"); });
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->kvs.empty());
  // The store as it was: reading at the first write's revision does not see the second key.
  auto before = run([&]() { return client_->get_prefix(prefix_, {.revision = *written}); });
  ASSERT_TRUE(before);
  EXPECT_EQ(before->kvs.size(), 1u);
  auto erased = run([&]() { return client_->erase_prefix(prefix_); });
  ASSERT_TRUE(erased);
  EXPECT_EQ(*erased, 2);
}

TEST_F(EtcdServer, KeysOfARevokedLeaseDisappear) {
  auto lease = run([&]() { return client_->grant(std::chrono::seconds(30)); });
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(lease->ttl, std::chrono::seconds(30));
  ASSERT_TRUE(run([&]() { return client_->put(prefix_ + "leased", "x", lease->id); }));
  auto alive = run([&]() { return client_->keep_alive(lease->id); });
  ASSERT_TRUE(alive) << alive.error().message;
  EXPECT_GT(alive->ttl.count(), 0);
  ASSERT_TRUE(run([&]() { return client_->revoke(lease->id); }));
  auto gone = run([&]() { return client_->get(prefix_ + "leased"); });
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->kvs.empty());
  auto expired = run([&]() { return client_->keep_alive(lease->id); });
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kNotFound);
  auto unknown = run([&]() { return client_->put(prefix_ + "k", "v", 12345); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_F(EtcdServer, WatchSeesChangesFromARevisionOn) {
  auto first = run([&]() { return client_->put(prefix_ + "a", "1"); });
  ASSERT_TRUE(first);
  ASSERT_TRUE(run([&]() { return client_->put(prefix_ + "b", "2"); }));
  ASSERT_TRUE(run([&]() { return client_->erase(prefix_ + "a"); }));
  ASSERT_TRUE(run([&]() { return client_->put("/mercato-test-other", "not watched"); }));
  // From the first write on: the history replays, then the watch ends when we say so.
  std::vector<std::string> seen;
  auto watched = run([&]() {
    return client_->watch_prefix(prefix_, *first, [&](const WatchBatch& batch) {
      for (const auto& e : batch.events) {
        seen.push_back((e.type == WatchEvent::Type::kPut ? "put " : "delete ") +
                       e.kv.key.substr(prefix_.size()) +
                       (e.type == WatchEvent::Type::kPut ? "=" + e.kv.value : ""));
      }
      return seen.size() < 3;
    });
  });
  ASSERT_TRUE(watched) << watched.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"put a=1", "put b=2", "delete a"}));
  (void)run([&]() { return client_->erase("/mercato-test-other"); });
}

TEST(EtcdClient, UnreachableEndpointsAreUnavailable) {
  http::IoPool pool(1);
  http::Client http(pool, {.connect_timeout = std::chrono::milliseconds(500)});
  // Port 1 on loopback: nothing listens there.
  Client client(http, {.endpoints = {{"127.0.0.1", 1}}, .timeout = std::chrono::milliseconds(500)});
  pool.start();
  auto r = testing::block_on(pool, client.get("/x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  auto w = testing::block_on(pool, client.watch_prefix("/x", 0, [](const WatchBatch&) { return true; }));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kUnavailable);
  pool.stop();
  pool.join();
}

}  // namespace
}  // namespace mercato::etcd
