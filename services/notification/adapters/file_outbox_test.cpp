// The file outbox: one JSON line per email, parent directories created, failures reported as errors.
#include "adapters/file_outbox.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mercato/core/ids.hpp"

namespace mercato::notification {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class FileOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fs::temp_directory_path() / ("mercato-outbox-" + random_hex(8)); }
  void TearDown() override { fs::remove_all(dir_); }
  static Email email(std::string id, std::string message = "Thanks!") {
    return Email{std::move(id),
                 "cust-1",
                 "order-1",
                 Kind::kOrderConfirmed,
                 "Your order has been confirmed",
                 std::move(message),
                 SystemTime{std::chrono::milliseconds{1767225600123}}};
  }
  fs::path dir_;
};

TEST_F(FileOutboxTest, CreatesParentDirectoriesAndAnEmptyFile) {
  auto path = dir_ / "a" / "b" / "outbox.log";
  FileOutbox outbox(path.string());
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(fs::file_size(path), 0U);
  EXPECT_TRUE(outbox.ping());
}

TEST_F(FileOutboxTest, AppendsOneJsonLinePerEmail) {
  auto path = dir_ / "outbox.log";
  FileOutbox outbox(path.string());
  ASSERT_TRUE(outbox.send(email("n1", "Line one\nLine two \"quoted\"")));
  ASSERT_TRUE(outbox.send(email("n2")));
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2U);
  auto first = boost::json::parse(lines[0]);
  EXPECT_EQ(first,
            boost::json::parse(R"({"id":"n1","to":"cust-1","order_id":"order-1","kind":"order_confirmed",)"
                               R"("subject":"Your order has been confirmed",)"
                               R"("message":"Line one\nLine two \"quoted\"",)"
                               R"("created_at":"2026-01-01T00:00:00.123Z"})"));
  EXPECT_EQ(boost::json::parse(lines[1]).at("id").as_string(), "n2");
}

TEST_F(FileOutboxTest, KeepsAppendingAfterTheFileIsMovedAway) {
  auto path = dir_ / "outbox.log";
  FileOutbox outbox(path.string());
  ASSERT_TRUE(outbox.send(email("n1")));
  fs::rename(path, dir_ / "outbox.log.1");  // what a log rotator does
  ASSERT_TRUE(outbox.send(email("n2")));
  EXPECT_EQ(read_lines(path).size(), 1U);
  EXPECT_EQ(read_lines(dir_ / "outbox.log.1").size(), 1U);
}

TEST_F(FileOutboxTest, ConcurrentSendsWriteWholeLines) {
  auto path = dir_ / "outbox.log";
  FileOutbox outbox(path.string());
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::string long_message(1500, 'x');
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(outbox.send(email("n" + std::to_string(t) + "-" + std::to_string(i), long_message)));
      }
    });
  }
  for (auto& th : threads) th.join();
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 400U);
  for (const auto& line : lines) EXPECT_EQ(boost::json::parse(line).at("message").as_string(), long_message);
}

TEST_F(FileOutboxTest, FailedWriteIsAnErrorNotACrash) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  FileOutbox outbox("/dev/full");  // every write fails with ENOSPC, as on a full disk
  auto r = outbox.send(email("n1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_NE(r.error().message.find("write failed"), std::string::npos) << r.error().message;
}

TEST_F(FileOutboxTest, PathThatIsADirectoryFailsAtStartUp) {
  fs::create_directories(dir_ / "outbox.log");
  EXPECT_THROW(FileOutbox((dir_ / "outbox.log").string()), std::runtime_error);
  EXPECT_THROW(FileOutbox(""), std::runtime_error);
}

TEST_F(FileOutboxTest, VanishedDirectoryIsAnError) {
  auto path = dir_ / "sub" / "outbox.log";
  FileOutbox outbox(path.string());
  fs::remove_all(dir_ / "sub");
  auto r = outbox.send(email("n1"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("outbox"), std::string::npos);
  EXPECT_FALSE(outbox.ping());
}

}  // namespace
}  // namespace mercato::notification
