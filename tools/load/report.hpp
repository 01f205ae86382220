// What a load run measured, the verdict on it, and its renderings: the text summary, the JSON document
// (schema in main.cpp's header) and the progress line. No I/O here: the driver fills a RunReport.
//
//   load::RunReport report = ...;                       // filled by the driver
//   auto verdict = load::judge(report);
//   std::cout << load::render_summary(report, verdict);
//   write(json_path, json::serialize(load::render_json(report, verdict)));
//
// Thread-safety: plain values.
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "mix.hpp"
#include "options.hpp"

namespace mercato::load {

// How an answered (or unanswered) operation counts.
enum class Outcome {
  kOk,           // the status the operation expects (201 for register and place_order, else 200)
  kConflict,     // cancel_order answered 409: the order was confirmed first — expected, not an error
  kClientError,  // another 4xx
  kServerError,  // 5xx
  kOther,        // an unexpected 1xx..3xx
  kTransport,    // no answer: cannot connect, timed out, connection closed (status 0)
};
Outcome classify(Op op, int status) noexcept;

// One operation's (or all operations') counts and latency.
struct OpStats {
  std::uint64_t count = 0;  // operations sent (every one ends in exactly one of the counters below)
  std::uint64_t ok = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t client_errors = 0;
  std::uint64_t server_errors = 0;
  std::uint64_t other_errors = 0;
  std::uint64_t transport_errors = 0;
  // Of the client errors, the two that say something about the run rather than the system's logic:
  std::uint64_t unauthorized = 0;  // 401: a token was refused (expired, or keys the service does not trust)
  std::uint64_t rate_limited = 0;  // 429: a rate limit of the gateway (or the login limits) refused it
  // Of the server errors: 503 with Retry-After, a refusal the system chose (the order service's admission
  // control under overload, ADR 0018), told apart from a failure.
  std::uint64_t overloaded = 0;
  Histogram latency;  // microseconds, from the intended start (open loop) or the send (closed loop)

  // `status`: the HTTP status (0: none), which counts 401 and 429 apart; `retry_after`: the answer
  // carried Retry-After (a 503 with it counts as overloaded too).
  void record(Outcome outcome, std::int64_t latency_us, int status = 0, bool retry_after = false);
  void merge(const OpStats& other);
  std::uint64_t errors() const noexcept {
    return client_errors + server_errors + other_errors + transport_errors;
  }
};

struct SetupSummary {
  int products = 0;
  std::int64_t stock = 0;
  int customers = 0;  // registered and logged in
  double seconds = 0;
  std::string admin;                // where the admin's credentials came from (AdminCredentials::source)
  std::uint64_t rate_limited = 0;   // setup requests answered 429 (and sent again after Retry-After)
  double rate_limited_seconds = 0;  // how long the setup waited for them
};

// The customers' tokens renewed during the run and the settle phase (before they expired).
struct TokenStats {
  std::uint64_t refreshed = 0;  // POST /api/auth/refresh answered a new pair
  std::uint64_t relogins = 0;   // the refresh token was refused, and a new login answered
  std::uint64_t failures = 0;   // neither: tried again later, the old token serving while it lasts

  void merge(const TokenStats& other) {
    refreshed += other.refreshed;
    relogins += other.relogins;
    failures += other.failures;
  }
};

// The orders the run placed, read back after it (settle phase).
struct OrderOutcome {
  std::uint64_t placed = 0;  // place_order answered 201
  std::uint64_t confirmed = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t pending = 0;     // still pending or pending_payment when --settle ran out
  std::uint64_t unreadable = 0;  // GET /api/orders/{id} never answered 200 with an order
  // confirmed order's updated_at − created_at (order service timestamps, 1 ms resolution), in µs
  Histogram placed_to_confirmed;
  std::optional<std::int64_t> first_placed_ms;    // smallest created_at of the orders read (Unix ms)
  std::optional<std::int64_t> last_confirmed_ms;  // largest updated_at of the confirmed ones
  double settle_seconds = 0;                      // how long reading them back took

  // Confirmed orders over the span from the first placement to the last confirmation (server clock).
  double confirmed_per_second() const noexcept;
  void merge(const OrderOutcome& other);
};

struct CheckOutcome {
  bool ran = false;
  bool passed = false;
  int attempts = 0;
  int exit_status = -1;
  double seconds = 0;
  std::string verdict;              // the checker's last line, e.g. "check: PASSED"
  std::vector<std::string> report;  // its output of the last attempt
};

struct RunReport {
  Options options;  // as run (prefix filled in)
  std::uint64_t seed = 0;
  SetupSummary setup;
  double elapsed_seconds = 0;  // from the first intended send to the last answer
  std::array<OpStats, kOpCount> ops;
  std::uint64_t unsent = 0;  // open loop: operations still waiting for a connection when --duration ended
  OrderOutcome orders;
  TokenStats tokens;
  CheckOutcome check;
  bool interrupted = false;  // stopped early by SIGINT

  OpStats total() const;
  // errors / operations sent (0 when nothing was sent)
  double error_rate() const;
};

struct Verdict {
  bool passed = true;
  std::vector<std::string> failures;  // why not
  std::vector<std::string> warnings;  // worth saying, not failing (unsent operations, unsettled orders)
};
Verdict judge(const RunReport& report);

std::string render_summary(const RunReport& report, const Verdict& verdict);
boost::json::object render_json(const RunReport& report, const Verdict& verdict);

// What the progress display shows, sampled from the live counters.
struct ProgressSnapshot {
  double elapsed_seconds = 0;
  std::optional<double> total_seconds;       // --duration
  std::uint64_t done = 0;                    // operations answered (or failed)
  std::optional<std::uint64_t> total_count;  // --count
  double rate = 0;                           // operations answered per second, recently
  std::uint64_t in_flight = 0;
  std::uint64_t queued = 0;  // open loop: due operations waiting for a connection
  std::uint64_t errors = 0;
};
// One line; with `bar` a 24-character progress bar first (for a terminal, redrawn in place).
std::string render_progress(const ProgressSnapshot& snapshot, bool bar);

}  // namespace mercato::load
