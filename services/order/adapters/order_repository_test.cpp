#include "adapters/sqlite_order_repository.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "mercato/core/ids.hpp"

namespace mercato::order {
namespace {

class SqliteOrderRepositoryTest : public ::testing::Test {
 protected:
  SqliteOrderRepositoryTest()
      : dir_(std::filesystem::temp_directory_path() / ("mercato-order-repo-" + random_hex(8))),
        db_(sqlite::Database::open({.path = (dir_ / "order.db").string()})),
        repo_(*db_) {}
  ~SqliteOrderRepositoryTest() override { std::filesystem::remove_all(dir_); }

  static Order make() {
    auto now = now_utc();
    return Order{new_uuid(),
                 "c1",
                 {{"apple", 2, 150}},
                 300,
                 Status::kPending,
                 "",
                 "tok_visa",
                 {"Ann", "1 Main St", "Flat 2", "Berlin", "10115", "DE"},
                 now,
                 now};
  }

  std::filesystem::path dir_;
  std::unique_ptr<sqlite::Database> db_;
  SqliteOrderRepository repo_;
};

TEST_F(SqliteOrderRepositoryTest, StoresEveryFieldFaithfully) {
  auto o = make();
  ASSERT_TRUE(repo_.insert(o));
  auto back = repo_.find(o.id);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, o);
}

TEST_F(SqliteOrderRepositoryTest, DuplicateIdIsRefused) {
  auto o = make();
  ASSERT_TRUE(repo_.insert(o));
  EXPECT_FALSE(repo_.insert(o));
}

TEST_F(SqliteOrderRepositoryTest, UpdateErrorLeavesTheOrderUnchanged) {
  auto o = make();
  ASSERT_TRUE(repo_.insert(o));
  auto r = repo_.update(o.id, [](Order& x) -> Result<bool> {
    x.status = Status::kConfirmed;  // changed in memory, then the mutation fails
    return Error::conflict("no");
  });
  EXPECT_FALSE(r);
  EXPECT_EQ(repo_.find(o.id)->status, Status::kPending);
}

TEST_F(SqliteOrderRepositoryTest, UnknownIdIsNotFound) {
  EXPECT_EQ(repo_.find("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(repo_.update("nope", [](Order&) -> Result<bool> { return true; }).error().code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mercato::order
