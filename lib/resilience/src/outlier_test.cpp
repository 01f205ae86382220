#include "mercato/resilience/outlier.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mercato::resilience {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

OutlierSettings settings(int consecutive_5xx, int max_ejection_percent) {
  OutlierSettings s;
  s.consecutive_5xx = consecutive_5xx;
  s.interval = seconds{10};
  s.base_ejection_time = seconds{30};
  s.max_ejection_percent = max_ejection_percent;
  return s;
}

// Returns whether the last error ejected the instance.
bool errors(OutlierDetector& detector, std::size_t instance, int count, TimePoint now) {
  bool ejected = false;
  for (int i = 0; i < count; ++i) ejected = detector.on_result(instance, true, now);
  return ejected;
}

std::string invalid_field(void (*mutate)(OutlierSettings&)) {
  OutlierSettings s;
  mutate(s);
  auto result = s.validate();
  EXPECT_FALSE(result);
  if (result) return {};
  EXPECT_EQ(result.error().code, ErrorCode::kValidationFailed);
  return result.error().field;
}

TEST(OutlierSettings, Validates) {
  EXPECT_TRUE(OutlierSettings{}.validate());
  EXPECT_TRUE(settings(1, 0).validate());
  EXPECT_TRUE(settings(1, 100).validate());
  EXPECT_EQ(invalid_field([](OutlierSettings& s) { s.consecutive_5xx = 0; }), "consecutive_5xx");
  EXPECT_EQ(invalid_field([](OutlierSettings& s) { s.interval = milliseconds{0}; }), "interval");
  EXPECT_EQ(invalid_field([](OutlierSettings& s) { s.base_ejection_time = milliseconds{0}; }),
            "base_ejection_time");
  EXPECT_EQ(invalid_field([](OutlierSettings& s) { s.max_ejection_percent = -1; }), "max_ejection_percent");
  EXPECT_EQ(invalid_field([](OutlierSettings& s) { s.max_ejection_percent = 101; }), "max_ejection_percent");
}

TEST(OutlierDetector, EjectsOnExactlyConsecutive5xx) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(3, 100), 4);
  EXPECT_FALSE(errors(detector, 1, 2, now));
  EXPECT_FALSE(detector.ejected(1));
  EXPECT_TRUE(detector.on_result(1, true, now));
  EXPECT_TRUE(detector.ejected(1));
  EXPECT_EQ(detector.ejected_count(), 1U);
  EXPECT_EQ(detector.ejections(1), 1);
  EXPECT_EQ(detector.ejected_until(1), now + seconds{30});
  EXPECT_FALSE(detector.ejected(0));
  EXPECT_EQ(detector.ejected_until(0), TimePoint{});
}

TEST(OutlierDetector, ASuccessResetsTheCount) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(3, 100), 4);
  errors(detector, 0, 2, now);
  EXPECT_FALSE(detector.on_result(0, false, now));
  EXPECT_FALSE(errors(detector, 0, 2, now));
  EXPECT_FALSE(detector.ejected(0));
  EXPECT_TRUE(detector.on_result(0, true, now));
}

TEST(OutlierDetector, CountsArePerInstance) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(3, 100), 4);
  errors(detector, 0, 2, now);
  errors(detector, 1, 2, now);
  detector.on_result(2, false, now);
  EXPECT_EQ(detector.ejected_count(), 0U);
  EXPECT_TRUE(detector.on_result(0, true, now));
  EXPECT_FALSE(detector.ejected(1));
}

TEST(OutlierDetector, EvaluateLiftsEjectionsWhenTheirTimeIsUp) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 100), 4);
  ASSERT_TRUE(detector.on_result(0, true, now));
  ASSERT_TRUE(detector.on_result(1, true, now + seconds{5}));

  EXPECT_EQ(detector.evaluate(now + seconds{30} - milliseconds{1}), 0U);
  EXPECT_TRUE(detector.ejected(0));
  EXPECT_EQ(detector.evaluate(now + seconds{30}), 1U);
  EXPECT_FALSE(detector.ejected(0));
  EXPECT_EQ(detector.ejected_until(0), TimePoint{});
  EXPECT_TRUE(detector.ejected(1));
  EXPECT_EQ(detector.evaluate(now + seconds{35}), 1U);
  EXPECT_EQ(detector.ejected_count(), 0U);
}

