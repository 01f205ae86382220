#include "mercato/core/ids.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace mercato {
namespace {

TEST(Ids, UuidHasVersion4Form) {
  static const std::regex kForm("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(std::regex_match(new_uuid(), kForm));
}

TEST(Ids, TimeOrderedUuidHasVersion7FormAndTheTimeInItsFirst48Bits) {
  static const std::regex kForm("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  for (int i = 0; i < 100; ++i) {
    auto before = now_ms();
    auto id = new_time_ordered_uuid();
    auto after = now_ms();
    ASSERT_TRUE(std::regex_match(id, kForm)) << id;
    auto ms = static_cast<std::int64_t>(std::stoull(id.substr(0, 8) + id.substr(9, 4), nullptr, 16));
    EXPECT_GE(ms, before) << id;
    EXPECT_LE(ms, after) << id;
  }
}

TEST(Ids, TimeOrderedUuidsMadeInLaterMillisecondsSortAfterAndDoNotRepeat) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 10000; ++i) {
    auto id = new_time_ordered_uuid();
    if (!previous.empty() && id.substr(0, 13) != previous.substr(0, 13)) {
      EXPECT_GT(id.substr(0, 13), previous.substr(0, 13))
          << "time went backwards between " << previous << " and " << id;
      EXPECT_GT(id, previous);
    }
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000U);
}

TEST(Ids, UuidsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(new_uuid());
  EXPECT_EQ(seen.size(), 10000U);
}

// The bytes are buffered per thread (ids.cpp): a forked child must not hand out the ones its parent
// will, or two processes would name different orders alike.
TEST(Ids, AForkedChildDoesNotRepeatItsParentsIds) {
  (void)new_uuid();  // the buffer is filled and has bytes left that the child must not reuse
  std::array<int, 2> fds{};
  ASSERT_EQ(::pipe(fds.data()), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string ids = new_uuid() + random_hex(16);
    auto written = ::write(fds[1], ids.data(), ids.size());
    ::_exit(written == static_cast<ssize_t>(ids.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string parent = new_uuid() + random_hex(16);
  std::string from_child(parent.size(), '\0');
  std::size_t got = 0;
  while (got < from_child.size()) {
    auto n = ::read(fds[0], from_child.data() + got, from_child.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, parent.size());
  EXPECT_NE(from_child.substr(0, 36), parent.substr(0, 36));
  EXPECT_NE(from_child.substr(36), parent.substr(36));
}

// Many ids from one thread go through many refills of its buffer, and none repeats.
TEST(Ids, IdsDoNotRepeatAcrossRefillsAndThreads) {
  std::set<std::string> seen;
  std::mutex mu;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      mine.reserve(2000);
      for (int i = 0; i < 2000; ++i) mine.push_back(new_uuid() + random_hex(13));
      std::lock_guard lock(mu);
      seen.insert(mine.begin(), mine.end());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(seen.size(), 8000U);
}

TEST(Ids, RandomHexLengthAndAlphabet) {
  for (std::size_t n : {1U, 8U, 16U, 17U}) {
    auto s = random_hex(n);
    EXPECT_EQ(s.size(), 2 * n);
    EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(s, std::string(2 * n, '0'));
  }
}

// Inverts x ^= (x >> shift) & mask (shift > 0): each step recovers `shift` more high bits.
std::uint64_t undo_right(std::uint64_t y, int shift, std::uint64_t mask) {
  std::uint64_t x = y;
  for (int i = 0; i < 64 / shift + 1; ++i) x = y ^ ((x >> shift) & mask);
  return x;
}
// Inverts x ^= (x << shift) & mask.
std::uint64_t undo_left(std::uint64_t y, int shift, std::uint64_t mask) {
  std::uint64_t x = y;
  for (int i = 0; i < 64 / shift + 1; ++i) x = y ^ ((x << shift) & mask);
  return x;
}
// mt19937_64's output tempering, undone: the generator's state word behind an output.
std::uint64_t untemper(std::uint64_t y) {
  y = undo_right(y, 43, ~0ULL);
  y = undo_left(y, 37, 0xFFF7EEE000000000ULL);
  y = undo_left(y, 17, 0x71D67FFFEDA60000ULL);
  y = undo_right(y, 29, 0x5555555555555555ULL);
  return y;
}
std::uint64_t word_of(const std::string& hex16) {
  // random_hex writes a word's bytes low byte first.
  std::uint64_t w = 0;
  for (std::size_t j = 8; j-- > 0;) w = (w << 8) | std::stoull(hex16.substr(2 * j, 2), nullptr, 16);
  return w;
}

TEST(Ids, UntemperInvertsTheTempering) {
  std::mt19937_64 reference(12345);
  std::vector<std::uint64_t> state;
  state.reserve(312);
  for (int i = 0; i < 312; ++i) state.push_back(untemper(reference()));
  std::stringstream text;
  for (auto w : state) text << w << ' ';
  std::mt19937_64 clone;
  text >> clone;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(clone(), reference());
}

// Ids name orders and payments and travel in URLs: an attacker who saw some must not be able to compute
// the next ones. With a Mersenne Twister, 312 consecutive outputs give away its whole state.
TEST(Ids, NextIdCannotBeComputedFromEarlierOnes) {
  std::stringstream text;
  for (int i = 0; i < 312; ++i) text << untemper(word_of(random_hex(8))) << ' ';
  std::mt19937_64 clone;
  text >> clone;
  int predicted = 0;
  for (int i = 0; i < 16; ++i) predicted += clone() == word_of(random_hex(8)) ? 1 : 0;
  EXPECT_EQ(predicted, 0);
}

}  // namespace
}  // namespace mercato
