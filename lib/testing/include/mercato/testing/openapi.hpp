// Contract checks: does a response the end-to-end suite received match the service's OpenAPI file?
//
//   static const auto contract = testing::OpenApiContract::load(testing::api_file("user"));
//   auto res = testing::http(port, "GET", "/users/42");
//   EXPECT_EQ(contract.check("GET", "/users/42", res), "");   // "" = conforms; otherwise the problems
//
// The path is matched against the spec's path templates ("/users/{id}"); the response's status must be
// documented for that operation and its JSON body must validate against the documented schema. The
// validator covers the parts of OpenAPI 3.0 schemas the project uses: $ref, type, nullable, enum,
// required, properties, additionalProperties, items, min/maxLength, minimum/maximum, min/maxItems,
// minProperties, pattern and format date-time. A keyword it does not know is reported, not ignored.
//
// Thread-safety: a loaded contract is immutable; check() may be called from several threads.
#pragma once

#include <memory>
#include <string>

#include "mercato/testing/testing.hpp"

namespace mercato::testing {

// <source dir>/api/<service>.yaml
std::string api_file(const std::string& service);

class OpenApiContract {
 public:
  // Throws std::runtime_error when the file cannot be read or is not an OpenAPI document.
  static OpenApiContract load(const std::string& path);

  // "" when `response` to `method target` conforms; otherwise one line per problem.
  std::string check(const std::string& method, const std::string& target, const HttpResult& response) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Checks a response received through the gateway for /api<target>: the service whose route is the first
// segment of `target` ("/users/42" → users → the user service), or whose exact path `target` is
// (/.well-known/jwks.json), picks the contract, as the service descriptions say (lib/catalog). Each
// file loads once.
std::string check_contract(const std::string& method, const std::string& target, const HttpResult& response);

}  // namespace mercato::testing
