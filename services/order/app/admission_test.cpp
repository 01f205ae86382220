#include "app/admission.hpp"

#include <gtest/gtest.h>

namespace mercato::order {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand.
struct ManualClock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1h;
  Admission::Clock fn() {
    return [this] { return now; };
  }
};

AdmissionSettings small(std::int64_t min, std::int64_t max) {
  AdmissionSettings s;
  s.limits = {.max_backlog_time = 2s, .min_backlog = min, .max_backlog = max};
  s.rate_window = 10s;
  return s;
}

bool admitted(const std::variant<Admission::Ticket, Admission::Refusal>& d) {
  return std::holds_alternative<Admission::Ticket>(d);
}

TEST(Admission, AdmitsUpToTheFloorThenRefusesWithTheFigures) {
  ManualClock clock;
  obs::Registry metrics;
  Admission admission(small(3, 100), 1, &metrics, clock.fn());  // one saga in flight from before
  std::vector<Admission::Ticket> kept;
  for (int i = 0; i < 2; ++i) {
    auto d = admission.admit();
    ASSERT_TRUE(admitted(d)) << i;
    kept.push_back(std::get<Admission::Ticket>(std::move(d)));
  }
  auto refused = admission.admit();
  ASSERT_FALSE(admitted(refused));
  const auto& r = std::get<Admission::Refusal>(refused);
  EXPECT_EQ(r.backlog, 3);
  EXPECT_EQ(r.limit, 3);
  EXPECT_EQ(r.retry_after, 2s);  // no rate yet: the longest wait
  auto e = r.error();
  EXPECT_EQ(e.code, ErrorCode::kUnavailable);
  EXPECT_NE(e.message.find("overloaded"), std::string::npos) << e.message;
  EXPECT_EQ(client_message(e), e.message);  // fit for clients: it reaches them as it is
  auto text = metrics.render();
  EXPECT_NE(text.find("mercato_order_admissions_total{decision=\"admitted\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("mercato_order_admissions_total{decision=\"refused\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mercato_order_saga_backlog 3"), std::string::npos) << text;
}

TEST(Admission, ATicketNotPlacedGivesItsPlaceBackAndAPlacedOneKeepsIt) {
  ManualClock clock;
  Admission admission(small(2, 100), 0, nullptr, clock.fn());
  {
    auto d = admission.admit();
    ASSERT_TRUE(admitted(d));
    // The order failed (an unknown customer, say): the ticket goes without placed().
  }
  EXPECT_EQ(admission.backlog(), 0);
  {
    auto d = admission.admit();
    std::get<Admission::Ticket>(d).placed();
  }
  EXPECT_EQ(admission.backlog(), 1);
  Admission::Ticket moved;
  {
    auto d = admission.admit();
    moved = std::get<Admission::Ticket>(std::move(d));  // the moved-from ticket releases nothing
  }
  EXPECT_EQ(admission.backlog(), 2);
  EXPECT_FALSE(admitted(admission.admit()));
  moved = Admission::Ticket();  // given back on reassignment
  EXPECT_EQ(admission.backlog(), 1);
  EXPECT_TRUE(admitted(admission.admit()));  // (and given back again at once)
}

TEST(Admission, FinishedSagasFreePlacesAndRaiseTheLimitWithTheRate) {
  ManualClock clock;
  Admission admission(small(10, 1000), 10, nullptr, clock.fn());
  EXPECT_FALSE(admitted(admission.admit()));
  // 100 sagas finish per second for 10 s: 2 s of work is 200 sagas.
  for (int s = 0; s < 10; ++s) {
    clock.now += 1s;
    for (int i = 0; i < 100; ++i) admission.finished();
  }
  EXPECT_EQ(admission.backlog(), 0);  // never below zero
  admission.recounted(150);
  // Admitted up to 2 s of work at about 100/s (the window's newest slice has only begun: 1000 in 9 s).
  int placed = 0;
  for (; placed < 1000; ++placed) {
    auto d = admission.admit();
    if (!admitted(d)) {
      const auto& r = std::get<Admission::Refusal>(d);
      EXPECT_EQ(r.backlog, r.limit);
      EXPECT_EQ(r.retry_after, 1s);  // one place frees in about 10 ms
      break;
    }
    std::get<Admission::Ticket>(d).placed();
  }
  EXPECT_GE(150 + placed, 200);
  EXPECT_LE(150 + placed, 230);
}

TEST(Admission, ARecountKeepsTheTicketsNotYetPlaced) {
  ManualClock clock;
  Admission admission(small(5, 100), 0, nullptr, clock.fn());
  auto a = admission.admit();
  auto b = admission.admit();
  admission.recounted(2);  // the database does not know of the two orders being placed
  EXPECT_EQ(admission.backlog(), 4);
  std::get<Admission::Ticket>(a).placed();
  std::get<Admission::Ticket>(b).placed();
  EXPECT_EQ(admission.backlog(), 4);
}

TEST(Admission, NewLimitsApplyToTheNextDecision) {
  ManualClock clock;
  Admission admission(small(1, 100), 1, nullptr, clock.fn());
  EXPECT_FALSE(admitted(admission.admit()));
  admission.set_limits({.max_backlog_time = 2s, .min_backlog = 2, .max_backlog = 100});
  EXPECT_TRUE(admitted(admission.admit()));
  EXPECT_EQ(admission.limits().min_backlog, 2);
}

TEST(AdmissionSettings, DefaultsAndEveryKey) {
  auto d = read_admission_settings(config::Source::from_strings("").section("admission"));
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.limits, (AdmissionLimits{.max_backlog_time = 5s, .min_backlog = 100, .max_backlog = 10'000}));
  EXPECT_EQ(d.rate_window, 10s);
  EXPECT_EQ(d.recount, 5s);
  auto source = config::Source::from_strings(
      "admission:\n  enabled: false\n  max_backlog_time: 3s\n  min_backlog: 7\n  max_backlog: 70\n"
      "  rate_window: 20s\n  recount: 1s\n");
  auto s = read_admission_settings(source.section("admission"));
  EXPECT_FALSE(s.enabled);
  EXPECT_EQ(s.limits, (AdmissionLimits{.max_backlog_time = 3s, .min_backlog = 7, .max_backlog = 70}));
  EXPECT_EQ(s.rate_window, 20s);
  EXPECT_EQ(s.recount, 1s);
  EXPECT_NO_THROW(source.check_all_used());
}

TEST(AdmissionSettings, BadValuesNameTheirKey) {
  auto error_of = [](const std::string& yaml) -> std::string {
    try {
      read_admission_settings(config::Source::from_strings(yaml).section("admission"));
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("admission:\n  min_backlog: 0\n").find("admission.min_backlog"), std::string::npos);
  EXPECT_NE(error_of("admission:\n  min_backlog: 50\n  max_backlog: 10\n").find("max_backlog"),
            std::string::npos);
  EXPECT_NE(error_of("admission:\n  max_backlog_time: 0s\n").find("max_backlog_time"), std::string::npos);
  EXPECT_NE(error_of("admission:\n  rate_window: 100ms\n").find("admission.rate_window"), std::string::npos);
  EXPECT_NE(error_of("admission:\n  recount: 10ms\n").find("admission.recount"), std::string::npos);
}

}  // namespace
}  // namespace mercato::order
