// The saga's commands over the SQLite repository and the event store on the same database, as main.cpp
// runs them: each command handled once answers exactly once on the outbox (the change event, or the
// answer appended with the inbox record), a duplicate delivery appends nothing, a command repeated under
// a new id answers the current state without a second effect, and bad data is an error naming the field.
#include "app/saga_handlers.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/json.hpp>
#include <filesystem>

#include "adapters/sql_inventory_repository.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::inventory {
namespace {

constexpr const char* kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

events::CloudEvent command(std::string type, const std::string& order_id, std::string data, int version = 1) {
  return events::make_event("order", std::move(type), order_id, std::move(data), kTrace, version);
}

std::string reserve_data(const std::string& order_id,
                         std::initializer_list<std::pair<const char*, std::int64_t>> lines) {
  boost::json::array out;
  for (const auto& [id, quantity] : lines) out.push_back({{"product_id", id}, {"quantity", quantity}});
  return boost::json::serialize(boost::json::object{{"order_id", order_id}, {"lines", std::move(out)}});
}

events::CloudEvent reserve_command(const std::string& order_id,
                                   std::initializer_list<std::pair<const char*, std::int64_t>> lines) {
  return command("inventory.reserve_requested", order_id, reserve_data(order_id, lines));
}

events::CloudEvent commit_command(const std::string& order_id) {
  return command("inventory.commit_requested", order_id, R"({"order_id":")" + order_id + R"("})");
}

events::CloudEvent release_command(const std::string& order_id,
                                   const std::string& reason = "payment declined") {
  return command("inventory.release_requested", order_id,
                 R"({"order_id":")" + order_id + R"(","reason":")" + reason + R"("})");
}

boost::json::object data_of(const events::CloudEvent& e) { return boost::json::parse(e.data).as_object(); }

std::string lines_of(const events::CloudEvent& e) { return boost::json::serialize(data_of(e).at("lines")); }

struct Stock {
  std::int64_t available = -1;
  std::int64_t reserved = -1;
  std::int64_t sold = -1;
  friend bool operator==(const Stock&, const Stock&) = default;
};

void PrintTo(const Stock& s, std::ostream* os) {
  *os << "{available " << s.available << ", reserved " << s.reserved << ", sold " << s.sold << "}";
}

class SagaHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(service_.put_product("a", {"A", 250, 10}));
    ASSERT_TRUE(service_.put_product("b", {"B", 990, 2}));
    (void)appended();  // the products' events: not the saga's
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The events appended to the outbox since the last call, in commit order.
  std::vector<events::CloudEvent> appended() {
    auto rows = store_->unsent(1000);
    EXPECT_TRUE(rows) << rows.error().message;
    std::vector<events::CloudEvent> out;
    if (!rows) return out;
    std::vector<std::int64_t> seqs;
    for (auto& row : *rows) {
      seqs.push_back(row.seq);
      out.push_back(std::move(row.event));
    }
    EXPECT_TRUE(store_->mark_sent(seqs));
    return out;
  }
  // The one event appended since the last call (a failure when there is not exactly one).
  events::CloudEvent answer() {
    auto events = appended();
    EXPECT_EQ(events.size(), 1U);
    return events.empty() ? events::CloudEvent{} : events.front();
  }
  Stock stock(const std::string& id) {
    auto p = service_.get_product(id);
    EXPECT_TRUE(p) << p.error().message;
    return p ? Stock{p->available, p->reserved, p->sold} : Stock{};
  }

  std::filesystem::path dir_ = std::filesystem::temp_directory_path() / ("mercato-saga-" + random_hex(8));
  std::unique_ptr<sql::Database> db_ = [this] {
    std::filesystem::create_directories(dir_);
    return sql::Database::open(
        sqlite::DatabaseSettings{.path = (dir_ / "inventory.db").string(), .connections = 2});
  }();
  SqlInventoryRepository repository_{*db_};
  InventoryService service_{repository_};
  std::unique_ptr<events::EventStore> store_ = events::open_store(*db_);
  SagaHandlers saga_{service_, *store_, "inventory"};
};

