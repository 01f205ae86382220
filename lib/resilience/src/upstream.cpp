#include "mercato/resilience/upstream.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

namespace mercato::resilience {
namespace {

double state_value(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return 0;
    case BreakerState::kOpen:
      return 1;
    case BreakerState::kHalfOpen:
      return 2;
  }
  return 0;
}

// A 503 with Retry-After is an instance alive and refusing work on purpose (shedding load: the order
// service's admission control, ADR 0018; a full blocking pool): counting it as a failure would open the
// circuit and eject the instance, refusing every request for the service because a few were refused,
// and a retry would add to the load it sheds. It is answered as it is.
bool failed(const Result<http::Response>& r) {
  if (!r) return true;
  if (r->status == 503 && r->headers.contains("Retry-After")) return false;
  return r->status >= 500;
}

}  // namespace

// The instances of the moment with their per-instance state (balancer counts, outlier ejections).
// Replaced whole when the instances change (set_instances); a call keeps the set it started with.
struct Members {
  std::vector<http::Endpoint> instances;
  LoadBalancer balancer;
  std::unique_ptr<OutlierDetector> outliers;
  std::vector<obs::Counter*> ejections;
  std::vector<bool> all_available;  // without outlier detection every instance always is

  Members(std::vector<http::Endpoint> endpoints, const UpstreamSettings& settings, obs::Registry& metrics)
      : instances(std::move(endpoints)), balancer(settings.balancing, instances.size()) {
    all_available.assign(instances.size(), true);
    if (settings.outliers) outliers = std::make_unique<OutlierDetector>(*settings.outliers, instances.size());
    for (const auto& endpoint : instances) {
      ejections.push_back(
          &metrics.counter("mercato_upstream_ejections_total", "Outlier ejections per instance",
                           {{"upstream", settings.name}, {"instance", endpoint.to_string()}}));
    }
  }

  std::vector<bool> available() const {
    std::vector<bool> out(instances.size(), true);
    if (outliers) {
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = !outliers->ejected(i);
    }
    return out;
  }
};

struct Upstream::Impl {
  UpstreamSettings settings;
  http::Client& client;
  obs::Registry& metrics;
  obs::Gauge& state;
  CircuitBreaker breaker;
  Bulkhead pool;
  RetryBudget budget;
  std::atomic<std::shared_ptr<Members>> members;
  std::atomic<std::int64_t> timeout_ms;  // settings.timeout, live (set_timeout)
  std::atomic<int> attempts;             // settings.retries.attempts, live (set_attempts)
  obs::Counter& circuit_open;
  obs::Counter& pool_full;
  obs::Counter& no_instance;
  obs::Counter& retries;
  obs::Counter& budget_exhausted;
  obs::Gauge& ejected;
  obs::Gauge& instance_count;

  Impl(UpstreamSettings s, std::vector<http::Endpoint> endpoints, http::Client& c, obs::Registry& m,
       const obs::Logger& logger)
      : settings(std::move(s)),
        client(c),
        metrics(m),
        state(m.gauge("mercato_upstream_circuit_state",
                      "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open",
                      {{"upstream", settings.name}})),
        breaker(settings.breaker,
                [this, &logger](BreakerState from, BreakerState to) {
                  state.set(state_value(to));
                  metrics
                      .counter("mercato_upstream_circuit_transitions_total", "Circuit breaker state changes",
                               {{"upstream", settings.name}, {"to", std::string(to_string(to))}})
                      .inc();
                  logger.warn("circuit breaker changed state", {{"upstream", settings.name},
                                                                {"from", std::string(to_string(from))},
                                                                {"to", std::string(to_string(to))}});
                }),
        pool(settings.pool),
        budget(settings.budget),
        timeout_ms(settings.timeout.count()),
        attempts(settings.retries.attempts),
        circuit_open(rejections(m, "circuit_open")),
        pool_full(rejections(m, "pool_full")),
        no_instance(rejections(m, "no_healthy_instance")),
        retries(m.counter("mercato_upstream_retries_total", "Retried calls", {{"upstream", settings.name}})),
        budget_exhausted(m.counter("mercato_upstream_retry_budget_exhausted_total",
                                   "Retries the retry budget did not allow", {{"upstream", settings.name}})),
        ejected(m.gauge("mercato_upstream_ejected_instances",
                        "Instances outlier detection has taken out of load balancing",
                        {{"upstream", settings.name}})),
        instance_count(m.gauge("mercato_upstream_instances", "Instances an upstream balances over",
                               {{"upstream", settings.name}})) {
    state.set(0);
    ejected.set(0);
    replace(std::move(endpoints));
  }

  obs::Counter& rejections(obs::Registry& registry, const char* reason) {
    return registry.counter("mercato_upstream_rejections_total",
                            "Calls refused before any instance was called, by reason",
                            {{"upstream", settings.name}, {"reason", reason}});
  }

