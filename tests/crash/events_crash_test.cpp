// Crash safety of the outbox, relay and inbox against a real broker: the probe (events_probe.cpp) is
// killed with SIGKILL at each crash point, restarted, and then every event must have been published
// and every effect applied exactly once.
//
//   relay.before_publish   the producer dies after committing, before publishing
//   relay.after_publish    the producer dies after the broker accepted, before marking rows sent
//                          (the restart publishes them again: consumers must drop the duplicates)
//   consumer.before_ack    the consumer dies after committing its effect, before acknowledging
//                          (the broker redelivers: the inbox must drop it)
//
// Each point runs kRuns times per transport, each run on streams/topics of its own.
//
// The in-process broker on a file (the monolith's) is tested in its own shape: producer and consumer
// are two services of one process (the probe's `both`), so the kill takes the broker down with them,
// and the restart must find in the broker's file every event published and not acked — at each crash
// point, and for a SIGKILL from outside at an arbitrary moment of traffic.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mercato/core/ids.hpp"
#include "mercato/sqlite/sqlite.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Every point runs 20 times on each transport, all runs at once (each has its own files, streams or
// topics, and consumer group, so they are independent). Why at once: the time of a run is mostly
// waiting on the broker's timers, not work. On librdkafka's mock cluster (2.0) a new consumer group
// waits 3 s before its first assignment, and a consumer that was killed stays a member of its group
// until its session times out, so its restarted successor waits through a rebalance timeout, the
// session timeout and a failed sync round: about 14 s of a run. One after another, the 20 runs of
// kafka_consumer_before_ack took 289 s; side by side the test takes about as long as its slowest run.
// Every run still makes and checks everything it did alone.
constexpr int kRuns = 20;
constexpr int kEvents = 10;
constexpr int kTail = 5;  // one per subject, published after any duplicate, so draining them drains all

std::string probe() { return std::string(MERCATO_BUILD_DIR) + "/tests/crash/mercato-events-probe"; }

// Runs the probe to its end; returns its exit status (137 = killed by its failpoint).
int run_probe(std::vector<std::string> args, const std::string& failpoint, const fs::path& log) {
  std::map<std::string, std::string> env;
  if (!failpoint.empty()) env["MERCATO_FAILPOINTS"] = failpoint;
  testing::Process p(probe(), std::move(args), env, log.string());
  auto status = p.wait(90s);
  return status ? *status : -1;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::int64_t count_rows(const fs::path& db_path, const std::string& table) {
  auto db = sqlite::Database::open({.path = db_path.string()});
  return db->with([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT COUNT(*) FROM " + table);
    (void)st.step();
    return st.integer(0);
  });
}

std::set<std::int64_t> read_produced(const fs::path& db_path) {
  auto db = sqlite::Database::open({.path = db_path.string()});
  std::set<std::int64_t> out;
  db->with([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT n FROM produced");
    while (*st.step()) out.insert(st.integer(0));
  });
  return out;
}

struct Effects {
  std::int64_t rows = 0;
  std::set<std::int64_t> distinct;
};

Effects read_effects(const fs::path& db_path) {
  auto db = sqlite::Database::open({.path = db_path.string()});
  Effects e;
  db->with([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT n FROM effects");
    while (*st.step()) {
      ++e.rows;
      e.distinct.insert(st.integer(0));
    }
  });
  return e;
}

class CrashTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    MERCATO_BROKER_URL_OR_SKIP(url, std::get<0>(GetParam()));
    url_ = url;
    dir_ = testing::temp_dir("crash-" + random_hex(4));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string url_;
  fs::path dir_;
};

// One run: produce (killed at a relay point, or not), restart the producer, consume (killed at the
// consumer point, or not), restart the consumer; then every committed change has exactly one effect.
// Called on a thread of its own; gtest's assertions are thread-safe and the ASSERTs return from here.
void one_run(const std::string& url, const fs::path& dir, const std::string& point, int run) {
  SCOPED_TRACE("run " + std::to_string(run));
  const bool producer_point = point.starts_with("relay.");
  auto prefix = "crash" + random_hex(6);
  auto producer_db = dir / ("producer-" + std::to_string(run) + ".db");
  auto consumer_db = dir / ("consumer-" + std::to_string(run) + ".db");
  auto log = dir / ("probe-" + std::to_string(run) + ".log");

  int status = run_probe({"produce", producer_db.string(), url, prefix, "0", std::to_string(kEvents)},
                         producer_point ? point : "", log);
  if (producer_point) {
    ASSERT_EQ(status, 128 + SIGKILL) << "the failpoint did not fire:\n" << slurp(log);
  } else {
    ASSERT_EQ(status, 0) << slurp(log);
  }
  // The restart (and a tail that follows any duplicate on every subject).
  ASSERT_EQ(run_probe({"produce", producer_db.string(), url, prefix, std::to_string(kEvents),
                       std::to_string(kTail)},
                      "", log),
            0)
      << slurp(log);

  // The kill may come before every change of the first run committed: what must arrive is what committed.
  const auto produced = count_rows(producer_db, "produced");
  ASSERT_GE(produced, kTail + 1);
  const auto expect = std::to_string(produced);
  status =
      run_probe({"consume", consumer_db.string(), url, prefix, expect}, producer_point ? "" : point, log);
  if (!producer_point) {
    ASSERT_EQ(status, 128 + SIGKILL) << "the failpoint did not fire:\n" << slurp(log);
    // Partitions are handled concurrently, so more than one effect may have committed before the kill.
    ASSERT_GE(read_effects(consumer_db).rows, 1) << "the effect before the crash was not committed";
    status = run_probe({"consume", consumer_db.string(), url, prefix, expect}, "", log);
  }
  ASSERT_EQ(status, 0) << slurp(log);
  auto effects = read_effects(consumer_db);
  EXPECT_EQ(effects.rows, produced) << "an effect was applied twice or lost";
  EXPECT_EQ(effects.distinct, read_produced(producer_db))
      << "the effects are not those of the committed changes";
}

