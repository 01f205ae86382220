#include "mix.hpp"

#include <gtest/gtest.h>

#include <map>

namespace mercato::load {
namespace {

TEST(Mix, DefaultWeightsCoverEveryOperation) {
  Mix mix;
  EXPECT_EQ(mix.total(), 100u);
  EXPECT_EQ(mix.to_string(), "register=5,read_product=40,place_order=30,read_order=20,cancel_order=5");
  for (Op op : kAllOps) EXPECT_GT(mix.weight(op), 0u) << op_name(op);
}

TEST(Mix, PickGivesEachOperationItsShare) {
  auto mix = Mix::parse("register=1,read_product=2,place_order=3,read_order=0,cancel_order=4");
  ASSERT_TRUE(mix) << mix.error().message;
  std::map<Op, int> seen;
  for (std::uint64_t r = 0; r < mix->total(); ++r) ++seen[mix->pick(r)];
  EXPECT_EQ(seen[Op::kRegister], 1);
  EXPECT_EQ(seen[Op::kReadProduct], 2);
  EXPECT_EQ(seen[Op::kPlaceOrder], 3);
  EXPECT_EQ(seen.count(Op::kReadOrder), 0u);
  EXPECT_EQ(seen[Op::kCancelOrder], 4);
  EXPECT_EQ(mix->pick(0), Op::kRegister);
  EXPECT_EQ(mix->pick(9), Op::kCancelOrder);
}

TEST(Mix, LeftOutOperationsGetZero) {
  auto mix = Mix::parse("place_order=1");
  ASSERT_TRUE(mix);
  EXPECT_EQ(mix->total(), 1u);
  EXPECT_EQ(mix->pick(0), Op::kPlaceOrder);
}

TEST(Mix, RefusesBadSpecsNamingTheProblem) {
  auto expect_refused = [](const std::string& spec, const std::string& says) {
    auto mix = Mix::parse(spec);
    ASSERT_FALSE(mix) << spec;
    EXPECT_EQ(mix.error().field, "mix");
    EXPECT_NE(mix.error().message.find(says), std::string::npos) << spec << ": " << mix.error().message;
  };
  expect_refused("", "empty");
  expect_refused("browse=3", "unknown operation 'browse'");
  expect_refused("register", "not name=weight");
  expect_refused("register=-1", "integer 0..1000000");
  expect_refused("register=x", "integer 0..1000000");
  expect_refused("register=2000000", "integer 0..1000000");
  expect_refused("register=1,register=2", "given twice");
  expect_refused("register=0,read_product=0", "every weight is 0");
  expect_refused("read_order=3,register=1", "need place_order > 0");
}

}  // namespace
}  // namespace mercato::load
