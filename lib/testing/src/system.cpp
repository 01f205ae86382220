#include "mercato/testing/system.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <stdexcept>

#include "mercato/catalog/catalog.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato::testing {
namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string monolith_binary() {
  const char* dir = std::getenv("MERCATO_BUILD_DIR");
  std::string build = dir != nullptr ? dir : MERCATO_BUILD_DIR;
  return build + "/apps/monolith/mercato-monolith";
}

}  // namespace

std::string to_string(Topology t) { return t == Topology::kMonolith ? "monolith" : "processes"; }

std::string topology_name(const ::testing::TestParamInfo<Topology>& info) { return to_string(info.param); }

const std::vector<std::string>& all_services() {
  static const std::vector<std::string> kNames{"user",         "inventory", "payment", "shipping",
                                               "notification", "order",     "gateway"};
  return kNames;
}

std::map<std::string, std::string> System::env_for(const std::string& service) const {
  std::map<std::string, std::string> env{{"APP_LOG__LEVEL", "warn"},
                                         {"APP_SERVER__PORT", std::to_string(ports_.at(service))}};
  auto address = [this](const std::string& s) { return "127.0.0.1:" + std::to_string(ports_.at(s)); };
  const auto* described = catalog::find(service);
  if (described == nullptr) throw std::invalid_argument("no service described as '" + service + "'");
  if (described->kind == catalog::Kind::kGateway) {
    // What each service serves comes from its description; where it runs is this system's.
    for (const auto& [name, port] : ports_) {
      const auto* other = catalog::find(name);
      if (other != nullptr && other->kind == catalog::Kind::kService)
        env["APP_GATEWAY__SERVICES__" + upper(name) + "__UPSTREAM"] = address(name);
    }
  } else {
    if (described->storage != catalog::Storage::kNone)
      env["APP_DATABASE__PATH"] = (dir_ / (service + ".db")).string();
    for (auto other : described->calls) {
      std::string name(other);
      if (ports_.count(name) != 0) env["APP_UPSTREAMS__" + upper(name)] = address(name);
    }
  }
  for (const auto& [k, v] : TestTokens::instance().env_for(service)) env[k] = v;
  if (described->kind != catalog::Kind::kGateway) {
    for (const auto& [k, v] : settings_.common) env[k] = v;
  }
  if (auto it = settings_.per_service.find(service); it != settings_.per_service.end()) {
    for (const auto& [k, v] : it->second) env[k] = v;
  }
  return env;
}

