#include "driver.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "mercato/core/time.hpp"
#include "mercato/http/io_pool.hpp"
#include "mercato/json/json.hpp"

namespace mercato::load {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// Every customer the load creates has this password (accounts need one; the run's customers are
// throwaway, and a later step logs them in with it).
constexpr std::string_view kCustomerPassword = "mercato-load-customer";
constexpr const char* kAddress =
    R"({"name":"Load Customer","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

std::int64_t micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The "id" of a JSON object body, if it has one.
std::optional<std::string> id_of(const std::string& body) {
  auto object = json::parse_object(body);
  if (!object) return std::nullopt;
  const auto* id = object->if_contains("id");
  if (id == nullptr || !id->is_string()) return std::nullopt;
  return std::string(id->get_string());
}

// A timestamp member of an order (Unix milliseconds), if present and valid.
std::optional<std::int64_t> time_field(const boost::json::object& order, std::string_view key) {
  const auto* value = order.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  auto t = parse_rfc3339(std::string_view(value->get_string()));
  if (!t) return std::nullopt;
  return to_unix_ms(*t);
}

http::ClientRequest json_request(http::Method method, std::string target, std::string body) {
  http::ClientRequest r{.method = method, .target = std::move(target)};
  r.headers.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

// Live counters for the progress display (written by every worker, read by the main thread).
struct Live {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> queued{0};
};

// Wakes a coroutine of one worker waiting for its last operation to end (same thread, no locks).
struct Drain {
  explicit Drain(asio::io_context& io) : timer(io) {}
  asio::awaitable<void> until_idle(const int& active) {
    while (active > 0) {
      timer.expires_at(asio::steady_timer::time_point::max());
      co_await timer.async_wait(kUseTuple);
    }
  }
  asio::steady_timer timer;
};

}  // namespace

// One I/O worker's share of the run; touched only on its own thread.
struct Worker {
  Worker(std::size_t i, asio::io_context& context, int capacity, std::uint64_t seed)
      : index(i), io(context), cap(capacity), rng(seed), drain(context) {}

  std::size_t index;
  asio::io_context& io;
  int cap;  // open loop: requests in flight at most; closed loop: clients
  std::mt19937_64 rng;
  std::array<OpStats, kOpCount> ops;
  std::vector<std::string> customers;
  std::vector<std::string> placed;       // ids, oldest first
  std::vector<std::string> cancellable;  // placed and not cancelled by us yet, newest last
  std::uint64_t registered = 0;
  int active = 0;  // open loop: operation chains running; closed loop: clients running
  std::deque<Clock::time_point> backlog;
  std::uint64_t unsent = 0;
  std::uint64_t quota = 0;  // closed loop with --count: this worker's share
  std::uint64_t claimed = 0;
  Drain drain;
  OrderOutcome orders;
};

struct Driver::Impl {
  Impl(const Options& o, http::Endpoint g, std::uint64_t s)
      : options(o),
        gateway(std::move(g)),
        seed(s),
        pool(static_cast<std::size_t>(o.threads)),
        client(pool, client_settings(o)) {
    for (std::size_t i = 0; i < pool.size(); ++i) {
      int share = o.connections / o.threads + (static_cast<int>(i) < o.connections % o.threads ? 1 : 0);
      workers.push_back(
          std::make_unique<Worker>(i, pool.context(i), share, seed + i * 0x9E3779B97F4A7C15ULL));
    }
    pool.start();
  }

  ~Impl() {
    pool.stop();
    pool.join();
  }

  static http::ClientSettings client_settings(const Options& o) {
    http::ClientSettings s;
    s.connect_timeout = std::min<std::chrono::milliseconds>(o.timeout, 2s);
    s.request_timeout = o.timeout;
    // The default keeps 64 idle connections per worker; beyond that each answer would close one and the
    // next request open another. Keep every connection the worker may have in flight.
    s.max_idle_per_endpoint = static_cast<std::size_t>(o.connections / o.threads + 1);
    return s;
  }

  std::string product_id(std::size_t i) const { return options.prefix + "-p" + std::to_string(i); }

  // Runs `make(worker)` on every worker and waits, calling `tick` every 250 ms meanwhile.
  template <typename Make>
  void on_every_worker(Make make, const std::function<void()>& tick) {
    std::mutex m;
    std::condition_variable cv;
    std::size_t left = workers.size();
    for (auto& w : workers) {
      asio::co_spawn(w->io, make(*w), [&](std::exception_ptr) {
        std::lock_guard lock(m);
        if (--left == 0) cv.notify_all();
      });
    }
    std::unique_lock lock(m);
    while (left > 0) {
      cv.wait_for(lock, 250ms);
      if (tick) tick();
    }
  }

