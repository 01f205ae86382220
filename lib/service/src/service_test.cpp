#include "mercato/service/service.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "mercato/testing/context.hpp"

namespace mercato::service {
namespace {

class StandardRoutesTest : public ::testing::Test {
 protected:
  http::Response get(const std::string& path) {
    auto match = context_.router().match(http::Method::kGet, path);
    EXPECT_EQ(match.kind, http::RouteMatch::Kind::kFound) << path;
    http::Request req;
    req.path = path;
    req.request_id = "rid-1";
    return match.route->sync(req);
  }

  testing::TestContext test_;
  Context& context_ = test_.context;
};

TEST_F(StandardRoutesTest, LiveIsAlways200) {
  add_standard_routes(context_);
  EXPECT_EQ(get("/health/live").status, 200);
}

TEST_F(StandardRoutesTest, ReadyListsPassingChecks) {
  context_.add_readiness_check("database", [] { return Result<void>{}; });
  add_standard_routes(context_);
  auto res = get("/health/ready");
  EXPECT_EQ(res.status, 200);
  auto v = boost::json::parse(res.body);
  EXPECT_EQ(v.at("status").as_string(), "ready");
  EXPECT_EQ(v.at("checks").at("database").as_string(), "ok");
}

TEST_F(StandardRoutesTest, ReadyIs503NamingEveryFailingCheckInTheErrorShape) {
  context_.add_readiness_check("database", [] { return Result<void>{}; });
  context_.add_readiness_check("broker",
                               [] { return Result<void>{Error::unavailable("connection refused")}; });
  add_standard_routes(context_);
  auto res = get("/health/ready");
  EXPECT_EQ(res.status, 503);
  auto v = boost::json::parse(res.body);
  EXPECT_EQ(v.at("status").as_string(), "not_ready");
  EXPECT_EQ(v.at("checks").at("database").as_string(), "ok");
  EXPECT_EQ(v.at("checks").at("broker").as_string(), "connection refused");
  EXPECT_EQ(v.at("error").at("code").as_string(), "unavailable");
  EXPECT_EQ(v.at("error").at("request_id").as_string(), "rid-1");
  EXPECT_NE(std::string(v.at("error").at("message").as_string()).find("broker"), std::string::npos);
}

TEST_F(StandardRoutesTest, MetricsIsPrometheusText) {
  test_.metrics.counter("demo_total", "A demo counter").inc(3);
  add_standard_routes(context_);
  auto res = get("/metrics");
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.headers.get("Content-Type")->find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(res.body.find("demo_total 3"), std::string::npos);
}

TEST(ContextUpstream, ReadsHostPortAndRejectsMissingOrMalformed) {
  auto source = config::Source::from_strings("upstreams:\n  user: 127.0.0.1:8081\n  bad: nope\n");
  obs::Logger logger{"t", obs::LogLevel::kError};
  obs::Registry metrics;
  http::IoPool io{1};
  http::Client client{io, {}};
  Context ctx{"t", source, logger, metrics, io, client};
  auto user = ctx.upstream("user");
  EXPECT_EQ(user.host, "127.0.0.1");
  EXPECT_EQ(user.port, 8081);
  EXPECT_THROW(ctx.upstream("bad"), config::ConfigError);
  EXPECT_THROW(ctx.upstream("inventory"), config::ConfigError);
}

TEST_F(StandardRoutesTest, OwnedObjectsAreDestroyedInReverseOrder) {
  std::vector<int> order;
  struct Marker {
    std::vector<int>* log;
    int id;
    ~Marker() { log->push_back(id); }
  };
  {
    Context ctx{"t", test_.source, test_.logger, test_.metrics, test_.io, test_.client};
    ctx.own(std::make_unique<Marker>(Marker{&order, 1}));
    ctx.own(std::make_unique<Marker>(Marker{&order, 2}));
    order.clear();  // the temporaries above logged their own destruction
  }
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

}  // namespace
}  // namespace mercato::service
