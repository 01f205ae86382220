#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mercato::load {

namespace {

// The power-of-two bucket of `value`: 0 for the exact range below kSubBucketCount, else how many bits
// the value has beyond it (each step halves the resolution).
int bucket_of(std::int64_t value) noexcept {
  auto width = static_cast<int>(std::bit_width(static_cast<std::uint64_t>(value)));
  return std::max(0, width - Histogram::kSubBucketBits);
}

}  // namespace

Histogram::Histogram() : counts_(index_of(kMaxValue) + 1, 0) {}

std::size_t Histogram::index_of(std::int64_t value) noexcept {
  value = std::clamp<std::int64_t>(value, 0, kMaxValue);
  int bucket = bucket_of(value);
  // Bucket b > 0 holds [2^(10+b), 2^(11+b)) as 1024 sub-buckets of width 2^b: value >> b lies in
  // [1024, 2048), so b·1024 + (value >> b) continues exactly where bucket b − 1 ended.
  return static_cast<std::size_t>(bucket) * static_cast<std::size_t>(kSubBucketHalf) +
         static_cast<std::size_t>(value >> bucket);
}

std::int64_t Histogram::lowest_equivalent(std::size_t index) noexcept {
  auto i = static_cast<std::int64_t>(index);
  if (i < kSubBucketCount) return i;
  std::int64_t bucket = i / kSubBucketHalf - 1;
  std::int64_t sub = i - bucket * kSubBucketHalf;
  return sub << bucket;
}

std::int64_t Histogram::highest_equivalent(std::size_t index) noexcept {
  auto i = static_cast<std::int64_t>(index);
  if (i < kSubBucketCount) return i;
  std::int64_t bucket = i / kSubBucketHalf - 1;
  return lowest_equivalent(index) + (std::int64_t{1} << bucket) - 1;
}

void Histogram::record(std::int64_t value, std::uint64_t times) {
  if (times == 0) return;
  if (value > kMaxValue) {
    saturated_ += times;
    value = kMaxValue;
  }
  value = std::max<std::int64_t>(value, 0);
  counts_[index_of(value)] += times;
  if (count_ == 0 || value < min_) min_ = value;
  if (count_ == 0 || value > max_) max_ = value;
  count_ += times;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  if (count_ == 0 || other.max_ > max_) max_ = other.max_;
  count_ += other.count_;
  saturated_ += other.saturated_;
}

double Histogram::mean() const noexcept {
  if (count_ == 0) return 0;
  double sum = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    auto middle =
        (static_cast<double>(lowest_equivalent(i)) + static_cast<double>(highest_equivalent(i))) / 2;
    sum += middle * static_cast<double>(counts_[i]);
  }
  return sum / static_cast<double>(count_);
}

std::int64_t Histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;  // also NaN
  p = std::min(p, 100.0);
  // Nearest rank, ceil(p/100 · count), in integers (p in millionths) so that 99.9 % of 1000 is rank
  // 999 and not 1000 through a binary fraction. Counts stay far below the 1.8e13 that would overflow.
  auto millionths = static_cast<std::uint64_t>(std::llround(p * 10'000));
  std::uint64_t wanted = (millionths * count_ + 999'999) / 1'000'000;
  wanted = std::clamp<std::uint64_t>(wanted, 1, count_);
  if (wanted == 1) return min_;
  if (wanted == count_) return max_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= wanted) return std::clamp(highest_equivalent(i), min_, max_);
  }
  return max_;
}

}  // namespace mercato::load