  // --- the operations --------------------------------------------------------------------------------

  asio::awaitable<void> perform(Worker& w, Clock::time_point started) {
    Op op = options.mix.pick(w.rng() % options.mix.total());
    if ((op == Op::kReadOrder && w.placed.empty()) || (op == Op::kCancelOrder && w.cancellable.empty())) {
      op = Op::kPlaceOrder;  // nothing of this run's to read or cancel yet
    }
    http::ClientRequest request;
    switch (op) {
      case Op::kRegister: {
        auto n = w.registered++;
        std::string email =
            options.prefix + "-w" + std::to_string(w.index) + "u" + std::to_string(n) + "@load.example.com";
        request = json_request(http::Method::kPost, "/api/users",
                               R"({"email":")" + email + R"(","name":"Load User )" + std::to_string(n) +
                                   R"(","password":")" + std::string(kCustomerPassword) + R"("})");
        break;
      }
      case Op::kReadProduct:
        request.method = http::Method::kGet;
        request.target =
            "/api/inventory/" + product_id(w.rng() % static_cast<std::uint64_t>(options.products));
        break;
      case Op::kPlaceOrder:
        request = json_request(http::Method::kPost, "/api/orders", order_body(w));
        break;
      case Op::kReadOrder: {
        // One of the 1000 newest orders of this worker: reads of recent orders, as customers do.
        auto window = std::min<std::size_t>(w.placed.size(), 1000);
        const auto& id = w.placed[w.placed.size() - 1 - w.rng() % window];
        request.method = http::Method::kGet;
        request.target = "/api/orders/" + id;
        break;
      }
      case Op::kCancelOrder: {
        // The newest order not cancelled yet: still pending (cancelled, 200) or already confirmed (409).
        std::string id = std::move(w.cancellable.back());
        w.cancellable.pop_back();
        request =
            json_request(http::Method::kPost, "/api/orders/" + id + "/cancel", R"({"reason":"load test"})");
        break;
      }
    }
    live.in_flight.fetch_add(1, std::memory_order_relaxed);
    http::CallOptions call;
    auto res = co_await client.send(gateway, std::move(request), call);
    auto latency = micros(Clock::now() - started);
    live.in_flight.fetch_sub(1, std::memory_order_relaxed);
    int status = res ? res->status : 0;
    auto outcome = classify(op, status);
    w.ops[op_index(op)].record(outcome, latency);
    live.done.fetch_add(1, std::memory_order_relaxed);
    if (outcome != Outcome::kOk && outcome != Outcome::kConflict)
      live.errors.fetch_add(1, std::memory_order_relaxed);
    if (outcome == Outcome::kOk && (op == Op::kRegister || op == Op::kPlaceOrder)) {
      auto id = id_of(res->body);
      if (id && op == Op::kRegister) w.customers.push_back(*id);
      if (id && op == Op::kPlaceOrder) {
        w.placed.push_back(*id);
        w.cancellable.push_back(*id);
      }
    }
  }

  std::string order_body(Worker& w) {
    const auto& customer = w.customers[w.rng() % w.customers.size()];
    auto products = static_cast<std::uint64_t>(options.products);
    auto lines = std::min<std::uint64_t>(1 + w.rng() % 3, products);
    auto first = w.rng() % products;
    std::string items;
    for (std::uint64_t k = 0; k < lines; ++k) {
      if (!items.empty()) items += ',';
      // consecutive products from a random one: distinct lines
      items += R"({"product_id":")" + product_id((first + k) % products) + R"(","quantity":)" +
               std::to_string(1 + w.rng() % 3) + "}";
    }
    return R"({"customer_id":")" + customer + R"(","items":[)" + items +
           R"(],"payment_token":"tok_visa","shipping_address":)" + kAddress + "}";
  }

  // --- open loop -------------------------------------------------------------------------------------

  // Runs one operation, then the backlog's oldest ones while there are any: a connection slot.
  asio::awaitable<void> chain(Worker& w, Clock::time_point intended) {
    for (;;) {
      co_await perform(w, intended);
      if (stopping.load(std::memory_order_relaxed)) drop_backlog(w);
      if (w.backlog.empty()) break;
      intended = w.backlog.front();
      w.backlog.pop_front();
      live.queued.fetch_sub(1, std::memory_order_relaxed);
    }
    if (--w.active == 0) w.drain.timer.cancel();
  }

  // Due operations that will not be sent now (the duration ended, or stop()).
  void drop_backlog(Worker& w) {
    w.unsent += w.backlog.size();
    live.queued.fetch_sub(w.backlog.size(), std::memory_order_relaxed);
    w.backlog.clear();
  }

  asio::awaitable<void> open_loop(Worker& w) {
    asio::steady_timer timer(w.io);
    const auto threads = static_cast<std::uint64_t>(options.threads);
    const double period_ns = 1e9 / options.rate;
    for (std::uint64_t k = 0;; ++k) {
      std::uint64_t i = k * threads + w.index;  // the global sequence number of this intended send
      if (options.count && i >= *options.count) break;
      if (stopping.load(std::memory_order_relaxed)) break;
      auto intended = start + std::chrono::nanoseconds(std::llround(static_cast<double>(i) * period_ns));
      if (end && intended >= *end) break;
      if (intended > Clock::now()) {
        timer.expires_at(intended);
        co_await timer.async_wait(kUseTuple);
      }
      if (w.active < w.cap) {
        ++w.active;
        asio::co_spawn(w.io, chain(w, intended), asio::detached);
      } else {
        w.backlog.push_back(intended);  // its wait counts: latency is measured from `intended`
        live.queued.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (end || stopping.load(std::memory_order_relaxed)) {
      // What is still waiting for a connection when the duration ends is not sent (as in wrk2).
      if (end && Clock::now() < *end && !stopping.load(std::memory_order_relaxed)) {
        timer.expires_at(*end);
        co_await timer.async_wait(kUseTuple);
      }
      drop_backlog(w);
    }
    co_await w.drain.until_idle(w.active);
  }

  // --- closed loop -----------------------------------------------------------------------------------

  asio::awaitable<void> closed_client(Worker& w) {
    for (;;) {
      if (options.count && w.claimed >= w.quota) break;
      if (end && Clock::now() >= *end) break;
      if (stopping.load(std::memory_order_relaxed)) break;
      ++w.claimed;
      co_await perform(w, Clock::now());
    }
    if (--w.active == 0) w.drain.timer.cancel();
  }

  asio::awaitable<void> closed_loop(Worker& w) {
    if (options.count) {
      auto threads = static_cast<std::uint64_t>(options.threads);
      w.quota = *options.count / threads + (w.index < *options.count % threads ? 1 : 0);
    }
    asio::steady_timer timer(w.io);
    if (start > Clock::now()) {
      timer.expires_at(start);
      co_await timer.async_wait(kUseTuple);
    }
    for (int c = 0; c < w.cap; ++c) {
      ++w.active;
      asio::co_spawn(w.io, closed_client(w), asio::detached);
    }
    co_await w.drain.until_idle(w.active);
  }

  // --- setup -----------------------------------------------------------------------------------------

  struct SetupState {
    std::size_t next = 0;
    std::vector<std::string> customers;
    std::optional<std::string> failure;
  };

  asio::awaitable<void> setup_client(SetupState& s) {
    auto products = static_cast<std::size_t>(options.products);
    auto total = products + static_cast<std::size_t>(options.customers);
    while (s.next < total && !s.failure) {
      std::size_t task = s.next++;
      http::ClientRequest request;
      int expected = 201;
      if (task < products) {
        request = json_request(http::Method::kPut, "/api/inventory/" + product_id(task),
                               R"({"name":"Load product )" + std::to_string(task) + R"(","price_cents":)" +
                                   std::to_string(100 + 37 * task) + R"(,"available":)" +
                                   std::to_string(options.stock) + "}");
        expected = 0;  // 201 created or 200 replaced
      } else {
        auto c = task - products;
        request = json_request(http::Method::kPost, "/api/users",
                               R"({"email":")" + options.prefix + "-c" + std::to_string(c) +
                                   R"(@load.example.com","name":"Load Customer )" + std::to_string(c) +
                                   R"(","password":")" + std::string(kCustomerPassword) + R"("})");
      }
      std::string what = std::string(http::to_string(request.method)) + " " + request.target;
      http::CallOptions call;
      auto res = co_await client.send(gateway, std::move(request), call);
      if (!res) {
        s.failure = what + ": " + res.error().message;
        break;
      }
      bool ok = expected == 0 ? (res->status == 200 || res->status == 201) : res->status == expected;
      std::optional<std::string> id;
      if (ok && task >= products) {
        id = id_of(res->body);
        ok = id.has_value();
      }
      if (!ok) {
        s.failure = what + ": status " + std::to_string(res->status) + " " + res->body.substr(0, 300);
        break;
      }
      if (id) s.customers[task - products] = std::move(*id);
    }
  }

  asio::awaitable<void> setup_all(SetupState& s) {
    s.customers.resize(static_cast<std::size_t>(options.customers));
    int parallel = std::min(options.connections, 16);
    int running = parallel;
    Drain done(workers[0]->io);
    for (int i = 0; i < parallel; ++i) {
      asio::co_spawn(workers[0]->io, setup_runner(s, running, done), asio::detached);
    }
    co_await done.until_idle(running);
  }

  // (A member coroutine, not a lambda: a coroutine lambda's captures die with the lambda object.)
  asio::awaitable<void> setup_runner(SetupState& s, int& running, Drain& done) {
    co_await setup_client(s);
    if (--running == 0) done.timer.cancel();
  }

  // --- settle ----------------------------------------------------------------------------------------

  asio::awaitable<void> settle_reader(Worker& w, std::size_t& next, Clock::time_point deadline) {
    asio::steady_timer timer(w.io);
    while (next < w.placed.size()) {
      std::string id = w.placed[next++];
      auto backoff = std::chrono::milliseconds(50);
      for (;;) {
        http::ClientRequest request{.method = http::Method::kGet, .target = "/api/orders/" + id};
        http::CallOptions call;
        auto res = co_await client.send(gateway, std::move(request), call);
        std::optional<boost::json::object> order;
        if (res && res->status == 200) {
          auto parsed = json::parse_object(res->body);
          if (parsed) order = std::move(*parsed);
        }
        const auto* status = order ? order->if_contains("status") : nullptr;
        if (status != nullptr && status->is_string()) {
          auto created = time_field(*order, "created_at");
          if (created && (!w.orders.first_placed_ms || *created < *w.orders.first_placed_ms)) {
            w.orders.first_placed_ms = created;
          }
          if (status->get_string() == "confirmed") {
            auto updated = time_field(*order, "updated_at");
            ++w.orders.confirmed;
            if (created && updated) {
              w.orders.placed_to_confirmed.record((*updated - *created) * 1000);
              if (!w.orders.last_confirmed_ms || *updated > *w.orders.last_confirmed_ms) {
                w.orders.last_confirmed_ms = updated;
              }
            }
            break;
          }
          if (status->get_string() == "cancelled") {
            ++w.orders.cancelled;
            break;
          }
        } else {
          status = nullptr;
        }
        bool readable = status != nullptr;
        if (Clock::now() >= deadline || stopping.load(std::memory_order_relaxed) ||
            (res && res->status == 404)) {
          ++(readable ? w.orders.pending : w.orders.unreadable);
          break;
        }
        timer.expires_at(std::min(Clock::now() + backoff, deadline));
        co_await timer.async_wait(kUseTuple);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 1s);
      }
    }
  }

  asio::awaitable<void> settle_runner(Worker& w, std::size_t& next, Clock::time_point deadline,
                                      int& running) {
    co_await settle_reader(w, next, deadline);
    if (--running == 0) w.drain.timer.cancel();
  }

  asio::awaitable<void> settle_worker(Worker& w, Clock::time_point deadline) {
    auto began = Clock::now();
    w.orders = OrderOutcome{};
    w.orders.placed = w.placed.size();
    std::size_t next = 0;
    int readers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(w.cap), w.placed.size()));
    int running = readers;
    for (int i = 0; i < readers; ++i) {
      asio::co_spawn(w.io, settle_runner(w, next, deadline, running), asio::detached);
    }
    co_await w.drain.until_idle(running);
    w.orders.settle_seconds = seconds(Clock::now() - began);
  }

  Options options;
  http::Endpoint gateway;
  std::uint64_t seed;
  http::IoPool pool;
  http::Client client;
  std::vector<std::unique_ptr<Worker>> workers;
  Live live;
  std::atomic<bool> stopping{false};
  Clock::time_point start{};
  std::optional<Clock::time_point> end;
  double elapsed = 0;
  std::array<OpStats, kOpCount> merged;
  std::uint64_t unsent = 0;
};