  void replace(std::vector<http::Endpoint> endpoints) {
    instance_count.set(static_cast<double>(endpoints.size()));
    members.store(std::make_shared<Members>(std::move(endpoints), settings, metrics));
    ejected.set(0);
  }

  void record(Members& m, std::size_t instance, bool server_error, TimePoint now) {
    if (!m.outliers) return;
    if (m.outliers->on_result(instance, server_error, now)) {
      m.ejections[instance]->inc();
      ejected.set(static_cast<double>(m.outliers->ejected_count()));
    }
  }
};

namespace {

// Waits for a bulkhead slot: true when the call may run (it then owns a slot).
boost::asio::awaitable<bool> wait_for_slot(Bulkhead& pool, std::uint64_t id,
                                           const std::shared_ptr<boost::asio::steady_timer>& timer,
                                           const std::shared_ptr<std::atomic<bool>>& woken) {
  auto [ec] = co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  (void)ec;  // cancelled: woken; expired: timed out — the flag tells which
  if (woken->load()) co_return true;
  co_return !pool.abandon(id);  // the slot may have been handed over meanwhile: then it is ours
}

}  // namespace

Upstream::Upstream(UpstreamSettings settings, std::vector<http::Endpoint> instances, http::Client& client,
                   obs::Registry& metrics, const obs::Logger& logger)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(instances), client, metrics, logger)) {}

Upstream::~Upstream() = default;

CircuitBreaker& Upstream::breaker() noexcept { return impl_->breaker; }
const UpstreamSettings& Upstream::settings() const noexcept { return impl_->settings; }

void Upstream::evaluate_outliers(TimePoint now) {
  auto m = impl_->members.load();
  if (!m->outliers) return;
  m->outliers->evaluate(now);
  impl_->ejected.set(static_cast<double>(m->outliers->ejected_count()));
}

void Upstream::set_timeout(std::chrono::milliseconds timeout) { impl_->timeout_ms.store(timeout.count()); }
void Upstream::set_attempts(int attempts) { impl_->attempts.store(attempts); }
std::chrono::milliseconds Upstream::timeout() const {
  return std::chrono::milliseconds(impl_->timeout_ms.load());
}
int Upstream::attempts() const { return impl_->attempts.load(); }

void Upstream::set_instances(std::vector<http::Endpoint> instances) {
  // The same instances (in any order): keep their balancer counts and ejections.
  auto current = impl_->members.load();
  auto sorted = [](std::vector<http::Endpoint> v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.to_string() < b.to_string(); });
    return v;
  };
  if (sorted(current->instances) == sorted(instances)) return;
  impl_->replace(std::move(instances));
  // The failures that opened the circuit were those of instances that are no longer the upstream (a
  // seed address before discovery answered, instances that left): the new set starts closed.
  impl_->breaker.reset(Clock::now());
}

std::vector<http::Endpoint> Upstream::instances() const { return impl_->members.load()->instances; }

boost::asio::awaitable<Upstream::Call> Upstream::call(http::ClientRequest request, CallSettings settings,
                                                      bool retriable) {
  Call out;
  // What the attempts share, behind one pointer: a lambda capturing only that fits in std::function's
  // own storage, where four references cost an allocation per call.
  struct Shared {
    Call& out;
    http::ClientRequest& request;
    std::optional<http::Clock::time_point> deadline;
    Impl& impl;
  } shared{out, request, settings.deadline, *impl_};
  auto refusal = co_await call_with(
      settings, retriable,
      [s = &shared](const http::Endpoint& instance, std::chrono::milliseconds timeout,
                    bool last_try) -> boost::asio::awaitable<bool> {
        // A call that may be sent again keeps its request and sends a copy; the
        // last try sends the original. NOLINTNEXTLINE(bugprone-use-after-move):
        // only the last try moves, and no try follows it
        http::ClientRequest copy = last_try ? std::move(s->request) : s->request;
        s->out.result = co_await s->impl.client.send(
            instance, std::move(copy), http::CallOptions{.timeout = timeout, .deadline = s->deadline});
        co_return failed(s->out.result);
      });
  out.refused = refusal.refused;
  out.retry_after = refusal.retry_after;
  if (out.refused != Refused::kNone) out.result = refusal_error(impl_->settings.name, out.refused);
  co_return out;
}

