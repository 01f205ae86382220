// mercato-eventstore-bench (bench/eventstore.sh): what the order event store costs, in one process, on
// one database (SQLite file or a PostgreSQL URL), each case in the same run.
//
//   append    N placements through SqlOrderRepository::place (the stream's first event, its snapshot
//             row, one transaction each), by T threads
//   stream    the same N first events through events::append_stream alone (no snapshot row)
//   insert    the same N envelopes as plain INSERTs into a table of the same shape, one transaction
//             each, by T threads: the ceiling an append is measured against
//   rebuild   R events in the streams (R/2 orders placed and confirmed, written in large transactions),
//             then SqlReadModels::rebuild("order_summaries") timed: events/s
//
// Output: one line per case, "case=append threads=4 events=20000 seconds=1.93 rate=10362/s".
// Usage: mercato-eventstore-bench --db sqlite:PATH|postgresql://... [--events N] [--threads T]
//        [--rebuild-events R] [--cases append,stream,insert,rebuild]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sql_order_repository.hpp"
#include "adapters/sql_read_models.hpp"
#include "app/order_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/streams.hpp"

using namespace mercato;

namespace {

struct Options {
  std::string db;
  long events = 20000;
  int threads = 1;
  long rebuild_events = 1000000;
  std::string cases = "append,stream,insert,rebuild";
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(
      stderr,
      "%s\nusage: mercato-eventstore-bench --db sqlite:PATH|postgresql://... [--events N] [--threads T]"
      " [--rebuild-events R] [--cases append,stream,insert,rebuild]\n",
      why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&](long min) {
      auto v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < min) usage(a + ": not a number >= " + std::to_string(min));
      return n;
    };
    if (a == "--db") {
      o.db = value();
    } else if (a == "--events") {
      o.events = number(1);
    } else if (a == "--threads") {
      o.threads = static_cast<int>(number(1));
    } else if (a == "--rebuild-events") {
      o.rebuild_events = number(2);
    } else if (a == "--cases") {
      o.cases = value();
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.db.empty()) usage("--db is required");
  return o;
}

std::unique_ptr<sql::Database> open(const std::string& db, std::size_t connections) {
  if (db.rfind("sqlite:", 0) == 0) {
    return sql::Database::open(sqlite::DatabaseSettings{.path = db.substr(7), .connections = connections});
  }
  return sql::Database::open(postgres::DatabaseSettings{.url = db, .connections = connections});
}

order::Order sample(SystemTime now) {
  order::Order o;
  o.id = new_uuid();
  o.customer_id = "bench-customer-" + std::to_string(std::hash<std::string>{}(o.id) % 1000);
  o.lines = {{"mug", 2, 1299}, {"teapot", 1, 3450}};
  o.total_cents = 6048;
  o.payment_token = "tok_visa";
  o.shipping_address = {"Ann Lee", "1 Main St", "", "Berlin", "10115", "DE"};
  o.created_at = now;
  o.saga = "orchestration";
  return o;
}

// The wire form of `order`'s first event (order.created): what a placement appends.
events::CloudEvent first_event(const order::Order& order) {
  order::Order placed;
  (void)order::evolve(placed, order::OrderPlaced{order});  // a fresh order always takes its placement
  return order::to_cloud_event(order::OrderPlaced{order}, placed);
}

void report(const char* name, int threads, long events, std::chrono::steady_clock::duration took) {
  double seconds = std::chrono::duration<double>(took).count();
  std::printf("case=%s threads=%d events=%ld seconds=%.3f rate=%.0f/s\n", name, threads, events, seconds,
              static_cast<double>(events) / seconds);
  std::fflush(stdout);
}

