// mercato-events-probe: a minimal producer and consumer on lib/events, for the crash-safety tests
// (events_crash_test.cpp). It uses the same outbox, inbox, relay and transports as the services, with
// nothing else around them, so a crash point hit here is the one a service would hit.
//
//   mercato-events-probe produce DB URL PREFIX FIRST COUNT [PACE_MS]
//     commits COUNT changes (PACE_MS apart, to make traffic last through a broker restart) (rows n =
//     FIRST..FIRST+COUNT-1 of `produced`, each with a "probe.made" event in the outbox, in the same
//     transaction), then waits until the relay has published every unsent row (also rows left by an earlier,
//     killed run) and exits 0.
//   mercato-events-probe consume DB URL PREFIX EXPECT
//     handles "probe.made" events: records the inbox and inserts the event's n into `effects` in one
//     transaction; exits 0 once `effects` has EXPECT rows, 1 after 60 s without.
//
//   mercato-events-probe both PRODUCER_DB CONSUMER_DB URL PREFIX FIRST COUNT EXPECT [PACE_MS]
//     the monolith's shape: a producer and a consumer, each with its own database, bus and group, in
//     one process over one transport (the in-process broker on a file). Without PACE_MS the producer
//     commits its COUNT changes and waits until its relay has published all of them before the
//     consumer subscribes, so a consumer killed at its first event leaves the rest published and
//     unhandled — held by the broker alone. With PACE_MS (0 too) the consumer subscribes first and the
//     changes come PACE_MS apart (traffic for a kill from outside). Prints "handled N" per effect; exits 0
//     once `effects` has EXPECT rows, 1 after 60 s without.
//
//   mercato-events-probe direct-produce DB URL PREFIX COUNT|warmup [PACE_MS]
//   mercato-events-probe direct-consume DB URL PREFIX COUNT
//     the benchmark's reference: the same events straight through the transport, no database.
// Event n = 999999999 is the benchmark's warm-up: the consumers print "ready" when it arrives and do
// not count or time it (produce DB URL PREFIX 999999999 1 sends it through the outbox).
// The consumers print "<label>: N events, R events/s, latency p50/p99/max" (commit-to-handle time).
//
// MERCATO_FAILPOINTS (lib/core failpoint.hpp) kills it at a chosen point.
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mercato/events/bus.hpp"
#include "mercato/events/store.hpp"
#include "mercato/sql/sql.hpp"

using namespace mercato;
using namespace std::chrono_literals;

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: mercato-events-probe produce DB URL PREFIX FIRST COUNT [PACE_MS]\n"
      "       mercato-events-probe consume DB URL PREFIX EXPECT\n"
      "       mercato-events-probe both PRODUCER_DB CONSUMER_DB URL PREFIX FIRST COUNT EXPECT [PACE_MS]\n"
      "       mercato-events-probe direct-produce|direct-consume DB URL PREFIX COUNT\n");
  return 2;
}

std::unique_ptr<events::Transport> open(const std::string& url, const std::string& prefix) {
  const char* partitions = std::getenv("MERCATO_PROBE_PARTITIONS");  // default 8, as the services
  auto t = events::open_transport({.url = url,
                                   .prefix = prefix,
                                   .client_id = "probe",
                                   .partitions = partitions ? std::atoi(partitions) : 8});
  if (!t) {
    std::fprintf(stderr, "probe: %s\n", t.error().message.c_str());
    std::exit(1);
  }
  return std::move(*t);
}

events::BusSettings settings() {
  events::BusSettings s;
  s.service = "probe";
  s.ack_wait = 1s;  // a killed consumer's event comes back quickly
  s.retry_delay = 20ms;
  s.max_deliver = 1000;
  s.relay_poll = 50ms;
  return s;
}

constexpr std::int64_t kWarmup = 999999999;

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// {"n":N,"t":<wall-clock ns when the event was made>}: t gives the commit-to-handle latency.
std::string data_of(long n) {
  return "{\"n\":" + std::to_string(n) + ",\"t\":" + std::to_string(wall_ns()) + "}";
}

std::pair<std::int64_t, std::int64_t> read_data(const std::string& data) {
  auto o = boost::json::parse(data).as_object();
  return {o.at("n").to_number<std::int64_t>(), o.at("t").to_number<std::int64_t>()};
}