boost::asio::awaitable<Upstream::Refusal> Upstream::call_with(CallSettings settings, bool retriable,
                                                              Attempt attempt) {
  auto& s = *impl_;
  Refusal out;
  auto now = Clock::now();
  if (!s.breaker.try_acquire(now)) {
    s.circuit_open.inc();
    out.refused = Refused::kCircuitOpen;
    out.retry_after = s.breaker.retry_after(now);
    co_return out;
  }
  auto timeout =
      settings.timeout.value_or(std::chrono::milliseconds(s.timeout_ms.load(std::memory_order_relaxed)));
  auto executor = co_await boost::asio::this_coro::executor;
  Bulkhead::Ticket ticket{Bulkhead::Admission::kRun, 0};
  if (!s.pool.try_run()) {
    // Only a call that may have to wait pays for its wake-up (two allocations and a timer).
    auto woken = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<boost::asio::steady_timer>(executor);
    ticket = s.pool.enter([woken, timer, executor] {
      woken->store(true);
      boost::asio::post(executor, [timer] { timer->cancel(); });
    });
    if (ticket.admission == Bulkhead::Admission::kQueued) {
      auto wait_until = std::chrono::steady_clock::now() + timeout;
      if (settings.deadline && *settings.deadline < wait_until) wait_until = *settings.deadline;
      timer->expires_at(wait_until);
      if (!co_await wait_for_slot(s.pool, ticket.id, timer, woken))
        ticket.admission = Bulkhead::Admission::kRefused;
    }
  }
  if (ticket.admission == Bulkhead::Admission::kRefused) {
    s.breaker.on_ignored();
    s.pool_full.inc();
    out.refused = Refused::kPoolFull;
    out.retry_after = std::chrono::seconds(1);
    co_return out;
  }

  auto retries = settings.retries.value_or(s.settings.retries);
  if (!settings.retries) retries.attempts = s.attempts.load(std::memory_order_relaxed);
  auto per_try = retries.per_try_timeout.count() > 0 ? std::min(retries.per_try_timeout, timeout) : timeout;
  // The budget weighs retries against the calls that could be retried (the others cost it nothing).
  bool may_retry = retriable && retries.attempts > 1;
  if (may_retry) s.budget.on_request(now);
  thread_local std::mt19937_64 jitter{std::random_device{}()};
  auto members = s.members.load();  // this call's instances, even if they change meanwhile
  auto& m = *members;
  bool last_failed = false;
  for (int attempt_number = 1;; ++attempt_number) {
    auto instance = m.outliers ? m.balancer.pick(m.available()) : m.balancer.pick(m.all_available);
    if (!instance) {
      out.refused = Refused::kNoHealthyInstance;
      break;
    }
    bool last_try = !may_retry || attempt_number >= retries.attempts;
    m.balancer.started(*instance);
    last_failed = co_await attempt(m.instances[*instance], per_try, last_try);
    m.balancer.finished(*instance);
    s.record(m, *instance, last_failed, Clock::now());
    if (!last_failed || last_try) break;
    auto delay = retry_delay(retries, attempt_number, jitter);
    if (settings.deadline && std::chrono::steady_clock::now() + delay >= *settings.deadline) break;
    if (!s.budget.try_retry(Clock::now())) {
      s.budget_exhausted.inc();
      break;
    }
    s.retries.inc();
    boost::asio::steady_timer pause(executor, delay);
    co_await pause.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  s.pool.leave();
  if (out.refused == Refused::kNoHealthyInstance) {
    s.breaker.on_ignored();
    s.no_instance.inc();
  } else if (last_failed) {
    s.breaker.on_failure(Clock::now());
  } else {
    s.breaker.on_success(Clock::now());
  }
  co_return out;
}

UpstreamSettings read_upstream_settings(const config::Section& section, std::string name) {
  UpstreamSettings s;
  s.name = std::move(name);
  s.timeout = section.duration("timeout", std::chrono::seconds(2));
  s.retries.attempts = static_cast<int>(section.integer("retries", 1, 0, 5)) + 1;
  s.pool.max_concurrent = static_cast<int>(section.integer("max_concurrent", 256, 1, 1'000'000));
  s.pool.max_pending = static_cast<int>(section.integer("max_pending", 256, 0, 1'000'000));
  auto breaker = section.section("circuit_breaker");
  s.breaker.failure_threshold = static_cast<int>(breaker.integer("failure_threshold", 5, 1, 1'000'000));
  s.breaker.recovery_timeout = breaker.duration("recovery_timeout", std::chrono::seconds(10));
  s.breaker.success_threshold = static_cast<int>(breaker.integer("success_threshold", 1, 1, 1'000'000));
  if (auto r = s.breaker.validate(); !r) {
    throw config::ConfigError("config key '" + breaker.path() + "." + r.error().field +
                              "': " + r.error().message);
  }
  return s;
}

// The refusals name only the service (never an address), so their messages are fit for clients; the
// detail says for the log that no call was made.
Error refusal_error(const std::string& upstream, Refused refused) {
  auto refusal = [](std::string message) {
    auto e = Error::unavailable(std::move(message));
    e.detail = "refused before any call";
    return e;
  };
  switch (refused) {
    case Refused::kCircuitOpen:
      return refusal("service '" + upstream + "' is failing: its circuit is open");
    case Refused::kPoolFull:
      return refusal("too many requests in flight to service '" + upstream + "'");
    case Refused::kNoHealthyInstance:
      return refusal("service '" + upstream + "' has no healthy instance");
    case Refused::kNone:
      break;
  }
  return Error::internal("not refused");
}

}  // namespace mercato::resilience
