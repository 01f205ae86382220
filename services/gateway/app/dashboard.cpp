#include "app/dashboard.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <set>

#include "mercato/observability/exposition.hpp"

namespace mercato::gateway {

namespace asio = boost::asio;

namespace {

// A service with more dead letters than this shows the first ones and their total.
constexpr std::size_t kMaxLettersShown = 200;

std::string_view circuit_name(double state) {
  if (state >= 1.5) return "half_open";
  if (state >= 0.5) return "open";
  return "closed";
}

boost::json::value number_or_null(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

// The message of a service's JSON error body, or the body's start when it is not one.
std::string error_message(const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      if (const auto* m = e->as_object().if_contains("message"); m != nullptr && m->is_string()) {
        return std::string(m->get_string());
      }
    }
  }
  return body.substr(0, 200);
}

}  // namespace

Dashboard::Dashboard(DashboardSettings settings, const RouteTable& table, const PolicyHolder& policies,
                     http::Client& client, obs::Registry& own_metrics, std::function<bool()> self_ready,
                     std::string self_name)
    : settings_(std::move(settings)),
      table_(table),
      policies_(policies),
      client_(client),
      own_metrics_(own_metrics),
      self_ready_(std::move(self_ready)),
      self_name_(std::move(self_name)) {}

std::map<std::string, std::vector<std::pair<std::string, http::Endpoint>>> Dashboard::routed_instances()
    const {
  std::map<std::string, std::vector<std::pair<std::string, http::Endpoint>>> out;
  auto traffic = policies_.current();
  for (const auto& [route, upstream] : table_.all()) {
    auto& list = out[upstream.service];
    auto add = [&list](const http::Endpoint& e) {
      auto address = e.to_string();
      for (const auto& [a, _] : list) {
        if (a == address) return;
      }
      list.emplace_back(std::move(address), e);
    };
    const auto* service = traffic ? traffic->service(route) : nullptr;
    if (service == nullptr || service->subsets.empty()) {
      add(upstream.endpoint);
      continue;
    }
    for (const auto& [_, subset] : service->subsets) {
      for (const auto& e : subset->instances()) add(e);
    }
  }
  return out;
}

asio::awaitable<void> Dashboard::probe(Instance& instance) {
  auto now = DashboardClock::now();
  std::string metrics;
  if (instance.self) {
    bool ready = self_ready_ ? self_ready_() : true;
    instance.health = ready ? "ready" : "not_ready";
    instance.detail = ready ? "" : "a readiness check fails";
    metrics = own_metrics_.render();
  } else {
    http::ClientRequest health{.method = http::Method::kGet, .target = "/health/ready"};
    auto answer =
        co_await client_.send(instance.endpoint, std::move(health), {.timeout = settings_.probe_timeout});
    if (!answer) {
      instance.health = "down";
      instance.detail = answer.error().message;
      co_return;
    }
    instance.health = answer->status == 200 ? "ready" : "not_ready";
    instance.detail = answer->status == 200 ? "" : error_message(answer->body);
    http::ClientRequest get{.method = http::Method::kGet, .target = "/metrics"};
    auto scraped =
        co_await client_.send(instance.endpoint, std::move(get), {.timeout = settings_.probe_timeout});
    if (!scraped || scraped->status != 200) co_return;  // health is known; the figures wait for next time
    metrics = std::move(scraped->body);
  }
  auto samples = obs::parse_exposition(metrics);
  if (!samples) {
    instance.detail = "metrics unreadable: " + samples.error().message;
    co_return;
  }
  instance.readings.push_back(reduce(*samples, now));
  while (instance.readings.size() > static_cast<std::size_t>(settings_.history) + 1)
    instance.readings.pop_front();
}

asio::awaitable<void> Dashboard::refresh() {
  auto routed = routed_instances();
  routed[self_name_];  // the gateway itself, read from its own registry
  // Services and instances no longer routed go; new ones come.
  std::erase_if(services_, [&routed](const auto& s) { return routed.count(s.first) == 0; });
  for (auto& [name, instances] : routed) {
    auto& view = services_[name];
    view.name = name;
    view.routes.clear();
    for (const auto& [route, upstream] : table_.all()) {
      if (upstream.service == name) view.routes.push_back(route);
    }
    std::set<std::string> present;
    if (name == self_name_) {
      present.insert("self");
      auto& self = view.instances["self"];
      self.address = "self";
      self.self = true;
    }
    for (const auto& [address, endpoint] : instances) {
      present.insert(address);
      auto& instance = view.instances[address];
      instance.address = address;
      instance.endpoint = endpoint;
    }
    std::erase_if(view.instances, [&present](const auto& i) { return present.count(i.first) == 0; });
  }
  for (auto& service : services_) {
    for (auto& instance : service.second.instances) co_await probe(instance.second);
  }
  // One chart point per service: the last interval, summed over its instances.
  auto wall =
      std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::map<std::string, std::vector<http::Endpoint>> ready;
  for (auto& [name, view] : services_) {
    Window last;
    bool any = false;
    for (const auto& [_, instance] : view.instances) {
      if (instance.health == "ready" && !instance.self) ready[name].push_back(instance.endpoint);
      const auto& r = instance.readings;
      if (r.size() >= 2 && r.back().at > r[r.size() - 2].at) {
        last += window(r[r.size() - 2], r.back());
        any = true;
      }
    }
    if (any) {
      auto rate = rates(last);
      view.series.push_back({wall, rate.per_second, rate.error_ratio, rate.p99_ms.value_or(-1)});
      while (view.series.size() > static_cast<std::size_t>(settings_.history)) view.series.pop_front();
    }
  }
  auto text = render();
  std::lock_guard lock(mutex_);
  rendered_ = std::move(text);
  ready_ = std::move(ready);
  last_refresh_ = DashboardClock::now();
}

