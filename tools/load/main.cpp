// mercato-load: the load generator. Drives a running Mercato through its gateway with a realistic mix,
// measures latency in HDR histograms, reads the placed orders back, runs the saga invariant checker and
// prints a summary (and JSON). Usually run as `./mercato load [OPTIONS]` (scripts/load.sh builds it,
// finds the gateway of the running `./mercato up` and passes the checker command); `--help` lists the
// options.
//
//   ./mercato up &                                   # the system
//   ./mercato load --rate 200 --duration 30s         # open loop: 200 operations/s for 30 s
//   ./mercato load --closed --connections 16 --count 5000 --json /tmp/load.json
//
// Who acts (docs/security.md): products are stocked by the admin; registrations and product reads are
// anonymous; every order operation is a customer's, with their own access token, on their own orders.
//
// Phases:
//   1. setup, in this order:
//      - the admin: --admin-token (or MERCATO_ADMIN_TOKEN), else a login (POST /api/auth/login) as
//        admin@mercato.local with the password in --admin-password-file (default: secrets/admin-password
//        under $MERCATO_VAR_DIR, else under <source>/var — what ./mercato up writes). Neither: exit 1.
//      - as the admin, PUT /api/inventory/{prefix}-p{i} for --products products with --stock units each
//        (so orders never run out unless asked);
//      - --customers customers: POST /api/users, then POST /api/auth/login; each keeps their access and
//        refresh tokens. Customer k belongs to I/O thread k % --threads (so --customers >= --threads).
//      The prefix is unique per run (ld-<time>-<random>), so runs against the same system do not
//      collide. A failure stops the run (exit 1) with the step, the request and its answer (a 401 on the
//      products: the admin token was refused, e.g. expired).
//      Rate limits: the gateway may limit registrations and logins per client address, and orders per
//      customer (rateLimits in its policy file, config/gateway-policy.yaml), and the user service limits
//      failed logins. A load run comes from one address, so its setup may be throttled: the setup takes
//      a 429 as "wait": every setup request pauses for the answer's Retry-After (at most 60 s at a
//      time, said on stderr) and the refused request is sent again, however long that takes. The run
//      itself does not pace: a 429 there is an error (4xx, counted apart as "429" with a warning), as
//      the limits are part of what the system does under that load; to measure capacity, run the
//      gateway with a policy without per-client limits (the benchmarks and the e2e test do).
//   2. run: each operation is drawn from --mix: register (POST /api/users, anonymous; the account is not
//      used for orders), read_product (GET /api/inventory/{id}, anonymous), and, as a customer drawn at
//      random among the thread's own: place_order (POST /api/orders: 1-3 lines of 1-3 units, tok_visa, a
//      Berlin address; no customer_id — the token's customer's), read_order (GET /api/orders/{id} of one
//      of that customer's recent orders) and cancel_order (POST /api/orders/{id}/cancel of that
//      customer's newest order not yet cancelled: 200 when it was still pending, 409 once confirmed —
//      counted as "conflicts", expected, not an error). A read_order or cancel_order drawn for a customer
//      without an order to act on yet is sent as a place_order instead; the counts show what was sent.
//      Tokens: a customer's session is renewed once 3/4 of its life (expires_in) has passed — refresh
//      (POST /api/auth/refresh), else a new login — in the background, so a run of any length keeps
//      valid tokens and no measured operation waits for a renewal (credentials.hpp).
//      Open loop (default, like wrk2): operation i is due at start + i/rate whatever happened before; at
//      most --connections are in flight and due ones wait for a slot; latency counts from the due time,
//      so a slow system's queueing shows in the numbers instead of slowing the sender (coordinated
//      omission). Operations still waiting when --duration ends are not sent ("unsent").
//      Closed loop (--closed): --connections clients, each sending its next operation when the last is
//      answered; latency from the send. Both end after --duration or --count operations, whichever comes
//      first; every request is bounded by --timeout.
//   3. settle: every placed order is read back (GET /api/orders/{id}, by its customer) until it is confirmed
//   or
//      cancelled; pending ones are polled with backoff (50 ms doubling to 1 s) until --settle passes, then
//      counted as pending. This phase starts after the run, so it does not disturb what was measured.
//      Placed → confirmed is the confirmed order's updated_at − created_at: both set by the order service
//      (created_at when it accepted the order, updated_at when the saga confirmed it; a confirmed order
//      never changes again), so it needs no polling during the run and no clock agreement between
//      machines. Its resolution is the API's timestamp precision, 1 ms (lib/core time.hpp).
//      Confirmed orders/s = confirmed / (last confirmation − first placement), on the same clock.
//   4. check: the checker command (default `<source>/mercato check`, scripts/check.sh) runs against the
//      same system; a failing check is repeated every 0.5 s for up to --check-wait, because an order's
//      last effects (its confirmation notification; in choreography the stock commit) land just after
//      its status does. Its verdict goes into the summary and the JSON.
//
// The histograms (histogram.hpp) cover 0 .. 60 s at 3 significant digits, in microseconds.
// Progress goes to stderr: redrawn in place on a terminal, otherwise one line every 5 s.
//
// Exit status: 0 passed; 1 the setup failed, the checker failed, or errors / operations sent exceeded
// --max-error-rate (default 0.01: a loaded system may shed a little, a broken one fails; give 0 to
// demand none); 2 bad options; 130 interrupted — the first Ctrl-C stops sending, waits for the answers
// in flight, reads each placed order once without waiting for pending ones, skips the checker, and prints the
// summary (a second one kills at once). Errors are unexpected statuses (4xx, 5xx, other) and requests without
// an answer; 409 on cancel_order is expected. Unsent operations and unsettled orders are warnings.
//
// JSON (--json FILE), schema 1; latencies are integer microseconds:
//   {
//     "tool": "mercato-load", "schema": 1,
//     "gateway": "127.0.0.1:8080", "prefix": "ld-...", "seed": 42,
//     "mode": "open" | "closed", "rate": 200.0 | null (closed), "connections": 32, "threads": 1,
//     "duration_s": 30.0 | null (only --count), "count": 5000 | null,
//     "mix": {"register": 5, "read_product": 40, "place_order": 30, "read_order": 20, "cancel_order": 5},
//     "setup": {"products": 20, "stock": 1000000000, "customers": 20, "seconds": 0.12,
//               "admin": "<where its credentials came from>",
//               "rate_limited": 0, "rate_limited_s": 0.0},  // setup requests answered 429, time waited
//     "elapsed_s": 30.01,                       // first due send .. last answer
//     "operations": {"<operation>": Stats, ...}, // the five operations above
//     "total": Stats,                           // all operations together
//     "unsent": 0,
//     "orders": {"placed": 1800, "confirmed": 1700, "cancelled": 100, "pending": 0, "unreadable": 0,
//                "confirmed_per_second": 56.6, "settle_s": 0.8, "placed_to_confirmed_us": Latency},
//     "tokens": {"refreshed": 0, "relogins": 0, "failures": 0},  // customers' sessions renewed
//     "check": {"ran": true, "passed": true, "attempts": 1, "exit_status": 0, "seconds": 1.4,
//               "verdict": "check: PASSED", "report": ["<the checker's output lines>", ...]},
//     "error_rate": 0.0, "max_error_rate": 0.01,
//     "failures": ["<why it failed>", ...], "warnings": ["...", ...], "interrupted": false, "passed": true
//   }
//   Stats   = {"count": n, "ok": n, "conflicts": n,                  // count = ok + conflicts + errors.total
//              "errors": {"4xx": n, "401": n, "429": n,       // 401 and 429: of the 4xx
//                         "5xx": n, "503": n,                 // 503: of the 5xx, with Retry-After
//                         "other": n, "transport": n, "total": n},
//              "throughput_per_s": count / elapsed_s, "latency_us": Latency}
//   Latency = {"count": n, "min": us, "mean": us, "p50": us, "p90": us, "p99": us, "p99.9": us, "max": us,
//              "saturated": n (values above 60 s, recorded as 60 s)}
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "credentials.hpp"
#include "driver.hpp"
#include "mercato/json/json.hpp"
#include "options.hpp"
#include "report.hpp"

