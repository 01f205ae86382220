#include "mercato/core/error.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>

namespace mercato {
namespace {

constexpr std::array kAll{
    ErrorCode::kValidationFailed, ErrorCode::kMalformedRequest, ErrorCode::kUnauthenticated,
    ErrorCode::kPermissionDenied, ErrorCode::kNotFound,         ErrorCode::kMethodNotAllowed,
    ErrorCode::kConflict,         ErrorCode::kPayloadTooLarge,  ErrorCode::kUnprocessable,
    ErrorCode::kRateLimited,      ErrorCode::kHeadersTooLarge,  ErrorCode::kInternal,
    ErrorCode::kBadGateway,       ErrorCode::kUnavailable,      ErrorCode::kDeadlineExceeded};

TEST(ErrorCode, MapsToExpectedHttpStatuses) {
  EXPECT_EQ(http_status(ErrorCode::kValidationFailed), 400);
  EXPECT_EQ(http_status(ErrorCode::kMalformedRequest), 400);
  EXPECT_EQ(http_status(ErrorCode::kNotFound), 404);
  EXPECT_EQ(http_status(ErrorCode::kMethodNotAllowed), 405);
  EXPECT_EQ(http_status(ErrorCode::kConflict), 409);
  EXPECT_EQ(http_status(ErrorCode::kPayloadTooLarge), 413);
  EXPECT_EQ(http_status(ErrorCode::kUnprocessable), 422);
  EXPECT_EQ(http_status(ErrorCode::kHeadersTooLarge), 431);
  EXPECT_EQ(http_status(ErrorCode::kInternal), 500);
  EXPECT_EQ(http_status(ErrorCode::kBadGateway), 502);
  EXPECT_EQ(http_status(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(http_status(ErrorCode::kDeadlineExceeded), 504);
}

TEST(ErrorCode, EveryCodeHasADistinctWireName) {
  std::set<std::string_view> names;
  for (auto code : kAll) {
    auto name = to_string(code);
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(name.find(' '), std::string_view::npos);
    names.insert(name);
    EXPECT_GE(http_status(code), 400);
  }
  EXPECT_EQ(names.size(), std::size(kAll));
}

TEST(Error, ValidationCarriesField) {
  auto e = Error::validation("email", "bad");
  EXPECT_EQ(e.code, ErrorCode::kValidationFailed);
  EXPECT_EQ(e.field, "email");
  EXPECT_EQ(to_string(e.code), "validation_failed");
}

}  // namespace
}  // namespace mercato
