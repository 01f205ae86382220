#include "report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>

namespace mercato::load {
namespace {

TEST(Classify, ExpectedStatusesConflictsAndErrorClasses) {
  EXPECT_EQ(classify(Op::kRegister, 201), Outcome::kOk);
  EXPECT_EQ(classify(Op::kRegister, 200), Outcome::kOther);
  EXPECT_EQ(classify(Op::kPlaceOrder, 201), Outcome::kOk);
  EXPECT_EQ(classify(Op::kPlaceOrder, 422), Outcome::kClientError);
  EXPECT_EQ(classify(Op::kReadProduct, 200), Outcome::kOk);
  EXPECT_EQ(classify(Op::kReadOrder, 404), Outcome::kClientError);
  EXPECT_EQ(classify(Op::kCancelOrder, 200), Outcome::kOk);
  EXPECT_EQ(classify(Op::kCancelOrder, 409), Outcome::kConflict);
  EXPECT_EQ(classify(Op::kRegister, 409), Outcome::kClientError);  // only a cancel's 409 is expected
  EXPECT_EQ(classify(Op::kReadOrder, 503), Outcome::kServerError);
  EXPECT_EQ(classify(Op::kReadOrder, 0), Outcome::kTransport);
}

RunReport sample() {
  RunReport r;
  r.options.prefix = "ld-test";
  r.options.rate = 50;
  r.options.count = 10;
  r.seed = 42;
  r.setup = {.products = 3, .stock = 100, .customers = 2, .seconds = 0.5};
  r.elapsed_seconds = 2.0;
  auto& place = r.ops[op_index(Op::kPlaceOrder)];
  for (int i = 0; i < 6; ++i) place.record(Outcome::kOk, 1000 + i * 100);
  auto& cancel = r.ops[op_index(Op::kCancelOrder)];
  cancel.record(Outcome::kOk, 800);
  cancel.record(Outcome::kConflict, 900);
  auto& read = r.ops[op_index(Op::kReadProduct)];
  read.record(Outcome::kServerError, 5000);
  read.record(Outcome::kTransport, 10'000'000);
  r.orders.placed = 6;
  r.orders.confirmed = 4;
  r.orders.cancelled = 1;
  r.orders.pending = 1;
  r.orders.first_placed_ms = 1'000'000;
  r.orders.last_confirmed_ms = 1'002'000;
  for (int ms : {10, 12, 15, 40}) r.orders.placed_to_confirmed.record(std::int64_t{ms} * 1000);
  r.check = {.ran = true,
             .passed = true,
             .attempts = 1,
             .exit_status = 0,
             .seconds = 0.3,
             .verdict = "check: PASSED",
             .report = {"checked 6 orders", "check: PASSED"}};
  return r;
}

TEST(Report, TotalsAddUp) {
  auto r = sample();
  auto all = r.total();
  EXPECT_EQ(all.count, 10u);
  EXPECT_EQ(all.ok, 7u);
  EXPECT_EQ(all.conflicts, 1u);
  EXPECT_EQ(all.errors(), 2u);
  EXPECT_EQ(all.count, all.ok + all.conflicts + all.errors());
  EXPECT_DOUBLE_EQ(r.error_rate(), 0.2);
  EXPECT_DOUBLE_EQ(r.orders.confirmed_per_second(), 2.0);  // 4 confirmed over 2 s
}

TEST(Report, VerdictFailsOnErrorsAboveTheLimitOrAFailedCheck) {
  auto r = sample();
  r.options.max_error_rate = 0.25;
  auto v = judge(r);
  EXPECT_TRUE(v.passed);
  ASSERT_EQ(v.warnings.size(), 1u);  // the pending order
  EXPECT_NE(v.warnings[0].find("1 orders still pending"), std::string::npos);

  r.options.max_error_rate = 0.1;
  v = judge(r);
  EXPECT_FALSE(v.passed);
  ASSERT_EQ(v.failures.size(), 1u);
  EXPECT_NE(v.failures[0].find("20.00%"), std::string::npos) << v.failures[0];

  r.options.max_error_rate = 1;
  r.check.passed = false;
  r.check.verdict = "check: FAILED (1 problem(s))";
  v = judge(r);
  EXPECT_FALSE(v.passed);
  ASSERT_EQ(v.failures.size(), 1u);
  EXPECT_NE(v.failures[0].find("checker failed"), std::string::npos);

  r.check.passed = true;
  r.interrupted = true;
  v = judge(r);
  EXPECT_FALSE(v.passed);
  ASSERT_EQ(v.failures.size(), 1u);
  EXPECT_NE(v.failures[0].find("interrupted"), std::string::npos);
  EXPECT_EQ(render_json(r, v).at("interrupted"), true);

  RunReport nothing;
  EXPECT_FALSE(judge(nothing).passed);  // no operation sent is no result
}

TEST(Report, JsonFollowsTheDocumentedSchema) {
  auto r = sample();
  r.options.max_error_rate = 0.5;
  auto doc = render_json(r, judge(r));
  // Round trip through text, as a reader of the file sees it.
  auto v = boost::json::parse(boost::json::serialize(doc)).as_object();
  EXPECT_EQ(v.at("tool"), "mercato-load");
  EXPECT_EQ(v.at("schema"), 1);
  EXPECT_EQ(v.at("mode"), "open");
  EXPECT_EQ(v.at("rate"), 50.0);
  EXPECT_EQ(v.at("count"), 10);
  EXPECT_EQ(v.at("duration_s"), nullptr);
  EXPECT_EQ(v.at("mix").at("place_order"), 30);
  EXPECT_EQ(v.at("setup").at("products"), 3);
  const auto& ops = v.at("operations").as_object();
  EXPECT_EQ(ops.size(), kOpCount);
  std::int64_t sum = 0;
  for (const auto& [name, stats] : ops) {
    const auto& s = stats.as_object();
    EXPECT_EQ(s.at("count").as_int64(),
              s.at("ok").as_int64() + s.at("conflicts").as_int64() + s.at("errors").at("total").as_int64())
        << name;
    sum += s.at("count").as_int64();
  }
  EXPECT_EQ(sum, v.at("total").at("count").as_int64());
  const auto& place = ops.at("place_order").as_object();
  EXPECT_EQ(place.at("throughput_per_s"), 3.0);
  EXPECT_EQ(place.at("latency_us").at("min"), 1000);
  EXPECT_EQ(place.at("latency_us").at("max"), 1500);
  EXPECT_EQ(place.at("latency_us").at("p50"), 1200);
  const auto& read = ops.at("read_product").as_object();
  EXPECT_EQ(read.at("errors").at("5xx"), 1);
  EXPECT_EQ(read.at("errors").at("transport"), 1);
  EXPECT_EQ(ops.at("cancel_order").at("conflicts"), 1);
  const auto& orders = v.at("orders").as_object();
  EXPECT_EQ(orders.at("placed").as_int64(),
            orders.at("confirmed").as_int64() + orders.at("cancelled").as_int64() +
                orders.at("pending").as_int64() + orders.at("unreadable").as_int64());
  // 12 ms lies in a bucket 8 µs wide; percentiles report its highest value (histogram.hpp).
  auto p50 = orders.at("placed_to_confirmed_us").at("p50").as_int64();
  EXPECT_GE(p50, 12000);
  EXPECT_LE(p50, 12000 + 12000 / 1024);
  EXPECT_EQ(orders.at("placed_to_confirmed_us").at("max"), 40000);
  EXPECT_EQ(v.at("check").at("passed"), true);
  EXPECT_EQ(v.at("check").at("report").as_array().size(), 2u);
  EXPECT_EQ(v.at("passed"), true);
  EXPECT_EQ(v.at("error_rate"), 0.2);
}

TEST(Report, SummaryShowsEveryOperationAndTheVerdicts) {
  auto r = sample();
  auto text = render_summary(r, judge(r));
  for (Op op : kAllOps) EXPECT_NE(text.find(std::string(op_name(op))), std::string::npos) << op_name(op);
  EXPECT_NE(text.find("setup: 3 products ld-test-p0..ld-test-p2 (stock 100 each), 2 customers"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("6 placed: 4 confirmed, 1 cancelled, 1 pending"), std::string::npos) << text;
  EXPECT_NE(text.find("confirmed orders/s: 2.0"), std::string::npos) << text;
  EXPECT_NE(text.find("check: PASSED (exit status 0, 1 attempt(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("result: FAILED"), std::string::npos) << text;  // 20% errors > 1%
  r.check.ran = false;
  EXPECT_NE(render_summary(r, judge(r)).find("check: not run"), std::string::npos);
}

// 401 and 429 are client errors like any other (they count against --max-error-rate), counted apart
// too, because they say something about the run: a refused token, a rate limit.
TEST(Report, UnauthorizedAndRateLimitedAreCountedApartAndExplained) {
  auto r = sample();
  auto& place = r.ops[op_index(Op::kPlaceOrder)];
  place.record(classify(Op::kPlaceOrder, 429), 300, 429);
  place.record(classify(Op::kPlaceOrder, 429), 300, 429);
  place.record(classify(Op::kPlaceOrder, 401), 300, 401);
  place.record(classify(Op::kPlaceOrder, 422), 300, 422);
  EXPECT_EQ(place.client_errors, 4u);
  EXPECT_EQ(place.rate_limited, 2u);
  EXPECT_EQ(place.unauthorized, 1u);
  auto all = r.total();
  EXPECT_EQ(all.rate_limited, 2u);
  EXPECT_EQ(all.unauthorized, 1u);
  EXPECT_EQ(all.count, all.ok + all.conflicts + all.errors());

  r.tokens = {.refreshed = 3, .relogins = 1, .failures = 2};
  r.setup.admin = "MERCATO_ADMIN_TOKEN";
  r.setup.rate_limited = 4;
  r.setup.rate_limited_seconds = 3.5;
  auto v = judge(r);
  auto has = [&](const std::string& text) {
    return std::any_of(v.warnings.begin(), v.warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("2 answers were 429")) << v.warnings.size();
  EXPECT_TRUE(has("policy without per-client limits"));
  EXPECT_TRUE(has("1 answers were 401"));
  EXPECT_TRUE(has("2 token renewals failed"));

  auto text = render_summary(r, v);
  EXPECT_NE(text.find("of the 4xx: 1 401 (token refused), 2 429 (rate limited)"), std::string::npos) << text;
  EXPECT_NE(text.find("tokens: 3 refreshed, 1 new logins, 2 failed renewals"), std::string::npos) << text;
  EXPECT_NE(text.find("products stocked as the admin (credentials: MERCATO_ADMIN_TOKEN)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("rate limited: 4 setup requests answered 429; waited 3.5 s"), std::string::npos)
      << text;

  auto doc = boost::json::parse(boost::json::serialize(render_json(r, v))).as_object();
  const auto& errors = doc.at("operations").at("place_order").at("errors");
  EXPECT_EQ(errors.at("4xx"), 4);
  EXPECT_EQ(errors.at("429"), 2);
  EXPECT_EQ(errors.at("401"), 1);
  EXPECT_EQ(doc.at("total").at("errors").at("429"), 2);
  EXPECT_EQ(doc.at("tokens").at("refreshed"), 3);
  EXPECT_EQ(doc.at("tokens").at("relogins"), 1);
  EXPECT_EQ(doc.at("tokens").at("failures"), 2);
  EXPECT_EQ(doc.at("setup").at("admin"), "MERCATO_ADMIN_TOKEN");
  EXPECT_EQ(doc.at("setup").at("rate_limited"), 4);
  EXPECT_EQ(doc.at("setup").at("rate_limited_s"), 3.5);
}

// Admission control's refusals (503 with Retry-After) are counted apart from other 5xx: under overload
// they are what the system is meant to answer.
TEST(Report, OverloadRefusalsAreCountedApartFromOther5xx) {
  auto r = sample();
  auto& place = r.ops[op_index(Op::kPlaceOrder)];
  place.record(classify(Op::kPlaceOrder, 503), 300, 503, true);
  place.record(classify(Op::kPlaceOrder, 503), 300, 503, true);
  place.record(classify(Op::kPlaceOrder, 503), 300, 503, false);  // no Retry-After: a failure
  place.record(classify(Op::kPlaceOrder, 500), 300, 500, true);
  EXPECT_EQ(place.server_errors, 4u);
  EXPECT_EQ(place.overloaded, 2u);
  EXPECT_EQ(r.total().overloaded, 2u);
  auto text = render_summary(r, judge(r));
  EXPECT_NE(text.find("of the 5xx: 2 503 with Retry-After"), std::string::npos) << text;
  auto doc = boost::json::parse(boost::json::serialize(render_json(r, judge(r)))).as_object();
  EXPECT_EQ(doc.at("operations").at("place_order").at("errors").at("503"), 2);
  EXPECT_EQ(doc.at("total").at("errors").at("503"), 2);
}

TEST(Report, QuietRunsSayNothingOfTokensOrLimits) {
  auto r = sample();
  auto text = render_summary(r, judge(r));
  EXPECT_EQ(text.find("of the 4xx"), std::string::npos) << text;
  EXPECT_EQ(text.find("tokens:"), std::string::npos) << text;
  EXPECT_EQ(text.find("rate limited"), std::string::npos) << text;
}

TEST(Report, ProgressLine) {
  ProgressSnapshot s{.elapsed_seconds = 5,
                     .total_seconds = 10.0,
                     .done = 500,
                     .rate = 99.6,
                     .in_flight = 3,
                     .queued = 0,
                     .errors = 1};
  auto bar = render_progress(s, true);
  EXPECT_EQ(bar.substr(0, 27), "[############............] ");
  EXPECT_NE(bar.find("5.0/10s"), std::string::npos) << bar;
  EXPECT_NE(bar.find("100/s"), std::string::npos) << bar;
  EXPECT_NE(bar.find("in flight 3"), std::string::npos) << bar;
  EXPECT_NE(bar.find("errors 1"), std::string::npos) << bar;
  EXPECT_EQ(bar.find("queued"), std::string::npos);
  s.total_seconds.reset();
  s.total_count = 2000;
  s.queued = 7;
  auto line = render_progress(s, false);
  EXPECT_EQ(line.find('['), std::string::npos);
  EXPECT_NE(line.find("500/2000 ops"), std::string::npos) << line;
  EXPECT_NE(line.find("queued 7"), std::string::npos) << line;
}

}  // namespace
}  // namespace mercato::load
