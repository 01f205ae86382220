#include "mercato/resilience/load_balancer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <thread>
#include <vector>

namespace mercato::resilience {
namespace {

std::map<std::size_t, int> picks(LoadBalancer& lb, const std::vector<bool>& available, int count) {
  std::map<std::size_t, int> seen;
  for (int i = 0; i < count; ++i) {
    auto picked = lb.pick(available);
    EXPECT_TRUE(picked.has_value());
    if (picked) ++seen[*picked];
  }
  return seen;
}

TEST(Balancing, ParsesItsNames) {
  EXPECT_EQ(parse_balancing("round_robin"), Balancing::kRoundRobin);
  EXPECT_EQ(parse_balancing("least_request"), Balancing::kLeastRequest);
  EXPECT_EQ(parse_balancing(""), std::nullopt);
  EXPECT_EQ(parse_balancing("random"), std::nullopt);
  EXPECT_EQ(parse_balancing("ROUND_ROBIN"), std::nullopt);
  for (Balancing b : {Balancing::kRoundRobin, Balancing::kLeastRequest}) {
    EXPECT_EQ(parse_balancing(to_string(b)), b);
  }
}

TEST(LoadBalancer, RoundRobinVisitsEachInstanceInTurn) {
  LoadBalancer lb(Balancing::kRoundRobin, 3);
  const std::vector<bool> all(3, true);
  std::vector<std::size_t> sequence;
  sequence.reserve(6);
  for (int i = 0; i < 6; ++i) sequence.push_back(lb.pick(all).value());
  const std::vector<std::size_t> expected = {0, 1, 2, 0, 1, 2};
  EXPECT_EQ(sequence, expected);
}

TEST(LoadBalancer, RoundRobinSkipsUnavailableAndStaysEven) {
  LoadBalancer lb(Balancing::kRoundRobin, 4);
  const std::vector<bool> available = {true, false, true, true};
  const auto seen = picks(lb, available, 300);
  const std::map<std::size_t, int> expected = {{0, 100}, {2, 100}, {3, 100}};
  EXPECT_EQ(seen, expected);
}

TEST(LoadBalancer, NoneAvailable) {
  for (Balancing b : {Balancing::kRoundRobin, Balancing::kLeastRequest}) {
    LoadBalancer lb(b, 3);
    EXPECT_EQ(lb.pick({false, false, false}), std::nullopt) << to_string(b);
    LoadBalancer empty(b, 0);
    EXPECT_EQ(empty.pick({}), std::nullopt) << to_string(b);
  }
}

TEST(LoadBalancer, SingleAvailableInstanceIsPickedEvenWhenBusy) {
  for (Balancing b : {Balancing::kRoundRobin, Balancing::kLeastRequest}) {
    LoadBalancer lb(b, 3);
    lb.started(2);
    lb.started(2);
    const auto seen = picks(lb, {false, false, true}, 20);
    const std::map<std::size_t, int> expected = {{2, 20}};
    EXPECT_EQ(seen, expected) << to_string(b);
  }
}

TEST(LoadBalancer, TracksCallsInFlight) {
  LoadBalancer lb(Balancing::kLeastRequest, 2);
  EXPECT_EQ(lb.size(), 2U);
  EXPECT_EQ(lb.in_flight(0), 0);
  lb.started(0);
  lb.started(0);
  lb.started(1);
  lb.finished(0);
  EXPECT_EQ(lb.in_flight(0), 1);
  EXPECT_EQ(lb.in_flight(1), 1);
}

TEST(LoadBalancer, LeastRequestComparesTwoDistinctInstances) {
  // With two instances both are always compared, so the idle one wins every time; drawing the same
  // instance twice would send a quarter of the calls to the busy one.
  LoadBalancer lb(Balancing::kLeastRequest, 2);
  lb.started(0);
  const auto seen = picks(lb, {true, true}, 200);
  const std::map<std::size_t, int> expected = {{1, 200}};
  EXPECT_EQ(seen, expected);
}

TEST(LoadBalancer, LeastRequestPrefersTheLessLoaded) {
  LoadBalancer lb(Balancing::kLeastRequest, 3);
  for (int i = 0; i < 10; ++i) {
    lb.started(0);
    lb.started(1);
  }
  // Instance 2 wins whenever it is one of the two drawn: two pairs out of three.
  const auto seen = picks(lb, {true, true, true}, 3000);
  ASSERT_EQ(seen.count(2), 1U);
  EXPECT_GT(seen.at(2), 1800);
  EXPECT_LT(seen.at(2), 2200);
}

TEST(LoadBalancer, LeastRequestSpreadsEqualLoad) {
  LoadBalancer lb(Balancing::kLeastRequest, 4);
  const auto seen = picks(lb, {true, false, true, true}, 3000);
  EXPECT_EQ(seen.count(1), 0U);
  for (std::size_t i : {0U, 2U, 3U}) {
    ASSERT_EQ(seen.count(i), 1U) << i;
    EXPECT_GT(seen.at(i), 800) << i;
  }
}

TEST(LoadBalancer, SeedsGiveReproducibleChoices) {
  LoadBalancer a(Balancing::kLeastRequest, 5, 123);
  LoadBalancer b(Balancing::kLeastRequest, 5, 123);
  const std::vector<bool> all(5, true);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.pick(all), b.pick(all));
}

TEST(LoadBalancer, ConcurrentCallsKeepCountsConsistent) {
  // Two instances shared by four threads: enough contention that a lost update would show.
  LoadBalancer lb(Balancing::kLeastRequest, 2);
  const std::vector<bool> all(2, true);
  std::vector<std::thread> workers;
  workers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < 200000; ++i) {
        const std::size_t picked = lb.pick(all).value();
        lb.started(picked);
        lb.finished(picked);
      }
    });
  }
  for (auto& w : workers) w.join();
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(lb.in_flight(i), 0) << i;
}

}  // namespace
}  // namespace mercato::resilience
