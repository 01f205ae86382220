#include "mercato/core/periodic.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace mercato::core {
namespace {

using namespace std::chrono_literals;

TEST(Periodic, RunsEveryIntervalAndStopsWhenDestroyed) {
  std::atomic<int> runs{0};
  std::promise<void> third;
  {
    Periodic task(5ms, [&] {
      if (++runs == 3) third.set_value();
    });
    ASSERT_EQ(third.get_future().wait_for(5s), std::future_status::ready);
  }
  auto after = runs.load();
  EXPECT_GE(after, 3);
  std::this_thread::sleep_for(20ms);  // four intervals: a stopped task does not run again
  EXPECT_EQ(runs.load(), after);
}

TEST(Periodic, RunsAtStartWhenAsked) {
  std::promise<void> ran;
  Periodic task(
      std::chrono::hours(1), [&] { ran.set_value(); }, Periodic::kRunAtStart);
  EXPECT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
}

TEST(Periodic, AsksForItsIntervalBeforeEachWait) {
  std::atomic<int> runs{0};
  std::atomic<int> asked{0};
  std::promise<void> third;
  {
    // Fast until the third run, then an hour: a new interval applies from the next wait on.
    Periodic task(
        [&]() -> std::chrono::milliseconds {
          ++asked;
          return runs.load() < 3 ? std::chrono::milliseconds(1) : std::chrono::hours(1);
        },
        [&] {
          if (++runs == 3) third.set_value();
        });
    ASSERT_EQ(third.get_future().wait_for(5s), std::future_status::ready);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(runs.load(), 3);
    EXPECT_EQ(asked.load(), 4) << "once before each of the three runs, once before the long wait";
  }
}

TEST(Periodic, DestructionDoesNotWaitForTheNextInterval) {
  auto started = std::chrono::steady_clock::now();
  {
    Periodic task(std::chrono::hours(1), [] {});
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

}  // namespace
}  // namespace mercato::core
