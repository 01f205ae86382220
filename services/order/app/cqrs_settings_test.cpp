#include "app/cqrs_settings.hpp"

#include <gtest/gtest.h>

namespace mercato::order {
namespace {

using namespace std::chrono_literals;

CqrsSettings read(const std::string& yaml) {
  return read_cqrs_settings(config::Source::from_strings(yaml).section("cqrs"));
}

std::string error_of(const std::string& yaml) {
  try {
    read(yaml);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(CqrsSettings, DefaultsAreTheDocumentedOnes) {
  auto s = read("");
  EXPECT_EQ(s.snapshot_every, 8);
  EXPECT_TRUE(s.projector);
  EXPECT_EQ(s.projector_poll, 1s);
  EXPECT_EQ(s.projector_delay, 10ms);
}

TEST(CqrsSettings, EveryKeyIsRead) {
  auto source = config::Source::from_strings(
      "cqrs:\n  snapshot_every: 3\n  projector: false\n  projector_poll: 250ms\n  projector_delay: 0ms\n");
  auto s = read_cqrs_settings(source.section("cqrs"));
  EXPECT_EQ(s.snapshot_every, 3);
  EXPECT_FALSE(s.projector);
  EXPECT_EQ(s.projector_poll, 250ms);
  EXPECT_EQ(s.projector_delay, 0ms);
  EXPECT_NO_THROW(source.check_all_used());
}

TEST(CqrsSettings, BadValuesNameTheirKey) {
  EXPECT_NE(error_of("cqrs:\n  projector_delay: 2s\n").find("cqrs.projector_delay"), std::string::npos);
  EXPECT_NE(error_of("cqrs:\n  projector_delay: later\n").find("cqrs.projector_delay"), std::string::npos);
  EXPECT_NE(error_of("cqrs:\n  projector_poll: 5ms\n").find("cqrs.projector_poll"), std::string::npos);
  EXPECT_NE(error_of("cqrs:\n  snapshot_every: 0\n").find("cqrs.snapshot_every"), std::string::npos);
}

}  // namespace
}  // namespace mercato::order
