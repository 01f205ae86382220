#include "mercato/discovery/discovery.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <future>
#include <map>
#include <mutex>
#include <random>

#include "mercato/etcd/etcd.hpp"
#include "mercato/http/io_pool.hpp"
#include "mercato/json/json.hpp"

namespace mercato::discovery {

namespace asio = boost::asio;

std::string encode(const Instance& instance) {
  boost::json::object o{{"http", instance.http.to_string()},
                        {"version", instance.version},
                        {"zone", instance.zone},
                        {"weight", instance.weight}};
  if (instance.grpc) o["grpc"] = instance.grpc->to_string();
  return json::serialize(o);
}

Result<Instance> decode(std::string service, std::string id, std::string_view value) {
  MERCATO_ASSIGN_OR_RETURN(auto object, json::parse_object(value));
  json::FieldReader in(object);
  auto http_address = in.string("http", json::kRequired, {.min = 3, .max = 300});
  auto grpc_address = in.string("grpc", json::kOptional, {.min = 3, .max = 300});
  auto version = in.string("version", json::kOptional, {.min = 1, .max = 64});
  auto zone = in.string("zone", json::kOptional, {.min = 1, .max = 64});
  auto weight = in.integer("weight", json::kOptional, 0, 1000);
  MERCATO_RETURN_IF_ERROR(in.finish());
  Instance out;
  out.service = std::move(service);
  out.id = std::move(id);
  MERCATO_ASSIGN_OR_RETURN(out.http, http::Endpoint::parse(*http_address));
  if (grpc_address) {
    MERCATO_ASSIGN_OR_RETURN(auto grpc, http::Endpoint::parse(*grpc_address));
    out.grpc = std::move(grpc);
  }
  if (version) out.version = std::move(*version);
  if (zone) out.zone = std::move(*zone);
  if (weight) out.weight = static_cast<int>(*weight);
  return out;
}

std::vector<http::Endpoint> http_endpoints(const std::vector<Instance>& instances) {
  std::vector<http::Endpoint> out;
  out.reserve(instances.size());
  for (const auto& i : instances) out.push_back(i.http);
  return out;
}

std::vector<http::Endpoint> grpc_endpoints(const std::vector<Instance>& instances) {
  std::vector<http::Endpoint> out;
  out.reserve(instances.size());
  for (const auto& i : instances) {
    if (i.grpc) out.push_back(*i.grpc);
  }
  return out;
}

Result<void> validate(const Settings& s) {
  if (s.etcd.empty()) return Error::validation("etcd", "at least one etcd endpoint is needed");
  if (s.prefix.empty() || s.prefix.front() != '/' || s.prefix.back() == '/')
    return Error::validation("prefix", "must start with '/' and not end with one");
  if (s.ttl < std::chrono::seconds(2) || s.ttl > std::chrono::hours(1))
    return Error::validation("ttl", "must be within 2s..1h");
  if (s.deregister_delay.count() < 0) return Error::validation("deregister_delay", "must not be negative");
  if (s.retry_min.count() <= 0 || s.retry_max < s.retry_min)
    return Error::validation("retry", "retry_min must be positive and at most retry_max");
  return {};
}

std::string new_instance_id(std::string_view service, std::uint16_t port) {
  std::random_device random;
  std::array<char, 9> hex{};
  std::snprintf(hex.data(), hex.size(), "%08x", static_cast<unsigned>(random()));
  return std::string(service) + "-" + std::to_string(port) + "-" + hex.data();
}

struct Agent::Impl {
  Settings settings;
  const obs::Logger& logger;
  obs::Registry& metrics;
  obs::Gauge& registered_gauge;
  // The agent's own thread and client: discovery keeps working however busy the service's I/O threads
  // are, and a slow etcd never holds up a request.
  http::IoPool pool{1};
  http::Client http;
  etcd::Client etcd;
  // Touched on the agent's thread only.
  std::int64_t lease = 0;
  bool leaving = false;
  bool registering = false;  // the registration loop runs (a grant or a write may be under way)

  mutable std::mutex status_mutex;
  Status status;  // guarded by status_mutex

  Impl(Settings s, const obs::Logger& l, obs::Registry& m)
      : settings(std::move(s)),
        logger(l),
        metrics(m),
        registered_gauge(
            m.gauge("mercato_discovery_registered", "1 while this instance is registered in etcd")),
        http(pool, {.connect_timeout =
                        std::min<std::chrono::milliseconds>(settings.call_timeout, std::chrono::seconds(1)),
                    .request_timeout = settings.call_timeout}),
        etcd(http, {.endpoints = settings.etcd, .timeout = settings.call_timeout}) {
    registered_gauge.set(0);
  }

