#include "driver.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <array>
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
#include <iostream>
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
// throwaway): the setup logs its customers in with it, and a renewal whose refresh token is refused too.
constexpr std::string_view kCustomerPassword = "mercato-load-customer";
// A failed renewal is tried again this much later (the old token serves meanwhile, while it lasts).
constexpr auto kRenewRetry = 5s;
// A 429 in the setup waits at most this long at a time (then asks again), whatever Retry-After says.
constexpr std::chrono::milliseconds kMaxRetryAfter = 60s;
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

// One customer of the run, owned by one worker: their session and the orders they placed, for their
// own reads and cancels.
struct Customer {
  std::string email;
  Session session;
  bool renewing = false;                 // a renewal of `session` is running
  std::vector<std::string> placed;       // ids, oldest first
  std::vector<std::string> cancellable;  // placed and not cancelled by us yet, newest last
};

struct PlacedOrder {
  std::size_t customer;  // index into the worker's customers
  std::string id;
};

// One I/O worker's share of the run; touched only on its own thread.
struct Worker {
  Worker(std::size_t i, asio::io_context& context, int capacity, std::uint64_t seed)
      : index(i), io(context), cap(capacity), rng(seed), drain(context) {}

  std::size_t index;
  asio::io_context& io;
  int cap;  // open loop: requests in flight at most; closed loop: clients
  std::mt19937_64 rng;
  std::array<OpStats, kOpCount> ops;
  std::vector<Customer> customers;  // this worker's own (setup's customer k: worker k % threads)
  std::vector<PlacedOrder> placed;  // every order this worker placed, oldest first (the settle reads them)
  std::uint64_t registered = 0;
  int renewals = 0;  // session renewals running (each detached; waited for before the pool stops)
  TokenStats tokens;
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

  // NOLINTNEXTLINE(bugprone-exception-escape): only allocation or a mutex throws here; terminate is right
  ~Impl() {
    // Renewals run detached: let the ones in flight end (each bounded by --timeout per request) before
    // the client and the workers they use go away.
    on_every_worker([this](Worker& w) { return renewals_done(w); }, {});
    pool.stop();
    pool.join();
  }

