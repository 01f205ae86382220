#include "options.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>

namespace mercato::load {

namespace {

using std::chrono::milliseconds;

Error bad(std::string_view option, std::string message) {
  return Error::validation(std::string(option), "--" + std::string(option) + ": " + std::move(message));
}

Result<std::int64_t> parse_int(std::string_view text, std::string_view option, std::int64_t min,
                               std::int64_t max) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return bad(option, "expected an integer " + std::to_string(min) + ".." + std::to_string(max) + ", got '" +
                           std::string(text) + "'");
  }
  return value;
}

Result<double> parse_number(std::string_view text, std::string_view option, double min, double max,
                            bool min_exclusive) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool in_range = std::isfinite(value) && (min_exclusive ? value > min : value >= min) && value <= max;
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !in_range) {
    std::array<char, 96> range{};
    std::snprintf(range.data(), range.size(), "a number %s %g and <= %g", min_exclusive ? ">" : ">=", min,
                  max);
    return bad(option, "expected " + std::string(range.data()) + ", got '" + std::string(text) + "'");
  }
  return value;
}

bool valid_prefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > 24) return false;
  for (char c : prefix) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<milliseconds> Options::effective_duration() const {
  if (duration) return duration;
  if (count) return std::nullopt;
  return milliseconds(10'000);
}

Result<milliseconds> parse_duration(std::string_view text, std::string_view option, bool allow_zero) {
  std::string_view number = text;
  double scale = 1000;  // plain numbers are seconds
  auto ends_with = [&](std::string_view suffix) {
    if (number.size() <= suffix.size() || number.substr(number.size() - suffix.size()) != suffix)
      return false;
    number.remove_suffix(suffix.size());
    return true;
  };
  if (ends_with("ms")) {
    scale = 1;
  } else if (ends_with("s")) {
    scale = 1000;
  } else if (ends_with("m")) {
    scale = 60'000;
  } else if (ends_with("h")) {
    scale = 3'600'000;
  }
  double value = -1;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  double ms = value * scale;
  constexpr double kMaxMs = 24.0 * 3'600'000;
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() || !std::isfinite(ms) ||
      ms < 0 || ms > kMaxMs || (!allow_zero && ms < 1)) {
    return bad(option, std::string("expected a duration like 30s, 500ms or 2m") +
                           (allow_zero ? "" : " (> 0)") + " of at most 24h, got '" + std::string(text) + "'");
  }
  return milliseconds(std::llround(ms));
}

