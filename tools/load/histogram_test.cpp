#include "histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace mercato::load {
namespace {

// The exact nearest-rank percentile of sorted `values`: the ceil(p/100 · n)-th smallest. `p_tenths` is
// the percentile in tenths (999 = 99.9) so the rank is computed in integers.
std::int64_t exact(const std::vector<std::int64_t>& sorted, int p_tenths) {
  auto n = static_cast<std::uint64_t>(sorted.size());
  auto rank = std::max<std::uint64_t>(1, (static_cast<std::uint64_t>(p_tenths) * n + 999) / 1000);
  return sorted[rank - 1];
}

// Three significant digits: never below the exact value, and above it by at most one bucket width,
// which is at most 1/1024 of the value (0 below 2048, where buckets are exact).
void expect_within_precision(std::int64_t got, std::int64_t want, const std::string& what) {
  EXPECT_GE(got, want) << what;
  EXPECT_LE(static_cast<double>(got - want), static_cast<double>(want) / 1024.0) << what << ": got " << got;
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0);
  EXPECT_EQ(h.percentile(50), 0);
  EXPECT_EQ(h.percentile(100), 0);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (std::int64_t v = 0; v < 2048; ++v) h.record(v);
  EXPECT_EQ(h.count(), 2048u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 2047);
  EXPECT_EQ(h.percentile(50), 1023);  // rank 1024
  EXPECT_EQ(h.percentile(90), 1843);  // rank ceil(1843.2) = 1844
  EXPECT_DOUBLE_EQ(h.mean(), 1023.5);
}

TEST(Histogram, BucketsAreContiguousAndNarrow) {
  // Every value maps to a bucket that contains it, consecutive buckets touch, and no bucket is wider
  // than 1/1024 of its lowest value — over the whole range.
  for (std::size_t i = 1; i <= Histogram::index_of(Histogram::kMaxValue); ++i) {
    ASSERT_EQ(Histogram::lowest_equivalent(i), Histogram::highest_equivalent(i - 1) + 1) << i;
    auto lo = Histogram::lowest_equivalent(i);
    auto width = Histogram::highest_equivalent(i) - lo + 1;
    ASSERT_LE(static_cast<double>(width - 1), static_cast<double>(lo) / 1024.0) << i;
    ASSERT_EQ(Histogram::index_of(lo), i);
    ASSERT_EQ(Histogram::index_of(Histogram::highest_equivalent(i)), i);
  }
}

TEST(Histogram, PercentilesWithinPrecisionOfSortedValues) {
  std::mt19937_64 rng(7);
  // Log-uniform over 1 µs .. 60 s, like latencies spanning many orders of magnitude.
  std::uniform_real_distribution<double> exponent(0.0, std::log(6e7));
  for (std::size_t n : {1u, 2u, 3u, 10u, 999u, 1000u, 12345u}) {
    Histogram h;
    std::vector<std::int64_t> values;
    for (std::size_t i = 0; i < n; ++i) {
      auto v = static_cast<std::int64_t>(std::exp(exponent(rng)));
      values.push_back(v);
      h.record(v);
    }
    std::sort(values.begin(), values.end());
    EXPECT_EQ(h.count(), n);
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    for (int p : {1, 500, 900, 990, 999, 1000}) {
      expect_within_precision(h.percentile(p / 10.0), exact(values, p),
                              "n=" + std::to_string(n) + " p=" + std::to_string(p / 10.0));
    }
  }
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, both;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::int64_t> small(100, 5000), large(1'000'000, 9'000'000);
  for (int i = 0; i < 5000; ++i) {
    auto x = small(rng);
    auto y = large(rng);
    a.record(x);
    b.record(y);
    both.record(x);
    both.record(y);
  }
  Histogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.count(), both.count());
  EXPECT_EQ(merged.min(), both.min());
  EXPECT_EQ(merged.max(), both.max());
  for (double p : {10.0, 50.0, 75.0, 99.0, 99.9}) EXPECT_EQ(merged.percentile(p), both.percentile(p)) << p;
  EXPECT_DOUBLE_EQ(merged.mean(), both.mean());
  // Merging into an empty histogram takes the other's min and max, merging an empty one changes nothing.
  Histogram empty;
  empty.merge(b);
  EXPECT_EQ(empty.min(), b.min());
  EXPECT_EQ(empty.max(), b.max());
  Histogram unchanged = a;
  unchanged.merge(Histogram{});
  EXPECT_EQ(unchanged.count(), a.count());
  EXPECT_EQ(unchanged.min(), a.min());
}

TEST(Histogram, MinAndMaxAreExactNotBucketed) {
  Histogram h;
  h.record(1'000'001);  // in a bucket 1024 wide
  h.record(5'000'003);
  EXPECT_EQ(h.min(), 1'000'001);
  EXPECT_EQ(h.max(), 5'000'003);
  EXPECT_EQ(h.percentile(0), 1'000'001);
  EXPECT_EQ(h.percentile(100), 5'000'003);
  EXPECT_EQ(h.percentile(50), 1'000'001);  // rank 1 of 2, the exact minimum
}

TEST(Histogram, OutOfRangeValuesSaturate) {
  Histogram h;
  h.record(Histogram::kMaxValue + 5);
  h.record(-3);
  h.record(10, 3);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.saturated(), 1u);
  EXPECT_EQ(h.max(), Histogram::kMaxValue);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.percentile(50), 10);
}

}  // namespace
}  // namespace mercato::load
