// The whole system for an end-to-end test, in either topology (docs/topologies.md): the six services and
// the gateway as separate processes, or as the modules of one mercato-monolith process. A test written
// against System runs unchanged against both, which is how CI checks that the monolith behaves as the
// separate services do.
//
//   class Flow : public ::testing::TestWithParam<testing::Topology> {};
//   TEST_P(Flow, OrderIsConfirmed) {
//     testing::System system(dir, {.topology = GetParam(), .broker_url = nats_url});
//     auto r = testing::http(system.port("gateway"), "GET", "/api/inventory");
//   }
//   INSTANTIATE_TEST_SUITE_P(Topologies, Flow, testing::kTopologies, testing::topology_name);
//
// Every service gets its own database file under `dir`, a free port, the suite's token keys (tokens.hpp)
// and the addresses of the services it calls; the gateway gets a route to each running service. With
// separate processes the events go through `broker_url` (a real broker: NATS or Kafka); the monolith's
// go through its in-process broker unless `monolith_broker` is set (a module split out of the monolith
// needs a broker both processes reach).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mercato/testing/testing.hpp"

namespace mercato::testing {

enum class Topology { kProcesses, kMonolith };
inline constexpr std::array<Topology, 2> kTopologyList{Topology::kProcesses, Topology::kMonolith};
inline const auto kTopologies = ::testing::ValuesIn(kTopologyList);
std::string to_string(Topology t);
// For INSTANTIATE_TEST_SUITE_P: "processes" / "monolith".
std::string topology_name(const ::testing::TestParamInfo<Topology>& info);

// The services in set-up order (the user service first, the gateway last).
const std::vector<std::string>& all_services();

struct SystemSettings {
  Topology topology = Topology::kProcesses;
  std::vector<std::string> services = all_services();  // which run; each needs the ones it calls
  std::string broker_url;       // events between processes: nats://… or kafka://…; empty = in-process
  std::string monolith_broker;  // the monolith's events: empty = its in-process broker
  // APP_* variables as a service binary reads them (APP_SAGA__MODE=choreography): for every domain
  // service (not the gateway, which has no events or database), then per service (winning over `common`).
  std::map<std::string, std::string> common;
  std::map<std::string, std::map<std::string, std::string>> per_service;
  // Services that run as their own process beside the monolith (the split-out case); ignored for
  // Topology::kProcesses.
  std::vector<std::string> outside_monolith;
  // APP_MONOLITH__* variables for the monolith process itself, e.g. APP_MONOLITH__SERVER__THREADS: the
  // I/O threads its modules share (a module's own server.threads applies only to its own process).
  // Ignored for Topology::kProcesses.
  std::map<std::string, std::string> monolith;
};

class System {
 public:
  // Starts everything and waits until every service is ready; throws std::runtime_error with the logs
  // when something does not start within the timeout.
  System(std::filesystem::path dir, SystemSettings settings,
         std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  ~System();
  System(const System&) = delete;
  System& operator=(const System&) = delete;

  std::uint16_t port(const std::string& service) const;
  const SystemSettings& settings() const noexcept { return settings_; }
  // The process that runs `service` (the monolith for each of its modules).
  Process& process_of(const std::string& service);
  // Starts the process that runs `service` again (stopping it first if it still runs: SIGTERM, SIGKILL
  // after 10 s), with the same ports, databases and environment, and waits until every service in it is
  // ready — after a test killed or stopped it. For a module of the monolith that is the whole monolith.
  // Throws std::runtime_error (with the log) when it does not become ready within `ready_timeout`.
  void restart(const std::string& service,
               std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));
  // Every process's log, labelled, for a failure message.
  std::string logs() const;
  // SIGTERM to every process, then waits for them to exit (bounded); idempotent.
  void stop();

 private:
  std::map<std::string, std::string> env_for(const std::string& service) const;
  std::filesystem::path dir_;
  SystemSettings settings_;
  std::map<std::string, std::uint16_t> ports_;
  std::map<std::string, std::unique_ptr<Process>> processes_;  // by service, or "monolith"
  struct Started {
    std::string binary;
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
  };
  std::map<std::string, Started> started_;  // how each of processes_ was started, for restart()
};

}  // namespace mercato::testing
