// One contract, two engines: the SQL repository on SQLite and PostgreSQL must behave the same.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "adapters/sql_payment_repository.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::payment {
namespace {

struct Fixture {
  virtual ~Fixture() = default;
  virtual PaymentRepository& repo() = 0;
  // The events in the outbox (unsent), oldest first.
  virtual std::vector<events::CloudEvent> outbox() = 0;
};

std::vector<events::CloudEvent> unsent(events::EventStore& store) {
  auto rows = store.unsent(1000);
  EXPECT_TRUE(rows) << rows.error().message;
  std::vector<events::CloudEvent> out;
  if (rows) {
    for (auto& row : *rows) out.push_back(std::move(row.event));
  }
  return out;
}

struct SqliteFixture : Fixture {
  // Several connections, so concurrent calls really overlap in SQLite rather than queue for one.
  SqliteFixture()
      : dir(std::filesystem::temp_directory_path() / ("mercato-payment-repo-" + random_hex(8))),
        db(sql::Database::open(
            sqlite::DatabaseSettings{.path = (dir / "payment.db").string(), .connections = 4})),
        r(*db) {}
  ~SqliteFixture() override { std::filesystem::remove_all(dir); }
  PaymentRepository& repo() override { return r; }
  std::vector<events::CloudEvent> outbox() override { return unsent(*events::open_store(*db)); }
  std::filesystem::path dir;
  std::unique_ptr<sql::Database> db;
  SqlPaymentRepository r;
};

// A schema of its own on the PostgreSQL server that ./mercato test starts; several connections, so
// concurrent calls really overlap on the server.
struct PostgresFixture : Fixture {
  explicit PostgresFixture(const std::string& url) : schema(url) {
    if (!schema.ok()) throw std::runtime_error("cannot create a test schema: " + schema.error());
    db = sql::Database::open(postgres::DatabaseSettings{.url = schema.url(), .connections = 4});
    r = std::make_unique<SqlPaymentRepository>(*db);
  }
  PaymentRepository& repo() override { return *r; }
  std::vector<events::CloudEvent> outbox() override { return unsent(*events::open_store(*db)); }
  mercato::testing::PostgresSchema schema;  // first member: dropped after the repository has closed
  std::unique_ptr<sql::Database> db;
  std::unique_ptr<SqlPaymentRepository> r;
};

SystemTime at(std::int64_t ms) { return SystemTime{std::chrono::milliseconds{ms}}; }

class PaymentRepositoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      fixture_ = std::make_unique<SqliteFixture>();
    } else {
      auto url = mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL");
      if (url.empty()) {
        if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
      }
      fixture_ = std::make_unique<PostgresFixture>(url);
    }
  }
  PaymentRepository& repo() { return fixture_->repo(); }
  std::vector<events::CloudEvent> outbox() { return fixture_->outbox(); }
  static events::CloudEvent event(const Payment& p, std::string type = "payment.processed") {
    return events::make_event("payment", std::move(type), p.order_id, R"({"payment_id":")" + p.id + R"("})");
  }
  static std::vector<std::string> ids(const std::vector<events::CloudEvent>& events) {
    std::vector<std::string> out;
    out.reserve(events.size());
    for (const auto& e : events) out.push_back(e.id);
    return out;
  }

  static Payment make(std::string order, bool approved, SystemTime created = at(1'700'000'000'000)) {
    ChargeRequest request{std::move(order), "customer-1", 1250, "tok"};
    CardDecision decision{approved, approved ? "" : "card_declined"};
    return new_payment(request, decision, new_uuid(), created);
  }
  static IdempotencyRecord fresh_key(std::string key, SystemTime created = at(1'700'000'000'000)) {
    return {
        .key = std::move(key), .fingerprint = "fp", .state = KeyState::kInProgress, .created_at = created};
  }

  RenderOutcome render_ = [](const Result<Payment>& outcome) {
    if (outcome) return StoredResponse{201, "payment " + outcome->id};
    return StoredResponse{409, outcome.error().message};
  };

  std::unique_ptr<Fixture> fixture_;
};

TEST_P(PaymentRepositoryContract, RecordThenFindReturnsTheSamePayment) {
  for (bool approved : {true, false}) {
    auto p = make("order-" + std::to_string(approved), approved);
    auto recorded = repo().record(p, nullptr);
    ASSERT_TRUE(recorded);
    EXPECT_EQ(*recorded, p);
    auto found = repo().find(p.id);
    ASSERT_TRUE(found);
    EXPECT_EQ(*found, p);
  }
}