Driver::Driver(const Options& options, http::Endpoint gateway, std::uint64_t seed)
    : impl_(std::make_unique<Impl>(options, std::move(gateway), seed)) {}

Driver::~Driver() = default;

Result<SetupSummary> Driver::setup() {
  auto& impl = *impl_;
  auto began = Clock::now();
  Impl::SetupState state;
  std::promise<void> done;
  auto finished = done.get_future();
  asio::co_spawn(impl.workers[0]->io, impl.setup_all(state), [&](std::exception_ptr) { done.set_value(); });
  finished.wait();
  if (state.failure) return Error::unavailable("setup failed: " + *state.failure);
  for (auto& w : impl.workers) w->customers = state.customers;
  return SetupSummary{.products = impl.options.products,
                      .stock = impl.options.stock,
                      .customers = impl.options.customers,
                      .seconds = seconds(Clock::now() - began)};
}

void Driver::run(const std::function<void(const ProgressSnapshot&)>& progress) {
  auto& impl = *impl_;
  const auto& o = impl.options;
  impl.start = Clock::now() + 10ms;  // every worker starts from the same instant
  if (auto d = o.effective_duration()) impl.end = impl.start + *d;
  // The recent rate: answers over the last second or so.
  std::deque<std::pair<Clock::time_point, std::uint64_t>> samples;
  auto tick = [&] {
    if (!progress) return;
    auto now = Clock::now();
    auto done = impl.live.done.load(std::memory_order_relaxed);
    samples.emplace_back(now, done);
    while (samples.size() > 2 && now - samples.front().first > 1s) samples.pop_front();
    ProgressSnapshot s;
    s.elapsed_seconds = std::max(0.0, seconds(now - impl.start));
    if (auto d = o.effective_duration()) s.total_seconds = static_cast<double>(d->count()) / 1000.0;
    s.total_count = o.count;
    s.done = done;
    auto span = seconds(now - samples.front().first);
    s.rate = span > 0 ? static_cast<double>(done - samples.front().second) / span : 0;
    s.in_flight = impl.live.in_flight.load(std::memory_order_relaxed);
    s.queued = impl.live.queued.load(std::memory_order_relaxed);
    s.errors = impl.live.errors.load(std::memory_order_relaxed);
    progress(s);
  };
  impl.on_every_worker([&](Worker& w) { return o.closed ? impl.closed_loop(w) : impl.open_loop(w); }, tick);
  impl.elapsed = std::max(0.0, seconds(Clock::now() - impl.start));
  for (auto& w : impl.workers) {
    for (std::size_t i = 0; i < kOpCount; ++i) impl.merged[i].merge(w->ops[i]);
    impl.unsent += w->unsent;
  }
  tick();
}

