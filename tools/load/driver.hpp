// Driver: the load generator's I/O — the setup phase, the run (open or closed loop), reading the placed
// orders back, and the invariant checker. What it measures goes into a RunReport (report.hpp).
//
//   load::Driver driver(options, endpoint, seed);
//   auto setup = driver.setup();                       // products and customers, or why not
//   driver.run([](const load::ProgressSnapshot& s) { draw(s); });
//   auto orders = driver.settle();                     // confirmed / cancelled / pending, placed → confirmed
//   auto check = load::run_checker(command, options.check_wait);
//
// Threading: the Driver owns an http::IoPool of options.threads workers; each worker has its own
// share of the load (every threads-th intended send, or its share of the closed-loop clients), its own
// statistics and its own orders, touched only on that worker's thread; live counters for the progress
// display are atomics. Its public methods are called from one thread (the main thread), one at a time;
// run() calls `progress` on that thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mercato/core/result.hpp"
#include "mercato/http/client.hpp"
#include "options.hpp"
#include "report.hpp"

namespace mercato::load {

class Driver {
 public:
  Driver(const Options& options, http::Endpoint gateway, std::uint64_t seed);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Creates the products (PUT /api/inventory/{prefix}-p{i}) and registers the customers. The first
  // failure is returned as an Error saying which request failed and how.
  Result<SetupSummary> setup();

  // Sends the mix until the duration or the count is reached, then waits for the answers in flight
  // (each bounded by --timeout). Calls `progress` about four times a second.
  void run(const std::function<void(const ProgressSnapshot&)>& progress);
  const std::array<OpStats, kOpCount>& stats() const;
  std::uint64_t unsent() const;
  double elapsed_seconds() const;

  // Reads every order the run placed (GET /api/orders/{id}) until it is confirmed or cancelled, polling
  // the pending ones with backoff (50 ms doubling to 1 s) until --settle has passed. Calls `tick` (if
  // any) about four times a second.
  OrderOutcome settle(const std::function<void()>& tick = {});

  // Thread-safe (e.g. from the main thread on Ctrl-C): the run sends nothing more — due operations
  // count as unsent — and waits only for the answers in flight; settle() reads each order once more,
  // without waiting for the pending ones.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs `command` with /bin/sh -c (stdout and stderr captured) until it exits 0 or `wait` has passed,
// every 0.5 s; a command that cannot be run (exit 126/127) is not repeated.
CheckOutcome run_checker(const std::string& command, std::chrono::milliseconds wait);

}  // namespace mercato::load
