#include "mercato/observability/logging.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace mercato::obs {
namespace {

// A pipe whose read end is drained after the writer is closed; enough for a few lines (64 KiB buffer).
class Pipe {
 public:
  Pipe() {
    std::array<int, 2> fds{};
    if (::pipe(fds.data()) != 0) throw std::runtime_error("pipe failed");
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
  ~Pipe() {
    close_write();
    ::close(read_fd_);
  }
  int write_fd() const { return write_fd_; }
  void close_write() {
    if (write_fd_ >= 0) ::close(write_fd_);
    write_fd_ = -1;
  }
  // Closes the write end and returns everything written.
  std::string drain() {
    close_write();
    std::string out;
    std::array<char, 4096> buf{};
    ssize_t n;
    while ((n = ::read(read_fd_, buf.data(), buf.size())) > 0)
      out.append(buf.data(), static_cast<std::size_t>(n));
    return out;
  }
  int read_fd() const { return read_fd_; }

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

// The JSON text between the fixed prefix and the closing brace, i.e. what follows "message":... .
std::string after_message(const std::string& line) {
  auto pos = line.find("\"message\":");
  return pos == std::string::npos ? std::string() : line.substr(pos);
}

TEST(LogLevel, ParsesKnownNames) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(parse_log_level("info"), LogLevel::kInfo);
  EXPECT_EQ(parse_log_level("warn"), LogLevel::kWarn);
  EXPECT_EQ(parse_log_level("error"), LogLevel::kError);
}

TEST(LogLevel, RejectsUnknownNames) {
  EXPECT_EQ(parse_log_level("INFO"), std::nullopt);
  EXPECT_EQ(parse_log_level("warning"), std::nullopt);
  EXPECT_EQ(parse_log_level(""), std::nullopt);
}

TEST(LogLevel, NamesRoundTrip) {
  for (auto level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    EXPECT_EQ(parse_log_level(to_string(level)), level);
  }
}

TEST(Logger, WritesOneJsonLineWithFixedKeysFirst) {
  Pipe pipe;
  Logger log("user", LogLevel::kInfo, pipe.write_fd());
  log.info("listening", {{"port", 8080}});
  std::string out = pipe.drain();
  static const std::regex kShape(R"(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",)"
                                 R"("level":"info","service":"user","message":"listening","port":8080\}\n)");
  EXPECT_TRUE(std::regex_match(out, kShape)) << out;
}

TEST(Logger, DropsLinesBelowMinimumLevel) {
  Pipe pipe;
  Logger log("user", LogLevel::kWarn, pipe.write_fd());
  EXPECT_FALSE(log.enabled(LogLevel::kDebug));
  EXPECT_FALSE(log.enabled(LogLevel::kInfo));
  EXPECT_TRUE(log.enabled(LogLevel::kWarn));
  EXPECT_TRUE(log.enabled(LogLevel::kError));
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  std::string out = pipe.drain();
  EXPECT_EQ(out.find("\"message\":\"d\""), std::string::npos);
  EXPECT_EQ(out.find("\"message\":\"i\""), std::string::npos);
  EXPECT_NE(out.find("\"level\":\"warn\",\"service\":\"user\",\"message\":\"w\"}\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("\"level\":\"error\",\"service\":\"user\",\"message\":\"e\"}\n"), std::string::npos)
      << out;
}

TEST(Logger, AddsContextIdsOnlyWhenPresent) {
  Logger log("user", LogLevel::kDebug, -1);
  LogContext both{"req-1", "4bf92f3577b34da6a3ce929d0e0e4736"};
  EXPECT_EQ(after_message(log.format(LogLevel::kInfo, "m", {}, &both)),
            R"("message":"m","request_id":"req-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"})"
            "\n");
  LogContext only_trace{"", "abc"};
  EXPECT_EQ(after_message(log.format(LogLevel::kInfo, "m", {}, &only_trace)),
            "\"message\":\"m\",\"trace_id\":\"abc\"}\n");
  LogContext empty{};
  EXPECT_EQ(after_message(log.format(LogLevel::kInfo, "m", {}, &empty)), "\"message\":\"m\"}\n");
  EXPECT_EQ(after_message(log.format(LogLevel::kInfo, "m", {{"k", 1}}, nullptr)),
            "\"message\":\"m\",\"k\":1}\n");
}

TEST(Logger, WritesEachFieldType) {
  Logger log("user", LogLevel::kDebug, -1);
  std::string path = "/users/42";
  std::string_view view = "v";
  std::uint8_t small = 7;
  auto line = log.format(LogLevel::kInfo, "m",
                         {{"str", "abc"},
                          {"string", path},
                          {"view", view},
                          {"neg", -12},
                          {"i64", std::numeric_limits<std::int64_t>::min()},
                          {"u64", std::numeric_limits<std::uint64_t>::max()},
                          {"small", small},
                          {"dbl", 0.25},
                          {"small_dbl", 0.0005},
                          {"huge_dbl", 1e300},
                          {"flt", 1.5f},
                          {"yes", true},
                          {"no", false}});
  EXPECT_EQ(
      after_message(line),
      R"("message":"m","str":"abc","string":"/users/42","view":"v","neg":-12,"i64":-9223372036854775808,)"
      R"("u64":18446744073709551615,"small":7,"dbl":0.25,"small_dbl":0.0005,"huge_dbl":1e+300,)"
      R"("flt":1.5,"yes":true,"no":false})"
      "\n");
}

TEST(Logger, WritesNonFiniteNumbersAsNull) {
  Logger log("user", LogLevel::kDebug, -1);
  auto line = log.format(
      LogLevel::kInfo, "m",
      {{"nan", std::numeric_limits<double>::quiet_NaN()}, {"inf", std::numeric_limits<double>::infinity()}});
  EXPECT_EQ(after_message(line), "\"message\":\"m\",\"nan\":null,\"inf\":null}\n");
}

TEST(Logger, EscapesQuotesBackslashesAndControlCharacters) {
  Logger log("svc\"1", LogLevel::kDebug, -1);
  std::string msg =
      std::string("a\"b\\c\nd\re\tf\bg\fh") + '\x01' + '\x1f' + '\x7f' + std::string(1, '\0') + "z";
  auto line = log.format(LogLevel::kInfo, msg, {{"ke\"y", "v\n"}});
  EXPECT_NE(line.find(R"("service":"svc\"1")"), std::string::npos) << line;
  EXPECT_EQ(after_message(line),
            R"("message":"a\"b\\c\nd\re\tf\bg\fh\u0001\u001f\u007f\u0000z","ke\"y":"v\n"})"
            "\n");
  // Nothing below 0x20 may remain raw except the terminating newline.
  for (std::size_t i = 0; i + 1 < line.size(); ++i)
    EXPECT_GE(static_cast<unsigned char>(line[i]), 0x20U) << i;
}