std::string Dashboard::render() const {
  using boost::json::array;
  using boost::json::object;
  // Figures over the last ten seconds of readings, or over what there is.
  constexpr auto kSpan = std::chrono::seconds(10);
  array services;
  array circuits;
  auto traffic = policies_.current();
  auto now = resilience::Clock::now();
  for (const auto& [name, view] : services_) {
    array instances;
    Window sum;
    int ready = 0;
    double dead_letters = 0;
    bool has_bus = false;
    std::map<std::string, double> worst;  // this service's circuits: upstream -> worst state over instances
    for (const auto& [address, instance] : view.instances) {
      object i{{"address", address}, {"health", instance.health}};
      if (!instance.detail.empty()) i["detail"] = instance.detail;
      if (instance.health == "ready") ++ready;
      if (!instance.readings.empty()) {
        const auto& newest = instance.readings.back();
        const auto* older = &instance.readings.front();
        for (const auto& r : instance.readings) {
          if (newest.at - r.at >= kSpan) older = &r;
        }
        if (newest.at > older->at) sum += window(*older, newest);
        i["resident_bytes"] = newest.resident_bytes;
        if (newest.dead_letters) {
          has_bus = true;
          dead_letters += *newest.dead_letters;
          i["dead_letters"] = *newest.dead_letters;
        }
        i["outbox_lag_seconds"] = number_or_null(newest.outbox_lag_seconds);
        // The gateway's own breakers are listed from the policy in force (below), not from its gauges.
        if (!instance.self) {
          for (const auto& [upstream, state] : newest.circuits)
            worst[upstream] = std::max(worst[upstream], state);
        }
      }
      instances.push_back(std::move(i));
    }
    for (const auto& [upstream, state] : worst) {
      circuits.push_back(object{{"from", name}, {"to", upstream}, {"state", circuit_name(state)}});
    }
    auto rate = rates(sum);
    array t, per_second, error_ratio, p99;
    for (const auto& p : view.series) {
      t.push_back(p.t_ms);
      per_second.push_back(p.per_second);
      error_ratio.push_back(p.error_ratio);
      p99.push_back(p.p99_ms < 0 ? boost::json::value(nullptr) : boost::json::value(p.p99_ms));
    }
    array routes;
    for (const auto& r : view.routes) routes.emplace_back(r);
    auto total = static_cast<int>(view.instances.size());
    object s{{"name", name},
             {"routes", std::move(routes)},
             {"health", ready == total && total > 0 ? "ready" : (ready > 0 ? "degraded" : "down")},
             {"instances", std::move(instances)},
             {"rate", object{{"per_second", rate.per_second},
                             {"error_ratio", rate.error_ratio},
                             {"p50_ms", number_or_null(rate.p50_ms)},
                             {"p99_ms", number_or_null(rate.p99_ms)}}},
             {"series", object{{"t", std::move(t)},
                               {"per_second", std::move(per_second)},
                               {"error_ratio", std::move(error_ratio)},
                               {"p99_ms", std::move(p99)}}}};
    if (has_bus) s["dead_letters"] = dead_letters;
    services.push_back(std::move(s));
  }
  // The gateway's own breakers, in process: one per route and subset of the policy in force.
  if (traffic) {
    for (const auto& [route, _] : table_.all()) {
      const auto* service = traffic->service(route);
      if (service == nullptr) continue;
      for (const auto& [subset, upstream] : service->subsets) {
        circuits.push_back(object{{"from", self_name_},
                                  {"to", upstream->settings().name},
                                  {"state", resilience::to_string(upstream->breaker().state(now))}});
      }
    }
  }
  object root{{"generated_at_ms",
               std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch())
                   .count()},
              {"refresh_ms", settings_.refresh.count()},
              {"trace_url", settings_.trace_url},
              {"services", std::move(services)},
              {"circuits", std::move(circuits)}};
  return boost::json::serialize(root);
}

namespace {

// Clears the refreshing flag however a refresh ends. The flag is shared: a refresh still waiting when the
// gateway stops is destroyed with the I/O contexts, after the Dashboard itself.
struct Release {
  std::shared_ptr<std::atomic<bool>> flag;
  ~Release() { flag->store(false); }
};

}  // namespace

asio::awaitable<void> Dashboard::refresh_in_background() {
  Release release{refreshing_};
  co_await refresh();
}

