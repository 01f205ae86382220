#include "mercato/testing/testing.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "mercato/testing/tokens.hpp"

#ifndef MERCATO_BUILD_DIR
#error "MERCATO_BUILD_DIR must be defined by the build"
#endif

extern char** environ;

namespace mercato::testing {

namespace {

// The lowest port the kernel hands out by itself (bind to port 0, outgoing connections).
std::uint16_t ephemeral_start() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 32768;
  in >> low;
  return static_cast<std::uint16_t>(low > 11000 && low <= 65535 ? low : 32768);
}

// Claims `port` for this process's life (the descriptor stays open, so the lock holds until exit),
// or says another test process has it. The lock file is what the processes agree on; the file itself
// is never removed (a removal between another's open and flock would let two processes hold "a" lock).
bool claim_port(std::uint16_t port) {
  static const auto kDir = std::filesystem::temp_directory_path() / "mercato-ports";
  std::error_code ec;
  std::filesystem::create_directories(kDir, ec);
  auto path = kDir / (std::to_string(port) + ".lock");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no shared directory: the bind check below is all there is
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  return true;  // fd deliberately kept open: the lock is released when this process exits
}

}  // namespace

std::pair<std::uint16_t, int> reserve_port() {
  static thread_local std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(10000, ephemeral_start() - 1);
  for (int attempt = 0; attempt < 500; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto port = static_cast<std::uint16_t>(pick(random));
    addr.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && claim_port(port))
      return {port, fd};
    ::close(fd);  // taken, or claimed by another test process: another
  }
  throw std::runtime_error("cannot reserve a loopback port below the ephemeral range");
}

std::uint16_t free_port() {
  auto [port, fd] = reserve_port();
  ::close(fd);
  return port;
}

std::string source_dir() { return MERCATO_SOURCE_DIR; }

std::string backend_url(const char* env_name) {
  const char* value = std::getenv(env_name);
  return value != nullptr ? value : "";
}

bool backends_required() {
  const char* value = std::getenv("MERCATO_REQUIRE_BACKENDS");
  return value != nullptr && std::string_view(value) == "1";
}

std::string binary(const std::string& service) {
  const char* dir = std::getenv("MERCATO_BUILD_DIR");
  std::string build = dir != nullptr ? dir : MERCATO_BUILD_DIR;
  return build + "/services/" + service + "/mercato-" + service;
}

Process::Process(const std::string& path, std::vector<std::string> args,
                 std::map<std::string, std::string> env, std::string log_path)
    : log_path_(std::move(log_path)) {
  // A Mercato service trusts the test suite's token issuer unless the test says otherwise (tokens.hpp).
  auto file = std::filesystem::path(path).filename().string();
  if (file.rfind("mercato-", 0) == 0 &&
      std::filesystem::path(path).parent_path().filename() == file.substr(8)) {
    for (auto& [k, v] : TestTokens::instance().env_for(file.substr(8))) env.try_emplace(k, v);
  }
  if (log_path_.empty()) {
    auto dir = std::filesystem::temp_directory_path() / "mercato-e2e-logs";
    std::filesystem::create_directories(dir);
    log_path_ = (dir / (std::filesystem::path(path).filename().string() + "-" + std::to_string(::getpid()) +
                        "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".log"))
                    .string();
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos && env.count(entry.substr(0, eq)) != 0) continue;
    env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());

  std::vector<char*> argv_ptrs;
  argv_ptrs.reserve(argv_strings.size());
  for (auto& s : argv_strings) argv_ptrs.push_back(s.data());
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  env_ptrs.reserve(env_strings.size());
  for (auto& s : env_strings) env_ptrs.push_back(s.data());
  env_ptrs.push_back(nullptr);

  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open log " + log_path_);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // Signals blocked by the test runner must not stay blocked in the service.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  ::close(log_fd);
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

void Process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

bool Process::pause(std::chrono::milliseconds timeout) {
  if (pid_ <= 0 || status_) return false;
  ::kill(pid_, SIGSTOP);
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    // WUNTRACED: the stop is reported once the whole group has stopped.
    pid_t r = ::waitpid(pid_, &st, WNOHANG | WUNTRACED);
    if (r == pid_) {
      if (WIFSTOPPED(st)) return true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return false;
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a stop, bounded above
  }
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling an exit status, bounded above
  }
}

bool Process::running() { return pid_ > 0 && !wait(std::chrono::milliseconds(0)); }

std::string Process::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ServiceProcess::ServiceProcess(std::string service, const std::filesystem::path& dir,
                               std::map<std::string, std::string> extra, std::uint16_t fixed_port)
    : name(std::move(service)),
      port(fixed_port != 0 ? fixed_port : free_port()),
      db(dir / (name + ".db")),
      env(std::move(extra)) {
  env["APP_SERVER__PORT"] = std::to_string(port);
  env["APP_DATABASE__PATH"] = db.string();
  env.try_emplace("APP_LOG__LEVEL", "warn");
  start();
}

void ServiceProcess::start() {
  process = std::make_unique<Process>(binary(name), std::vector<std::string>{}, env);
}

boost::json::value HttpResult::json() const { return boost::json::parse(body); }

namespace {

std::string error_member(const std::string& body, std::string_view member) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* error = v.get_object().if_contains("error");
  if (error == nullptr || !error->is_object()) return {};
  const auto* m = error->get_object().if_contains(member);
  return m != nullptr && m->is_string() ? std::string(m->get_string()) : std::string();
}

}  // namespace