  std::string service_dir(std::string_view service) const {
    return settings.prefix + "/services/" + std::string(service) + "/";
  }

  void succeeded() {
    std::lock_guard lock(status_mutex);
    status.etcd_reachable = true;
    status.last_error.clear();
  }
  void failed(const char* op, const Error& e) {
    metrics.counter("mercato_discovery_errors_total", "Failed etcd calls of service discovery", {{"op", op}})
        .inc();
    bool first;
    {
      std::lock_guard lock(status_mutex);
      first = status.etcd_reachable;
      status.etcd_reachable = false;
      status.last_error = e.message;
    }
    // One warning when etcd goes away, not one per retry.
    if (first)
      logger.warn("etcd unreachable; keeping the last known state", {{"op", op}, {"error", e.message}});
  }
  void set_registered(bool on) {
    registered_gauge.set(on ? 1 : 0);
    std::lock_guard lock(status_mutex);
    status.registered = on;
  }

  asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  std::chrono::milliseconds next_backoff(std::chrono::milliseconds& backoff) const {
    auto now = backoff;
    backoff = std::min(backoff * 2, settings.retry_max);
    return now;
  }

  asio::awaitable<void> register_loop(Instance self, std::function<bool()> ready) {
    while (ready && !ready() && !leaving) co_await pause(std::chrono::milliseconds(100));
    auto key = service_dir(self.service) + self.id;
    auto value = encode(self);
    auto backoff = settings.retry_min;
    registering = true;
    while (!leaving) {
      auto granted = co_await etcd.grant(settings.ttl);
      if (granted && leaving) (void)co_await etcd.revoke(granted->id);
      if (leaving) break;
      if (!granted) {
        failed("grant", granted.error());
        co_await pause(next_backoff(backoff));
        continue;
      }
      auto put = co_await etcd.put(key, value, granted->id);
      // deregister() came while the key was being written (others may already see it): take it away.
      if (leaving) {
        (void)co_await etcd.revoke(granted->id);
        break;
      }
      if (!put) {
        failed("register", put.error());
        co_await pause(next_backoff(backoff));
        continue;
      }
      succeeded();
      lease = granted->id;
      set_registered(true);
      backoff = settings.retry_min;
      logger.info("registered in etcd", {{"key", key}, {"http", self.http.to_string()}});
      // Refresh at a third of the TTL: two refreshes may fail before the key expires.
      auto refresh = std::chrono::duration_cast<std::chrono::milliseconds>(settings.ttl) / 3;
      auto wait = refresh;
      while (!leaving) {
        co_await pause(wait);
        if (leaving) break;
        auto alive = co_await etcd.keep_alive(lease);
        if (leaving) break;
        if (alive) {
          succeeded();
          wait = refresh;
          continue;
        }
        if (alive.error().code == ErrorCode::kNotFound) {
          // Expired while etcd could not be reached (or revoked by someone): register anew.
          set_registered(false);
          lease = 0;
          logger.warn("registration lease lost; registering again", {{"key", key}});
          break;
        }
        failed("keepalive", alive.error());
        wait = std::min(refresh, next_backoff(backoff));
      }
    }
    registering = false;
  }

  // Every key under `dir` (relative to it) with its value, delivered whole after each change.
  asio::awaitable<void> watch_keys(std::string dir, std::string op,
                                   std::function<void(const std::map<std::string, std::string>&)> on_change) {
    std::map<std::string, std::string> current;
    std::int64_t revision = 0;  // everything up to here has been applied; 0: read anew
    auto backoff = settings.retry_min;
    while (!leaving_all) {
      if (revision == 0) {
        auto range = co_await etcd.get_prefix(dir);
        if (leaving_all) break;
        if (!range) {
          failed(op.c_str(), range.error());
          co_await pause(next_backoff(backoff));
          continue;
        }
        succeeded();
        current.clear();
        for (const auto& kv : range->kvs) current.insert_or_assign(kv.key.substr(dir.size()), kv.value);
        revision = range->revision;
        on_change(current);
      }
      auto watched = co_await etcd.watch_prefix(dir, revision + 1, [&](const etcd::WatchBatch& batch) {
        if (!batch.events.empty()) {
          for (const auto& e : batch.events) {
            auto key = e.kv.key.substr(dir.size());
            if (e.type == etcd::WatchEvent::Type::kDelete) {
              current.erase(key);
            } else {
              current.insert_or_assign(std::move(key), e.kv.value);
            }
            revision = std::max(revision, e.kv.mod_revision);
          }
          on_change(current);
        } else if (!batch.created) {
          revision = std::max(revision, batch.revision);  // a progress notification
        }
        if (batch.created) succeeded();
        backoff = settings.retry_min;
        return !leaving_all;
      });
      if (leaving_all) break;
      if (!watched && watched.error().code == ErrorCode::kConflict) {
        revision = 0;  // compacted past what we saw: read everything again
        continue;
      }
      failed(op.c_str(), watched ? Error::unavailable("etcd ended the watch") : watched.error());
      co_await pause(next_backoff(backoff));
    }
  }

