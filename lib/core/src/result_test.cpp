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

// --- MERCATO_RETURN_IF_ERROR and MERCATO_ASSIGN_OR_RETURN

Result<void> must_be_even(int n) {
  if (n % 2 != 0) return Error::validation("n", "must be even");
  return {};
}

Result<int> quarter(int n) {
  MERCATO_ASSIGN_OR_RETURN(auto h, half(n));
  MERCATO_ASSIGN_OR_RETURN(auto q, half(h));  // a second one in the same scope
  return q;
}

Result<std::string> checked_twice(int n) {
  MERCATO_RETURN_IF_ERROR(must_be_even(n));  // a Result<void>
  MERCATO_RETURN_IF_ERROR(half(n));          // a Result<int>: the value is dropped
  return std::to_string(n);
}

TEST(ResultPropagation, AssignOrReturnGivesTheValueOrReturnsTheError) {
  EXPECT_EQ(*quarter(8), 2);
  auto odd = quarter(3);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error(), Error::validation("n", "must be even"));
  auto odd_half = quarter(6);  // 6/2 = 3: the second step fails
  ASSERT_FALSE(odd_half);
  EXPECT_EQ(odd_half.error().field, "n");
}

TEST(ResultPropagation, ReturnIfErrorReturnsTheErrorOfAnyResult) {
  EXPECT_EQ(*checked_twice(4), "4");
  EXPECT_EQ(checked_twice(5).error().message, "must be even");
}

TEST(ResultPropagation, TheExpressionIsEvaluatedOnce) {
  int calls = 0;
  auto counted = [&](int n) {
    ++calls;
    return half(n);
  };
  auto f = [&](int n) -> Result<int> {
    MERCATO_RETURN_IF_ERROR(counted(n));
    MERCATO_ASSIGN_OR_RETURN(int h, counted(n));
    return h;
  };
  EXPECT_EQ(*f(10), 5);
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(f(1));
  EXPECT_EQ(calls, 3) << "the failed first step returned before the second";
}

TEST(ResultPropagation, MoveOnlyValuesAndExistingVariables) {
  auto make = [](bool ok) -> Result<std::unique_ptr<int>> {
    if (!ok) return Error::not_found("none");
    return std::make_unique<int>(7);
  };
  auto f = [&](bool ok) -> Result<int> {
    std::unique_ptr<int> p;
    MERCATO_ASSIGN_OR_RETURN(p, make(ok));  // assigns an existing variable
    return *p;
  };
  EXPECT_EQ(*f(true), 7);
  EXPECT_EQ(f(false).error().code, ErrorCode::kNotFound);
}

TEST(ResultPropagation, ReturnIfErrorIsOneStatementUnderAnUnbracedIf) {
  auto f = [](bool check, int n) -> Result<void> {
    if (check)
      MERCATO_RETURN_IF_ERROR(must_be_even(n));
    else
      return Error::conflict("not checked");
    return {};
  };
  EXPECT_TRUE(f(true, 2));
  EXPECT_EQ(f(true, 3).error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(f(false, 2).error().code, ErrorCode::kConflict);
}

TEST(ResultPropagation, AFunctionReturningAnErrorMayUseThemToo) {
  auto first_problem = [](int n) -> Error {
    MERCATO_RETURN_IF_ERROR(must_be_even(n));
    return Error::internal("none");
  };
  EXPECT_EQ(first_problem(3).code, ErrorCode::kValidationFailed);
  EXPECT_EQ(first_problem(4).code, ErrorCode::kInternal);
}

}  // namespace
}  // namespace mercato