  static http::ClientSettings client_settings(const Options& o) {
    http::ClientSettings s;
    s.connect_timeout = std::min<std::chrono::milliseconds>(o.timeout, 2s);
    s.request_timeout = o.timeout;
    // The default keeps 64 idle connections per worker; beyond that each answer would close one and the
    // next request open another. Keep every connection the worker may have in flight.
    s.max_idle_per_endpoint =
        static_cast<std::size_t>(o.connections) / static_cast<std::size_t>(o.threads) + 1;
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
      asio::co_spawn(w->io, make(*w), [&](const std::exception_ptr&) {
        std::lock_guard lock(m);
        if (--left == 0) cv.notify_all();
      });
    }
    std::unique_lock lock(m);
    // NOLINTNEXTLINE(bugprone-infinite-loop): the completion handlers count `left` down under `m`
    while (left > 0) {
      cv.wait_for(lock, 250ms);
      if (tick) tick();
    }
  }

  // --- the operations --------------------------------------------------------------------------------

  asio::awaitable<void> perform(Worker& w, Clock::time_point started) {
    Op op = options.mix.pick(w.rng() % options.mix.total());
    // Order operations are a customer's, for their own orders; registrations and product reads are
    // anonymous (a visitor signing up, the public catalog).
    bool as_customer = op == Op::kPlaceOrder || op == Op::kReadOrder || op == Op::kCancelOrder;
    std::size_t who = as_customer ? w.rng() % w.customers.size() : 0;
    if (as_customer) {
      const auto& c = w.customers[who];
      if ((op == Op::kReadOrder && c.placed.empty()) || (op == Op::kCancelOrder && c.cancellable.empty())) {
        op = Op::kPlaceOrder;  // nothing of this customer's to read or cancel yet
      }
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
        // One of the customer's 1000 newest orders: reads of recent orders, as customers do.
        const auto& placed = w.customers[who].placed;
        auto window = std::min<std::size_t>(placed.size(), 1000);
        const auto& id = placed[placed.size() - 1 - w.rng() % window];
        request.method = http::Method::kGet;
        request.target = "/api/orders/" + id;
        break;
      }
      case Op::kCancelOrder: {
        // The customer's newest order not cancelled yet: still pending (cancelled, 200) or already
        // confirmed (409).
        auto& cancellable = w.customers[who].cancellable;
        std::string id = std::move(cancellable.back());
        cancellable.pop_back();
        request =
            json_request(http::Method::kPost, "/api/orders/" + id + "/cancel", R"({"reason":"load test"})");
        break;
      }
    }
    if (as_customer) {
      auto authorization = co_await bearer(w, who);
      request.headers.set("Authorization", authorization);
    }
    live.in_flight.fetch_add(1, std::memory_order_relaxed);
    http::CallOptions call;
    auto res = co_await client.send(gateway, std::move(request), call);
    auto latency = micros(Clock::now() - started);
    live.in_flight.fetch_sub(1, std::memory_order_relaxed);
    int status = res ? res->status : 0;
    auto outcome = classify(op, status);
    w.ops[op_index(op)].record(outcome, latency, status, res && res->headers.contains("Retry-After"));
    live.done.fetch_add(1, std::memory_order_relaxed);
    if (outcome != Outcome::kOk && outcome != Outcome::kConflict)
      live.errors.fetch_add(1, std::memory_order_relaxed);
    // (A registered account is not used for orders: it has not logged in, and logging it in here would
    // add an unmeasured request to the run. Orders are the setup's customers'.)
    if (outcome == Outcome::kOk && op == Op::kPlaceOrder) {
      if (auto id = id_of(res->body)) {
        auto& c = w.customers[who];
        c.placed.push_back(*id);
        c.cancellable.push_back(*id);
        w.placed.push_back({who, std::move(*id)});
      }
    }
  }

  // No customer_id: the order is the token's customer's (a customer may only name themselves).
  std::string order_body(Worker& w) {
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
    return R"({"items":[)" + items + R"(],"payment_token":"tok_visa","shipping_address":)" + kAddress + "}";
  }

  // --- the customers' sessions -------------------------------------------------------------------------

  // "Bearer <token>" of customer `who` for a request sent now. A session due for renewal is renewed in the
  // background and the request goes with the current token, still valid for a quarter of its life: a
  // renewal never delays a measured operation. Only a token too close to its end (the customer was not
  // used for that long) is renewed before the request. After a failed renewal the next try waits
  // kRenewRetry: meanwhile a token past its end is sent as it is (and answered 401, counted), rather
  // than every operation waiting for a user service that does not answer.
  asio::awaitable<std::string> bearer(Worker& w, std::size_t who) {
    auto& c = w.customers[who];
    auto now = Clock::now();
    if (c.session.due(now) && !c.renewing) {
      // Marked here, not in renew(): a spawned renewal starts later, and the next operation must not
      // start another (a refresh token presented twice revokes the session).
      c.renewing = true;
      ++w.renewals;
      if (c.session.expired(now)) {
        co_await renew(w, who);
      } else {
        asio::co_spawn(w.io, renew(w, who), asio::detached);
      }
    } else if (c.renewing && c.session.expired(now)) {
      asio::steady_timer timer(w.io);  // another operation is renewing it: wait for the new token
      while (c.renewing) {
        timer.expires_after(5ms);
        co_await timer.async_wait(kUseTuple);
      }
    }
    co_return c.session.authorization;
  }

  // Renews customer `who`'s session: with the refresh token (a new pair; the old refresh token is spent),
  // else with a new login (the refresh token was refused: spent by a refresh whose answer was lost,
  // expired, or its session revoked). The caller has set `renewing` and counted it in `w.renewals`.
  asio::awaitable<void> renew(Worker& w, std::size_t who) {
    auto& c = w.customers[who];
    auto refreshed = co_await token_call("/api/auth/refresh", refresh_body(c.session.refresh_token));
    if (refreshed) {
      c.session = std::move(*refreshed);
      ++w.tokens.refreshed;
    } else {
      auto login = co_await token_call("/api/auth/login", login_body(c.email, kCustomerPassword));
      if (login) {
        c.session = std::move(*login);
        ++w.tokens.relogins;
      } else {
        ++w.tokens.failures;
        c.session.renew_at = Clock::now() + kRenewRetry;
      }
    }
    c.renewing = false;
    --w.renewals;
  }

  // POST `target` (anonymous) with `body`: the session of a 200 answer, or why not.
  asio::awaitable<Result<Session>> token_call(std::string target, std::string body) {
    auto request = json_request(http::Method::kPost, std::move(target), std::move(body));
    http::CallOptions call;
    auto res = co_await client.send(gateway, std::move(request), call);
    if (!res) co_return res.error();
    if (res->status != 200) {
      co_return Error::unauthenticated("status " + std::to_string(res->status) + " " +
                                       res->body.substr(0, 300));
    }
    co_return parse_tokens(res->body, Clock::now(), options.renew_at);
  }

  asio::awaitable<void> renewals_done(Worker& w) {
    asio::steady_timer timer(w.io);
    while (w.renewals > 0) {
      timer.expires_after(5ms);
      co_await timer.async_wait(kUseTuple);
    }
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

  // The setup runs on worker 0's thread: up to 16 runners take tasks in order (the products, then one
  // task per customer: register, then log in) and share this state without locks.
  struct SetupState {
    std::size_t next = 0;
    std::string admin;  // "Bearer <admin token>"
    std::string admin_source;
    std::vector<Customer> customers;     // by setup index
    std::optional<std::string> failure;  // the first; the runners stop taking tasks
    bool failure_answered = false;       // it was an answer (else: no answer, the system may be down)
    // A 429 pauses every runner until then: the limit is per client address (or account), which all
    // runners share, so asking again sooner would only earn more 429s.
    Clock::time_point paused_until{};
    bool one_at_a_time = false;  // since the first 429
    bool sending = false;        // one_at_a_time: a request is out
    std::uint64_t rate_limited = 0;
    Clock::duration waited{};
    Clock::time_point last_note{};
  };

  // Sends one setup request (`what` names it in messages); a 429 waits as its Retry-After says (at most
  // kMaxRetryAfter at a time) and sends it again, for as long as it takes. After the first 429 the setup
  // sends one request at a time: the runners would otherwise all ask at the end of each pause, and all
  // but one be refused again (a login or registration costs the user service tens of milliseconds of
  // password hashing, so one at a time is still quick).
  asio::awaitable<Result<http::Response>> setup_send(SetupState& s, const http::ClientRequest& request,
                                                     const std::string& what) {
    asio::steady_timer timer(workers[0]->io);
    for (;;) {
      while (s.paused_until > Clock::now() || (s.one_at_a_time && s.sending)) {
        timer.expires_at(std::max(s.paused_until, Clock::now() + 5ms));
        co_await timer.async_wait(kUseTuple);
      }
      if (s.failure) co_return Error::unavailable("another setup request failed");
      http::ClientRequest attempt = request;
      http::CallOptions call;
      bool held = s.one_at_a_time;
      if (held) s.sending = true;
      auto res = co_await client.send(gateway, std::move(attempt), call);
      if (held) s.sending = false;
      if (!res || res->status != 429) co_return res;
      s.one_at_a_time = true;
      ++s.rate_limited;
      auto now = Clock::now();
      auto until = now + retry_after(res->headers.get("Retry-After"), kMaxRetryAfter);
      if (until > s.paused_until) {
        s.waited += until - std::max(s.paused_until, now);
        s.paused_until = until;
      }
      // Said once, then at most every 10 s: a rate-limited setup can take minutes, and should not look hung.
      if (s.last_note == Clock::time_point{} || now - s.last_note >= 10s) {
        s.last_note = now;
        std::cerr << "setup: " << what << " answered 429 (a rate limit: the gateway's, or the login limits); "
                  << "pacing the setup as Retry-After says (" << s.rate_limited << " so far, "
                  << static_cast<long long>(
                         std::chrono::duration_cast<std::chrono::seconds>(s.waited).count())
                  << " s waited)\n";
      }
    }
  }

  static void fail(SetupState& s, std::string text, bool answered) {
    if (s.failure) return;
    s.failure = std::move(text);
    s.failure_answered = answered;
  }

  // The failure text of an unexpected answer, with what it likely means.
  static std::string answer_failure(const std::string& what, const http::Response& res,
                                    const std::string& hint) {
    std::string text = what + ": status " + std::to_string(res.status) + " " + res.body.substr(0, 300);
    return hint.empty() ? text : text + " — " + hint;
  }

  // Logs in as the bootstrap admin; "Bearer <token>" or the failure.
  asio::awaitable<void> admin_login(SetupState& s, const AdminAccess& admin) {
    std::string what = "logging in as the admin (POST /api/auth/login as " + std::string(kAdminEmail) +
                       ", password from " + admin.source + ")";
    auto request =
        json_request(http::Method::kPost, "/api/auth/login", login_body(kAdminEmail, admin.password));
    auto res = co_await setup_send(s, request, what);
    if (!res) {
      fail(s, what + ": " + res.error().message, false);
      co_return;
    }
    if (res->status != 200) {
      fail(s,
           answer_failure(what, *res,
                          res->status == 401 ? "a wrong password, or no such account: is the file the one "
                                               "this system's ./mercato up wrote?"
                                             : ""),
           true);
      co_return;
    }
    auto session = parse_tokens(res->body, Clock::now(), options.renew_at);
    if (!session) {
      fail(s, what + ": " + session.error().message, true);
      co_return;
    }
    s.admin = session->authorization;
  }

  asio::awaitable<void> setup_product(SetupState& s, std::size_t i) {
    auto request = json_request(http::Method::kPut, "/api/inventory/" + product_id(i),
                                R"({"name":"Load product )" + std::to_string(i) + R"(","price_cents":)" +
                                    std::to_string(100 + 37 * i) + R"(,"available":)" +
                                    std::to_string(options.stock) + "}");
    request.headers.set("Authorization", s.admin);
    std::string what =
        "stocking products as the admin (PUT " + request.target + ", credentials: " + s.admin_source + ")";
    auto res = co_await setup_send(s, request, what);
    if (!res) {
      fail(s, what + ": " + res.error().message, false);
      co_return;
    }
    if (res->status == 200 || res->status == 201) co_return;  // created, or replaced
    std::string hint;
    if (res->status == 401)
      hint = "the admin token was refused (expired? access tokens live 15 minutes by default)";
    if (res->status == 403) hint = "the token is not an admin's";
    fail(s, answer_failure(what, *res, hint), true);
  }

  asio::awaitable<void> setup_customer(SetupState& s, std::size_t c) {
    auto& customer = s.customers[c];
    customer.email = options.prefix + "-c" + std::to_string(c) + "@load.example.com";
    auto signup =
        json_request(http::Method::kPost, "/api/users",
                     R"({"email":")" + customer.email + R"(","name":"Load Customer )" + std::to_string(c) +
                         R"(","password":")" + std::string(kCustomerPassword) + R"("})");
    std::string what = "registering customers (POST /api/users " + customer.email + ")";
    auto res = co_await setup_send(s, signup, what);
    if (!res) {
      fail(s, what + ": " + res.error().message, false);
      co_return;
    }
    if (res->status != 201 || !id_of(res->body)) {
      fail(s, answer_failure(what, *res, res->status == 409 ? "the email is taken: another --prefix" : ""),
           true);
      co_return;
    }
    auto login =
        json_request(http::Method::kPost, "/api/auth/login", login_body(customer.email, kCustomerPassword));
    what = "logging customers in (POST /api/auth/login as " + customer.email + ")";
    auto logged_in = co_await setup_send(s, login, what);
    if (!logged_in) {
      fail(s, what + ": " + logged_in.error().message, false);
      co_return;
    }
    if (logged_in->status != 200) {
      fail(s, answer_failure(what, *logged_in, ""), true);
      co_return;
    }
    auto session = parse_tokens(logged_in->body, Clock::now(), options.renew_at);
    if (!session) {
      fail(s, what + ": " + session.error().message, true);
      co_return;
    }
    customer.session = std::move(*session);
  }

  asio::awaitable<void> setup_client(SetupState& s) {
    auto products = static_cast<std::size_t>(options.products);
    auto total = products + static_cast<std::size_t>(options.customers);
    while (s.next < total && !s.failure) {
      std::size_t task = s.next++;
      if (task < products) {
        co_await setup_product(s, task);
      } else {
        co_await setup_customer(s, task - products);
      }
    }
  }

  asio::awaitable<void> setup_all(SetupState& s, const AdminAccess& admin) {
    s.customers.resize(static_cast<std::size_t>(options.customers));
    s.admin_source = admin.source;
    if (admin.token.empty()) {
      co_await admin_login(s, admin);
      if (s.failure) co_return;
    } else {
      s.admin = "Bearer " + admin.token;
    }
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
      // Read back by the customer who placed it, with their token.
      std::size_t who = w.placed[next].customer;
      std::string id = w.placed[next].id;
      ++next;
      auto backoff = std::chrono::milliseconds(50);
      for (;;) {
        http::ClientRequest request{.method = http::Method::kGet, .target = "/api/orders/" + id};
        auto authorization = co_await bearer(w, who);
        request.headers.set("Authorization", authorization);
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

Result<SetupSummary> Driver::setup(const AdminAccess& admin) {
  auto& impl = *impl_;
  auto began = Clock::now();
  Impl::SetupState state;
  std::promise<void> done;
  auto finished = done.get_future();
  asio::co_spawn(impl.workers[0]->io, impl.setup_all(state, admin),
                 [&](const std::exception_ptr&) { done.set_value(); });
  finished.wait();
  if (state.failure) {
    // kUnavailable: no answer (is the system up?); kUnprocessable: an answer the setup cannot go on with.
    auto text = "setup failed: " + *state.failure;
    return state.failure_answered ? Error::unprocessable(std::move(text))
                                  : Error::unavailable(std::move(text));
  }
  // Customer k belongs to worker k % threads from now on (the workers have not started: no race).
  for (std::size_t k = 0; k < state.customers.size(); ++k) {
    impl.workers[k % impl.workers.size()]->customers.push_back(std::move(state.customers[k]));
  }
  return SetupSummary{.products = impl.options.products,
                      .stock = impl.options.stock,
                      .customers = impl.options.customers,
                      .seconds = seconds(Clock::now() - began),
                      .admin = admin.source,
                      .rate_limited = state.rate_limited,
                      .rate_limited_seconds = seconds(state.waited)};
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

TokenStats Driver::tokens() const {
  TokenStats all;
  for (const auto& w : impl_->workers) all.merge(w->tokens);
  return all;
}

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
    std::array<char, 4096> buf{};
    while (auto n = std::fread(buf.data(), 1, buf.size(), pipe)) text.append(buf.data(), n);
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
