// The read models (SqlReadModels) on SQLite and PostgreSQL, fed by the real write side (SqlOrderRepository):
// what the list and the sales report show is what the streams say, through cursors, replays and rebuilds.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "adapters/sql_order_repository.hpp"
#include "adapters/sql_read_models.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/testing/backends.hpp"

namespace mercato::order {
namespace {

SystemTime at(std::int64_t ms) { return SystemTime{std::chrono::milliseconds{ms}}; }
constexpr std::int64_t kDay = std::int64_t{24} * 3600 * 1000;

class ReadModelsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = testing::temp_dir("read-models").string();
      db_ = sql::Database::open(sqlite::DatabaseSettings{.path = dir_ + "/o.db", .connections = 4});
    } else {
      MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
      schema_ = std::make_unique<testing::PostgresSchema>(base, "readmodels");
      db_ = sql::Database::open(postgres::DatabaseSettings{.url = schema_->url(), .connections = 4});
    }
    repo_ = std::make_unique<SqlOrderRepository>(*db_, RepositorySettings{.snapshot_every = 2});
    models_ = std::make_unique<SqlReadModels>(*db_);
  }
  void TearDown() override {
    models_.reset();
    repo_.reset();
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Order place(const std::string& customer, SystemTime created,
              std::vector<Line> lines = {{"mug", 2, 1299}, {"tea", 1, 450}}) {
    Order o;
    o.id = new_uuid();
    o.customer_id = customer;
    o.lines = std::move(lines);
    o.total_cents = *total_of(o.lines);
    o.payment_token = "tok_visa";
    o.shipping_address = {"Ann", "1 Main St", "", "Berlin", "10115", "DE"};
    o.created_at = created;
    auto w = repo_->place(OrderPlaced{o}, "");
    EXPECT_TRUE(w) << w.error().message;
    return w ? w->order : Order{};
  }
  Order settle_at(const Order& o, Status target, SystemTime when) {
    auto w = repo_->update(o.id, [&](const Order& x) -> Result<std::vector<OrderEvent>> {
      return settle(x, target, "saga says so", when);
    });
    EXPECT_TRUE(w) << w.error().message;
    return w ? w->order : Order{};
  }
  void catch_up() {
    for (int i = 0; i < 100; ++i) {
      auto n = models_->catch_up(7);  // small batches: several rounds
      ASSERT_TRUE(n) << n.error().message;
      if (*n == 0) return;
    }
    FAIL() << "the projector never caught up";
  }
  std::vector<OrderSummary> all_of(const std::string& customer, std::int64_t limit = 3) {
    std::vector<OrderSummary> out;
    SummaryQuery q{.customer_id = customer, .limit = limit};
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = models_->summaries(q);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      out.insert(out.end(), page->orders.begin(), page->orders.end());
      if (!page->next) break;
      q.after = page->next;
    }
    return out;
  }
  static OrderSummary summary_of(const Order& o) {
    std::int64_t items = 0;
    for (const auto& l : o.lines) items += l.quantity;
    return OrderSummary{o.id,     o.customer_id,  o.status,     o.total_cents, items,
                        o.reason, o.cancelled_by, o.created_at, o.updated_at,  o.version};
  }
  // What the read models must show for `orders` (each as the write side has it now): newest first per
  // customer, and confirmed sales per product per day of confirmation.
  void expect_matches(const std::vector<Order>& placed) {
    std::map<std::string, std::vector<Order>> by_customer;
    std::map<std::pair<std::string, std::string>, SalesRow> sales;
    for (const auto& p : placed) {
      auto now = repo_->find(p.id);
      ASSERT_TRUE(now);
      by_customer[now->customer_id].push_back(*now);
      if (now->status != Status::kConfirmed) continue;
      auto day = format_rfc3339(now->updated_at).substr(0, 10);
      for (const auto& l : now->lines) {
        auto& row = sales[{day, l.product_id}];
        row.day = day;
        row.product_id = l.product_id;
        row.units += l.quantity;
        row.cents += l.quantity * l.unit_price_cents;
        row.orders += 1;
      }
    }
    for (auto& [customer, orders] : by_customer) {
      // Newest first; placement order breaks ties (the list's order).
      std::stable_sort(orders.begin(), orders.end(),
                       [](const Order& a, const Order& b) { return a.created_at > b.created_at; });
      auto shown = all_of(customer);
      ASSERT_EQ(shown.size(), orders.size()) << customer;
      std::set<std::string> ids;
      for (std::size_t i = 0; i < shown.size(); ++i) {
        ids.insert(shown[i].id);
        if (i > 0) {
          ASSERT_GE(shown[i - 1].created_at, shown[i].created_at);
        }
      }
      ASSERT_EQ(ids.size(), orders.size()) << "an order is missing or listed twice";
      for (const auto& o : orders) {
        auto it = std::find_if(shown.begin(), shown.end(), [&](const auto& s) { return s.id == o.id; });
        ASSERT_NE(it, shown.end());
        EXPECT_EQ(*it, summary_of(o));
      }
    }
    std::vector<SalesRow> expected;
    expected.reserve(sales.size());
    for (auto& [key, row] : sales) expected.push_back(row);
    auto shown = models_->sales("1970-01-01", "2999-12-31");
    ASSERT_TRUE(shown) << shown.error().message;
    EXPECT_EQ(*shown, expected);
  }

  std::unique_ptr<testing::PostgresSchema> schema_;  // first member: dropped last
  std::string dir_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<SqlOrderRepository> repo_;
  std::unique_ptr<SqlReadModels> models_;
};