// --- inventory.reserve_requested -----------------------------------------------------------------------

TEST_F(SagaHandlersTest, AReserveCommandReservesAndItsChangeEventIsTheAnswer) {
  auto cmd = reserve_command("o1", {{"a", 3}, {"b", 2}});
  auto r = saga_.on_reserve_requested(cmd);
  ASSERT_TRUE(r) << r.error().message;
  auto reserved = answer();
  EXPECT_EQ(reserved.type, "inventory.reserved");
  EXPECT_EQ(reserved.subject, "o1");
  EXPECT_EQ(reserved.source, "/mercato/inventory");
  EXPECT_EQ(reserved.traceparent, kTrace) << "the answer continues the command's trace";
  EXPECT_EQ(lines_of(reserved), R"([{"product_id":"a","quantity":3},{"product_id":"b","quantity":2}])");
  auto reservation = service_.get_reservation("o1");
  ASSERT_TRUE(reservation);
  EXPECT_EQ(data_of(reserved).at("reserved_at").as_string(), format_rfc3339(reservation->created_at));
  EXPECT_EQ(stock("a"), (Stock{7, 3, 0}));
  EXPECT_EQ(stock("b"), (Stock{0, 2, 0}));
}

TEST_F(SagaHandlersTest, ADuplicateReserveCommandAppendsNothing) {
  auto cmd = reserve_command("o1", {{"a", 3}});
  ASSERT_TRUE(saga_.on_reserve_requested(cmd));
  ASSERT_EQ(answer().type, "inventory.reserved");
  ASSERT_TRUE(saga_.on_reserve_requested(cmd));
  EXPECT_TRUE(appended().empty());
  EXPECT_EQ(stock("a"), (Stock{7, 3, 0}));
}

TEST_F(SagaHandlersTest, AReserveRepeatedUnderANewIdAnswersTheExistingReservation) {
  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o1", {{"a", 3}, {"b", 1}})));
  auto first = answer();
  // The saga retrying after a timeout: a new command id, the same lines (in another order).
  auto again = reserve_command("o1", {{"b", 1}, {"a", 3}});
  ASSERT_TRUE(saga_.on_reserve_requested(again));
  auto repeated = answer();
  EXPECT_EQ(repeated.type, "inventory.reserved");
  EXPECT_EQ(repeated.subject, "o1");
  EXPECT_NE(repeated.id, first.id);
  EXPECT_EQ(repeated.traceparent, kTrace);
  EXPECT_EQ(lines_of(repeated), lines_of(first)) << "the reservation's lines, in the order it holds them";
  EXPECT_EQ(data_of(repeated).at("reserved_at"), data_of(first).at("reserved_at"));
  EXPECT_EQ(stock("a"), (Stock{7, 3, 0})) << "reserved once";
  ASSERT_TRUE(saga_.on_reserve_requested(again));  // that one's duplicate
  EXPECT_TRUE(appended().empty());
}

