#include "mercato/core/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace mercato {
namespace {

Result<int> half(int n) {
  if (n % 2 != 0) return Error::validation("n", "must be even");
  return n / 2;
}

TEST(Result, HoldsValue) {
  auto r = half(4);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2);
}

TEST(Result, HoldsError) {
  auto r = half(3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "n");
}

TEST(Result, MovesOnlyTypes) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, VoidResult) {
  Result<void> ok;
  EXPECT_TRUE(ok);
  Result<void> bad = Error::not_found("x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mercato