#ifndef MERCATO_SOURCE_DIR
#error "MERCATO_SOURCE_DIR must be defined by the build"
#endif

namespace {

using namespace mercato;

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int /*signal*/) { g_interrupted = 1; }

// The first Ctrl-C ends the run early with a summary; the handler is reset, so a second one kills.
void catch_interrupt() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// The admin the setup acts as, from the options and the environment; or why there is none.
Result<load::AdminAccess> admin_access(const load::Options& options) {
  auto default_file = load::default_admin_password_file(env_or_empty("MERCATO_VAR_DIR"), MERCATO_SOURCE_DIR);
  std::error_code ec;
  auto chosen = load::choose_admin(options, env_or_empty("MERCATO_ADMIN_TOKEN"), default_file,
                                   std::filesystem::exists(default_file, ec));
  using Kind = load::AdminCredentials::Kind;
  if (chosen.kind == Kind::kNone) {
    return Error::unavailable(
        "the setup stocks products as the admin and has no admin credentials: give --admin-token (or set "
        "MERCATO_ADMIN_TOKEN) or --admin-password-file; ./mercato up writes the bootstrap admin's password "
        "to " +
        default_file);
  }
  if (chosen.kind == Kind::kToken)
    return load::AdminAccess{.token = chosen.value, .password = {}, .source = chosen.source};
  std::ifstream in(chosen.value, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    return Error::unavailable("cannot read the admin's password from " + chosen.value);
  if (!in.is_open()) return Error::unavailable("cannot read the admin's password from " + chosen.value);
  auto password = load::password_from_file_text(std::move(text));
  if (password.empty()) return Error::unavailable("the admin's password file " + chosen.value + " is empty");
  return load::AdminAccess{.token = {}, .password = std::move(password), .source = chosen.source};
}

std::string generated_prefix(std::uint64_t random) {
  static constexpr std::string_view kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::string time;
  for (; now > 0; now /= 36) time.insert(time.begin(), kDigits[now % 36]);
  std::array<char, 8> tail{};
  std::snprintf(tail.data(), tail.size(), "%04x", static_cast<unsigned>(random & 0xffff));
  return "ld-" + time + "-" + tail.data();
}

// Progress on stderr: redrawn in place on a terminal, else a line every 5 s.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled) : enabled_(enabled), tty_(::isatty(STDERR_FILENO) == 1) {}
  void operator()(const load::ProgressSnapshot& s) {
    if (!enabled_) return;
    if (tty_) {
      std::cerr << "\r" << load::render_progress(s, true) << "\x1b[K" << std::flush;
      drawn_ = true;
      return;
    }
    if (s.elapsed_seconds >= next_line_) {
      std::cerr << "progress: " << load::render_progress(s, false) << "\n";
      next_line_ = s.elapsed_seconds + 5;
    }
  }
  void finish() {
    if (drawn_) std::cerr << "\n";
    drawn_ = false;
  }

 private:
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  double next_line_ = 5;
};