TEST_F(SagaHandlersTest, OutOfStockIsRejectedNamingTheProductAndReservesNothing) {
  auto cmd = reserve_command("o1", {{"a", 3}, {"b", 5}});
  ASSERT_TRUE(saga_.on_reserve_requested(cmd));
  auto rejected = answer();
  EXPECT_EQ(rejected.type, "inventory.rejected");
  EXPECT_EQ(rejected.subject, "o1");
  EXPECT_EQ(rejected.traceparent, kTrace);
  EXPECT_EQ(data_of(rejected),
            (boost::json::object{{"order_id", "o1"}, {"reason", kReasonOutOfStock}, {"product_id", "b"}}));
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
  EXPECT_EQ(stock("b"), (Stock{2, 0, 0}));
  EXPECT_EQ(service_.get_reservation("o1").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(saga_.on_reserve_requested(cmd));  // a duplicate delivery
  EXPECT_TRUE(appended().empty());
}

TEST_F(SagaHandlersTest, AnUnknownProductIsRejectedNamingIt) {
  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o1", {{"a", 1}, {"ghost", 1}})));
  auto rejected = answer();
  EXPECT_EQ(rejected.type, "inventory.rejected");
  EXPECT_EQ(
      data_of(rejected),
      (boost::json::object{{"order_id", "o1"}, {"reason", kReasonUnknownProduct}, {"product_id", "ghost"}}));
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
}

TEST_F(SagaHandlersTest, LinesTheRulesRefuseAreRejectedInTheCommandsTerms) {
  struct Case {
    events::CloudEvent cmd;
    const char* reason_has;
    const char* product_id;  // "" when no line is to blame
  };
  const auto cases = std::to_array<Case>({
      {reserve_command("o1", {{"a", 0}}), "lines[0].quantity", "a"},
      {reserve_command("o2", {{"a", 1}, {"b", 1}, {"a", 2}}), "lines[2].product_id", "a"},
      {reserve_command("o3", {{"a", 1}, {"no/slash", 1}}), "lines[1].product_id", "no/slash"},
      {reserve_command("o4", {}), "lines: must hold 1 to 100", ""},
      {command("inventory.reserve_requested", "o5",
               R"({"order_id":"o5","lines":[{"product_id":"a","quantity":10000000000000000000}]})"),
       "lines[0].quantity", "a"},
  });
  for (const auto& c : cases) {
    ASSERT_TRUE(saga_.on_reserve_requested(c.cmd)) << c.cmd.data;
    auto rejected = answer();
    EXPECT_EQ(rejected.type, "inventory.rejected") << c.cmd.data;
    auto data = data_of(rejected);
    EXPECT_EQ(data.at("order_id").as_string(), c.cmd.subject);
    EXPECT_NE(data.at("reason").as_string().find(c.reason_has), std::string::npos) << data;
    if (*c.product_id == '\0') {
      EXPECT_FALSE(data.contains("product_id")) << data;
    } else {
      EXPECT_EQ(data.at("product_id").as_string(), c.product_id) << data;
    }
  }
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
}

TEST_F(SagaHandlersTest, OtherLinesForAnOrderAlreadyReservedAreRejectedAndTheReservationKept) {
  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o1", {{"a", 3}})));
  (void)answer();
  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o1", {{"a", 4}})));
  auto rejected = answer();
  EXPECT_EQ(rejected.type, "inventory.rejected");
  EXPECT_EQ(data_of(rejected),
            (boost::json::object{{"order_id", "o1"}, {"reason", kReasonOtherLinesReserved}}));
  EXPECT_EQ(stock("a"), (Stock{7, 3, 0}));
}

// --- inventory.commit_requested ------------------------------------------------------------------------

TEST_F(SagaHandlersTest, ACommitCommandSellsOnceAndItsChangeEventIsTheAnswer) {
  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o1", {{"a", 3}})));
  (void)answer();
  auto cmd = commit_command("o1");
  ASSERT_TRUE(saga_.on_commit_requested(cmd));
  auto committed = answer();
  EXPECT_EQ(committed.type, "inventory.committed");
  EXPECT_EQ(committed.subject, "o1");
  EXPECT_EQ(committed.traceparent, kTrace);
  EXPECT_EQ(lines_of(committed), R"([{"product_id":"a","quantity":3}])");
  EXPECT_EQ(stock("a"), (Stock{7, 0, 3}));

  ASSERT_TRUE(saga_.on_commit_requested(cmd));  // a duplicate delivery
  EXPECT_TRUE(appended().empty());

  auto again = commit_command("o1");  // repeated under a new id
  ASSERT_TRUE(saga_.on_commit_requested(again));
  auto repeated = answer();
  EXPECT_EQ(repeated.type, "inventory.committed");
  EXPECT_EQ(repeated.traceparent, kTrace);
  EXPECT_EQ(lines_of(repeated), lines_of(committed));
  EXPECT_EQ(data_of(repeated).at("committed_at"), data_of(committed).at("committed_at"));
  EXPECT_EQ(stock("a"), (Stock{7, 0, 3})) << "sold once";
  ASSERT_TRUE(saga_.on_commit_requested(again));
  EXPECT_TRUE(appended().empty());
}

TEST_F(SagaHandlersTest, ACommitWithNothingReservedIsRejected) {
  auto cmd = commit_command("o1");
  ASSERT_TRUE(saga_.on_commit_requested(cmd));
  auto rejected = answer();
  EXPECT_EQ(rejected.type, "inventory.rejected");
  EXPECT_EQ(rejected.subject, "o1");
  EXPECT_EQ(data_of(rejected), (boost::json::object{{"order_id", "o1"}, {"reason", kReasonNoReservation}}));
  ASSERT_TRUE(saga_.on_commit_requested(cmd));
  EXPECT_TRUE(appended().empty());

  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o2", {{"a", 3}})));
  ASSERT_TRUE(saga_.on_release_requested(release_command("o2")));
  (void)appended();
  ASSERT_TRUE(saga_.on_commit_requested(commit_command("o2")));
  EXPECT_EQ(data_of(answer()), (boost::json::object{{"order_id", "o2"}, {"reason", kReasonAlreadyReleased}}));
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
}

// --- inventory.release_requested -----------------------------------------------------------------------

TEST_F(SagaHandlersTest, AReleaseCommandGivesTheStockBackOnceAndItsChangeEventIsTheAnswer) {
  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o1", {{"a", 3}, {"b", 2}})));
  (void)answer();
  auto cmd = release_command("o1", "payment declined");
  ASSERT_TRUE(saga_.on_release_requested(cmd));
  auto released = answer();
  EXPECT_EQ(released.type, "inventory.released");
  EXPECT_EQ(released.subject, "o1");
  EXPECT_EQ(released.traceparent, kTrace);
  EXPECT_EQ(lines_of(released), R"([{"product_id":"a","quantity":3},{"product_id":"b","quantity":2}])");
  EXPECT_EQ(data_of(released).at("reason").as_string(), "payment declined");
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
  EXPECT_EQ(stock("b"), (Stock{2, 0, 0}));

  ASSERT_TRUE(saga_.on_release_requested(cmd));  // a duplicate delivery
  EXPECT_TRUE(appended().empty());

  auto again = release_command("o1", "timeout");  // repeated under a new id
  ASSERT_TRUE(saga_.on_release_requested(again));
  auto repeated = answer();
  EXPECT_EQ(repeated.type, "inventory.released");
  EXPECT_EQ(lines_of(repeated), lines_of(released));
  EXPECT_EQ(data_of(repeated).at("released_at"), data_of(released).at("released_at"));
  EXPECT_FALSE(data_of(repeated).contains("reason")) << "the state, not this command's reason";
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0})) << "given back once";
  ASSERT_TRUE(saga_.on_release_requested(again));
  EXPECT_TRUE(appended().empty());
}

