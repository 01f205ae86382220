#include "mercato/discovery/discovery.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "mercato/etcd/etcd.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/block_on.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::discovery {
namespace {

using namespace std::chrono_literals;

Instance instance(std::string id, std::uint16_t port, std::string version = "v1") {
  return Instance{.service = "user",
                  .id = std::move(id),
                  .http = {"127.0.0.1", port},
                  .grpc = std::nullopt,
                  .version = std::move(version)};
}

TEST(DiscoveryCodec, EncodesAndDecodesAnInstance) {
  auto i = instance("user-1", 8081, "v2");
  i.grpc = http::Endpoint{"127.0.0.1", 9081};
  i.zone = "eu-1";
  i.weight = 20;
  auto back = decode("user", "user-1", encode(i));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, i);
}

TEST(DiscoveryCodec, RefusesUnusableRegistrations) {
  EXPECT_FALSE(decode("user", "x", "not json"));
  EXPECT_FALSE(decode("user", "x", R"({"version":"v1"})"));                     // no address
  EXPECT_FALSE(decode("user", "x", R"({"http":"127.0.0.1"})"));                 // no port
  EXPECT_FALSE(decode("user", "x", R"({"http":"127.0.0.1:80","weight":-1})"));  // out of range
  EXPECT_FALSE(decode("user", "x", R"({"http":"127.0.0.1:80","color":"red"})"));
  auto minimal = decode("user", "x", R"({"http":"127.0.0.1:80"})");
  ASSERT_TRUE(minimal);
  EXPECT_EQ(minimal->version, "v1");
  EXPECT_EQ(minimal->weight, 100);
}

TEST(DiscoverySettings, Validates) {
  Settings s{.etcd = {{"127.0.0.1", 2379}}};
  EXPECT_TRUE(validate(s));
  auto bad = s;
  bad.ttl = 1s;
  EXPECT_FALSE(validate(bad));
  bad = s;
  bad.prefix = "mercato";
  EXPECT_FALSE(validate(bad));
  bad = s;
  bad.etcd.clear();
  EXPECT_FALSE(validate(bad));
}

// What a watcher has been told, and a way to wait for it (no sleeps).
class Seen {
 public:
  std::function<void(const std::vector<Instance>&)> callback() {
    return [this](const std::vector<Instance>& all) {
      std::lock_guard lock(mutex_);
      latest_ = all;
      ++calls_;
      changed_.notify_all();
    };
  }
  // True once the latest list has exactly these instance ids (in id order).
  bool wait_for(const std::vector<std::string>& ids, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      if (calls_ == 0) return false;
      std::vector<std::string> now;
      for (const auto& i : latest_) now.push_back(i.id);
      return now == ids;
    });
  }
  std::vector<Instance> latest() {
    std::lock_guard lock(mutex_);
    return latest_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Instance> latest_;
  int calls_ = 0;
};

class DiscoveryOnEtcd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::backend_url("MERCATO_TEST_ETCD_URL");
    if (url.empty()) {
      if (testing::backends_required()) FAIL() << "MERCATO_TEST_ETCD_URL is not set";
      GTEST_SKIP() << "no etcd server (run the tests through ./mercato test)";
    }
    auto endpoints = etcd::parse_endpoints(url);
    ASSERT_TRUE(endpoints);
    settings_.etcd = *endpoints;
    settings_.prefix = "/mercato-test-" + std::to_string(std::random_device{}());
    settings_.ttl = 2s;
    settings_.retry_min = 50ms;
    settings_.retry_max = 200ms;
  }

  Settings settings_;
  obs::Logger logger_{"discovery-test", obs::LogLevel::kError};
  obs::Registry metrics_;
};

