// Process::pause against a real child with several threads: it returns once the whole process has
// stopped (the kernel says so: /proc/<pid>/stat's state is T), and resume() lets it run again.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "mercato/testing/testing.hpp"

namespace mercato::testing {
namespace {

using namespace std::chrono_literals;

// The state letter of every thread of `pid` (R, S, T...), one per thread.
std::string thread_states(pid_t pid) {
  std::string out;
  auto dir = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (const auto& task : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(task.path() / "stat");
    std::string line;
    std::getline(in, line);
    auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size()) out += line[close + 2];
  }
  return out;
}

TEST(Process, PauseReturnsOnceEveryThreadHasStoppedAndResumeRunsItAgain) {
  // A child of several threads that never exits on its own: a service binary, idle.
  auto dir = temp_dir("process-pause");
  Process child(binary("payment"), {},
                {{"APP_SERVER__PORT", std::to_string(free_port())},
                 {"APP_DATABASE__PATH", (dir / "p.db").string()},
                 {"APP_EVENTS__URL", "inprocess://process-pause"}});
  // Started: its threads exist (bounded wait for more than the main one).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (thread_states(child.pid()).size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_GE(thread_states(child.pid()).size(), 2U);

  ASSERT_TRUE(child.pause());
  auto stopped = thread_states(child.pid());
  EXPECT_EQ(stopped, std::string(stopped.size(), 'T')) << "a thread still runs after pause() returned";

  child.resume();
  deadline = std::chrono::steady_clock::now() + 10s;
  while (thread_states(child.pid()).find('T') != std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(thread_states(child.pid()).find('T'), std::string::npos) << thread_states(child.pid());
  EXPECT_TRUE(child.running());

  child.signal(SIGKILL);
  ASSERT_TRUE(child.wait(5s));
  EXPECT_FALSE(child.pause()) << "a process that has exited cannot be paused";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mercato::testing