const std::array<OpStats, kOpCount>& Driver::stats() const { return impl_->merged; }
std::uint64_t Driver::unsent() const { return impl_->unsent; }
double Driver::elapsed_seconds() const { return impl_->elapsed; }

void Driver::stop() { impl_->stopping.store(true, std::memory_order_relaxed); }

OrderOutcome Driver::settle(const std::function<void()>& tick) {
  auto& impl = *impl_;
  auto deadline = Clock::now() + impl.options.settle;
  impl.on_every_worker([&](Worker& w) { return impl.settle_worker(w, deadline); }, tick);
  OrderOutcome all;
  for (auto& w : impl.workers) all.merge(w->orders);
  return all;
}

CheckOutcome run_checker(const std::string& command, std::chrono::milliseconds wait) {
  CheckOutcome out;
  out.ran = true;
  auto began = Clock::now();
  for (;;) {
    ++out.attempts;
    out.report.clear();
    std::string shell = command + " 2>&1";
    FILE* pipe = ::popen(shell.c_str(), "r");
    if (pipe == nullptr) {
      out.verdict = "could not start the checker";
      break;
    }
    std::string text;
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
    int status = ::pclose(pipe);
    out.exit_status =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      auto line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (!line.empty()) out.report.push_back(std::move(line));
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    out.verdict.clear();
    for (auto it = out.report.rbegin(); it != out.report.rend() && out.verdict.empty(); ++it) {
      if (it->rfind("check:", 0) == 0) out.verdict = *it;
    }
    if (out.verdict.empty() && !out.report.empty()) out.verdict = out.report.back();
    out.passed = out.exit_status == 0;
    if (out.passed || out.exit_status == 126 || out.exit_status == 127) break;
    if (Clock::now() - began + 500ms > wait) break;
    // The checker read the system a moment ago; the confirmation's last effects may since have landed.
    std::this_thread::sleep_for(500ms);
  }
  out.seconds = seconds(Clock::now() - began);
  return out;
}

}  // namespace mercato::load