  asio::awaitable<void> watch_instances(std::string service,
                                        std::function<void(const std::vector<Instance>&)> on_change) {
    auto& gauge = metrics.gauge("mercato_discovery_instances", "Instances of a called service, as discovered",
                                {{"service", service}});
    std::optional<std::vector<Instance>> published;
    auto dir = service_dir(service);
    co_await watch_keys(dir, "resolve", [&](const std::map<std::string, std::string>& keys) {
      std::vector<Instance> all;
      for (const auto& [id, value] : keys) {
        auto instance = decode(service, id, value);
        if (!instance) {
          logger.warn("ignoring an unreadable registration",
                      {{"key", dir + id}, {"error", instance.error().message}});
          continue;
        }
        all.push_back(std::move(*instance));
      }
      if (published && *published == all) return;
      gauge.set(static_cast<double>(all.size()));
      on_change(all);
      published = std::move(all);
    });
  }

  std::atomic<bool> leaving_all{false};  // set by the destructor: every loop ends
};

Agent::Agent(Settings settings, const obs::Logger& logger, obs::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(settings), logger, metrics)) {
  impl_->pool.start();
}

Agent::~Agent() {
  impl_->leaving_all = true;
  impl_->pool.stop();
  impl_->pool.join();
}

const Settings& Agent::settings() const noexcept { return impl_->settings; }

void Agent::register_instance(Instance self, std::function<bool()> ready) {
  auto* impl = impl_.get();
  asio::co_spawn(impl->pool.context(0), impl->register_loop(std::move(self), std::move(ready)),
                 [impl](const std::exception_ptr& e) {
                   if (e) impl->logger.error("service registration stopped by an exception");
                 });
}

void Agent::watch(std::string service, std::function<void(const std::vector<Instance>&)> on_change) {
  auto* impl = impl_.get();
  asio::co_spawn(impl->pool.context(0), impl->watch_instances(std::move(service), std::move(on_change)),
                 [impl](const std::exception_ptr& e) {
                   if (e) impl->logger.error("service discovery watch stopped by an exception");
                 });
}

void Agent::deregister(std::chrono::milliseconds timeout) {
  auto* impl = impl_.get();
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  // By value: a coroutine keeps its parameters, and the caller may stop waiting before it runs.
  auto leave =
      [](Impl* agent,
         std::shared_ptr<std::promise<void>> finished)  // NOLINT(performance-unnecessary-value-param)
      -> asio::awaitable<void> {
    agent->leaving = true;  // on the agent's thread: the registration loop sees it after its next step
    if (agent->lease == 0) {
      // Not registered yet, or the key is being written: the loop revokes what it was granted when it
      // sees `leaving`; wait for it (bounded by the caller's timeout).
      while (agent->registering && agent->lease == 0) co_await agent->pause(std::chrono::milliseconds(5));
    }
    if (agent->lease != 0) {
      auto lease = std::exchange(agent->lease, 0);
      auto revoked = co_await agent->etcd.revoke(lease);
      if (revoked) {
        agent->logger.info("deregistered from etcd");
      } else {
        agent->failed("deregister", revoked.error());  // the lease expires on its own
      }
    }
    agent->set_registered(false);
    finished->set_value();
  };
  asio::co_spawn(impl->pool.context(0), leave(impl, done), [](const std::exception_ptr&) {});
  future.wait_for(timeout);
}

void Agent::watch_config(const std::string& service,
                         std::function<void(const std::map<std::string, std::string>&)> on_change) {
  auto* impl = impl_.get();
  auto dir = impl->settings.prefix + "/config/" + service + "/";
  asio::co_spawn(impl->pool.context(0), impl->watch_keys(std::move(dir), "config", std::move(on_change)),
                 [impl](const std::exception_ptr& e) {
                   if (e) impl->logger.error("live configuration watch stopped by an exception");
                 });
}

Agent::Status Agent::status() const {
  std::lock_guard lock(impl_->status_mutex);
  return impl_->status;
}

}  // namespace mercato::discovery