TEST(OutlierDetector, EjectionTimeGrowsWithEachEjection) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(2, 100), 4);
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE(errors(detector, 2, 2, now)) << n;
    EXPECT_EQ(detector.ejections(2), n);
    EXPECT_EQ(detector.ejected_until(2), now + seconds{30} * n) << n;
    now += seconds{30} * n;
    EXPECT_EQ(detector.evaluate(now - milliseconds{1}), 0U) << n;
    EXPECT_EQ(detector.evaluate(now), 1U) << n;
  }
}

TEST(OutlierDetector, ErrorsWhileEjectedDoNotExtendTheEjection) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(2, 100), 4);
  ASSERT_TRUE(errors(detector, 0, 2, now));
  EXPECT_FALSE(errors(detector, 0, 5, now + seconds{10}));
  EXPECT_EQ(detector.ejections(0), 1);
  EXPECT_EQ(detector.ejected_until(0), now + seconds{30});
}

TEST(OutlierDetector, CapHoldsAtMaxEjectionPercent) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 20), 10);  // at most 2 of 10
  EXPECT_TRUE(detector.on_result(0, true, now));
  EXPECT_TRUE(detector.on_result(1, true, now));
  for (std::size_t i = 2; i < 10; ++i) EXPECT_FALSE(detector.on_result(i, true, now)) << i;
  EXPECT_EQ(detector.ejected_count(), 2U);
  EXPECT_FALSE(detector.ejected(2));
}

TEST(OutlierDetector, BlockedInstanceIsEjectedOnceThereIsRoom) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(3, 20), 10);
  ASSERT_TRUE(errors(detector, 0, 3, now));
  ASSERT_TRUE(errors(detector, 1, 3, now));
  EXPECT_FALSE(errors(detector, 2, 3, now));
  ASSERT_EQ(detector.evaluate(now + seconds{30}), 2U);
  // Its count was kept while the cap blocked it: one more error is enough.
  EXPECT_TRUE(detector.on_result(2, true, now + seconds{30}));
}

TEST(OutlierDetector, ClusterOfOneIsNeverEjected) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 100), 1);
  EXPECT_FALSE(errors(detector, 0, 50, now));
  EXPECT_FALSE(detector.ejected(0));
  EXPECT_EQ(detector.ejections(0), 0);
}

TEST(OutlierDetector, ClusterOfTwoMayLoseOne) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 10), 2);  // floor(2 * 10%) = 0, raised to 1
  EXPECT_TRUE(detector.on_result(1, true, now));
  EXPECT_FALSE(detector.on_result(0, true, now));
  EXPECT_EQ(detector.ejected_count(), 1U);
  EXPECT_FALSE(detector.ejected(0));
}

TEST(OutlierDetector, SmallPercentStillAllowsOne) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 10), 5);  // floor(0.5) = 0, raised to 1
  EXPECT_TRUE(detector.on_result(3, true, now));
  EXPECT_FALSE(detector.on_result(4, true, now));
}

TEST(OutlierDetector, ZeroPercentDisablesEjection) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 0), 10);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_FALSE(errors(detector, i, 5, now)) << i;
  EXPECT_EQ(detector.ejected_count(), 0U);
}

TEST(OutlierDetector, HundredPercentMayEjectAll) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 100), 3);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(detector.on_result(i, true, now)) << i;
  EXPECT_EQ(detector.ejected_count(), 3U);
}

TEST(OutlierDetector, UnknownInstanceIsIgnored) {
  TimePoint now{seconds{1000}};
  OutlierDetector detector(settings(1, 100), 2);
  EXPECT_FALSE(detector.on_result(2, true, now));
  EXPECT_FALSE(detector.ejected(2));
  EXPECT_EQ(detector.ejected_count(), 0U);
  EXPECT_EQ(detector.size(), 2U);
}

}  // namespace
}  // namespace mercato::resilience