// Handle latencies and the span from the first to the last handled event, printed by the consumer.
class Latencies {
 public:
  // n = kWarmup marks the benchmark's warm-up event: not measured, but announced ("ready") so the
  // benchmark starts its producer only once the consumer is subscribed and assigned.
  void record(std::int64_t n, std::int64_t sent_ns) {
    std::lock_guard lock(mutex_);
    if (n == kWarmup) {
      std::printf("ready\n");
      std::fflush(stdout);
      return;
    }
    auto now = wall_ns();
    if (samples_.empty()) first_ = now;
    last_ = now;
    samples_.push_back(now - sent_ns);
  }
  void print(const char* label) {
    std::lock_guard lock(mutex_);
    if (samples_.empty()) return;
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](double q) {
      return static_cast<double>(
                 samples_[static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1))]) /
             1e6;
    };
    double seconds = static_cast<double>(last_ - first_) / 1e9;
    std::printf("%s: %zu events, %.0f events/s, latency p50 %.2f ms p99 %.2f ms max %.2f ms\n", label,
                samples_.size(), seconds > 0 ? static_cast<double>(samples_.size()) / seconds : 0.0, at(0.5),
                at(0.99), at(1.0));
    std::fflush(stdout);
  }

 private:
  std::mutex mutex_;
  std::vector<std::int64_t> samples_;
  std::int64_t first_ = 0, last_ = 0;
};

std::int64_t count(sql::Database& db, const char* table) {
  return db.with([&](sql::Connection& c) -> std::int64_t {
    auto rows = c.query(std::string("SELECT COUNT(*) FROM ") + table);
    return rows ? (*rows)[0].integer(0) : -1;
  });
}

std::unique_ptr<sql::Database> open_db(const std::string& path) {
  auto db = sql::Database::open(sqlite::DatabaseSettings{.path = path});
  auto schema = db->with([](sql::Connection& c) {
    return c.exec(
        "CREATE TABLE IF NOT EXISTS produced (n INTEGER PRIMARY KEY);"
        "CREATE TABLE IF NOT EXISTS effects (n INTEGER NOT NULL, event_id TEXT NOT NULL);");
  });
  if (!schema) {
    std::fprintf(stderr, "probe: %s\n", schema.error().message.c_str());
    std::exit(1);
  }
  return db;
}

// Commits changes first..first+n-1, each a `produced` row and its event in one transaction.
Result<void> produce(sql::Database& db, long first, long n, std::chrono::milliseconds pace) {
  for (long i = first; i < first + n; ++i) {
    auto r = db.with([&](sql::Connection& c) -> Result<void> {
      if (auto b = c.begin(); !b) return b;
      if (auto x = c.run("INSERT INTO produced(n) VALUES ($1)", {i}); !x) return x;
      auto e = events::make_event("probe", "probe.made", "s" + std::to_string(i % 5), data_of(i));
      if (auto x = events::append_outbox(c, std::span(&e, 1)); !x) return x;
      return c.commit();
    });
    if (!r) return r;
    if (pace.count() > 0) std::this_thread::sleep_for(pace);  // a traffic rate, not a wait for a condition
  }
  return {};
}

// Waits until the relay has published every unsent row.
bool drained(events::EventStore& store) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto unsent = store.unsent_count();
    if (unsent && *unsent == 0) return true;
    std::this_thread::sleep_for(20ms);  // polls the relay's progress; bounded by the deadline
  }
  std::fprintf(stderr, "probe: outbox not drained within 60 s\n");
  return false;
}

// The consumer's effect: its inbox record and an `effects` row in one transaction.
events::EventHandler effect(sql::Database& db, Latencies& latencies, bool announce) {
  return [&db, &latencies, announce](const events::CloudEvent& e) -> Result<void> {
    return db.with([&](sql::Connection& c) -> Result<void> {
      if (auto b = c.begin(); !b) return b;
      auto first = events::record_handled(c, "probe", e.id);
      if (!first) return std::move(first).error();
      if (!*first) return {};  // a redelivery of an event whose effect is committed: ack only
      auto [n, sent_ns] = read_data(e.data);
      latencies.record(n, sent_ns);
      if (auto x = c.run("INSERT INTO effects(n, event_id) VALUES ($1, $2)", {n, e.id}); !x) return x;
      if (auto x = c.commit(); !x) return x;
      if (announce) {
        std::printf("handled %lld\n", static_cast<long long>(n));
        std::fflush(stdout);
      }
      return {};
    });
  };
}

// Waits until `db` has `expect` effects.
int await_effects(sql::Database& db, long expect, Latencies& latencies) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (count(db, "effects WHERE n <> 999999999") >= expect) {
      latencies.print("outbox->broker->inbox");
      return 0;
    }
    std::this_thread::sleep_for(20ms);  // polls progress; bounded by the deadline
  }
  std::fprintf(stderr, "probe: %lld of %ld effects within 60 s\n",
               static_cast<long long>(count(db, "effects")), expect);
  return 1;
}

int fail(const Error& error) {
  std::fprintf(stderr, "probe: %s\n", error.message.c_str());
  return 1;
}

