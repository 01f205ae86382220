#include "report.hpp"

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <cmath>
#include <cstdio>

namespace mercato::load {

namespace {

std::string format(const char* fmt, auto... args) {
  std::array<char, 256> buf{};
  int n = std::snprintf(buf.data(), buf.size(), fmt, args...);
  return std::string(buf.data(),
                     static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(buf.size()) - 1)));
}

// Microseconds as milliseconds with two decimals ("-" for an empty histogram's values).
std::string ms(std::int64_t us) { return format("%.2f", static_cast<double>(us) / 1000.0); }

std::string percent(double fraction) { return format("%.2f%%", fraction * 100); }

constexpr std::array<std::pair<const char*, double>, 4> kPercentiles = {
    {{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99.9", 99.9}}};

boost::json::object latency_json(const Histogram& h) {
  boost::json::object o;
  o["count"] = h.count();
  o["min"] = h.min();
  o["mean"] = std::round(h.mean() * 10) / 10;
  for (const auto& [name, p] : kPercentiles) o[name] = h.percentile(p);
  o["max"] = h.max();
  o["saturated"] = h.saturated();
  return o;
}

boost::json::object op_json(const OpStats& s, double elapsed) {
  boost::json::object o;
  o["count"] = s.count;
  o["ok"] = s.ok;
  o["conflicts"] = s.conflicts;
  boost::json::object errors;
  errors["4xx"] = s.client_errors;
  errors["401"] = s.unauthorized;  // of the 4xx
  errors["429"] = s.rate_limited;  // of the 4xx
  errors["5xx"] = s.server_errors;
  errors["503"] = s.overloaded;  // of the 5xx: refused with Retry-After (overload)
  errors["other"] = s.other_errors;
  errors["transport"] = s.transport_errors;
  errors["total"] = s.errors();
  o["errors"] = std::move(errors);
  o["throughput_per_s"] = elapsed > 0 ? std::round(static_cast<double>(s.count) / elapsed * 100) / 100 : 0.0;
  o["latency_us"] = latency_json(s.latency);
  return o;
}

std::string op_row(std::string_view name, const OpStats& s, double elapsed) {
  std::string row = format(
      "%-13s %8llu %8llu %6llu %6llu %6llu %6llu %6llu %9.1f", std::string(name).c_str(),
      static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(s.ok),
      static_cast<unsigned long long>(s.conflicts), static_cast<unsigned long long>(s.client_errors),
      static_cast<unsigned long long>(s.server_errors), static_cast<unsigned long long>(s.other_errors),
      static_cast<unsigned long long>(s.transport_errors),
      elapsed > 0 ? static_cast<double>(s.count) / elapsed : 0.0);
  if (s.latency.count() == 0) return row + "        -        -        -        -        -\n";
  for (const auto& [label, p] : kPercentiles) row += format(" %8s", ms(s.latency.percentile(p)).c_str());
  row += format(" %8s\n", ms(s.latency.max()).c_str());
  return row;
}

std::string latency_line(const Histogram& h) {
  if (h.count() == 0) return "-";
  std::string out;
  for (const auto& [label, p] : kPercentiles) out += std::string(label) + " " + ms(h.percentile(p)) + "  ";
  return out + "max " + ms(h.max()) + " ms";
}

}  // namespace

Outcome classify(Op op, int status) noexcept {
  if (status <= 0) return Outcome::kTransport;
  int expected = (op == Op::kRegister || op == Op::kPlaceOrder) ? 201 : 200;
  if (status == expected) return Outcome::kOk;
  if (op == Op::kCancelOrder && status == 409) return Outcome::kConflict;
  if (status >= 500) return Outcome::kServerError;
  if (status >= 400) return Outcome::kClientError;
  return Outcome::kOther;
}

void OpStats::record(Outcome outcome, std::int64_t latency_us, int status, bool retry_after) {
  ++count;
  if (outcome == Outcome::kServerError && status == 503 && retry_after) ++overloaded;
  if (outcome == Outcome::kClientError && status == 401) ++unauthorized;
  if (outcome == Outcome::kClientError && status == 429) ++rate_limited;
  switch (outcome) {
    case Outcome::kOk:
      ++ok;
      break;
    case Outcome::kConflict:
      ++conflicts;
      break;
    case Outcome::kClientError:
      ++client_errors;
      break;
    case Outcome::kServerError:
      ++server_errors;
      break;
    case Outcome::kOther:
      ++other_errors;
      break;
    case Outcome::kTransport:
      ++transport_errors;
      break;
  }
  latency.record(latency_us);
}

void OpStats::merge(const OpStats& other) {
  count += other.count;
  ok += other.ok;
  conflicts += other.conflicts;
  client_errors += other.client_errors;
  server_errors += other.server_errors;
  other_errors += other.other_errors;
  transport_errors += other.transport_errors;
  unauthorized += other.unauthorized;
  rate_limited += other.rate_limited;
  overloaded += other.overloaded;
  latency.merge(other.latency);
}

double OrderOutcome::confirmed_per_second() const noexcept {
  if (confirmed == 0 || !first_placed_ms || !last_confirmed_ms) return 0;
  auto span_ms = std::max<std::int64_t>(*last_confirmed_ms - *first_placed_ms, 1);
  return static_cast<double>(confirmed) * 1000.0 / static_cast<double>(span_ms);
}

void OrderOutcome::merge(const OrderOutcome& other) {
  placed += other.placed;
  confirmed += other.confirmed;
  cancelled += other.cancelled;
  pending += other.pending;
  unreadable += other.unreadable;
  placed_to_confirmed.merge(other.placed_to_confirmed);
  if (other.first_placed_ms && (!first_placed_ms || *other.first_placed_ms < *first_placed_ms)) {
    first_placed_ms = other.first_placed_ms;
  }
  if (other.last_confirmed_ms && (!last_confirmed_ms || *other.last_confirmed_ms > *last_confirmed_ms)) {
    last_confirmed_ms = other.last_confirmed_ms;
  }
  settle_seconds = std::max(settle_seconds, other.settle_seconds);
}

OpStats RunReport::total() const {
  OpStats all;
  for (const auto& s : ops) all.merge(s);
  return all;
}

double RunReport::error_rate() const {
  auto all = total();
  return all.count == 0 ? 0.0 : static_cast<double>(all.errors()) / static_cast<double>(all.count);
}

Verdict judge(const RunReport& report) {
  Verdict v;
  auto all = report.total();
  if (report.interrupted) v.failures.emplace_back("interrupted (SIGINT): the run was cut short");
  if (all.count == 0) v.failures.emplace_back("no operation was sent");
  if (report.error_rate() > report.options.max_error_rate) {
    v.failures.push_back("errors " + percent(report.error_rate()) +
                         " of operations, above --max-error-rate " + percent(report.options.max_error_rate));
  }
  if (report.check.ran && !report.check.passed) {
    v.failures.push_back("the invariant checker failed" +
                         (report.check.verdict.empty() ? std::string() : " (" + report.check.verdict + ")"));
  }
  if (report.unsent > 0) {
    v.warnings.push_back(
        std::to_string(report.unsent) +
        " operations were due but still waiting for a connection when --duration ended, and were not "
        "sent (more than a few: the system did not keep up with --rate)");
  }
  if (report.orders.pending > 0) {
    v.warnings.push_back(std::to_string(report.orders.pending) + " orders still pending after --settle " +
                         format("%.0f s", static_cast<double>(report.options.settle.count()) / 1000.0));
  }
  if (all.rate_limited > 0) {
    v.warnings.push_back(
        std::to_string(all.rate_limited) +
        " answers were 429 (counted in 4xx): a rate limit refused them — the gateway's rateLimits (per "
        "client address for registrations, per customer for orders) or the login limits. To measure "
        "capacity, run the gateway with a policy without per-client limits (README, \"Load\")");
  }
  if (all.unauthorized > 0) {
    v.warnings.push_back(std::to_string(all.unauthorized) +
                         " answers were 401 (counted in 4xx): a customer's token was refused (expired before "
                         "it was renewed, or signed with keys the services do not trust)");
  }
  if (report.tokens.failures > 0) {
    v.warnings.push_back(std::to_string(report.tokens.failures) +
                         " token renewals failed (neither refresh nor a new login answered; each was tried "
                         "again 5 s later, the old token serving until it expired)");
  }
  if (report.orders.unreadable > 0) {
    v.warnings.push_back(std::to_string(report.orders.unreadable) + " placed orders could not be read back");
  }
  v.passed = v.failures.empty();
  return v;
}

std::string render_summary(const RunReport& r, const Verdict& verdict) {
  const auto& o = r.options;
  std::string out;
  std::string shape = o.closed ? format("closed loop, %d workers", o.connections)
                               : format("open loop at %g/s, at most %d in flight", o.rate, o.connections);
  std::string bound;
  if (auto d = o.effective_duration()) bound = format("%.1f s", static_cast<double>(d->count()) / 1000.0);
  if (o.count) bound += (bound.empty() ? "" : " or ") + std::to_string(*o.count) + " operations";
  out += "mercato-load: " + o.gateway + ", " + shape + ", " + bound + format(", %d thread(s)", o.threads) +
         "\n  prefix " + o.prefix + ", seed " + std::to_string(r.seed) + ", mix " + o.mix.to_string() + "\n";
  out += format(
      "setup: %d products %s-p0..%s-p%d (stock %lld each), %d customers registered and logged in, in "
      "%.2f s\n",
      r.setup.products, o.prefix.c_str(), o.prefix.c_str(), r.setup.products - 1,
      static_cast<long long>(r.setup.stock), r.setup.customers, r.setup.seconds);
  if (!r.setup.admin.empty()) out += "  products stocked as the admin (credentials: " + r.setup.admin + ")\n";
  if (r.setup.rate_limited > 0) {
    out += format("  rate limited: %llu setup requests answered 429; waited %.1f s as Retry-After said\n",
                  static_cast<unsigned long long>(r.setup.rate_limited), r.setup.rate_limited_seconds);
  }
  out += format("run: %.2f s\n\n", r.elapsed_seconds);
  out += format("%-13s %8s %8s %6s %6s %6s %6s %6s %9s %8s %8s %8s %8s %8s\n", "operation", "count", "ok",
                "409", "4xx", "5xx", "other", "transp", "per s", "p50", "p90", "p99", "p99.9", "max");
  for (Op op : kAllOps) out += op_row(op_name(op), r.ops[op_index(op)], r.elapsed_seconds);
  auto all = r.total();
  out += op_row("all", all, r.elapsed_seconds);
  out +=
      "  (latency in ms; 409 = cancel_order of an order already confirmed, expected; transp = no answer)\n";
  if (all.unauthorized > 0 || all.rate_limited > 0) {
    out += format("  of the 4xx: %llu 401 (token refused), %llu 429 (rate limited)\n",
                  static_cast<unsigned long long>(all.unauthorized),
                  static_cast<unsigned long long>(all.rate_limited));
  }
  if (all.overloaded > 0) {
    out += format("  of the 5xx: %llu 503 with Retry-After (refused: the system was overloaded)\n",
                  static_cast<unsigned long long>(all.overloaded));
  }
  if (r.unsent > 0) out += format("  unsent: %llu\n", static_cast<unsigned long long>(r.unsent));
  out += format("errors: %llu of %llu (%s; --max-error-rate %s)\n\n",
                static_cast<unsigned long long>(all.errors()), static_cast<unsigned long long>(all.count),
                percent(r.error_rate()).c_str(), percent(o.max_error_rate).c_str());
  const auto& ord = r.orders;
  out += format(
      "orders: %llu placed: %llu confirmed, %llu cancelled, %llu pending (not settled), %llu unreadable; "
      "read "
      "back in %.2f s\n",
      static_cast<unsigned long long>(ord.placed), static_cast<unsigned long long>(ord.confirmed),
      static_cast<unsigned long long>(ord.cancelled), static_cast<unsigned long long>(ord.pending),
      static_cast<unsigned long long>(ord.unreadable), ord.settle_seconds);
  out += format("  confirmed orders/s: %.1f (first placed .. last confirmed, server clock)\n",
                ord.confirmed_per_second());
  out += "  placed -> confirmed: " + latency_line(ord.placed_to_confirmed) +
         " (order timestamps, 1 ms resolution)\n";
  const auto& t = r.tokens;
  if (t.refreshed + t.relogins + t.failures > 0) {
    out += format("tokens: %llu refreshed, %llu new logins, %llu failed renewals\n",
                  static_cast<unsigned long long>(t.refreshed), static_cast<unsigned long long>(t.relogins),
                  static_cast<unsigned long long>(t.failures));
  }
  if (!r.check.ran) {
    out += r.interrupted ? "check: not run (interrupted)\n" : "check: not run (--no-check)\n";
  } else {
    for (const auto& line : r.check.report) {
      if (line.rfind("FAIL", 0) == 0) out += "  " + line + "\n";
    }
    // The checker's own last line ("check: PASSED") when it printed one.
    std::string said = r.check.verdict.rfind("check:", 0) == 0 ? r.check.verdict
                       : r.check.verdict.empty()               ? "check: no verdict"
                                                               : "check: " + r.check.verdict;
    out += said + format(" (exit status %d, %d attempt(s), %.1f s)\n", r.check.exit_status, r.check.attempts,
                         r.check.seconds);
  }
  for (const auto& w : verdict.warnings) out += "warning: " + w + "\n";
  for (const auto& f : verdict.failures) out += "failed: " + f + "\n";
  out += verdict.passed ? "result: PASSED\n" : "result: FAILED\n";
  return out;
}

boost::json::object render_json(const RunReport& r, const Verdict& verdict) {
  const auto& o = r.options;
  boost::json::object doc;
  doc["tool"] = "mercato-load";
  doc["schema"] = 1;
  doc["gateway"] = o.gateway;
  doc["prefix"] = o.prefix;
  doc["seed"] = r.seed;
  doc["mode"] = o.closed ? "closed" : "open";
  if (o.closed) {
    doc["rate"] = nullptr;
  } else {
    doc["rate"] = o.rate;
  }
  doc["connections"] = o.connections;
  doc["threads"] = o.threads;
  if (auto d = o.effective_duration()) {
    doc["duration_s"] = static_cast<double>(d->count()) / 1000.0;
  } else {
    doc["duration_s"] = nullptr;
  }
  if (o.count) {
    doc["count"] = *o.count;
  } else {
    doc["count"] = nullptr;
  }
  boost::json::object mix;
  for (Op op : kAllOps) mix[op_name(op)] = o.mix.weight(op);
  doc["mix"] = std::move(mix);
  boost::json::object setup;
  setup["products"] = r.setup.products;
  setup["stock"] = r.setup.stock;
  setup["customers"] = r.setup.customers;
  setup["seconds"] = r.setup.seconds;
  setup["admin"] = r.setup.admin;
  setup["rate_limited"] = r.setup.rate_limited;
  setup["rate_limited_s"] = std::round(r.setup.rate_limited_seconds * 100) / 100;
  doc["setup"] = std::move(setup);
  doc["elapsed_s"] = r.elapsed_seconds;
  boost::json::object ops;
  for (Op op : kAllOps) ops[op_name(op)] = op_json(r.ops[op_index(op)], r.elapsed_seconds);
  doc["operations"] = std::move(ops);
  doc["total"] = op_json(r.total(), r.elapsed_seconds);
  doc["unsent"] = r.unsent;
  boost::json::object orders;
  orders["placed"] = r.orders.placed;
  orders["confirmed"] = r.orders.confirmed;
  orders["cancelled"] = r.orders.cancelled;
  orders["pending"] = r.orders.pending;
  orders["unreadable"] = r.orders.unreadable;
  orders["confirmed_per_second"] = std::round(r.orders.confirmed_per_second() * 100) / 100;
  orders["settle_s"] = r.orders.settle_seconds;
  orders["placed_to_confirmed_us"] = latency_json(r.orders.placed_to_confirmed);
  doc["orders"] = std::move(orders);
  boost::json::object tokens;
  tokens["refreshed"] = r.tokens.refreshed;
  tokens["relogins"] = r.tokens.relogins;
  tokens["failures"] = r.tokens.failures;
  doc["tokens"] = std::move(tokens);
  boost::json::object check;
  check["ran"] = r.check.ran;
  check["passed"] = r.check.ran && r.check.passed;
  check["attempts"] = r.check.attempts;
  check["exit_status"] = r.check.exit_status;
  check["seconds"] = r.check.seconds;
  check["verdict"] = r.check.verdict;
  boost::json::array lines;
  for (const auto& line : r.check.report) lines.emplace_back(line);
  check["report"] = std::move(lines);
  doc["check"] = std::move(check);
  doc["error_rate"] = r.error_rate();
  doc["max_error_rate"] = o.max_error_rate;
  boost::json::array failures;
  for (const auto& f : verdict.failures) failures.emplace_back(f);
  boost::json::array warnings;
  for (const auto& w : verdict.warnings) warnings.emplace_back(w);
  doc["failures"] = std::move(failures);
  doc["warnings"] = std::move(warnings);
  doc["interrupted"] = r.interrupted;
  doc["passed"] = verdict.passed;
  return doc;
}

std::string render_progress(const ProgressSnapshot& s, bool bar) {
  std::optional<double> fraction;
  std::string where;
  if (s.total_count) {
    fraction = static_cast<double>(s.done) / static_cast<double>(std::max<std::uint64_t>(*s.total_count, 1));
    where = format("%llu/%llu ops", static_cast<unsigned long long>(s.done),
                   static_cast<unsigned long long>(*s.total_count));
  }
  if (s.total_seconds) {
    double by_time = s.elapsed_seconds / std::max(*s.total_seconds, 1e-3);
    fraction = fraction ? std::max(*fraction, by_time) : by_time;
    where += (where.empty() ? "" : ", ") + format("%.1f/%.0fs", s.elapsed_seconds, *s.total_seconds);
  } else {
    where += format(", %.1fs", s.elapsed_seconds);
  }
  std::string out;
  if (bar && fraction) {
    constexpr int kWidth = 24;
    int filled = static_cast<int>(std::clamp(*fraction, 0.0, 1.0) * kWidth);
    out = "[" + std::string(static_cast<std::size_t>(filled), '#') +
          std::string(static_cast<std::size_t>(kWidth - filled), '.') + "] ";
  }
  out += where + format("  %.0f/s  in flight %llu", s.rate, static_cast<unsigned long long>(s.in_flight));
  if (s.queued > 0) out += format("  queued %llu", static_cast<unsigned long long>(s.queued));
  out += format("  errors %llu", static_cast<unsigned long long>(s.errors));
  return out;
}

}  // namespace mercato::load