TEST_P(ReadModelsTest, TheListShowsWhatTheStreamsSayNewestFirstWithFilters) {
  auto a = place("c1", at(1 * kDay));
  auto b = place("c1", at(2 * kDay));
  auto c = place("c1", at(3 * kDay));
  place("c2", at(4 * kDay));
  b = settle_at(b, Status::kConfirmed, at(2 * kDay + 60000));
  c = settle_at(c, Status::kCancelled, at(3 * kDay + 60000));
  EXPECT_TRUE(models_->summaries({.customer_id = "c1"})->orders.empty()) << "nothing projected yet";
  catch_up();

  auto page = models_->summaries({.customer_id = "c1", .limit = 10});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->orders.size(), 3U);
  EXPECT_EQ(page->orders[0], summary_of(c));
  EXPECT_EQ(page->orders[1], summary_of(b));
  EXPECT_EQ(page->orders[2], summary_of(a));
  EXPECT_EQ(page->orders[0].cancelled_by, CancelledBy::kSaga);
  EXPECT_EQ(page->orders[2].item_count, 3);
  EXPECT_FALSE(page->next);

  auto confirmed = models_->summaries({.customer_id = "c1", .status = Status::kConfirmed});
  ASSERT_EQ(confirmed->orders.size(), 1U);
  EXPECT_EQ(confirmed->orders[0].id, b.id);
  auto window = models_->summaries({.customer_id = "c1", .from = at(2 * kDay), .to = at(3 * kDay)});
  ASSERT_EQ(window->orders.size(), 1U) << "from inclusive, to exclusive";
  EXPECT_EQ(window->orders[0].id, b.id);
  EXPECT_TRUE(models_->summaries({.customer_id = "nobody"})->orders.empty());
}

// Keyset cursors: orders placed between pages never show up twice or push one off.
TEST_P(ReadModelsTest, CursorPagesAreStableWhileNewOrdersArrive) {
  std::vector<std::string> first_five;
  first_five.reserve(5);
  for (int i = 0; i < 5; ++i) first_five.push_back(place("c1", at(1000 + i / 2)).id);  // ties in time too
  catch_up();
  auto page = models_->summaries({.customer_id = "c1", .limit = 2});
  ASSERT_TRUE(page && page->next);
  std::vector<std::string> seen;
  for (const auto& s : page->orders) seen.push_back(s.id);
  for (int i = 0; i < 3; ++i) place("c1", at(5000 + i));
  catch_up();
  SummaryQuery q{.customer_id = "c1", .after = page->next, .limit = 2};
  for (int pages = 0; pages < 10; ++pages) {
    auto next = models_->summaries(q);
    ASSERT_TRUE(next);
    for (const auto& s : next->orders) seen.push_back(s.id);
    if (!next->next) break;
    q.after = next->next;
  }
  std::vector<std::string> newest_first(first_five.rbegin(), first_five.rend());
  EXPECT_EQ(seen, newest_first);
}

TEST_P(ReadModelsTest, SalesCountConfirmedOrdersPerProductPerDayOfConfirmation) {
  auto a = place("c1", at(1 * kDay), {{"mug", 2, 1299}});
  auto b = place("c2", at(1 * kDay), {{"mug", 1, 1299}, {"tea", 3, 450}});
  auto c = place("c2", at(1 * kDay), {{"tea", 5, 450}});
  settle_at(a, Status::kConfirmed, at(1 * kDay + 10));
  settle_at(b, Status::kConfirmed, at(2 * kDay + 10));
  settle_at(c, Status::kCancelled, at(1 * kDay + 10));
  catch_up();
  auto sales = models_->sales("1970-01-01", "1970-01-31");
  ASSERT_TRUE(sales);
  std::vector<SalesRow> expected{{"1970-01-02", "mug", 2, 2598, 1},
                                 {"1970-01-03", "mug", 1, 1299, 1},
                                 {"1970-01-03", "tea", 3, 1350, 1}};
  EXPECT_EQ(*sales, expected);
  EXPECT_EQ(models_->sales("1970-01-03", "1970-01-03")->size(), 2U);
}

