// Helpers for end-to-end tests that run the real service binaries: free ports, child processes with
// their own logs, a blocking HTTP/1.1 client, and readiness waits (never fixed sleeps).
//
//   auto port = testing::free_port();
//   testing::Process user(testing::binary("user"), {}, {{"APP_SERVER__PORT", std::to_string(port)}});
//   ASSERT_TRUE(testing::wait_ready(port));
//   auto res = testing::http(port, "POST", "/users", R"({"email":"a@x.io","name":"A"})");
//   EXPECT_EQ(res.status, 201);
//
// Thread-safety: Process is owned by one test; http() may be called from several threads.
#pragma once

#include <sys/types.h>

#include <boost/json/value.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mercato::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released), picked at random below the
// kernel's ephemeral range: binding to port 0 would hand out ports in sequence, so a test running beside
// this one would likely be given the same port before our process binds it. A pick is also claimed for
// the life of this process with a lock on <tmp>/mercato-ports/<port>.lock (flock), which the other test
// processes — and tests/scripts/system_lib.sh — respect: two tests running side by side never pick the
// same port, even in the moment between the pick and the bind of the child that will listen there.
std::uint16_t free_port();
// The same, still held by a bound (not listening) socket whose descriptor the caller closes (close it
// before forking the process that will listen there: a child inherits it until exec).
std::pair<std::uint16_t, int> reserve_port();

// A new, empty directory for one test suite's files: <tmp>/mercato-e2e-<pid>-<name>.
std::filesystem::path temp_dir(const std::string& name);

// The repository's root (for api/*.yaml, node_modules/, config/).
std::string source_dir();

// The address of a server that `./mercato test` started for the tests (read from the environment
// variable `env_name`, e.g. MERCATO_TEST_POSTGRES_URL); empty when there is none. A test without its
// server skips — unless MERCATO_REQUIRE_BACKENDS=1, which `./mercato test` sets, where it must fail.
std::string backend_url(const char* env_name);
bool backends_required();

// The path of a built service binary, e.g. binary("user") → <build>/services/user/mercato-user.
std::string binary(const std::string& service);

class Process {
 public:
  // Starts `path` with `args`, the current environment plus `env`, stdout/stderr to `log_path`
  // (default: a file under the test temp directory). The child dies with the test process (PDEATHSIG).
  Process(const std::string& path, std::vector<std::string> args, std::map<std::string, std::string> env,
          std::string log_path = {});
  ~Process();  // SIGKILL if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void signal(int sig);
  // SIGSTOP, then waits up to `timeout` until every thread of the process has stopped. kill() returns
  // once the signal is queued; the process stops when one of its threads next runs and stops the rest,
  // and until then its other threads go on (a request sent meanwhile can be answered). False when it
  // did not stop in time or is not running. resume() sends SIGCONT.
  bool pause(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void resume() { signal(SIGCONT); }
  // Waits up to `timeout` for the exit; returns the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  const std::string& log_path() const noexcept { return log_path_; }
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

// A service binary on a free port (or `port`), with its SQLite file at <dir>/<name>.db, started by the
// constructor and restartable by start() on the same port, file and environment. `env` adds to the
// defaults; APP_SERVER__PORT and APP_DATABASE__PATH are always this object's, APP_LOG__LEVEL is "warn"
// unless `env` says otherwise.
struct ServiceProcess {
  ServiceProcess(std::string service, const std::filesystem::path& dir,
                 std::map<std::string, std::string> env = {}, std::uint16_t port = 0);
  void start();

  std::string name;
  std::uint16_t port;
  std::filesystem::path db;
  std::map<std::string, std::string> env;
  std::unique_ptr<Process> process;
};

struct HttpResult {
  int status = 0;                              // 0: no response (connect failed, closed, or timed out)
  std::string error;                           // why there is no response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  boost::json::value json() const;  // throws on invalid JSON: a test failure, not a crash
  std::string header(const std::string& lower_name) const;
  // From the one error shape {"error":{"code","field"?,...}}: "" when absent or not an error body.
  std::string error_code() const;
  std::string error_field() const;
};

// One request on a fresh connection (Connection: close). Body framing by Content-Length.
HttpResult http(std::uint16_t port, const std::string& method, const std::string& target,
                const std::string& body = {}, const std::map<std::string, std::string>& headers = {},
                std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Polls `done` every `poll` until it holds, at most `timeout`; false if it never did. For a state that
// another thread sets with nothing a test can wait on (a gauge, a broker's count): bounded, and it
// returns the moment the state is there, unlike a fixed sleep.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// Polls GET `path` until it answers 200, at most `timeout`; false if it never did.
bool wait_ready(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                const std::string& path = "/health/ready");
// Polls until nothing accepts connections on `port`, at most `timeout`.
bool wait_closed(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace mercato::testing
