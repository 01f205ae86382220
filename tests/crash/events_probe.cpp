// mercato-events-probe: a minimal producer and consumer on lib/events, for the crash-safety tests
// (events_crash_test.cpp). It uses the same outbox, inbox, relay and transports as the services, with
// nothing else around them, so a crash point hit here is the one a service would hit.
//
//   mercato-events-probe produce DB URL PREFIX FIRST COUNT
//     commits COUNT changes (rows n = FIRST..FIRST+COUNT-1 of `produced`, each with a "probe.made"
//     event in the outbox, in the same transaction), then waits until the relay has published every
//     unsent row (also rows left by an earlier, killed run) and exits 0.
//   mercato-events-probe consume DB URL PREFIX EXPECT
//     handles "probe.made" events: records the inbox and inserts the event's n into `effects` in one
//     transaction; exits 0 once `effects` has EXPECT rows, 1 after 60 s without.
//
// MERCATO_FAILPOINTS (lib/core failpoint.hpp) kills it at a chosen point.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "mercato/events/bus.hpp"
#include "mercato/events/store.hpp"
#include "mercato/sqlite/sqlite.hpp"

using namespace mercato;
using namespace std::chrono_literals;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: mercato-events-probe produce DB URL PREFIX FIRST COUNT\n"
               "       mercato-events-probe consume DB URL PREFIX EXPECT\n");
  return 2;
}

std::unique_ptr<events::Transport> open(const std::string& url, const std::string& prefix) {
  auto t = events::open_transport({.url = url, .prefix = prefix, .client_id = "probe", .partitions = 2});
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

std::int64_t count(sqlite::Database& db, const char* table) {
  return db.with([&](sqlite::Connection& c) {
    auto st = c.prepare(std::string("SELECT COUNT(*) FROM ") + table);
    (void)st.step();
    return st.integer(0);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return usage();
  std::string mode = argv[1], path = argv[2], url = argv[3], prefix = argv[4];
  auto db = sqlite::Database::open({.path = path});
  auto schema = db->with([](sqlite::Connection& c) {
    return c.exec(
        "CREATE TABLE IF NOT EXISTS produced (n INTEGER PRIMARY KEY);"
        "CREATE TABLE IF NOT EXISTS effects (n INTEGER NOT NULL, event_id TEXT NOT NULL);");
  });
  if (!schema) return std::fprintf(stderr, "probe: %s\n", schema.error().message.c_str()), 1;
  auto store = events::open_store(*db);
  auto transport = open(url, prefix);
  obs::Logger logger("probe", obs::LogLevel::kWarn);
  obs::Registry metrics;
  events::Bus bus(*transport, *store, settings(), logger, metrics);

  if (mode == "produce" && argc == 7) {
    long first = std::stol(argv[5]), n = std::stol(argv[6]);
    if (auto r = bus.start(); !r) return std::fprintf(stderr, "probe: %s\n", r.error().message.c_str()), 1;
    for (long i = first; i < first + n; ++i) {
      auto r = db->with([&](sqlite::Connection& c) -> Result<void> {
        if (auto b = c.begin_immediate(); !b) return b;
        auto st = c.prepare("INSERT INTO produced(n) VALUES (?1)");
        st.bind(1, static_cast<std::int64_t>(i));
        if (auto x = st.run(); !x) return x;
        auto e = events::make_event("probe", "probe.made", "s" + std::to_string(i % 5),
                                    "{\"n\":" + std::to_string(i) + "}");
        if (auto x = events::append_outbox(c, std::span(&e, 1)); !x) return x;
        return c.commit();
      });
      if (!r) return std::fprintf(stderr, "probe: %s\n", r.error().message.c_str()), 1;
    }
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto unsent = store->unsent_count();
      if (unsent && *unsent == 0) return 0;
      std::this_thread::sleep_for(20ms);  // polls the relay's progress; bounded by the deadline
    }
    std::fprintf(stderr, "probe: outbox not drained within 60 s\n");
    return 1;
  }
  if (mode == "consume" && argc == 6) {
    long expect = std::stol(argv[5]);
    bus.on("probe.made", [&](const events::CloudEvent& e) -> Result<void> {
      return db->with([&](sqlite::Connection& c) -> Result<void> {
        if (auto b = c.begin_immediate(); !b) return b;
        auto first = events::record_handled(c, "probe", e.id);
        if (!first) return std::move(first).error();
        if (!*first) return {};  // a redelivery of an event whose effect is committed: ack only
        auto n = e.data.substr(5, e.data.size() - 6);  // {"n":123}
        auto st = c.prepare("INSERT INTO effects(n, event_id) VALUES (?1, ?2)");
        st.bind(1, static_cast<std::int64_t>(std::stol(n)));
        st.bind(2, e.id);
        if (auto x = st.run(); !x) return x;
        return c.commit();
      });
    });
    if (auto r = bus.start(); !r) return std::fprintf(stderr, "probe: %s\n", r.error().message.c_str()), 1;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (count(*db, "effects") >= expect) return 0;
      std::this_thread::sleep_for(20ms);  // polls progress; bounded by the deadline
    }
    std::fprintf(stderr, "probe: %lld of %ld effects within 60 s\n",
                 static_cast<long long>(count(*db, "effects")), expect);
    return 1;
  }
  return usage();
}