// Random histories: the read models equal what the write side shows; a rebuilt projection equals the
// live one; replaying any suffix of the streams changes nothing.
TEST_P(ReadModelsTest, RandomHistoriesProjectRebuildAndReplayToTheSameReadModels) {
  std::mt19937 random(4242);
  std::vector<Order> placed;
  for (int step = 0; step < 120; ++step) {
    auto roll = random() % 10;
    if (placed.empty() || roll < 4) {
      auto pick = [&](std::uint32_t n) { return static_cast<std::int64_t>(random() % n); };
      auto when = at(kDay * pick(4) + pick(1000));
      placed.push_back(place("c" + std::to_string(pick(3)), when,
                             {{"p" + std::to_string(pick(4)), 1 + pick(3), 100 + pick(900)}}));
    } else {
      const auto& o = placed[random() % placed.size()];
      auto when = at(kDay * (4 + static_cast<std::int64_t>(random() % 3)));
      if (roll < 6) {
        (void)repo_->update(
            o.id, [&](const Order& x) { return cancel(x, "changed mind", CancelledBy::kCustomer, when); });
      } else {
        static constexpr std::array kTargets = {Status::kConfirmed, Status::kCancelled,
                                                Status::kPendingPayment};
        settle_at(o, kTargets[random() % 3], when);
      }
    }
    if (random() % 8 == 0) {
      ASSERT_TRUE(models_->catch_up(1 + random() % 20));  // the projector mid-way
    }
  }
  catch_up();
  expect_matches(placed);
  auto status = models_->status();
  ASSERT_TRUE(status);
  for (const auto& s : *status) {
    EXPECT_EQ(s.lag_events, 0) << s.name;
    EXPECT_EQ(s.position, s.head) << s.name;
  }

  for (const auto& name : OrderReadModels::names()) {
    auto rebuilt = models_->rebuild(name);
    ASSERT_TRUE(rebuilt) << rebuilt.error().message;
    EXPECT_EQ(rebuilt->generation, 2) << name;
    EXPECT_FALSE(rebuilt->rebuilding);
  }
  expect_matches(placed);

  auto head = (*status)[0].head;
  for (int i = 0; i < 3; ++i) {
    auto from = static_cast<std::int64_t>(random() % head);
    for (const auto& name : OrderReadModels::names()) ASSERT_TRUE(models_->rewind(name, from));
    catch_up();
    expect_matches(placed);
  }
}

// A rebuild while orders keep arriving: it catches up with the head and switches in one transaction, so
// no order placed meanwhile is missing from the rebuilt list.
TEST_P(ReadModelsTest, ARebuildUnderWritesMissesNothingAndSwitchesOver) {
  std::vector<Order> placed;
  placed.reserve(30);
  for (int i = 0; i < 30; ++i) placed.push_back(place("c" + std::to_string(i % 2), at(1000 + i)));
  catch_up();
  std::vector<Order> during;
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) {
      auto o = place("c" + std::to_string(i % 2), at(5000 + i));
      if (i % 3 == 0) o = settle_at(o, Status::kConfirmed, at(9000 + i));
      during.push_back(o);
    }
  });
  auto rebuilt = models_->rebuild("order_summaries");
  writer.join();
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->generation, 2);
  catch_up();
  placed.insert(placed.end(), during.begin(), during.end());
  expect_matches(placed);
}

TEST_P(ReadModelsTest, StatusShowsTheLagAndUnknownNamesAreNotFound) {
  place("c1", at(1000));
  place("c1", at(2000));
  auto before = models_->status();
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 2U);
  EXPECT_EQ((*before)[0].name, "order_summaries");
  EXPECT_EQ((*before)[0].lag_events, 2);
  EXPECT_GE((*before)[0].lag_seconds, 0.0);
  EXPECT_EQ((*before)[0].position, 0);
  catch_up();
  auto after = models_->status();
  EXPECT_EQ((*after)[1].lag_events, 0);
  EXPECT_EQ((*after)[1].lag_seconds, 0.0);
  EXPECT_EQ(*models_->position("order_summaries"), (*after)[0].head);
  EXPECT_EQ(models_->position("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(models_->rebuild("nope").error().code, ErrorCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Engines, ReadModelsTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& test_info) { return test_info.param; });

}  // namespace
}  // namespace mercato::order