TEST_F(SagaHandlersTest, ReleasingNothingSucceedsWithNoLines) {
  auto cmd = release_command("o1");
  auto before = now_utc();
  ASSERT_TRUE(saga_.on_release_requested(cmd));
  auto released = answer();
  EXPECT_EQ(released.type, "inventory.released");
  EXPECT_EQ(released.subject, "o1");
  EXPECT_EQ(released.traceparent, kTrace);
  auto data = data_of(released);
  EXPECT_EQ(data.at("order_id").as_string(), "o1");
  EXPECT_TRUE(data.at("lines").as_array().empty());
  auto at = parse_rfc3339(data.at("released_at").as_string());
  ASSERT_TRUE(at);
  EXPECT_GE(*at, before - std::chrono::milliseconds(1));
  ASSERT_TRUE(saga_.on_release_requested(cmd));
  EXPECT_TRUE(appended().empty());
  EXPECT_EQ(service_.get_reservation("o1").error().code, ErrorCode::kNotFound);
}

TEST_F(SagaHandlersTest, ASoldReservationIsNotReleased) {
  ASSERT_TRUE(saga_.on_reserve_requested(reserve_command("o1", {{"a", 3}})));
  ASSERT_TRUE(saga_.on_commit_requested(commit_command("o1")));
  (void)appended();
  auto cmd = release_command("o1");
  ASSERT_TRUE(saga_.on_release_requested(cmd));
  auto rejected = answer();
  EXPECT_EQ(rejected.type, "inventory.rejected");
  EXPECT_EQ(data_of(rejected),
            (boost::json::object{{"order_id", "o1"}, {"reason", kReasonAlreadyCommitted}}));
  EXPECT_EQ(stock("a"), (Stock{7, 0, 3}));
  EXPECT_EQ(service_.get_reservation("o1")->status, ReservationStatus::kCommitted);
  ASSERT_TRUE(saga_.on_release_requested(cmd));
  EXPECT_TRUE(appended().empty());
}