// `both`: see the top of this file.
int both(int argc, char** argv) {
  if (argc != 9 && argc != 10) return usage();
  std::string producer_path = argv[2], consumer_path = argv[3], url = argv[4], prefix = argv[5];
  long first = std::stol(argv[6]), n = std::stol(argv[7]), expect = std::stol(argv[8]);
  const bool traffic = argc == 10;  // PACE_MS given, even 0: the consumer subscribes first
  auto pace = std::chrono::milliseconds(traffic ? std::stol(argv[9]) : 0);
  auto producer_db = open_db(producer_path);
  auto consumer_db = open_db(consumer_path);
  auto producer_store = events::open_store(*producer_db);
  auto consumer_store = events::open_store(*consumer_db);
  auto transport = open(url, prefix);
  obs::Logger logger("probe", obs::LogLevel::kWarn);
  obs::Registry producer_metrics, consumer_metrics;
  Latencies latencies;  // before the buses: the consumer's handler uses it until its bus stops
  auto producer_settings = settings();
  producer_settings.service = "probe-producer";
  events::Bus producer(*transport, *producer_store, producer_settings, logger, producer_metrics);
  events::Bus consumer(*transport, *consumer_store, settings(), logger, consumer_metrics);
  consumer.on("probe.made", effect(*consumer_db, latencies, true));
  if (auto r = producer.start(); !r) return fail(r.error());
  if (traffic) {
    if (auto r = consumer.start(); !r) return fail(r.error());
  }
  if (auto r = produce(*producer_db, first, n, pace); !r) return fail(r.error());
  if (!drained(*producer_store)) return 1;
  if (!traffic) {
    if (auto r = consumer.start(); !r) return fail(r.error());
  }
  return await_effects(*consumer_db, expect, latencies);
}

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): a test probe; an uncaught exception failing it is the report
int main(int argc, char** argv) {
  if (argc < 5) return usage();
  std::string mode = argv[1], path = argv[2], url = argv[3], prefix = argv[4];
  if (mode == "both") return both(argc, argv);
  auto db = open_db(path);
  auto store = events::open_store(*db);
  auto transport = open(url, prefix);
  obs::Logger logger("probe", obs::LogLevel::kWarn);
  obs::Registry metrics;
  Latencies latencies;  // before the bus: a consumer's handler uses it until the bus stops
  events::Bus bus(*transport, *store, settings(), logger, metrics);

  if (mode == "produce" && (argc == 7 || argc == 8)) {
    long first = std::stol(argv[5]), n = std::stol(argv[6]);
    auto pace = std::chrono::milliseconds(argc == 8 ? std::stol(argv[7]) : 0);
    if (auto r = bus.start(); !r) return fail(r.error());
    if (auto r = produce(*db, first, n, pace); !r) return fail(r.error());
    return drained(*store) ? 0 : 1;
  }
  if (mode == "consume" && argc == 6) {
    long expect = std::stol(argv[5]);
    bus.on("probe.made", effect(*db, latencies, false));
    if (auto r = bus.start(); !r) return fail(r.error());
    return await_effects(*db, expect, latencies);
  }
  if (mode == "direct-produce" && (argc == 6 || argc == 7)) {
    // The reference: the same events straight to the transport, no database on either side.
    if (std::string(argv[5]) == "warmup") {
      auto e = events::make_event("probe", "probe.made", "warmup", data_of(kWarmup));
      return transport->publish(e) ? 0 : 1;
    }
    long n = std::stol(argv[5]);
    auto pace = std::chrono::milliseconds(argc == 7 ? std::stol(argv[6]) : 0);
    std::vector<events::CloudEvent> batch;
    for (long i = 0; i < n; ++i) {
      if (pace.count() > 0) {
        std::this_thread::sleep_for(pace);  // a traffic rate, not a wait for a condition
        auto e = events::make_event("probe", "probe.made", "s" + std::to_string(i % 5), data_of(i));
        if (auto r = transport->publish(e); !r)
          return std::fprintf(stderr, "probe: %s\n", r.error().message.c_str()), 1;
        continue;
      }
      batch.push_back(events::make_event("probe", "probe.made", "s" + std::to_string(i % 5), data_of(i)));
      if (batch.size() == 256 || i + 1 == n) {
        if (auto r = transport->publish(batch); !r)
          return std::fprintf(stderr, "probe: %s\n", r.error().message.c_str()), 1;
        batch.clear();
      }
    }
    return 0;
  }
  if (mode == "direct-consume" && argc == 6) {
    long expect = std::stol(argv[5]);
    std::atomic<long> seen = 0;
    events::SubscriptionOptions o;
    o.group = "probe";
    o.types = {"probe.made"};
    o.on_give_up = [](const events::CloudEvent&, const Error&, int) -> Result<void> { return {}; };
    auto sub = transport->subscribe(o, [&](const events::Delivery& d) -> Result<void> {
      auto [n, sent_ns] = read_data(d.event.data);
      latencies.record(n, sent_ns);
      if (n != kWarmup) ++seen;
      return {};
    });
    if (!sub) return std::fprintf(stderr, "probe: %s\n", sub.error().message.c_str()), 1;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (seen < expect && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    (*sub)->stop();
    latencies.print("transport only (reference)");
    return seen >= expect ? 0 : 1;
  }
  return usage();
}
