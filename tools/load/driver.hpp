// Driver: the load generator's I/O — the setup phase, the run (open or closed loop), reading the placed
// orders back, and the invariant checker. What it measures goes into a RunReport (report.hpp).
//
//   load::Driver driver(options, endpoint, seed);
//   auto setup = driver.setup({.token = admin_token});  // products (as the admin), customers logged in
//   driver.run([](const load::ProgressSnapshot& s) { draw(s); });
//   auto orders = driver.settle();                     // confirmed / cancelled / pending, placed → confirmed
//   auto tokens = driver.tokens();                     // the customers' tokens renewed meanwhile
//   auto check = load::run_checker(command, options.check_wait);
//
// Who sends what: products are stocked as the admin; registrations and product reads are anonymous;
// every order operation (place, read, cancel, and the settle phase's reads) is sent by one of the
// setup's customers with their own access token, for their own orders. Customer k of the setup belongs
// to worker k % threads, so a customer's session and orders are touched only on that worker's thread.
// A session is renewed (refresh token, else a new login) in the background once 3/4 of its life has
// passed, so runs longer than a token's life (15 minutes by default) keep going, and renewals never
// delay a measured operation (credentials.hpp).
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

#include "credentials.hpp"
#include "mercato/core/result.hpp"
#include "mercato/http/client.hpp"
#include "options.hpp"
#include "report.hpp"

namespace mercato::load {

// How the setup acts as the admin (main() resolves it from the options and the environment).
struct AdminAccess {
  std::string token;     // an admin's access token; empty: log in as kAdminEmail with `password`
  std::string password;  // the bootstrap admin's password
  std::string source;    // where they came from, for messages and the summary (AdminCredentials::source)
};

class Driver {
 public:
  Driver(const Options& options, http::Endpoint gateway, std::uint64_t seed);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Creates the products (PUT /api/inventory/{prefix}-p{i}) as the admin (logging in first when given a
  // password), then registers the customers (POST /api/users) and logs each in (POST /api/auth/login).
  // A 429 (a rate limit of the gateway or the login limits) pauses every setup request for its
  // Retry-After (at most 60 s at a time), then the request is sent again. The first other failure is
  // returned as an Error naming the step, the request and its answer.
  Result<SetupSummary> setup(const AdminAccess& admin);

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

  // The customers' token renewals so far (call after settle()).
  TokenStats tokens() const;

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