std::string HttpResult::error_code() const { return error_member(body, "code"); }
std::string HttpResult::error_field() const { return error_member(body, "field"); }

std::filesystem::path temp_dir(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("mercato-e2e-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string HttpResult::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int connect_with_timeout(std::uint16_t port, std::chrono::milliseconds timeout, std::string& error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    } else {
      errno = ETIMEDOUT;
    }
  }
  if (rc != 0) {
    error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

HttpResult http(std::uint16_t port, const std::string& method, const std::string& target,
                const std::string& body, const std::map<std::string, std::string>& headers,
                std::chrono::milliseconds timeout) {
  HttpResult result;
  auto until = std::chrono::steady_clock::now() + timeout;
  int fd = connect_with_timeout(port, timeout, result.error);
  if (fd < 0) return result;
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n";
  bool has_type = false;
  bool has_authorization = false;
  for (const auto& [k, v] : headers) {
    // An empty Authorization sends none: the caller asks to be anonymous.
    if (lower(k) == "authorization") {
      has_authorization = true;
      if (v.empty()) continue;
    }
    request += k + ": " + v + "\r\n";
    if (lower(k) == "content-type") has_type = true;
  }
  if (!has_authorization) request += "Authorization: " + staff_authorization(method, target) + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    if (!has_type) request += "Content-Type: application/json\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  std::string_view pending = request;
  std::string in;
  std::array<char, 8192> buf{};
  bool sent_all = false;
  for (;;) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.error = "timed out";
      break;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (sent_all ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (!sent_all && (p.revents & POLLOUT) != 0) {
      auto n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n > 0) pending.remove_prefix(static_cast<std::size_t>(n));
      if (n < 0 && errno != EAGAIN) sent_all = true;  // the server may answer before reading it all (413)
      if (pending.empty()) sent_all = true;
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      auto n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n > 0) {
        in.append(buf.data(), static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || errno != EAGAIN) break;
    }
  }
  ::close(fd);
  auto header_end = in.find("\r\n\r\n");
  if (in.compare(0, 5, "HTTP/") != 0 || header_end == std::string::npos) {
    if (result.error.empty()) result.error = in.empty() ? "no response" : "unparseable response";
    return result;
  }
  result.status = std::stoi(in.substr(9, 3));
  std::size_t line_start = in.find("\r\n") + 2;
  while (line_start < header_end) {
    auto line_end = in.find("\r\n", line_start);
    auto line = in.substr(line_start, line_end - line_start);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      result.headers[lower(line.substr(0, colon))] = value;
    }
    line_start = line_end + 2;
  }
  result.body = in.substr(header_end + 4);
  if (auto it = result.headers.find("content-length"); it != result.headers.end()) {
    auto n = static_cast<std::size_t>(std::stoull(it->second));
    if (result.body.size() > n) result.body.resize(n);
  }
  return result;
}

bool wait_ready(std::uint16_t port, std::chrono::milliseconds timeout, const std::string& path) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto r = http(port, "GET", path, {}, {}, std::chrono::milliseconds(500));
    if (r.status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval of a bounded readiness wait
  }
  return false;
}

bool wait_closed(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    std::string error;
    int fd = connect_with_timeout(port, std::chrono::milliseconds(200), error);
    if (fd < 0) return true;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace mercato::testing