TEST(Logger, KeepsValidUtf8) {
  std::string out;
  append_json_string(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf");
  EXPECT_EQ(out, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf\"");
}

TEST(Logger, ReplacesInvalidUtf8WithReplacementCharacter) {
  const std::string fffd = "\xef\xbf\xbd";
  const std::map<std::string, std::string> cases = {
      {"a\xffz", "a" + fffd + "z"},                     // never valid
      {"a\xc3", "a" + fffd},                            // truncated at end
      {"\xc3(", fffd + "("},                            // bad continuation
      {"\xc0\xaf", fffd + fffd},                        // overlong '/'
      {"\xe0\x80\xaf", fffd + fffd + fffd},             // overlong 3-byte
      {"\xed\xa0\x80", fffd + fffd + fffd},             // UTF-16 surrogate
      {"\xf4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"\x80x", fffd + "x"},                            // lone continuation byte
  };
  for (const auto& [in, want] : cases) {
    std::string out;
    append_json_string(out, in);
    EXPECT_EQ(out, "\"" + want + "\"") << "input bytes: " << in.size();
  }
}

// Characters and pointers other than strings must not silently become numbers or booleans.
static_assert(!std::is_constructible_v<LogField, std::string_view, char>);
static_assert(!std::is_constructible_v<LogField, std::string_view, const int*>);
static_assert(std::is_constructible_v<LogField, std::string_view, signed char>);

TEST(Logger, StringLiteralFieldIsTextNotBool) {
  Logger log("user", LogLevel::kDebug, -1);
  EXPECT_EQ(after_message(log.format(LogLevel::kInfo, "m", {{"name", "abc"}})),
            "\"message\":\"m\",\"name\":\"abc\"}\n");
}

TEST(Logger, ConcurrentLinesDoNotInterleave) {
  Pipe pipe;
  Logger log("user", LogLevel::kInfo, pipe.write_fd());
  constexpr int kThreads = 8;
  constexpr int kLines = 400;
  std::string received;
  // Read concurrently: 3200 lines exceed the pipe buffer.
  std::thread reader([&] {
    std::array<char, 8192> buf{};
    ssize_t n;
    while ((n = ::read(pipe.read_fd(), buf.data(), buf.size())) > 0)
      received.append(buf.data(), static_cast<std::size_t>(n));
  });
  std::vector<std::thread> writers;
  writers.reserve(kThreads);
  const std::string padding(200, 'x');
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) log.info("line", {{"thread", t}, {"i", i}, {"pad", padding}});
    });
  }
  for (auto& w : writers) w.join();
  pipe.close_write();
  reader.join();
  static const std::regex kLine(R"(\{"time":"[^"]+","level":"info","service":"user","message":"line",)"
                                R"("thread":\d,"i":\d+,"pad":"x{200}"\})");
  std::size_t count = 0;
  std::size_t start = 0;
  while (start < received.size()) {
    auto end = received.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    ASSERT_TRUE(std::regex_match(received.substr(start, end - start), kLine))
        << received.substr(start, end - start);
    ++count;
    start = end + 1;
  }
  EXPECT_EQ(count, static_cast<std::size_t>(kThreads * kLines));
}

}  // namespace
}  // namespace mercato::obs