TEST_P(CrashTest, EveryEventIsPublishedAndEveryEffectAppliedExactlyOnce) {
  const auto& point = std::get<1>(GetParam());
  std::vector<std::thread> runs;
  runs.reserve(kRuns);
  for (int run = 0; run < kRuns; ++run) runs.emplace_back(one_run, url_, dir_, point, run);
  for (auto& t : runs) t.join();
}

// A nats-server of the test's own, restarted (SIGTERM, then started again on the same port and store)
// while the producer is committing and the consumer is handling: every committed event arrives once.
// Kafka's counterpart cannot be tested here: the mock cluster keeps its data in memory.
// The nats-server binary: the first on PATH (Debian installs it in /usr/sbin).
std::string nats_server() {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  for (std::size_t start = 0; start <= path.size();) {
    auto end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    auto candidate = fs::path(path.substr(start, end - start)) / "nats-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "/usr/sbin/nats-server";
}

class BrokerRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("restart-" + random_hex(4));
    port_ = testing::free_port();
    http_port_ = testing::free_port();
    std::ofstream(dir_ / "nats.conf")
        << "listen: 127.0.0.1:" << port_ << "\nhttp: 127.0.0.1:" << http_port_
        << "\njetstream { store_dir: \"" << (dir_ / "store").string() << "\" }\n";
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  void start_server() {
    server_ = std::make_unique<testing::Process>(
        nats_server(), std::vector<std::string>{"-c", (dir_ / "nats.conf").string()},
        std::map<std::string, std::string>{}, (dir_ / "nats.log").string());
    ASSERT_TRUE(testing::wait_ready(http_port_, 20s, "/healthz?js-enabled=true")) << slurp(dir_ / "nats.log");
  }
  // Messages stored on the server so far (the monitoring endpoint's total).
  std::int64_t stored_messages() {
    auto r = testing::http(http_port_, "GET", "/jsz");
    if (r.status != 200) return -1;
    return r.json().at("messages").to_number<std::int64_t>();
  }

  fs::path dir_;
  std::uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<testing::Process> server_;
};

TEST_F(BrokerRestartTest, NothingIsLostWhenTheBrokerRestartsDuringTraffic) {
  start_server();
  ASSERT_FALSE(HasFatalFailure());
  const std::string url = "nats://127.0.0.1:" + std::to_string(port_);
  const std::string prefix = "restart" + random_hex(4);
  constexpr int kCount = 1500;
  auto producer_db = dir_ / "producer.db", consumer_db = dir_ / "consumer.db";
  testing::Process consumer(probe(), {"consume", consumer_db.string(), url, prefix, std::to_string(kCount)},
                            {}, (dir_ / "consumer.log").string());
  testing::Process producer(probe(),
                            {"produce", producer_db.string(), url, prefix, "0", std::to_string(kCount), "2"},
                            {}, (dir_ / "producer.log").string());
  // Restart once a third of the events are on the broker: both sides are mid-stream.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (stored_messages() < kCount / 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // polls the broker's count, bounded by the deadline
  }
  ASSERT_GE(stored_messages(), kCount / 3) << "traffic never reached the broker";
  server_->signal(SIGTERM);
  ASSERT_TRUE(server_->wait(20s)) << "nats-server did not stop";
  start_server();
  ASSERT_FALSE(HasFatalFailure());
  auto produced_status = producer.wait(90s);
  ASSERT_TRUE(produced_status);
  EXPECT_EQ(*produced_status, 0) << slurp(dir_ / "producer.log");
  auto consumed_status = consumer.wait(90s);
  ASSERT_TRUE(consumed_status);
  EXPECT_EQ(*consumed_status, 0) << slurp(dir_ / "consumer.log");
  auto effects = read_effects(consumer_db);
  EXPECT_EQ(effects.rows, kCount) << "an effect was applied twice or lost";
  EXPECT_EQ(effects.distinct, read_produced(producer_db));
}