asio::awaitable<std::string> Dashboard::overview() {
  bool stale = false;
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = rendered_.empty();
    stale = first || DashboardClock::now() - last_refresh_ >= settings_.refresh;
  }
  if (stale && !refreshing_->exchange(true)) {
    if (first) {
      Release release{refreshing_};
      co_await refresh();
    } else {
      // The caller gets the last overview at once, not the sum of every instance's answer time: what it
      // shows is at most one refresh older than what the refresh under way will show.
      asio::co_spawn(co_await asio::this_coro::executor, refresh_in_background(), asio::detached);
    }
  }
  std::lock_guard lock(mutex_);
  co_return rendered_.empty() ? std::string(R"({"services":[],"circuits":[],"refresh_ms":)") +
                                    std::to_string(settings_.refresh.count()) + "}"
                              : rendered_;
}

std::optional<http::Endpoint> Dashboard::ready_instance(const std::string& service) const {
  std::lock_guard lock(mutex_);
  auto it = ready_.find(service);
  if (it == ready_.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

asio::awaitable<std::string> Dashboard::dead_letters(std::string authorization, std::string request_id) {
  // Which instances are ready is what the last refresh found: before the first one (the page asks for
  // its dead letters and its overview at once), the refresh runs now.
  bool never_refreshed = false;
  {
    std::lock_guard lock(mutex_);
    never_refreshed = rendered_.empty();
  }
  if (never_refreshed) (void)co_await overview();
  boost::json::array out;
  std::set<std::string> names;
  for (const auto& [_, upstream] : table_.all()) names.insert(upstream.service);
  for (const auto& name : names) {
    boost::json::object entry{{"service", name}};
    auto instance = ready_instance(name);
    if (!instance) {
      entry["error"] = boost::json::object{{"message", "no ready instance"}};
      out.push_back(std::move(entry));
      continue;
    }
    http::ClientRequest get{.method = http::Method::kGet, .target = "/admin/dead-letters"};
    get.headers.set("Authorization", authorization);
    get.headers.set(http::kRequestIdHeader, request_id);
    auto answer = co_await client_.send(*instance, std::move(get), {.timeout = settings_.probe_timeout * 4});
    if (!answer) {
      entry["error"] = boost::json::object{{"message", answer.error().message}};
    } else if (answer->status == 404) {
      continue;  // a service without an event bus keeps no dead letters
    } else if (answer->status != 200) {
      entry["error"] =
          boost::json::object{{"status", answer->status}, {"message", error_message(answer->body)}};
    } else {
      boost::system::error_code ec;
      auto body = boost::json::parse(answer->body, ec);
      const auto* letters = !ec && body.is_object() ? body.as_object().if_contains("dead_letters") : nullptr;
      if (letters == nullptr || !letters->is_array()) {
        entry["error"] = boost::json::object{{"message", "unreadable answer"}};
      } else {
        // What the page shows, not the events' data: that can hold what only the service should see
        // (an order's payment token), and an operator who needs it asks the service (./mercato dlq).
        boost::json::array shown;
        for (const auto& item : letters->get_array()) {
          if (!item.is_object() || shown.size() >= kMaxLettersShown) continue;
          const auto& d = item.get_object();
          boost::json::object row;
          for (const char* key : {"id", "consumer", "error", "attempts", "failed_at"}) {
            if (const auto* v = d.if_contains(key)) row[key] = *v;
          }
          if (const auto* e = d.if_contains("event"); e != nullptr && e->is_object()) {
            for (const char* key : {"type", "subject", "source"}) {
              if (const auto* v = e->get_object().if_contains(key)) row[key] = *v;
            }
          }
          shown.push_back(std::move(row));
        }
        entry["total"] = letters->get_array().size();
        entry["dead_letters"] = std::move(shown);
      }
    }
    out.push_back(std::move(entry));
  }
  co_return boost::json::serialize(boost::json::object{{"services", std::move(out)}});
}

asio::awaitable<http::Response> Dashboard::redrive(std::string service, std::string id,
                                                   std::string authorization, std::string request_id) {
  bool known = false;
  for (const auto& [_, upstream] : table_.all()) known = known || upstream.service == service;
  if (!known) co_return http::Response::error(Error::not_found("service", service), request_id);
  auto instance = ready_instance(service);
  if (!instance) {
    co_return http::Response::error_verbatim(
        Error::unavailable("service '" + service + "' has no ready instance"), request_id, {});
  }
  http::ClientRequest post{.method = http::Method::kPost, .target = "/admin/dead-letters/" + id + "/redrive"};
  post.headers.set("Authorization", authorization);
  post.headers.set(http::kRequestIdHeader, request_id);
  auto answer = co_await client_.send(*instance, std::move(post), {.timeout = settings_.probe_timeout * 4});
  if (!answer) co_return http::Response::error(answer.error(), request_id);
  // The service's own answer (its operator endpoints say exactly why a redrive failed).
  co_return http::Response::json_text(answer->status, std::move(answer->body));
}

}  // namespace mercato::gateway
