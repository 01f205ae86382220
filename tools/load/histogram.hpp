// Histogram: a high-dynamic-range latency histogram (HdrHistogram's log-linear layout) for the load
// generator.
//
//   load::Histogram h;                  // values in microseconds, 0 .. 60 s, 3 significant digits
//   h.record(1234);                     // 1.234 ms
//   h.percentile(99.0);                 // within 0.1% of the exact 99th percentile
//   total.merge(h);                     // per-worker histograms are merged at the end
//
// Why our own: Debian packages no C or C++ HdrHistogram (only Java, Go and Python ones), and the part
// the tool needs is small. The layout is HdrHistogram's: values below 2048 are counted exactly; above,
// each power of two [2^k, 2^(k+1)) is split into 1024 equal sub-buckets, so a bucket is never wider than
// 1/1024 of its lower bound — three significant decimal digits over the whole range, in a fixed array
// (about 17,400 counters for 1 µs .. 60 s: 139 KB). Recording is an index computation and an increment.
//
// Percentiles follow the nearest-rank definition: percentile(p) is a value of the bucket holding the
// ceil(p/100 · count)-th smallest recorded value, reported as that bucket's highest equivalent value
// (as HdrHistogram does) and clamped to the exact min and max, which are tracked separately. So it is
// never below the exact percentile and at most 1/1024 of it above.
//
// Values above kMaxValue are recorded as kMaxValue and counted in saturated(); negative values as 0.
//
// Thread-safety: none; one histogram per thread, merged afterwards.
#pragma once

#include <cstdint>
#include <vector>

namespace mercato::load {

class Histogram {
 public:
  static constexpr std::int64_t kMaxValue = 60'000'000;  // 60 s in microseconds
  static constexpr int kSubBucketBits = 11;              // 2048 exact values, then 1024 per power of two
  static constexpr std::int64_t kSubBucketCount = std::int64_t{1} << kSubBucketBits;
  static constexpr std::int64_t kSubBucketHalf = kSubBucketCount / 2;

  Histogram();

  void record(std::int64_t value, std::uint64_t times = 1);
  // Adds every value `other` recorded.
  void merge(const Histogram& other);

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t saturated() const noexcept { return saturated_; }
  // The exact smallest and largest values recorded (0 when empty).
  std::int64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  std::int64_t max() const noexcept { return count_ == 0 ? 0 : max_; }
  // Mean of the recorded values (each counted as its bucket's middle; exact below 2048); 0 when empty.
  double mean() const noexcept;
  // The value at percentile `p` (0..100, clamped); 0 when empty. percentile(100) is max().
  std::int64_t percentile(double p) const noexcept;

  // The bucket layout, exposed for tests: the index of `value`'s counter, and the range of values it
  // counts ([lowest, highest], inclusive).
  static std::size_t index_of(std::int64_t value) noexcept;
  static std::int64_t lowest_equivalent(std::size_t index) noexcept;
  static std::int64_t highest_equivalent(std::size_t index) noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t saturated_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
};

}  // namespace mercato::load