// Each connection is a descriptor; a common soft limit of 1024 would fail connects (as transport errors)
// long before --connections' 10000. Raise the soft limit towards the hard one when it is short.
void allow_descriptors(int connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  auto wanted = static_cast<rlim_t>(connections) + 256;
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < wanted) {
    std::cerr << "mercato-load: warning: the descriptor limit (" << limit.rlim_cur
              << ") is below --connections + 256\n";
  }
}

int run(const std::vector<std::string>& args) {
  auto parsed = load::parse_options(args);
  if (!parsed) {
    std::cerr << "mercato-load: " << parsed.error().message << "\n";
    return 2;
  }
  load::Options options = std::move(*parsed);
  if (options.help) {
    std::cout << load::usage();
    return 0;
  }
  auto gateway = http::Endpoint::parse(options.gateway);
  if (!gateway) {
    std::cerr << "mercato-load: --gateway: " << gateway.error().message << "\n";
    return 2;
  }
  if (!options.json_path.empty() && !std::ofstream(options.json_path, std::ios::app)) {
    std::cerr << "mercato-load: --json: cannot write " << options.json_path << "\n";
    return 2;
  }
  std::random_device entropy;
  std::uint64_t seed = options.seed.value_or((static_cast<std::uint64_t>(entropy()) << 32) ^
                                             static_cast<std::uint64_t>(entropy()));
  if (options.prefix.empty()) options.prefix = generated_prefix(seed);
  if (options.check_command.empty())
    options.check_command = std::string("'") + MERCATO_SOURCE_DIR + "/mercato' check";

  auto admin = admin_access(options);
  if (!admin) {
    std::cerr << "mercato-load: " << admin.error().message << "\n";
    return 1;
  }

  allow_descriptors(options.connections);
  load::RunReport report;
  report.options = options;
  report.seed = seed;
  load::Driver driver(options, *gateway, seed);

  std::cerr << "setup: " << options.products << " products, " << options.customers << " customers (prefix "
            << options.prefix << ") through " << options.gateway << "\n";
  auto setup = driver.setup(*admin);
  if (!setup) {
    std::cerr << "mercato-load: " << setup.error().message << "\n";
    if (setup.error().code == ErrorCode::kUnavailable) {
      std::cerr << "  (no answer: is the system up? ./mercato up; ./mercato status shows its ports)\n";
    }
    return 1;
  }
  report.setup = *setup;

  catch_interrupt();
  auto stop_when_interrupted = [&] {
    if (g_interrupted != 0) driver.stop();
  };
  ProgressPrinter printer(options.progress);
  driver.run([&](const load::ProgressSnapshot& s) {
    stop_when_interrupted();
    printer(s);
  });
  printer.finish();
  report.ops = driver.stats();
  report.unsent = driver.unsent();
  report.elapsed_seconds = driver.elapsed_seconds();

  std::cerr << "settle: reading back " << report.ops[load::op_index(load::Op::kPlaceOrder)].ok
            << " placed orders (pending ones for up to "
            << static_cast<double>(options.settle.count()) / 1000.0 << " s)\n";
  report.orders = driver.settle(stop_when_interrupted);
  report.tokens = driver.tokens();

  if (options.check && g_interrupted == 0) {
    std::cerr << "check: " << options.check_command << "\n";
    report.check = load::run_checker(options.check_command, options.check_wait);
  }

  report.interrupted = g_interrupted != 0;
  auto verdict = load::judge(report);
  std::cout << load::render_summary(report, verdict) << std::flush;
  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path, std::ios::trunc);
    out << json::serialize(load::render_json(report, verdict)) << "\n";
    if (!out) {
      std::cerr << "mercato-load: cannot write " << options.json_path << "\n";
      return 1;
    }
  }
  if (report.interrupted) return 130;
  return verdict.passed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return run(args);
  } catch (const std::exception& e) {
    // Not expected (failures are values); said plainly rather than as a crash.
    std::cerr << "mercato-load: " << e.what() << "\n";
    return 1;
  }
}