// Runs `one(i)` for i in [0, n) on `threads` threads; exits on the first failure.
template <typename F>
std::chrono::steady_clock::duration timed(long n, int threads, F one) {
  std::atomic<long> next{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (long i = next++; i < n; i = next++) {
        if (auto r = one(i); !r) {
          std::fprintf(stderr, "failed: %s\n", r.error().message.c_str());
          std::exit(1);
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return std::chrono::steady_clock::now() - start;
}

}  // namespace

int run(int argc, char** argv) {
  auto o = parse(argc, argv);
  auto db = open(o.db, static_cast<std::size_t>(std::max(o.threads, 1)));
  order::SqlOrderRepository repo(*db);
  auto has = [&](const char* c) { return o.cases.find(c) != std::string::npos; };

  if (has("append")) {
    auto took = timed(o.events, o.threads, [&](long) -> Result<void> {
      MERCATO_RETURN_IF_ERROR(repo.place(order::OrderPlaced{sample(now_utc())}, ""));
      return {};
    });
    report("append", o.threads, o.events, took);
  }
  if (has("stream")) {
    // The stream append alone (its version check and insert), without the order's snapshot row.
    auto took = timed(o.events, o.threads, [&](long) -> Result<void> {
      auto e = first_event(sample(now_utc()));
      return db->with([&](sql::Connection& c) -> Result<void> {
        MERCATO_RETURN_IF_ERROR(c.begin());
        MERCATO_RETURN_IF_ERROR(events::append_stream(c, e.subject, 0, std::span(&e, 1)));
        return c.commit();
      });
    });
    report("stream", o.threads, o.events, took);
  }
  if (has("insert")) {
    auto made = db->with([](sql::Connection& c) {
      return c.exec(
          "CREATE TABLE IF NOT EXISTS bench_plain (seq {serial}, stream_id TEXT NOT NULL,"
          " stream_version {int64} NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,"
          " envelope TEXT NOT NULL, created_at_ms {int64} NOT NULL)");
    });
    if (!made) usage("cannot create the plain table: " + made.error().message);
    auto took = timed(o.events, o.threads, [&](long) -> Result<void> {
      auto e = first_event(sample(now_utc()));
      return db->with([&](sql::Connection& c) -> Result<void> {
        MERCATO_RETURN_IF_ERROR(c.begin());
        MERCATO_RETURN_IF_ERROR(c.run(
            "INSERT INTO bench_plain(stream_id, stream_version, event_id, type, envelope, created_at_ms)"
            " VALUES ($1, 1, $2, $3, $4, $5)",
            {e.subject, e.id, e.type, events::to_json(e), now_utc()}));
        return c.commit();
      });
    });
    report("insert", o.threads, o.events, took);
  }
  if (has("rebuild")) {
    // Orders placed and confirmed, 1000 streams a transaction: filling is not what is measured.
    long orders = o.rebuild_events / 2;
    constexpr long kPerTransaction = 1000;
    auto fill_start = std::chrono::steady_clock::now();
    for (long done = 0; done < orders; done += kPerTransaction) {
      auto r = db->with([&](sql::Connection& c) -> Result<void> {
        MERCATO_RETURN_IF_ERROR(c.begin());
        for (long i = done; i < std::min(orders, done + kPerTransaction); ++i) {
          auto now = now_utc();
          auto order = sample(now);
          order::Order state;
          std::vector<events::CloudEvent> wire;
          for (const order::OrderEvent& e : {order::OrderEvent{order::OrderPlaced{order}},
                                             order::OrderEvent{order::OrderConfirmed{now}}}) {
            MERCATO_RETURN_IF_ERROR(order::evolve(state, e));
            wire.push_back(order::to_cloud_event(e, state));
          }
          MERCATO_RETURN_IF_ERROR(events::record_past(c, order.id, wire));
        }
        return c.commit();
      });
      if (!r) usage("cannot fill the streams: " + r.error().message);
    }
    report("fill", 1, orders * 2, std::chrono::steady_clock::now() - fill_start);
    order::SqlReadModels models(*db);
    // Every stream event there is (the appends of the first case too): what the rebuild replays.
    auto total = db->with([](sql::Connection& c) { return events::streams_after(c, 0); });
    if (!total) usage("cannot count the events: " + total.error().message);
    auto start = std::chrono::steady_clock::now();
    auto rebuilt = models.rebuild("order_summaries");
    if (!rebuilt) usage("the rebuild failed: " + rebuilt.error().message);
    auto head = rebuilt->head;
    report("rebuild", 1, total->events, std::chrono::steady_clock::now() - start);
    std::printf("rebuild: generation %lld at %lld of %lld\n", static_cast<long long>(rebuilt->generation),
                static_cast<long long>(rebuilt->position), static_cast<long long>(head));
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a database that cannot be opened or migrated
    std::fprintf(stderr, "mercato-eventstore-bench: %s\n", e.what());
    return 1;
  }
}
