#include "mercato/http/message.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

namespace mercato::http {
namespace {

TEST(Headers, LookupIsCaseInsensitive) {
  Headers h;
  h.add("Content-Type", "application/json");
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_FALSE(h.get("Content-Length"));
}

TEST(Headers, SetReplacesAllValues) {
  Headers h;
  h.add("X-A", "1");
  h.add("x-a", "2");
  h.set("X-A", "3");
  EXPECT_EQ(h.entries().size(), 1U);
  EXPECT_EQ(h.get("x-a"), "3");
}

TEST(Headers, KeepTheirOrderThroughRemovalsAndCopies) {
  Headers h;
  std::string long_value(300, 'v');  // past the first reservation: the text buffer grows
  h.add("Server", "nginx");
  h.add("X-Long", long_value);
  h.add("Connection", "keep-alive, X-Hop");
  h.add("X-Hop", "1");
  h.add("Content-Type", "application/json");
  h.remove_if(
      [](std::string_view name, std::string_view) { return name == "Connection" || name == "X-Hop"; });
  h.remove("server");
  Headers copy = h;
  h.add("X-After", "2");  // the copy is independent
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& [name, value] : copy.entries()) seen.emplace_back(name, value);
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"X-Long", long_value},
                                                                    {"Content-Type", "application/json"}}));
  EXPECT_EQ(copy.size(), 2U);
  EXPECT_EQ(h.get("x-after"), "2");
  EXPECT_EQ(h.get("X-Long"), long_value);
  EXPECT_FALSE(h.get("X-Hop"));
}

TEST(Headers, NamesOfEqualLengthAreToldApart) {
  Headers h;
  h.add("X-Ab", "1");
  h.add("X-Cd", "2");
  EXPECT_EQ(h.get("x-cd"), "2");
  EXPECT_EQ(h.get("X-AB"), "1");
  EXPECT_FALSE(h.get("X-A"));
  EXPECT_FALSE(h.get("X-Abc"));
}

TEST(Request, QueryParamsAreDecoded) {
  Request r;
  r.query = "a=1&name=J%C3%BCrgen+M&flag&empty=";
  EXPECT_EQ(r.query_param("a"), "1");
  EXPECT_EQ(r.query_param("name"), "J\xC3\xBCrgen M");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("empty"), "");
  EXPECT_FALSE(r.query_param("missing"));
}

TEST(PercentDecode, KeepsInvalidEscapes) {
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz"), "%zz");
  EXPECT_EQ(percent_decode_path("a+b%2Fc"), "a+b/c");
}

TEST(Response, ErrorHasTheOneShape) {
  auto res = Response::error(Error::validation("email", "email: must contain '@'"), "req-1");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.headers.get("Content-Type"), "application/json");
  auto v = boost::json::parse(res.body);
  const auto& e = v.at("error");
  EXPECT_EQ(e.at("code").as_string(), "validation_failed");
  EXPECT_EQ(e.at("field").as_string(), "email");
  EXPECT_EQ(e.at("request_id").as_string(), "req-1");
  EXPECT_EQ(e.at("message").as_string(), "email: must contain '@'");
}

TEST(Response, ErrorWithoutFieldOmitsIt) {
  auto res = Response::error(Error::not_found("no user"), "r");
  EXPECT_EQ(res.status, 404);
  auto v = boost::json::parse(res.body);
  EXPECT_FALSE(v.at("error").as_object().contains("field"));
}

TEST(HopByHop, KnowsTheRfcList) {
  EXPECT_TRUE(is_hop_by_hop("Connection"));
  EXPECT_TRUE(is_hop_by_hop("transfer-encoding"));
  EXPECT_TRUE(is_hop_by_hop("Keep-Alive"));
  EXPECT_TRUE(is_hop_by_hop("Upgrade"));
  EXPECT_FALSE(is_hop_by_hop("Authorization"));
  EXPECT_FALSE(is_hop_by_hop("traceparent"));
}

TEST(Method, ParsesKnownAndOther) {
  EXPECT_EQ(parse_method("PATCH"), Method::kPatch);
  EXPECT_EQ(parse_method("get"), Method::kOther);  // methods are case-sensitive
  EXPECT_EQ(to_string(Method::kDelete), "DELETE");
}

// A 5xx's message reaches the client only when its producer kept the private part in `detail`.
TEST(Response, AServerErrorShowsItsMessageOnlyWhenThePrivateTextIsKeptApart) {
  auto raw = Response::error(Error::unavailable("user service: connect 127.0.0.1:8081: refused"), "rid-1");
  auto raw_message = std::string(boost::json::parse(raw.body).at("error").at("message").as_string());
  EXPECT_EQ(raw_message.find("8081"), std::string::npos) << raw_message;
  EXPECT_NE(raw.detail.find("127.0.0.1:8081"), std::string::npos) << "the log keeps it";

  auto split = Error::unavailable("user service: connect 127.0.0.1:8081: refused")
                   .with_public_message("the user service is unavailable");
  auto res = Response::error(split, "rid-2");
  EXPECT_EQ(res.status, 503);
  auto v = boost::json::parse(res.body);
  EXPECT_EQ(v.at("error").at("message").as_string(), "the user service is unavailable");
  EXPECT_EQ(res.body.find("8081"), std::string::npos) << res.body;
  EXPECT_NE(res.detail.find("127.0.0.1:8081"), std::string::npos) << res.detail;
}

}  // namespace
}  // namespace mercato::http