System::System(std::filesystem::path dir, SystemSettings settings, std::chrono::milliseconds ready_timeout)
    : dir_(std::move(dir)), settings_(std::move(settings)) {
  // The ports are reserved (bound sockets of ours) while they are chosen, so that two of ours are
  // distinct, and all released before the first process is forked: a reserved socket inherited by a
  // child that has not reached exec yet (where close-on-exec closes it) would still hold its port when
  // the next process tries to bind it (seen: the gateway refused "address in use").
  std::vector<int> reserved;
  for (const auto& s : settings_.services) {
    auto [port, fd] = reserve_port();
    ports_[s] = port;
    reserved.push_back(fd);
  }
  for (int fd : reserved) ::close(fd);
  bool monolith = settings_.topology == Topology::kMonolith;
  auto separate = [&](const std::string& s) { return !monolith || contains(settings_.outside_monolith, s); };
  auto with_broker = [&](std::map<std::string, std::string> env, const std::string& url) {
    if (!url.empty() && env.count("APP_EVENTS__URL") == 0) env["APP_EVENTS__URL"] = url;
    return env;
  };
  // Separate processes first (a split-out service is what the monolith then calls over HTTP).
  for (const auto& s : settings_.services) {
    if (!separate(s)) continue;
    auto env = env_for(s);
    if (s != "gateway")
      env = with_broker(std::move(env), monolith ? settings_.monolith_broker : settings_.broker_url);
    started_[s] = {binary(s), {}, std::move(env)};
    processes_[s] = std::make_unique<Process>(started_[s].binary, started_[s].args, started_[s].env);
  }
  if (monolith) {
    std::map<std::string, std::string> env{{"APP_MONOLITH__CONFIG_DIR", ""},
                                           {"APP_MONOLITH__LOG__LEVEL", "warn"}};
    std::string modules;
    for (const auto& s : settings_.services) {
      if (separate(s)) continue;
      modules += (modules.empty() ? "" : ",") + s;
      auto module_env = env_for(s);
      if (s != "gateway") module_env = with_broker(std::move(module_env), settings_.monolith_broker);
      for (const auto& [k, v] : module_env) env["APP_" + upper(s) + "__" + k.substr(4)] = v;
    }
    env["APP_MONOLITH__MODULES"] = modules;
    for (const auto& [k, v] : settings_.monolith) env[k] = v;
    auto& monolith_started = started_["monolith"] = {monolith_binary(), {"--config", ""}, std::move(env)};
    processes_["monolith"] =
        std::make_unique<Process>(monolith_started.binary, monolith_started.args, monolith_started.env);
  }
  // Ready, or fail at once when a process has exited (a configuration error) rather than at the timeout.
  auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  for (const auto& s : settings_.services) {
    for (;;) {
      if (wait_ready(ports_.at(s), std::chrono::milliseconds(200))) break;
      bool exited = false;
      std::string statuses;
      for (auto& [name, process] : processes_) {
        if (auto status = process->wait(std::chrono::milliseconds(0))) {
          exited = true;
          statuses += " " + name + " exited with status " + std::to_string(*status) + ";";
        }
      }
      if (exited || std::chrono::steady_clock::now() >= deadline) {
        auto text = logs();
        stop();
        throw std::runtime_error(s + " (" + to_string(settings_.topology) + ") did not become ready" +
                                 (exited ? " (" + statuses + " )" : "") + ":\n" + text);
      }
    }
  }
  // A process that could not bind its port has exited, and whatever answered there was not ours.
  for (auto& [name, process] : processes_) {
    if (auto status = process->wait(std::chrono::milliseconds(0))) {
      auto text = logs();
      stop();
      throw std::runtime_error(name + " exited with status " + std::to_string(*status) +
                               " while the system started:\n" + text);
    }
  }
}

System::~System() { stop(); }

std::uint16_t System::port(const std::string& service) const {
  auto it = ports_.find(service);
  if (it == ports_.end()) throw std::out_of_range("service not running in this system: " + service);
  return it->second;
}

Process& System::process_of(const std::string& service) {
  if (auto it = processes_.find(service); it != processes_.end()) return *it->second;
  if (ports_.count(service) != 0 && processes_.count("monolith") != 0) return *processes_.at("monolith");
  throw std::out_of_range("service not running in this system: " + service);
}

void System::restart(const std::string& service, std::chrono::milliseconds ready_timeout) {
  if (ports_.count(service) == 0) throw std::out_of_range("service not running in this system: " + service);
  std::string name = processes_.count(service) != 0 ? service : "monolith";
  auto& process = processes_.at(name);
  if (process->running()) {
    process->signal(SIGTERM);
    if (!process->wait(std::chrono::seconds(10))) process->signal(SIGKILL);
  }
  process->wait(std::chrono::seconds(5));
  const auto& how = started_.at(name);
  process = std::make_unique<Process>(how.binary, how.args, how.env);
  auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  for (const auto& [s, port] : ports_) {
    if (processes_.count(s) != 0 ? s != name : name != "monolith") continue;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!wait_ready(port, std::max(left, std::chrono::milliseconds(1))))
      throw std::runtime_error(s + " did not become ready after " + name + " restarted:\n" + process->log());
  }
}

std::string System::logs() const {
  std::string out;
  for (const auto& [name, process] : processes_) out += "--- " + name + " ---\n" + process->log() + "\n";
  return out;
}

void System::stop() {
  for (auto& [name, process] : processes_) {
    if (process->running()) process->signal(SIGTERM);
  }
  for (auto& [name, process] : processes_) {
    if (!process->wait(std::chrono::seconds(10))) process->signal(SIGKILL);
  }
}

}  // namespace mercato::testing