// --- what every handler refuses ------------------------------------------------------------------------

TEST_F(SagaHandlersTest, MissingOrMistypedFieldsAreValidationErrorsNamingTheField) {
  struct Case {
    const char* type;
    const char* data;
    const char* field;
  };
  const auto cases = std::to_array<Case>({
      {"inventory.reserve_requested", R"({"lines":[{"product_id":"a","quantity":1}]})", "order_id"},
      {"inventory.reserve_requested", R"({"order_id":7,"lines":[]})", "order_id"},
      {"inventory.reserve_requested", R"({"order_id":"bad id","lines":[]})", "order_id"},
      {"inventory.reserve_requested", R"({"order_id":"o1"})", "lines"},
      {"inventory.reserve_requested", R"({"order_id":"o1","lines":{"a":1}})", "lines"},
      {"inventory.reserve_requested", R"({"order_id":"o1","lines":[{"product_id":"a","quantity":1},"b"]})",
       "lines[1]"},
      {"inventory.reserve_requested", R"({"order_id":"o1","lines":[{"quantity":1}]})", "lines[0].product_id"},
      {"inventory.reserve_requested", R"({"order_id":"o1","lines":[{"product_id":5,"quantity":1}]})",
       "lines[0].product_id"},
      {"inventory.reserve_requested", R"({"order_id":"o1","lines":[{"product_id":"a"}]})",
       "lines[0].quantity"},
      {"inventory.reserve_requested", R"({"order_id":"o1","lines":[{"product_id":"a","quantity":"2"}]})",
       "lines[0].quantity"},
      {"inventory.reserve_requested", R"({"order_id":"o1","lines":[{"product_id":"a","quantity":1.5}]})",
       "lines[0].quantity"},
      {"inventory.commit_requested", R"({})", "order_id"},
      {"inventory.commit_requested", R"({"order_id":null})", "order_id"},
      {"inventory.commit_requested", R"({"order_id":""})", "order_id"},
      {"inventory.release_requested", R"({"reason":"x"})", "order_id"},
      {"inventory.release_requested", R"({"order_id":"o1","reason":5})", "reason"},
  });
  for (const auto& c : cases) {
    auto cmd = command(c.type, "o1", c.data);
    auto r = std::string_view(c.type) == "inventory.reserve_requested"  ? saga_.on_reserve_requested(cmd)
             : std::string_view(c.type) == "inventory.commit_requested" ? saga_.on_commit_requested(cmd)
                                                                        : saga_.on_release_requested(cmd);
    ASSERT_FALSE(r) << c.data;
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed) << c.data;
    EXPECT_EQ(r.error().field, c.field) << c.data;
  }
  EXPECT_TRUE(appended().empty());
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
}

TEST_F(SagaHandlersTest, DataThatIsNotAnObjectIsMalformedAndANewerVersionUnprocessable) {
  for (const char* data : {R"(["o1"])", R"("o1")", "not json", ""}) {
    auto r = saga_.on_commit_requested(command("inventory.commit_requested", "o1", data));
    ASSERT_FALSE(r) << data;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformedRequest) << data;
  }
  auto newer = saga_.on_reserve_requested(
      command("inventory.reserve_requested", "o1", reserve_data("o1", {{"a", 1}}), 2));
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().code, ErrorCode::kUnprocessable);
  EXPECT_NE(newer.error().message.find("v2"), std::string::npos) << newer.error().message;
  EXPECT_TRUE(appended().empty());
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
}

