#include "mercato/testing/openapi.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>

#include "mercato/catalog/catalog.hpp"

namespace mercato::testing {
namespace {

constexpr const char* kSpec = R"(openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things:
    post:
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Thing'}
        '400': {$ref: '#/components/responses/Error'}
  /things/{id}:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Thing'}
        '204': {description: nothing}
components:
  schemas:
    Thing:
      type: object
      additionalProperties: false
      required: [id, count, status, created_at]
      properties:
        id: {type: string, pattern: '^[a-z]+$'}
        count: {type: integer, minimum: 0, maximum: 10}
        status: {type: string, enum: [new, old]}
        tags: {type: array, maxItems: 2, items: {type: string, minLength: 1}}
        created_at: {type: string, format: date-time}
        code: {type: string, description: "quoted '1' stays a string", enum: ['1']}
  responses:
    Error:
      description: error
      content:
        application/json:
          schema:
            type: object
            required: [error]
            properties:
              error: {type: object, required: [code]}
)";

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        std::filesystem::temp_directory_path() / ("mercato-openapi-" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(path_) << kSpec;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  static HttpResult response(int status, std::string body) {
    HttpResult r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  std::filesystem::path path_;
};

constexpr const char* kGood =
    R"({"id":"abc","count":3,"status":"new","tags":["x"],"created_at":"2026-11-29T19:26:53.123Z","code":"1"})";

TEST_F(OpenApiTest, ConformingResponsesPass) {
  auto c = OpenApiContract::load(path_.string());
  EXPECT_EQ(c.check("GET", "/things/abc", response(200, kGood)), "");
  EXPECT_EQ(c.check("POST", "/things", response(201, kGood)), "");
  EXPECT_EQ(c.check("POST", "/things?x=1", response(400, R"({"error":{"code":"x"}})")), "");
  EXPECT_EQ(c.check("GET", "/things/abc", response(204, "")), "");
  EXPECT_EQ(c.check("DELETE", "/things/abc", response(405, R"({"error":{}})")), "");
}

TEST_F(OpenApiTest, EachViolationIsReported) {
  auto c = OpenApiContract::load(path_.string());
  struct Case {
    const char* name;
    std::string body;
    const char* expect;
  };
  const auto cases = std::to_array<Case>({
      {"missing field", R"({"id":"abc","status":"new","created_at":"2026-11-29T19:26:53Z"})",
       "missing required 'count'"},
      {"extra field", R"({"id":"abc","count":1,"status":"new","created_at":"2026-11-29T19:26:53Z","x":1})",
       "'x' is not in the contract"},
      {"wrong type", R"({"id":"abc","count":"1","status":"new","created_at":"2026-11-29T19:26:53Z"})",
       "expected integer"},
      {"above maximum", R"({"id":"abc","count":11,"status":"new","created_at":"2026-11-29T19:26:53Z"})",
       "above maximum"},
      {"enum", R"({"id":"abc","count":1,"status":"gone","created_at":"2026-11-29T19:26:53Z"})",
       "is not one of"},
      {"pattern", R"({"id":"ABC","count":1,"status":"new","created_at":"2026-11-29T19:26:53Z"})",
       "does not match"},
      {"date-time", R"({"id":"abc","count":1,"status":"new","created_at":"yesterday"})", "RFC 3339"},
      {"maxItems",
       R"({"id":"abc","count":1,"status":"new","created_at":"2026-11-29T19:26:53Z","tags":["a","b","c"]})",
       "maxItems"},
      {"quoted enum", R"({"id":"abc","count":1,"status":"new","created_at":"2026-11-29T19:26:53Z","code":1})",
       "expected string"},
      {"not json", "{", "not JSON"},
  });
  for (const auto& k : cases) {
    auto problems = c.check("GET", "/things/abc", response(200, k.body));
    EXPECT_NE(problems.find(k.expect), std::string::npos) << k.name << ": " << problems;
  }
  EXPECT_NE(c.check("GET", "/things/abc", response(500, "{}")).find("not documented"), std::string::npos);
  EXPECT_NE(c.check("GET", "/other", response(200, "{}")).find("no path"), std::string::npos);
  EXPECT_NE(c.check("PUT", "/things", response(200, "{}")).find("has no PUT"), std::string::npos);
}

TEST_F(OpenApiTest, UnreadableFileThrows) {
  EXPECT_THROW(OpenApiContract::load("/nonexistent/api.yaml"), std::runtime_error);
}

// check_contract finds each service's contract by the routes and paths its description gives it: every
// one reaches a contract (an undocumented path is that contract's finding, not "no contract").
TEST(CheckContract, EveryDescribedRouteAndPathHasItsServicesContract) {
  HttpResult not_found{.status = 404, .body = R"({"error":{"code":"not_found"}})"};
  for (const auto& service : catalog::all()) {
    for (auto route : service.routes) {
      auto target = "/" + std::string(route) + "/no/such/thing";
      EXPECT_EQ(check_contract("GET", target, not_found).rfind("no contract", 0), std::string::npos)
          << target;
    }
    for (auto path : service.paths) {
      EXPECT_EQ(check_contract("GET", std::string(path), not_found).rfind("no contract", 0),
                std::string::npos)
          << path;
    }
  }
  EXPECT_EQ(check_contract("GET", "/nosuch/1", not_found), "no contract for /nosuch/1");
  EXPECT_EQ(check_contract("GET", "/.well-known/nosuch", not_found), "no contract for /.well-known/nosuch");
}

}  // namespace
}  // namespace mercato::testing