// One run on the in-process broker: killed at `point`, then restarted with a tail; every committed
// change then has exactly one effect. At consumer.before_ack every event of the first run was published
// (its outbox row marked sent) before the consumer subscribed, so all but the one being handled exist
// only in the broker's file when the process dies.
void one_in_process_run(const fs::path& dir, const std::string& point, int run) {
  SCOPED_TRACE("run " + std::to_string(run));
  auto name = std::to_string(run);
  auto producer_db = dir / ("producer-" + name + ".db"), consumer_db = dir / ("consumer-" + name + ".db");
  auto log = dir / ("probe-" + name + ".log");
  auto url = "inprocess://monolith?file=" + (dir / ("events-" + name + ".db")).string();
  auto args = [&](long first, long count, std::int64_t expect) {
    return std::vector<std::string>{
        "both",  producer_db.string(),  consumer_db.string(),  url,
        "crash", std::to_string(first), std::to_string(count), std::to_string(expect)};
  };
  int status = run_probe(args(0, kEvents, kEvents), point, log);
  ASSERT_EQ(status, 128 + SIGKILL) << "the failpoint did not fire:\n" << slurp(log);
  if (point.starts_with("consumer.")) {
    ASSERT_EQ(read_effects(consumer_db).rows, 1) << "the effect before the crash was not committed";
  }
  const auto produced = count_rows(producer_db, "produced") + kTail;
  ASSERT_EQ(run_probe(args(kEvents, kTail, produced), "", log), 0) << slurp(log);
  auto effects = read_effects(consumer_db);
  EXPECT_EQ(effects.rows, produced) << "an effect was applied twice or lost";
  EXPECT_EQ(effects.distinct, read_produced(producer_db))
      << "the effects are not those of the committed changes";
}

class InProcessTransportCrash : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { dir_ = testing::temp_dir("inprocess-crash-" + random_hex(4)); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(InProcessTransportCrash, EveryEventIsHandledExactlyOnceAfterARestart) {
  std::vector<std::thread> runs;
  runs.reserve(kRuns);
  for (int run = 0; run < kRuns; ++run) runs.emplace_back(one_in_process_run, dir_, GetParam(), run);
  for (auto& t : runs) t.join();
}

INSTANTIATE_TEST_SUITE_P(Points, InProcessTransportCrash,
                         ::testing::Values("relay.before_publish", "relay.after_publish",
                                           "consumer.before_ack"),
                         [](const auto& test_info) {
                           std::string name = test_info.param;
                           for (auto& c : name)
                             if (c == '.') c = '_';
                           return name;
                         });

// The "handled N" lines the probe has printed so far.
int handled_lines(const fs::path& log) {
  std::ifstream in(log);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.starts_with("handled ");
  return n;
}

// A SIGKILL from outside while the producer commits and publishes and the consumer handles: the kill
// lands wherever it lands (in a write to the broker's file, too), and the restart loses nothing. The
// producer runs unpaced, so it gets ahead of the consumer: at the kill, events published (their outbox
// rows marked sent) and not yet handled are typically in the broker alone.
TEST(InProcessTransportKill, NothingIsLostWhenTheProcessIsKilledDuringTraffic) {
  auto dir = testing::temp_dir("inprocess-kill-" + random_hex(4));
  constexpr int kCount = 2000;
  auto producer_db = dir / "producer.db", consumer_db = dir / "consumer.db", log = dir / "probe.log";
  auto url = "inprocess://monolith?file=" + (dir / "events.db").string();
  {
    testing::Process p(probe(),
                       {"both", producer_db.string(), consumer_db.string(), url, "kill", "0",
                        std::to_string(kCount), std::to_string(kCount), "0"},
                       {}, log.string());
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (handled_lines(log) < kCount / 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);  // polls the probe's progress, bounded by the deadline
    }
    ASSERT_GE(handled_lines(log), kCount / 3) << "traffic never got going:\n" << slurp(log);
    p.signal(SIGKILL);
    ASSERT_EQ(p.wait(20s), 128 + SIGKILL);
  }
  const auto committed = count_rows(producer_db, "produced");
  ASSERT_LT(read_effects(consumer_db).rows, committed)
      << "the kill came after the traffic: nothing was in flight";
  const auto produced = committed + kTail;
  ASSERT_EQ(run_probe({"both", producer_db.string(), consumer_db.string(), url, "kill",
                       std::to_string(kCount), std::to_string(kTail), std::to_string(produced)},
                      "", log),
            0)
      << slurp(log);
  auto effects = read_effects(consumer_db);
  EXPECT_EQ(effects.rows, produced) << "an effect was applied twice or lost";
  EXPECT_EQ(effects.distinct, read_produced(producer_db));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Points, CrashTest,
                         ::testing::Combine(::testing::Values("nats", "kafka"),
                                            ::testing::Values("relay.before_publish", "relay.after_publish",
                                                              "consumer.before_ack")),
                         [](const auto& test_info) {
                           auto name = std::get<0>(test_info.param) + "_" + std::get<1>(test_info.param);
                           for (auto& c : name)
                             if (c == '.') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace mercato