TEST_F(SagaHandlersTest, UnknownFieldsAreIgnored) {
  ASSERT_TRUE(saga_.on_reserve_requested(command(
      "inventory.reserve_requested", "o1",
      R"({"order_id":"o1","lines":[{"product_id":"a","quantity":2,"price_cents":250}],"customer_id":"c1"})")));
  EXPECT_EQ(answer().type, "inventory.reserved");
  ASSERT_TRUE(saga_.on_release_requested(
      command("inventory.release_requested", "o1", R"({"order_id":"o1","step":"payment"})")));
  auto released = answer();
  EXPECT_EQ(released.type, "inventory.released");
  EXPECT_FALSE(data_of(released).contains("reason")) << "a reason is optional";
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
}

// --- choreography: a choreographed order's own events are its commands ----------------------------------

events::CloudEvent order_event(std::string type, const std::string& order_id, std::string_view saga,
                               const std::string& extra = {}) {
  std::string data = R"({"order_id":")" + order_id + R"(","saga":")" + std::string(saga) + "\"" + extra + "}";
  return command(std::move(type), order_id, std::move(data));
}

TEST_F(SagaHandlersTest, AChoreographedOrderReservesOnItsCreationCommitsOnConfirmationAndNamesTheSaga) {
  auto created =
      order_event("order.created", "o1", "choreography",
                  R"(,"lines":[{"product_id":"a","quantity":3,"unit_price_cents":250}],"total_cents":750)");
  ASSERT_TRUE(saga_.on_order_created(created));
  auto reserved = answer();
  EXPECT_EQ(reserved.type, "inventory.reserved");
  EXPECT_EQ(data_of(reserved).at("saga").as_string(), "choreography") << "payment charges on it";
  EXPECT_EQ(stock("a"), (Stock{7, 3, 0}));
  ASSERT_TRUE(saga_.on_order_created(created));
  EXPECT_TRUE(appended().empty()) << "a duplicate delivery";
  ASSERT_TRUE(saga_.on_order_confirmed(order_event("order.confirmed", "o1", "choreography")));
  EXPECT_EQ(answer().type, "inventory.committed");
  EXPECT_EQ(stock("a"), (Stock{7, 0, 3}));
}

TEST_F(SagaHandlersTest, AChoreographedCancellationReleasesWhatWasReserved) {
  ASSERT_TRUE(saga_.on_order_created(
      order_event("order.created", "o1", "choreography", R"(,"lines":[{"product_id":"b","quantity":2}])")));
  ASSERT_EQ(answer().type, "inventory.reserved");
  ASSERT_TRUE(saga_.on_order_cancelled(
      order_event("order.cancelled", "o1", "choreography", R"(,"reason":"payment declined")")));
  auto released = answer();
  EXPECT_EQ(released.type, "inventory.released");
  EXPECT_EQ(stock("b"), (Stock{2, 0, 0}));
  ASSERT_TRUE(saga_.on_order_cancelled(order_event("order.cancelled", "o2", "choreography")));
  EXPECT_EQ(answer().type, "inventory.released") << "nothing reserved: answered all the same";
}

TEST_F(SagaHandlersTest, AnOrchestratedOrdersEventsAreRecordedAndChangeNothing) {
  for (auto saga : {"orchestration", "none"}) {
    auto created = order_event("order.created", "o1", saga, R"(,"lines":[{"product_id":"a","quantity":3}])");
    ASSERT_TRUE(saga_.on_order_created(created));
    ASSERT_TRUE(saga_.on_order_confirmed(order_event("order.confirmed", "o1", saga)));
    ASSERT_TRUE(saga_.on_order_cancelled(order_event("order.cancelled", "o1", saga)));
    EXPECT_FALSE(*store_->handle_once("inventory", created.id)) << "recorded in the inbox";
  }
  EXPECT_TRUE(appended().empty());
  EXPECT_EQ(stock("a"), (Stock{10, 0, 0}));
}

}  // namespace
}  // namespace mercato::inventory