Result<Options> parse_options(const std::vector<std::string>& args) {
  Options o;
  bool rate_given = false;
  // Options taking a value: each parser stores it or returns the problem.
  using Setter = std::function<Result<void>(std::string_view)>;
  auto set_duration = [](std::optional<milliseconds>& out, std::string_view name, bool allow_zero) {
    return [&out, name, allow_zero](std::string_view v) -> Result<void> {
      auto d = parse_duration(v, name, allow_zero);
      if (!d) return d.error();
      out = *d;
      return {};
    };
  };
  std::optional<milliseconds> settle, timeout, check_wait;
  std::map<std::string, Setter, std::less<>> valued{
      {"gateway",
       [&](std::string_view v) -> Result<void> {
         auto colon = v.rfind(':');
         if (v.empty() || colon == std::string_view::npos || colon == 0 || colon + 1 == v.size()) {
           return bad("gateway", "expected HOST:PORT, got '" + std::string(v) + "'");
         }
         auto port = parse_int(v.substr(colon + 1), "gateway", 1, 65535);
         if (!port)
           return bad("gateway", "expected HOST:PORT with a port 1..65535, got '" + std::string(v) + "'");
         o.gateway = std::string(v);
         return {};
       }},
      {"rate",
       [&](std::string_view v) -> Result<void> {
         auto r = parse_number(v, "rate", 0, 1'000'000, true);
         if (!r) return r.error();
         o.rate = *r;
         rate_given = true;
         return {};
       }},
      {"connections",
       [&](std::string_view v) -> Result<void> {
         auto n = parse_int(v, "connections", 1, 10'000);
         if (!n) return n.error();
         o.connections = static_cast<int>(*n);
         return {};
       }},
      {"threads",
       [&](std::string_view v) -> Result<void> {
         auto n = parse_int(v, "threads", 1, 64);
         if (!n) return n.error();
         o.threads = static_cast<int>(*n);
         return {};
       }},
      {"duration", set_duration(o.duration, "duration", false)},
      {"count",
       [&](std::string_view v) -> Result<void> {
         auto n = parse_int(v, "count", 1, 1'000'000'000);
         if (!n) return n.error();
         o.count = static_cast<std::uint64_t>(*n);
         return {};
       }},
      {"mix",
       [&](std::string_view v) -> Result<void> {
         auto m = Mix::parse(v);
         if (!m) return bad("mix", m.error().message);
         o.mix = *m;
         return {};
       }},
      {"products",
       [&](std::string_view v) -> Result<void> {
         auto n = parse_int(v, "products", 1, 10'000);
         if (!n) return n.error();
         o.products = static_cast<int>(*n);
         return {};
       }},
      {"stock",
       [&](std::string_view v) -> Result<void> {
         auto n = parse_int(v, "stock", 0, 1'000'000'000);
         if (!n) return n.error();
         o.stock = *n;
         return {};
       }},
      {"customers",
       [&](std::string_view v) -> Result<void> {
         auto n = parse_int(v, "customers", 1, 100'000);
         if (!n) return n.error();
         o.customers = static_cast<int>(*n);
         return {};
       }},
      {"prefix",
       [&](std::string_view v) -> Result<void> {
         if (!valid_prefix(v)) {
           return bad("prefix", "1..24 letters, digits or '-' (it starts product ids and emails), got '" +
                                    std::string(v) + "'");
         }
         o.prefix = std::string(v);
         return {};
       }},
      {"admin-token",
       [&](std::string_view v) -> Result<void> {
         if (v.empty()) return bad("admin-token", "expected an access token");
         o.admin_token = std::string(v);
         return {};
       }},
      {"admin-password-file",
       [&](std::string_view v) -> Result<void> {
         if (v.empty()) return bad("admin-password-file", "expected a file name");
         o.admin_password_file = std::string(v);
         return {};
       }},
      {"settle", set_duration(settle, "settle", true)},
      {"timeout", set_duration(timeout, "timeout", false)},
      {"json",
       [&](std::string_view v) -> Result<void> {
         if (v.empty()) return bad("json", "expected a file name");
         o.json_path = std::string(v);
         return {};
       }},
      {"check-command",
       [&](std::string_view v) -> Result<void> {
         if (v.empty()) return bad("check-command", "expected a shell command");
         o.check_command = std::string(v);
         return {};
       }},
      {"check-wait", set_duration(check_wait, "check-wait", true)},
      {"max-error-rate",
       [&](std::string_view v) -> Result<void> {
         auto r = parse_number(v, "max-error-rate", 0, 1, false);
         if (!r) return r.error();
         o.max_error_rate = *r;
         return {};
       }},
      {"renew-at",
       [&](std::string_view v) -> Result<void> {
         // Not 0 (every request would renew) and not 1 (a token then expires before it is renewed:
         // kExpiryMargin stops sending it first, so the request would wait for a renewal).
         auto r = parse_number(v, "renew-at", 0, 0.9, true);
         if (!r) return r.error();
         o.renew_at = *r;
         return {};
       }},
      {"seed",
       [&](std::string_view v) -> Result<void> {
         auto n = parse_int(v, "seed", 0, INT64_MAX);
         if (!n) return n.error();
         o.seed = static_cast<std::uint64_t>(*n);
         return {};
       }},
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      o.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--" || arg.size() == 2) {
      return Error::validation("", "unexpected argument '" + std::string(arg) + "' (see --help)");
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "closed" || name == "no-check" || name == "no-progress") {
      if (inline_value) return bad(name, "takes no value");
      if (name == "closed") o.closed = true;
      if (name == "no-check") o.check = false;
      if (name == "no-progress") o.progress = false;
      continue;
    }
    auto setter = valued.find(name);
    if (setter == valued.end()) {
      return Error::validation(std::string(name),
                               "unknown option '--" + std::string(name) + "' (see --help)");
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return bad(name, "needs a value");
    }
    if (auto done = setter->second(value); !done) return done.error();
  }
  if (settle) o.settle = *settle;
  if (timeout) o.timeout = *timeout;
  if (check_wait) o.check_wait = *check_wait;
  if (o.help) return o;

  if (o.closed && rate_given) {
    return bad("rate", "a closed loop sends back to back; give either --closed or --rate, not both");
  }
  if (!o.admin_token.empty() && !o.admin_password_file.empty()) {
    return bad("admin-token", "give either --admin-token or --admin-password-file, not both");
  }
  if (o.threads > o.connections) {
    return bad("threads", "more threads (" + std::to_string(o.threads) + ") than connections (" +
                              std::to_string(o.connections) + "): each thread needs at least one");
  }
  if (o.threads > o.customers) {
    return bad("threads", "more threads (" + std::to_string(o.threads) + ") than customers (" +
                              std::to_string(o.customers) +
                              "): each thread places orders for customers of its own");
  }
  return o;
}

std::string usage() {
  return R"(usage: mercato-load [OPTIONS]   (or ./mercato load [OPTIONS], which builds it and finds the gateway)

Drives a running Mercato (./mercato up) through its gateway with a mix of operations, records their
latency in HDR histograms, waits for the placed orders to settle, runs the saga checker and prints a
summary (and --json FILE).

load shape:
  --rate N               open loop: N operations per second at constant intervals (default 100);
                         latency counts from each operation's intended start, so queueing shows
  --closed               closed loop instead: --connections workers, each sending back to back
  --connections N        open loop: at most N requests in flight (more wait, and the wait counts);
                         closed loop: N workers (default 32)
  --duration D           send for D (30s, 500ms, 2m; default 10s unless --count is given)
  --count N              send N operations (with --duration: whichever ends first)
  --threads N            I/O threads of the generator (default 1)
  --timeout D            per request (default 10s); a request without an answer in time is an error
  --mix SPEC             weights, e.g. register=5,read_product=40,place_order=30,read_order=20,cancel_order=5
                         (the default); operations left out get 0
  --seed N               seed of the mix's random choices (default: random, printed)
  --renew-at F           renew a customer's session F of the way into its token's life (default 0.75;
                         > 0, <= 0.9); in the background, so a renewal never delays an operation

setup (products as the admin; customers register and log in, and each order is theirs):
  --products N           products created first (PUT /api/inventory/{prefix}-p{i}; default 20)
  --stock N              available units of each (default 1000000000: orders never run out)
  --customers N          customers registered and logged in first (POST /api/users, then
                         POST /api/auth/login; default 20, at least --threads). Every order is placed,
                         read and cancelled by one of them with their own token, renewed with their
                         refresh token before it expires
  --prefix P             prefix of product ids and emails (default: unique per run)
  --admin-token TOKEN    an admin's access token for the products (default: $MERCATO_ADMIN_TOKEN;
                         prefer the variable: a command line is visible to every user of the machine)
  --admin-password-file FILE
                         log in as admin@mercato.local with the password in FILE instead (default,
                         when no token is given: secrets/admin-password of $MERCATO_VAR_DIR, else of
                         <source>/var, when it exists: what ./mercato up writes)
  A 429 in the setup (the gateway's rate limits on registration and login) is waited out as its
  Retry-After says; the setup fails only on other answers, naming the step.

after the run:
  --settle D             wait up to D for placed orders to leave pending (default 30s; 0: no wait)
  --json FILE            write the summary as JSON (schema: the header of tools/load/main.cpp)
  --check-command CMD    the invariant checker, run with /bin/sh -c (default: <source>/mercato check)
  --check-wait D         a failing check is repeated for up to D (default 10s): a confirmation's last
                         effects (its notification, a choreographed commit) land just after it
  --no-check             do not run the checker
  --max-error-rate R     fail (exit 1) when errors / operations sent > R (default 0.01)
  --no-progress          no progress display on stderr
  --gateway HOST:PORT    the gateway (default 127.0.0.1:8080)
  -h, --help             this text

exit status: 0 passed; 1 the checker failed, errors above --max-error-rate, or the setup failed;
2 bad options; 130 interrupted (the first Ctrl-C stops the run and prints the summary, without the
settle wait and the checker; a second one kills).
)";
}

}  // namespace mercato::load