TEST_P(PaymentRepositoryContract, FindUnknownIsNotFound) {
  auto r = repo().find("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(PaymentRepositoryContract, ListByOrderIsNewestFirstAndOnlyThatOrder) {
  auto oldest = make("o1", false, at(1000));
  auto middle_a = make("o1", false, at(2000));
  auto middle_b = make("o1", true, at(2000));  // same millisecond: insertion order decides
  auto other = make("o2", true, at(3000));
  for (const auto* p : {&oldest, &middle_a, &middle_b, &other}) ASSERT_TRUE(repo().record(*p, nullptr));
  auto list = repo().list_by_order("o1");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3U);
  EXPECT_EQ((*list)[0], middle_b);
  EXPECT_EQ((*list)[1], middle_a);
  EXPECT_EQ((*list)[2], oldest);
  auto none = repo().list_by_order("o3");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(PaymentRepositoryContract, SecondCaptureForAnOrderIsConflictAndNotRecorded) {
  ASSERT_TRUE(repo().record(make("o1", true), nullptr));
  auto second = make("o1", true);
  auto r = repo().record(second, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().field, "order_id");
  EXPECT_EQ(repo().find(second.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(repo().list_by_order("o1")->size(), 1U);
}

TEST_P(PaymentRepositoryContract, AnyNewAttemptForAPaidOrderIsConflict) {
  ASSERT_TRUE(repo().record(make("o1", true), nullptr));
  auto r = repo().record(make("o1", false), nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
}

TEST_P(PaymentRepositoryContract, DeclinedAttemptsDoNotBlockACapture) {
  ASSERT_TRUE(repo().record(make("o1", false), nullptr));
  ASSERT_TRUE(repo().record(make("o1", false), nullptr));
  EXPECT_TRUE(repo().record(make("o1", true), nullptr));
}

TEST_P(PaymentRepositoryContract, RefundMovesCapturedToRefundedOnceAndFreesTheOrder) {
  auto p = make("o1", true, at(1000));
  ASSERT_TRUE(repo().record(p, nullptr));
  auto refunded = repo().refund(p.id, at(5000));
  ASSERT_TRUE(refunded);
  EXPECT_EQ(refunded->status, PaymentStatus::kRefunded);
  EXPECT_EQ(refunded->updated_at, at(5000));
  EXPECT_EQ(refunded->created_at, at(1000));
  EXPECT_EQ(*repo().find(p.id), *refunded);
  auto again = repo().refund(p.id, at(9000));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *refunded);  // idempotent: updated_at did not move
  EXPECT_EQ(*repo().find(p.id), *refunded);
  // The order is no longer paid: it may be charged again.
  EXPECT_TRUE(repo().record(make("o1", true), nullptr));
}

TEST_P(PaymentRepositoryContract, RefundOfDeclinedIsUnprocessableAndChangesNothing) {
  auto p = make("o1", false);
  ASSERT_TRUE(repo().record(p, nullptr));
  auto r = repo().refund(p.id, at(5000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(*repo().find(p.id), p);
}

TEST_P(PaymentRepositoryContract, RefundUnknownIsNotFound) {
  auto r = repo().refund("nope", at(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(PaymentRepositoryContract, ClaimingAKeyTwiceReturnsTheStoredRecord) {
  auto fresh = fresh_key("k1");
  auto first = repo().claim_key(fresh);
  ASSERT_TRUE(first);
  EXPECT_FALSE(*first);
  auto other = fresh;
  other.fingerprint = "another";
  auto second = repo().claim_key(other);
  ASSERT_TRUE(second);
  ASSERT_TRUE(*second);
  EXPECT_EQ(**second, fresh);  // the first claim's fingerprint, still in progress, nothing overwritten
}

TEST_P(PaymentRepositoryContract, RecordCompletesTheKeyInTheSameTransaction) {
  ASSERT_TRUE(repo().claim_key(fresh_key("k1")));
  auto p = make("o1", true);
  KeyCompletion completion{"k1", render_};
  ASSERT_TRUE(repo().record(p, &completion));
  auto stored = repo().claim_key(fresh_key("k1"));
  ASSERT_TRUE(stored);
  ASSERT_TRUE(*stored);
  EXPECT_EQ((*stored)->state, KeyState::kCompleted);
  EXPECT_EQ((*stored)->response, (StoredResponse{201, "payment " + p.id}));
  EXPECT_EQ((*stored)->payment_id, p.id);
}

TEST_P(PaymentRepositoryContract, ConflictIsStoredAgainstTheKeyWithoutAPayment) {
  ASSERT_TRUE(repo().record(make("o1", true), nullptr));
  ASSERT_TRUE(repo().claim_key(fresh_key("k1")));
  auto second = make("o1", true);
  KeyCompletion completion{"k1", render_};
  auto r = repo().record(second, &completion);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  auto stored = repo().claim_key(fresh_key("k1"));
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->state, KeyState::kCompleted);
  EXPECT_EQ((*stored)->response, (StoredResponse{409, r.error().message}));
  EXPECT_EQ((*stored)->payment_id, "");
  EXPECT_EQ(repo().find(second.id).error().code, ErrorCode::kNotFound);
}

TEST_P(PaymentRepositoryContract, RecordWithAKeyNotInProgressFailsAndRecordsNothing) {
  auto p = make("o1", true);
  KeyCompletion unclaimed{"never-claimed", render_};
  auto r = repo().record(p, &unclaimed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(repo().find(p.id).error().code, ErrorCode::kNotFound);
}

TEST_P(PaymentRepositoryContract, CompleteKeyStoresAResponseWithoutPayment) {
  ASSERT_TRUE(repo().claim_key(fresh_key("k1")));
  ASSERT_TRUE(repo().complete_key("k1", {422, "unknown token"}));
  auto stored = repo().claim_key(fresh_key("k1"));
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->state, KeyState::kCompleted);
  EXPECT_EQ((*stored)->response, (StoredResponse{422, "unknown token"}));
  // Completing twice, or a key nobody claimed, is a bug the caller hears about.
  EXPECT_FALSE(repo().complete_key("k1", {201, "x"}));
  EXPECT_FALSE(repo().complete_key("unknown", {201, "x"}));
}

TEST_P(PaymentRepositoryContract, ReleaseDeletesOnlyAnInProgressKey) {
  ASSERT_TRUE(repo().claim_key(fresh_key("in-progress")));
  ASSERT_TRUE(repo().claim_key(fresh_key("done")));
  ASSERT_TRUE(repo().complete_key("done", {201, "x"}));
  ASSERT_TRUE(repo().release_key("in-progress"));
  ASSERT_TRUE(repo().release_key("done"));
  ASSERT_TRUE(repo().release_key("never-claimed"));
  auto again = repo().claim_key(fresh_key("in-progress"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);  // free again
  auto done = repo().claim_key(fresh_key("done"));
  ASSERT_TRUE(done && *done);
  EXPECT_EQ((*done)->state, KeyState::kCompleted);
}

TEST_P(PaymentRepositoryContract, RecoverDeletesOldAndInProgressKeysOnly) {
  ASSERT_TRUE(repo().claim_key(fresh_key("old", at(1000))));
  ASSERT_TRUE(repo().complete_key("old", {201, "x"}));
  ASSERT_TRUE(repo().claim_key(fresh_key("young", at(9000))));
  ASSERT_TRUE(repo().complete_key("young", {201, "y"}));
  ASSERT_TRUE(repo().claim_key(fresh_key("cutoff", at(5000))));
  ASSERT_TRUE(repo().complete_key("cutoff", {201, "z"}));
  ASSERT_TRUE(repo().claim_key(fresh_key("abandoned", at(9000))));
  auto deleted = repo().recover_keys(at(5000));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 2);
  for (const char* gone : {"old", "abandoned"}) {
    auto r = repo().claim_key(fresh_key(gone));
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r) << gone;
  }
  for (const char* kept : {"young", "cutoff"}) {
    auto r = repo().claim_key(fresh_key(kept));
    ASSERT_TRUE(r && *r) << kept;
    EXPECT_EQ((*r)->state, KeyState::kCompleted) << kept;
  }
}

TEST_P(PaymentRepositoryContract, ConcurrentClaimsOfOneKeyHaveOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> winners{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = repo().claim_key(fresh_key("contended"));
      if (!r) {
        failures++;
      } else if (!*r) {
        winners++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(winners, 1);
}

TEST_P(PaymentRepositoryContract, ConcurrentCapturesOfOneOrderHaveOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> captured{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = repo().record(make("contended", true), nullptr);
      if (r) {
        captured++;
      } else if (r.error().code == ErrorCode::kConflict) {
        conflicts++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(captured, 1);
  EXPECT_EQ(conflicts, kThreads - 1);
  EXPECT_EQ(repo().list_by_order("contended")->size(), 1U);
}

// Captures and declines of one order at once: attempts run one at a time, so no attempt is recorded
// after the capture (it would be a conflict), whatever the interleaving.
TEST_P(PaymentRepositoryContract, NoAttemptIsRecordedAfterAConcurrentCapture) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    auto order = "mixed-" + std::to_string(round);
    std::atomic<int> recorded{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        auto r = repo().record(make(order, i % 2 == 0), nullptr);
        if (r) {
          recorded++;
        } else if (r.error().code != ErrorCode::kConflict) {
          failures++;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures, 0);
    auto list = repo().list_by_order(order);
    ASSERT_TRUE(list);
    ASSERT_EQ(static_cast<int>(list->size()), recorded.load());
    ASSERT_FALSE(list->empty());
    EXPECT_EQ(list->front().status, PaymentStatus::kCaptured) << "an attempt was recorded after the capture";
    for (std::size_t i = 1; i < list->size(); ++i) EXPECT_EQ((*list)[i].status, PaymentStatus::kDeclined);
  }
}

// --- the outbox ---------------------------------------------------------------------------------------

TEST_P(PaymentRepositoryContract, RecordAppendsItsEventsWithThePayment) {
  auto p = make("o1", true);
  auto e = event(p);
  ASSERT_TRUE(repo().record(p, nullptr, std::span(&e, 1)));
  auto outbox = this->outbox();
  ASSERT_EQ(outbox.size(), 1U);
  EXPECT_EQ(outbox[0], e);  // the whole envelope, as given
  ASSERT_TRUE(repo().claim_key(fresh_key("k1")));
  auto declined = make("o2", false);
  auto second = event(declined);
  KeyCompletion completion{"k1", render_};
  ASSERT_TRUE(repo().record(declined, &completion, std::span(&second, 1)));
  EXPECT_EQ(ids(this->outbox()), (std::vector{e.id, second.id}));
}

TEST_P(PaymentRepositoryContract, AConflictAppendsNothing) {
  ASSERT_TRUE(repo().record(make("o1", true), nullptr));
  auto second = make("o1", true);
  auto e = event(second);
  EXPECT_EQ(repo().record(second, nullptr, std::span(&e, 1)).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(repo().claim_key(fresh_key("k1")));
  KeyCompletion completion{"k1", render_};
  EXPECT_EQ(repo().record(second, &completion, std::span(&e, 1)).error().code, ErrorCode::kConflict);
  EXPECT_TRUE(outbox().empty());
}

// The key's completion fails after the payment and its event were written: the whole transaction rolls
// back, the event with it.
TEST_P(PaymentRepositoryContract, AFailedKeyCompletionRollsTheEventBackWithThePayment) {
  auto p = make("o1", true);
  auto e = event(p);
  KeyCompletion unclaimed{"never-claimed", render_};
  ASSERT_FALSE(repo().record(p, &unclaimed, std::span(&e, 1)));
  EXPECT_EQ(repo().find(p.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(outbox().empty());
}

TEST_P(PaymentRepositoryContract, AMalformedEventRefusesTheWholeChange) {
  ASSERT_TRUE(repo().claim_key(fresh_key("k1")));
  auto p = make("o1", true);
  auto e = event(p);
  e.data = "not json";
  KeyCompletion completion{"k1", render_};
  ASSERT_FALSE(repo().record(p, &completion, std::span(&e, 1)));
  EXPECT_EQ(repo().find(p.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(outbox().empty());
  auto key = repo().claim_key(fresh_key("k1"));
  ASSERT_TRUE(key && *key);
  EXPECT_EQ((*key)->state, KeyState::kInProgress) << "the key's completion rolled back too";
}

TEST_P(PaymentRepositoryContract, RefundAppendsTheEventsOfTheRefundedPaymentOnce) {
  auto p = make("o1", true, at(1000));
  ASSERT_TRUE(repo().record(p, nullptr));
  int built = 0;
  EventsOf events_of = [&](const Payment& refunded) {
    ++built;
    EXPECT_EQ(refunded.status, PaymentStatus::kRefunded);
    EXPECT_EQ(refunded.updated_at, at(5000));
    return std::vector{event(refunded, "payment.refunded")};
  };
  ASSERT_TRUE(repo().refund(p.id, at(5000), events_of));
  ASSERT_TRUE(repo().refund(p.id, at(9000), events_of));  // already refunded: nothing to publish
  EXPECT_EQ(built, 1);
  auto outbox = this->outbox();
  ASSERT_EQ(outbox.size(), 1U);
  EXPECT_EQ(outbox[0].type, "payment.refunded");

  auto declined = make("o2", false);
  ASSERT_TRUE(repo().record(declined, nullptr));
  EXPECT_FALSE(repo().refund(declined.id, at(5000), events_of));
  EXPECT_FALSE(repo().refund("nope", at(5000), events_of));
  EXPECT_EQ(this->outbox().size(), 1U);
}

TEST_P(PaymentRepositoryContract, AMalformedRefundEventLeavesThePaymentCaptured) {
  auto p = make("o1", true);
  ASSERT_TRUE(repo().record(p, nullptr));
  auto r = repo().refund(p.id, at(5000), [](const Payment& refunded) {
    auto e = event(refunded, "payment.refunded");
    e.data = "[]";
    return std::vector{e};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(repo().find(p.id)->status, PaymentStatus::kCaptured);
  EXPECT_TRUE(outbox().empty());
}

INSTANTIATE_TEST_SUITE_P(Implementations, PaymentRepositoryContract, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace mercato::payment