TEST_F(DiscoveryOnEtcd, WatchersSeeInstancesComeAndGo) {
  Agent watcher(settings_, logger_, metrics_);
  Seen seen;
  watcher.watch("user", seen.callback());
  ASSERT_TRUE(seen.wait_for({}));  // nothing registered yet: told so, once read

  Agent a(settings_, logger_, metrics_);
  Agent b(settings_, logger_, metrics_);
  a.register_instance(instance("user-a", 18081));
  ASSERT_TRUE(seen.wait_for({"user-a"}));
  EXPECT_EQ(seen.latest()[0].http.port, 18081);
  b.register_instance(instance("user-b", 18082, "v2"));
  ASSERT_TRUE(seen.wait_for({"user-a", "user-b"}));
  EXPECT_EQ(seen.latest()[1].version, "v2");
  EXPECT_TRUE(a.status().registered);

  a.deregister(2s);
  ASSERT_TRUE(seen.wait_for({"user-b"}));
  EXPECT_FALSE(a.status().registered);
  a.deregister(2s);  // twice is harmless

  // A new watcher starts from what is there now.
  Agent late(settings_, logger_, metrics_);
  Seen late_seen;
  late.watch("user", late_seen.callback());
  ASSERT_TRUE(late_seen.wait_for({"user-b"}));
}

TEST_F(DiscoveryOnEtcd, AnInstanceThatDiesWithoutLeavingExpiresWithItsLease) {
  Agent watcher(settings_, logger_, metrics_);
  Seen seen;
  watcher.watch("user", seen.callback());
  {
    Agent crashing(settings_, logger_, metrics_);
    crashing.register_instance(instance("user-c", 18083));
    ASSERT_TRUE(seen.wait_for({"user-c"}));
  }  // gone without deregistering, as a crash would
  // Still listed until the lease (2 s) runs out, then removed.
  EXPECT_FALSE(seen.wait_for({}, 500ms));
  EXPECT_TRUE(seen.wait_for({}, 5s));
}

TEST_F(DiscoveryOnEtcd, RegistersOnlyOnceReady) {
  Agent watcher(settings_, logger_, metrics_);
  Seen seen;
  watcher.watch("user", seen.callback());
  ASSERT_TRUE(seen.wait_for({}));
  std::atomic<bool> ready{false};
  Agent a(settings_, logger_, metrics_);
  a.register_instance(instance("user-r", 18084), [&] { return ready.load(); });
  EXPECT_FALSE(seen.wait_for({"user-r"}, 400ms));
  ready = true;
  EXPECT_TRUE(seen.wait_for({"user-r"}));
}

// SIGTERM can come at any moment of the registration — before the grant, between grant and write, after:
// whatever was written is gone when deregister() returns, not left to its lease (10 s here).
TEST_F(DiscoveryOnEtcd, DeregisteringWhileRegisteringLeavesNothingBehind) {
  settings_.ttl = 10s;
  Agent watcher(settings_, logger_, metrics_);
  Seen seen;
  watcher.watch("user", seen.callback());
  ASSERT_TRUE(seen.wait_for({}));
  for (int i = 0; i < 8; ++i) {
    Agent a(settings_, logger_, metrics_);
    a.register_instance(instance("user-race", 18090));
    if (i % 2 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(i));  // different moments
    a.deregister(2s);
    EXPECT_TRUE(seen.wait_for({}, 1s)) << "round " << i;
  }
}

TEST_F(DiscoveryOnEtcd, UnreadableRegistrationsAreIgnored) {
  http::IoPool pool(1);
  http::Client http(pool, {});
  etcd::Client etcd(http, {.endpoints = settings_.etcd});
  pool.start();
  Agent watcher(settings_, logger_, metrics_);
  Seen seen;
  watcher.watch("user", seen.callback());
  Agent a(settings_, logger_, metrics_);
  a.register_instance(instance("user-ok", 18085));
  ASSERT_TRUE(seen.wait_for({"user-ok"}));
  auto put = testing::block_on(pool, etcd.put(settings_.prefix + "/services/user/garbage", "{not json"));
  ASSERT_TRUE(put);
  // The bad key changes nothing a caller sees; a later good one still arrives.
  Agent b(settings_, logger_, metrics_);
  b.register_instance(instance("user-ok2", 18086));
  EXPECT_TRUE(seen.wait_for({"user-ok", "user-ok2"}));
  EXPECT_TRUE(testing::block_on(pool, etcd.erase(settings_.prefix + "/services/user/garbage")));
  pool.stop();
  pool.join();
}

}  // namespace
}  // namespace mercato::discovery
